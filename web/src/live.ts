// Hooks that keep views live: a transaction list (query, then subscription), the balance of the
// logged-in account, and a counter that changes each time the connection comes back.
import { useEffect, useRef, useState } from 'preact/hooks';
import { EMPTY_LIST, prependTransaction, type TxList } from './lists';
import { connectionState, getEmployeeKey, onConnectionState, onEmployeeKey, onReconnect, request, subscribe } from './api';
import { fieldsNeeded, filterArguments, type Filters, matches, NO_FILTERS } from './filters';
import {
  ACCOUNT_BALANCE,
  type ShowFields,
  showVariables,
  STREAM_BALANCE,
  streamQuery,
  type Transaction,
  listQuery,
} from './queries';

/** Whether the server can be reached now (the WebSocket is connected); false while it is away. */
export function useOnline(): boolean {
  const [state, setState] = useState(connectionState());
  useEffect(() => onConnectionState(setState), []);
  return state === 'connected' || state === 'restored';
}

/** The employee key in use in this tab (private mode), or null; re-renders when it changes. */
export function useEmployeeKey(): string | null {
  const [key, setKey] = useState(getEmployeeKey());
  useEffect(() => onEmployeeKey(setKey), []);
  return key;
}

/** A number that goes up each time the WebSocket connects again after a loss. */
export function useReconnectEpoch(): number {
  const [epoch, setEpoch] = useState(0);
  useEffect(() => onReconnect(() => setEpoch((e) => e + 1)), []);
  return epoch;
}

/** A transaction list as a view shows it: `loading` until the first answer, then the rows or an error. */
export type LiveList = TxList & { loading: boolean; error: string | null };

/**
 * The live transaction list of `iban` (spec 7.4): subscribes, loads the newest `maxItems` (with
 * filters: the newest `maxItems` that match, filtered by the server), then prepends each streamed
 * transaction. Every row passes `matches` before it is shown, the rule the server applies too.
 * With `asOf` (an ISO-8601 instant) the list is the one of that instant (`transactions_by_iban(at)`)
 * and nothing is subscribed. `token` (the client's) goes with both, for a bank in private mode. Starts over whenever an argument changes or the connection comes back;
 * with `iban` null the list is empty and nothing is subscribed.
 */
export function useTransactions(
  iban: string | null,
  maxItems: number,
  show: ShowFields,
  { filters = NO_FILTERS, asOf = null, token = null }: { filters?: Filters; asOf?: string | null; token?: string | null } = {},
): LiveList {
  const [txs, setTxs] = useState<TxList>(EMPTY_LIST);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const epoch = useReconnectEpoch();
  const showKey = JSON.stringify(show);
  const filterKey = JSON.stringify(filters);

  const shownFor = useRef('');

  useEffect(() => {
    // After a reconnect the rows stay until the fresh answer replaces them; anything else starts empty.
    const key = JSON.stringify([iban, maxItems, showKey, filterKey, asOf, token]);
    if (shownFor.current !== key) {
      shownFor.current = key;
      setTxs(EMPTY_LIST);
      setLoading(iban !== null);
    }
    setError(null);
    if (!iban) return undefined;
    // Request what the filters need even when it is hidden, and the direction with the amount
    // (a debit shows a minus sign); the boxes still honour `show`.
    const wanted: ShowFields = { ...show };
    for (const k of fieldsNeeded(filters)) wanted[k] = true;
    if (wanted.changed_by) wanted.direction = true;
    // A token of the account opens it in private mode (the public default does not look at it).
    const vars = { iban, ...showVariables(wanted), ...filterArguments(filters), ...(token ? { token } : {}) };
    const keep = (t: Transaction): boolean => (t.iban ?? iban) === iban && matches(t, filters);
    let loaded = false;
    let early: Transaction[] = [];
    let active = true;

    // The past does not change: no subscription then.
    const stop = asOf
      ? () => undefined
      : subscribe<{ stream_transactions: Transaction | null }>(
          streamQuery(filters, token !== null),
          vars,
          (d) => {
            const t = d.stream_transactions;
            if (!t || !active || !keep(t)) return;
            if (!loaded) early.push(t);
            else setTxs((cur) => prependTransaction(cur, t, maxItems));
          },
          (msg) => active && setError(msg),
        );

    request<{ transactions_by_iban: (Transaction | null)[] | null }>(listQuery(filters, asOf !== null, token !== null), { ...vars, max_items: maxItems, ...(asOf ? { at: asOf } : {}) })
      .then((d) => {
        if (!active) return;
        const rows = (d.transactions_by_iban ?? []).filter((t): t is Transaction => t !== null && keep(t));
        let cur: TxList = { list: rows.slice(0, maxItems), last: null };
        for (const t of early) cur = prependTransaction(cur, t, maxItems);
        cur.last = null;
        early = [];
        loaded = true;
        setTxs(cur);
        setLoading(false);
      })
      .catch((e: Error) => {
        if (!active) return;
        loaded = true;
        setLoading(false);
        setError(`Could not load the transactions: ${e.message}`);
      });

    return () => {
      active = false;
      stop();
    };
  }, [iban, maxItems, showKey, filterKey, asOf, token, epoch]);

  return { ...txs, loading, error };
}

/**
 * The balance (a euro string) of the logged-in account: loaded with `account(iban, token)` and
 * replaced by the `new_balance` of each new transaction of that IBAN. With `asOf`, the balance of
 * that instant (`account(at)`), not followed. Null while unknown.
 */
export function useBalance(iban: string | null, token: string | null, asOf: string | null = null): { balance: string | null; error: string | null } {
  const [balance, setBalance] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const epoch = useReconnectEpoch();
  useEffect(() => {
    setBalance(null);
    setError(null);
    if (!iban || !token) return undefined;
    let active = true;
    let newestId = -1;
    const stop = asOf
      ? () => undefined
      : subscribe<{ stream_transactions: { id: number; iban: string | null; new_balance: string | null } | null }>(STREAM_BALANCE, { iban, token }, (d) => {
          const t = d.stream_transactions;
          if (!active || !t || t.iban !== iban || !t.new_balance || t.id < newestId) return;
          newestId = t.id;
          setBalance(t.new_balance);
        });
    request<{ account: { balance: string } | null }>(ACCOUNT_BALANCE, { iban, token, at: asOf })
      .then((d) => {
        // A streamed transaction that arrived meanwhile is newer than this answer may be.
        if (active && newestId < 0) {
          if (d.account) setBalance(d.account.balance);
          else setError('The bank does not know this account and token: log out and log in again');
        }
      })
      .catch((e: Error) => active && setError(`Could not load the balance: ${e.message}`));
    return () => {
      active = false;
      stop();
    };
  }, [iban, token, asOf, epoch]);
  return { balance, error };
}
