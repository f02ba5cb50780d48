// The page's state (spec 7.9 plus what the UI adds beyond the seed), kept in one object with
// subscribers. Only the login is persisted, in sessionStorage, so a reload keeps the user logged in
// while closing the tab logs out. Everything runs on the browser's single thread.
import { useEffect, useState } from 'preact/hooks';
import { FIELDS, type ShowFields } from './queries';

export type Route = 'home' | 'bank-employee' | 'client' | 'unknown';

export interface Login {
  username: string;
  iban: string;
  token: string;
}

export interface State {
  route: Route;
  path: string;
  mobExpand: boolean;
  showLeft: boolean;
  maxItems: number;
  show: ShowFields;
  employeeIban: string | null;
  login: Login | null;
}

export const COMPANY_IBAN = 'NL66OPEN0000000000';
export const MAX_ITEMS_CHOICES = [5, 10, 25, 50, 100, 250] as const;
const LOGIN_KEY = 'bank.login';

/** Maps a location path to its view (spec 7.2); a trailing slash is ignored. */
export function routeOf(path: string): Route {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (p === '/' || p === '') return 'home';
  if (p === '/employee') return 'bank-employee';
  if (p === '/client') return 'client';
  return 'unknown';
}

/** The path of a view. */
export function pathOf(route: Route): string {
  return route === 'bank-employee' ? '/employee' : route === 'client' ? '/client' : '/';
}

function loadLogin(): Login | null {
  try {
    const raw = window.sessionStorage.getItem(LOGIN_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<Login>;
    if (typeof v.username === 'string' && typeof v.iban === 'string' && typeof v.token === 'string') {
      return { username: v.username, iban: v.iban, token: v.token };
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

let state: State = {
  route: routeOf(window.location.pathname),
  path: window.location.pathname,
  mobExpand: false,
  showLeft: true,
  maxItems: 10,
  show: allShown,
  employeeIban: null,
  login: loadLogin(),
};

const listeners = new Set<() => void>();

/** The current state (treat as read-only; change it with `update`). */
export function getState(): State {
  return state;
}

/** Applies a change to the state and re-renders the subscribed components. */
export function update(change: Partial<State>): void {
  if ('login' in change) saveLogin(change.login ?? null);
  state = { ...state, ...change };
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
  if (path !== window.location.pathname) window.history.pushState(null, '', path);
  update({ route: routeOf(path), path, mobExpand: false });
}

window.addEventListener('popstate', () => {
  update({ route: routeOf(window.location.pathname), path: window.location.pathname, mobExpand: false });
});
