// Triggered alerts: shown once by id whichever way they come (the live stream, alerts_since at
// start), notified as browser notifications except for a browser's first look at an account, and
// the ones missed while away summed up when there are many. The transport is scripted.
import { beforeEach, describe, expect, it, vi } from 'vitest';

type Sink = (data: unknown) => void;
const sinks = new Map<string, Sink>();
let since: Record<string, () => Promise<unknown>> = {};
const asked: { iban: string; after: number }[] = [];

vi.mock('./api', () => ({
  request: vi.fn(async (_query: string, v: { iban: string; after_id: number }) => {
    asked.push({ iban: v.iban, after: v.after_id });
    const answer = since[v.iban];
    return answer ? answer() : { alerts_since: [] };
  }),
  subscribe: vi.fn((_query: string, v: { iban: string }, onData: Sink) => {
    sinks.set(v.iban, onData);
    return () => sinks.delete(v.iban);
  }),
  onReconnect: () => () => undefined,
}));

const { followAlerts, getAlerts, clearAlerts } = await import('./alerts');

const storage = new Map<string, string>();
const notes: { title: string; body: string; tag: string }[] = [];
class FakeNotification {
  static permission = 'granted';
  static requestPermission = async () => 'granted';
  onclick: (() => void) | null = null;
  constructor(title: string, options: { body: string; tag: string }) {
    notes.push({ title, body: options.body, tag: options.tag });
  }
  close(): void {}
}

const A = { iban: 'NL66OPEN0000000000', token: 't-a' };
const B = { iban: 'NL61OPEN0305797828', token: 't-b' };
const alert = (id: number, message = `alert ${id}`) => ({ id, kind: 'DEBIT_ABOVE', message, transaction: { id: 100 + id } });
const flush = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  storage.clear();
  notes.length = 0;
  asked.length = 0;
  sinks.clear();
  since = {};
  clearAlerts();
  vi.stubGlobal('window', {
    localStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v), removeItem: (k: string) => storage.delete(k) },
    focus: () => undefined,
  });
  vi.stubGlobal('Notification', FakeNotification);
});

describe('alerts', () => {
  it('shows the past of an account this browser never saw in the page only, then notifies new ones', async () => {
    since[A.iban] = async () => ({ alerts_since: [alert(1), alert(2)] });
    const stop = followAlerts([A]);
    await flush();
    expect(asked).toEqual([{ iban: A.iban, after: 0 }]);
    expect(getAlerts().map((a) => [a.id, a.when])).toEqual([
      [2, 'earlier'],
      [1, 'earlier'],
    ]);
    expect(notes).toEqual([]);
    sinks.get(A.iban)?.({ stream_alerts: alert(3, 'a debit of €60,00 is above €50,00') });
    expect(getAlerts()[0]).toMatchObject({ id: 3, when: 'live' });
    expect(notes).toEqual([{ title: `BKES bank alert on ${A.iban}`, body: 'a debit of €60,00 is above €50,00', tag: `bank-alert-${A.iban}-3` }]);
    stop();
  });

  it('shows an alert once, whichever way it comes, and one that came while asking after the answer', async () => {
    storage.set(`bank.alerts.seen.${A.iban}`, '4');
    let answer: (v: unknown) => void = () => undefined;
    since[A.iban] = () => new Promise((r) => (answer = r));
    const stop = followAlerts([A]);
    // Arrives on the stream before alerts_since answered: held, then shown after the missed ones.
    sinks.get(A.iban)?.({ stream_alerts: alert(6) });
    expect(getAlerts()).toEqual([]);
    answer({ alerts_since: [alert(5), alert(6)] });
    await flush();
    expect(getAlerts().map((a) => [a.id, a.when])).toEqual([
      [6, 'away'],
      [5, 'away'],
    ]);
    expect(notes.map((n) => n.body)).toEqual(['alert 5', 'alert 6']);
    // Sent again (another projector, a replay): not shown or notified again.
    sinks.get(A.iban)?.({ stream_alerts: alert(6) });
    sinks.get(A.iban)?.({ stream_alerts: alert(4) });
    expect(getAlerts()).toHaveLength(2);
    expect(notes).toHaveLength(2);
    expect(storage.get(`bank.alerts.seen.${A.iban}`)).toBe('6');
    stop();
    // The next visit asks only after the last one seen.
    asked.length = 0;
    followAlerts([A])();
    expect(asked).toEqual([{ iban: A.iban, after: 6 }]);
  });

  it('sums up many alerts missed at once in one notification; each account separately', async () => {
    storage.set(`bank.alerts.seen.${A.iban}`, '0');
    storage.set(`bank.alerts.seen.${B.iban}`, '0');
    since[A.iban] = async () => ({ alerts_since: [1, 2, 3, 4, 5].map((i) => alert(i)) });
    since[B.iban] = async () => ({ alerts_since: [alert(1, 'on b')] });
    const stop = followAlerts([A, B]);
    await flush();
    expect(notes.map((n) => n.title).sort()).toEqual([`BKES bank alert on ${B.iban}`, `BKES bank: 5 alerts on ${A.iban}`]);
    // The page keeps the newest 5.
    expect(getAlerts()).toHaveLength(5);
    stop();
  });

  it('notifies nothing when the permission is not granted, and still shows the alert', async () => {
    FakeNotification.permission = 'denied';
    storage.set(`bank.alerts.seen.${A.iban}`, '0');
    const stop = followAlerts([A]);
    await flush();
    sinks.get(A.iban)?.({ stream_alerts: alert(1) });
    expect(getAlerts()).toHaveLength(1);
    expect(notes).toEqual([]);
    FakeNotification.permission = 'granted';
    stop();
  });
});
