// The page's state (spec 7.9 plus what the UI adds beyond the seed), kept in one object with
// subscribers. The login (with the token of each of the user's accounts) is kept in
// sessionStorage, so a reload keeps the user logged in while closing the tab logs out; the page
// size and field toggles in localStorage; the employee's followed account and filters, and the
// client's or employee's `as of` instant, in the address
// (`/employee?follow=IBAN&direction=DEBIT&min=1000&at=2026-12-04T09:30:00.000Z`), so a reload or a
// shared link shows the same list. The parts of a view have their own paths (`/client/history`).
// Everything runs on the browser's single thread.
import { useEffect, useState } from 'preact/hooks';
import { type Filters, filtersFromParams, filtersToParams, NO_FILTERS } from './filters';
import { FIELDS, type ShowFields } from './queries';

export type Route = 'home' | 'bank-employee' | 'client' | 'transfer' | 'unknown';

/** The parts of the client's and the employee's view, each at its own path (`/client/history`). */
export type Tab = 'transactions' | 'history' | 'alerts' | 'owners';
export const CLIENT_TABS: readonly Tab[] = ['transactions', 'history', 'alerts', 'owners'];
export const EMPLOYEE_TABS: readonly Tab[] = ['transactions', 'history'];

/** One account of the logged-in user with the user's token for it. */
export interface OwnAccount {
  iban: string;
  token: string;
}

export interface Login {
  username: string;
  /** The account shown (one of `accounts`). */
  iban: string;
  token: string;
  /** This login created the user and its account (the notice shows until dismissed). */
  created?: boolean;
  /** Every account of the user (`accounts(username, password)` at login), the shown one included. */
  accounts: OwnAccount[];
}

export interface State {
  route: Route;
  path: string;
  mobExpand: boolean;
  showLeft: boolean;
  maxItems: number;
  show: ShowFields;
  employeeIban: string | null;
  filters: Filters;
  /** The uuid of the transfer page (`/transfer/{uuid}`). */
  transferUuid: string | null;
  login: Login | null;
  /** The part of the client's or employee's view shown. */
  tab: Tab;
  /**
   * The instant the client's or employee's transactions are shown as of (ISO-8601 UTC, `?at=` in
   * the address), or null for the live view.
   */
  asOf: string | null;
}

export const COMPANY_IBAN = 'NL66OPEN0000000000';
export const MAX_ITEMS_CHOICES = [5, 10, 25, 50, 100, 250] as const;
const LOGIN_KEY = 'bank.login';
const SETTINGS_KEY = 'bank.settings';
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Maps a location path to its view (spec 7.2, plus `/transfer/{uuid}`); a trailing slash is ignored. */
export function routeOf(path: string): Route {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (p === '/' || p === '') return 'home';
  if (p === '/employee' || p === '/employee/history') return 'bank-employee';
  if (p === '/client' || CLIENT_TABS.some((t) => p === `/client/${t}` && t !== 'transactions')) return 'client';
  if (p.startsWith('/transfer/') && UUID_RE.test(decodeURIComponent(p.slice(10)))) return 'transfer';
  return 'unknown';
}

/** The uuid of a `/transfer/{uuid}` path, or null. */
export function transferUuidOf(path: string): string | null {
  return routeOf(path) === 'transfer' ? decodeURIComponent(path.replace(/\/+$/, '').slice(10)) : null;
}

/** The part of a view a path shows: `/client/alerts` is the client's alerts. */
export function tabOf(path: string): Tab {
  const p = path.replace(/\/+$/, '');
  const last = p.slice(p.lastIndexOf('/') + 1);
  const tabs = routeOf(p) === 'bank-employee' ? EMPLOYEE_TABS : routeOf(p) === 'client' ? CLIENT_TABS : [];
  return tabs.find((t) => t === last) ?? 'transactions';
}

const TAB_TITLES: Record<Tab, string> = { transactions: '', history: 'Account history', alerts: 'Alerts', owners: 'Owners' };

/** The page title of each view. */
export function titleOf(route: Route, transferUuid: string | null = null, tab: Tab = 'transactions'): string {
  const name: Record<Route, string> = {
    home: 'Home',
    'bank-employee': 'Bank employee',
    client: 'Client',
    transfer: `Transfer ${transferUuid?.slice(0, 8) ?? ''}`,
    unknown: 'Page not found',
  };
  const part = route === 'client' || route === 'bank-employee' ? TAB_TITLES[tab] : '';
  return `${part ? `${part} · ` : ''}${name[route]} · BKES bank`;
}

/** The path of a view (and of a part of it). */
export function pathOf(route: Route, tab: Tab = 'transactions'): string {
  const base = route === 'bank-employee' ? '/employee' : route === 'client' ? '/client' : '/';
  return base !== '/' && tab !== 'transactions' ? `${base}/${tab}` : base;
}

/** An ISO-8601 instant with its time zone (`Z` or `+01:00`), as the API's `at` takes it. */
const AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The `at` of an address, or null when it is missing or not an instant with a time zone. */
export function asOfFromSearch(search: string): string | null {
  const at = new URLSearchParams(search).get('at');
  return at && AT_RE.test(at) && !Number.isNaN(Date.parse(at)) ? at : null;
}

function loadLogin(): Login | null {
  try {
    const raw = window.sessionStorage.getItem(LOGIN_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<Login>;
    if (typeof v.username === 'string' && typeof v.iban === 'string' && typeof v.token === 'string') {
      const accounts = Array.isArray(v.accounts) ? v.accounts.filter((a) => typeof a?.iban === 'string' && typeof a?.token === 'string') : [];
      if (!accounts.some((a) => a.iban === v.iban)) accounts.unshift({ iban: v.iban, token: v.token });
      return { username: v.username, iban: v.iban, token: v.token, created: v.created === true, accounts };
    }
  } catch {
    // Storage disabled or a corrupt entry: start logged out.
  }
  return null;
}

function saveLogin(login: Login | null): void {
  try {
    if (login) window.sessionStorage.setItem(LOGIN_KEY, JSON.stringify(login));
    else window.sessionStorage.removeItem(LOGIN_KEY);
  } catch {
    // Storage disabled: the login then lasts until the page is reloaded.
  }
}

const allShown = Object.fromEntries(FIELDS.map((f) => [f.key, true])) as ShowFields;

function loadSettings(): { maxItems: number; show: ShowFields } {
  const settings = { maxItems: 10, show: allShown };
  try {
    const v = JSON.parse(window.localStorage.getItem(SETTINGS_KEY) ?? '{}') as { maxItems?: unknown; show?: Record<string, unknown> };
    if ((MAX_ITEMS_CHOICES as readonly unknown[]).includes(v.maxItems)) settings.maxItems = v.maxItems as number;
    if (v.show && typeof v.show === 'object') {
      settings.show = Object.fromEntries(FIELDS.map((f) => [f.key, v.show?.[f.key] !== false])) as ShowFields;
    }
  } catch {
    // Storage disabled or a corrupt entry: the defaults.
  }
  return settings;
}

function saveSettings(s: State): void {
  try {
    window.localStorage.setItem(SETTINGS_KEY, JSON.stringify({ maxItems: s.maxItems, show: s.show }));
  } catch {
    // Storage disabled: the settings last until the page is reloaded.
  }
}

/** The employee's followed account and filters from the address. */
function employeeFromUrl(): { employeeIban: string | null; filters: Filters } {
  const params = new URLSearchParams(window.location.search);
  const iban = params.get('follow');
  return { employeeIban: iban && /^[A-Z0-9]{5,34}$/.test(iban) ? iban : null, filters: filtersFromParams(params) };
}

/** The address of the employee view for a followed account, filters and `as of` instant. */
export function employeeSearch(employeeIban: string | null, filters: Filters, asOf: string | null = null): string {
  const params = new URLSearchParams();
  if (employeeIban) params.set('follow', employeeIban);
  if (employeeIban) filtersToParams(filters, params);
  if (employeeIban && asOf) params.set('at', asOf);
  const q = params.toString();
  return q ? `?${q}` : '';
}

/** The address of the client view: only the `as of` instant (the login is not in the address). */
export function clientSearch(asOf: string | null): string {
  return asOf ? `?${new URLSearchParams({ at: asOf }).toString()}` : '';
}

const initialRoute = routeOf(window.location.pathname);
let state: State = {
  route: initialRoute,
  path: window.location.pathname,
  mobExpand: false,
  showLeft: true,
  ...loadSettings(),
  ...(initialRoute === 'bank-employee' ? employeeFromUrl() : { employeeIban: null, filters: NO_FILTERS }),
  transferUuid: transferUuidOf(window.location.pathname),
  login: loadLogin(),
  tab: tabOf(window.location.pathname),
  asOf: asOfFromSearch(window.location.search),
};

const listeners = new Set<() => void>();

/** The current state (treat as read-only; change it with `update`). */
export function getState(): State {
  return state;
}

/** Applies a change to the state and re-renders the subscribed components. */
export function update(change: Partial<State>): void {
  if ('login' in change) saveLogin(change.login ?? null);
  // A new followed account starts without filters.
  if ('employeeIban' in change && !('filters' in change) && change.employeeIban !== state.employeeIban) change = { ...change, filters: NO_FILTERS };
  // Another account (followed, or switched to) starts live.
  const otherAccount =
    ('employeeIban' in change && change.employeeIban !== state.employeeIban && state.route === 'bank-employee') ||
    ('login' in change && change.login?.iban !== state.login?.iban);
  if (otherAccount && !('asOf' in change)) change = { ...change, asOf: null };
  state = { ...state, ...change };
  if ('maxItems' in change || 'show' in change) saveSettings(state);
  const addressed = 'employeeIban' in change || 'filters' in change || 'route' in change || 'asOf' in change;
  if (addressed && (state.route === 'bank-employee' || state.route === 'client')) {
    // The past is only shown on the transactions part of a view.
    const asOf = state.tab === 'transactions' ? state.asOf : null;
    const search = state.route === 'client' ? clientSearch(asOf) : employeeSearch(state.employeeIban, state.filters, asOf);
    if (search !== window.location.search) window.history.replaceState(null, '', `${window.location.pathname}${search}`);
  }
  for (const l of listeners) l();
}

/** A hook returning the current state; the component re-renders on every change. */
export function useAppState(): State {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return state;
}

/** Goes to a path of the app without reloading the page (HTML5 history). */
export function navigate(path: string): void {
  if (path !== window.location.pathname + window.location.search) window.history.pushState(null, '', path);
  const url = new URL(path, window.location.href);
  const pathname = url.pathname;
  const route = routeOf(pathname);
  const change: Partial<State> = { route, path: pathname, transferUuid: transferUuidOf(pathname), mobExpand: false, tab: tabOf(pathname), asOf: asOfFromSearch(url.search) };
  // A link that names a followed account (from a history or a transfer page) follows it.
  const follow = url.searchParams.get('follow');
  if (route === 'bank-employee' && follow && /^[A-Z0-9]{5,34}$/.test(follow)) change.employeeIban = follow;
  update(change);
}

window.addEventListener('popstate', () => {
  const path = window.location.pathname;
  const route = routeOf(path);
  update({ route, path, transferUuid: transferUuidOf(path), mobExpand: false, tab: tabOf(path), asOf: asOfFromSearch(window.location.search), ...(route === 'bank-employee' ? employeeFromUrl() : {}) });
});
