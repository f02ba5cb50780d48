// Triggered alerts of the logged-in user's accounts (issue 15): followed live with
// `stream_alerts(iban, token)`, shown in the page and as browser notifications (the Notifications
// API; permission is asked once, when the user saves alert rules or turns notifications on).
//
// Nothing is lost while the page is closed or the connection is down: the highest alert id seen per
// account is kept in localStorage, and `alerts_since(after_id)` fetches what triggered since, at
// start and after every reconnect. The subscription starts first and its alerts wait until that
// answer is in; an alert is shown once, by its id (ids increase per account), whichever way it came.
// On a browser that never saw the account the past alerts show in the page, without notifications.
import { useEffect, useState } from 'preact/hooks';
import { request, subscribe } from './api';
import { useReconnectEpoch } from './live';
import { type Alert, ALERTS_SINCE, STREAM_ALERTS } from './queries';
import type { OwnAccount } from './store';

/** An alert as the page lists it. */
export interface ShownAlert extends Alert {
  iban: string;
  /**
   * `live`: arrived while the page listened; `away`: triggered while it did not (alerts_since);
   * `earlier`: from before this browser first saw the account.
   */
  when: 'live' | 'away' | 'earlier';
}

/** The page lists the newest alerts, at most this many. */
const KEEP = 5;
/** At most this many browser notifications for the alerts missed at once; more become one summary. */
const NOTIFY_MISSED = 3;
const SEEN_PREFIX = 'bank.alerts.seen.';
const ASKED_KEY = 'bank.notifications.asked';

let shown: ShownAlert[] = [];
const listeners = new Set<() => void>();

function changed(): void {
  for (const l of listeners) l();
}

/** The alerts shown in the page, newest first. */
export function getAlerts(): ShownAlert[] {
  return shown;
}

/** A hook returning the alerts shown in the page, newest first. */
export function useAlerts(): ShownAlert[] {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return shown;
}

/** Takes one alert out of the page (its dismiss button). */
export function dismissAlert(iban: string, id: number): void {
  shown = shown.filter((a) => !(a.iban === iban && a.id === id));
  changed();
}

/** Forgets the alerts shown (at logout); what was seen stays recorded. */
export function clearAlerts(): void {
  shown = [];
  changed();
}

function lastSeen(iban: string): number | null {
  try {
    const v = window.localStorage.getItem(SEEN_PREFIX + iban);
    return v !== null && /^\d+$/.test(v) ? Number(v) : null;
  } catch {
    return null;
  }
}

function markSeen(iban: string, id: number): void {
  try {
    if ((lastSeen(iban) ?? -1) < id) window.localStorage.setItem(SEEN_PREFIX + iban, String(id));
  } catch {
    // Storage disabled: alerts missed before the next visit are then shown without notifications.
  }
}

/** What the browser lets the page do with notifications. */
export type NotificationState = 'unsupported' | 'default' | 'granted' | 'denied';

export function notificationState(): NotificationState {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

const permissionListeners = new Set<() => void>();

/** A hook returning the notification permission, updated after asking. */
export function useNotificationState(): NotificationState {
  const [state, setState] = useState(notificationState());
  useEffect(() => {
    const l = (): void => setState(notificationState());
    permissionListeners.add(l);
    return () => {
      permissionListeners.delete(l);
    };
  }, []);
  return state;
}

/**
 * Asks for permission to show notifications, from a user's action: with `force` (the user's
 * button) whenever the browser would still ask, otherwise only the first time (saving rules).
 */
export async function askNotifications(force = false): Promise<NotificationState> {
  if (notificationState() !== 'default') return notificationState();
  try {
    if (!force && window.localStorage.getItem(ASKED_KEY)) return 'default';
    window.localStorage.setItem(ASKED_KEY, '1');
  } catch {
    // Storage disabled: ask anyway.
  }
  try {
    await Notification.requestPermission();
  } catch {
    // An old browser with the callback form only, or one refusing outright.
  }
  for (const l of permissionListeners) l();
  return notificationState();
}

function notify(title: string, body: string, tag: string): void {
  if (notificationState() !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag, lang: 'en' });
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    // Some browsers only notify from a service worker: the alert is still in the page.
  }
}

/** Adds alerts of one account to the page (and to the browser's notifications, when asked). */
function show(iban: string, alerts: Alert[], when: ShownAlert['when'], notifyThem: boolean): void {
  const seen = lastSeen(iban) ?? -1;
  const fresh = alerts.filter((a) => a.id > seen && !shown.some((s) => s.iban === iban && s.id === a.id)).sort((a, b) => a.id - b.id);
  if (fresh.length === 0) return;
  const items = fresh.map((a) => ({ ...a, iban, when }));
  shown = [...items.reverse(), ...shown].slice(0, KEEP);
  markSeen(iban, Math.max(...fresh.map((a) => a.id)));
  changed();
  if (!notifyThem) return;
  if (fresh.length > NOTIFY_MISSED) {
    notify(`BKES bank: ${fresh.length} alerts on ${iban}`, fresh.map((a) => a.message).slice(-NOTIFY_MISSED).join('\n'), `bank-alerts-${iban}`);
    return;
  }
  for (const a of fresh) notify(`BKES bank alert on ${iban}`, a.message, `bank-alert-${iban}-${a.id}`);
}

/** Fetches every alert of an account after `after`, page by page (the API gives 1000 at most). */
async function fetchSince(acc: OwnAccount, after: number): Promise<Alert[]> {
  const all: Alert[] = [];
  for (let page = 0; page < 20; page++) {
    const d = await request<{ alerts_since: Alert[] | null }>(ALERTS_SINCE, { iban: acc.iban, token: acc.token, after_id: after });
    const got = d.alerts_since ?? [];
    all.push(...got);
    if (got.length < 1000) break;
    after = Math.max(after, ...got.map((a) => a.id));
  }
  return all;
}

/**
 * Follows the alerts of `accounts`: their live streams, and what triggered since the last alert this
 * browser saw. Returns the function that stops it. Errors are left out of the page (a server without
 * alerts answers null): the settings form shows its own.
 */
export function followAlerts(accounts: OwnAccount[]): () => void {
  const stops: (() => void)[] = [];
  let active = true;
  for (const acc of accounts.slice(0, 10)) {
    let early: Alert[] | null = [];
    stops.push(
      subscribe<{ stream_alerts: Alert | null }>(STREAM_ALERTS, { iban: acc.iban, token: acc.token }, (d) => {
        const a = d.stream_alerts;
        if (!active || !a) return;
        if (early) early.push(a);
        else show(acc.iban, [a], 'live', true);
      }),
    );
    const seen = lastSeen(acc.iban);
    fetchSince(acc, seen ?? 0)
      .then((missed) => {
        if (!active) return;
        // A browser that never saw this account shows the past in the page, not as notifications.
        show(acc.iban, missed, seen === null ? 'earlier' : 'away', seen !== null);
        if (seen === null) markSeen(acc.iban, 0);
      })
      .catch(() => undefined)
      .finally(() => {
        if (!active || !early) return;
        const waiting = early;
        early = null;
        show(acc.iban, waiting, 'live', true);
      });
  }
  return () => {
    active = false;
    for (const s of stops) s();
  };
}

/**
 * Follows the alerts of every account of the logged-in user while `accounts` is not null (see
 * followAlerts), starting over after a reconnect (alerts_since then fetches what was missed).
 */
export function useAlertFeed(accounts: OwnAccount[] | null): void {
  const epoch = useReconnectEpoch();
  const key = JSON.stringify(accounts ?? []);
  useEffect(() => (accounts && accounts.length > 0 ? followAlerts(accounts) : undefined), [key, epoch]);
}
