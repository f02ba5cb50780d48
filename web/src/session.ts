// The client's session: logging in (the account get_account gives, plus every account of the user
// from `accounts`), opening another account, switching between them, and logging out. The login
// with each account's token lives in sessionStorage (store.ts); the password is never kept.
import { clearAlerts } from './alerts';
import { ApiError, request } from './api';
import { focusSoon } from './focus';
import { ACCOUNTS, type AccountResult, GET_ACCOUNT, OPEN_ACCOUNT } from './queries';
import { getState, type Login, type OwnAccount, update } from './store';
import { clearOutcomes } from './transfers';

/**
 * Logs in (a new username creates the user and an account) and lists the user's accounts. Resolves
 * with null once logged in, or with the bank's reason for refusing.
 */
export async function logIn(username: string, password: string): Promise<string | null> {
  let r: AccountResult | null;
  try {
    r = (await request<{ get_account: AccountResult | null }>(GET_ACCOUNT, { username, password })).get_account;
  } catch (err) {
    return err instanceof ApiError ? err.message : String(err);
  }
  if (!r?.iban || !r.token) return r?.reason ?? 'the server gave no account';
  const first: OwnAccount = { iban: r.iban, token: r.token };
  let accounts: OwnAccount[] = [first];
  try {
    const d = await request<{ accounts: AccountResult[] | null }>(ACCOUNTS, { username, password });
    const listed = (d.accounts ?? []).filter((a): a is AccountResult & OwnAccount => !!a.iban && !!a.token).map((a) => ({ iban: a.iban, token: a.token }));
    if (listed.length > 0) accounts = listed.some((a) => a.iban === first.iban) ? listed : [first, ...listed];
  } catch {
    // A server without `accounts`: the one account get_account gave.
  }
  clearOutcomes();
  clearAlerts();
  const shown = accounts.find((a) => a.iban === first.iban) ?? first;
  update({ login: { username, iban: shown.iban, token: shown.token, created: r.created === true, accounts } });
  focusSoon('#account-summary');
  return null;
}

/** Ends the session: forgets the login (also in sessionStorage), the transfer outcomes and the alerts shown. */
export function logout(): void {
  clearOutcomes();
  clearAlerts();
  update({ login: null });
  focusSoon('#login-username');
}

/** Shows another of the user's accounts. */
export function switchAccount(iban: string): void {
  const login = getState().login;
  const acc = login?.accounts.find((a) => a.iban === iban);
  if (!login || !acc || acc.iban === login.iban) return;
  update({ login: { ...login, iban: acc.iban, token: acc.token, created: false } });
}

/**
 * Opens another account for the logged-in user (the password is asked again: the bank checks it)
 * and shows it. Resolves with null, or with the bank's reason for refusing.
 */
export async function openAccount(login: Login, password: string): Promise<string | null> {
  try {
    const r = (await request<{ open_account: AccountResult | null }>(OPEN_ACCOUNT, { username: login.username, password })).open_account;
    if (!r?.iban || !r.token) return r?.reason ?? 'the bank opened no account';
    const now = getState().login ?? login;
    const accounts = [...now.accounts.filter((a) => a.iban !== r.iban), { iban: r.iban, token: r.token }];
    update({ login: { ...now, accounts, iban: r.iban, token: r.token, created: false } });
    return null;
  } catch (err) {
    return err instanceof ApiError ? err.message : String(err);
  }
}
