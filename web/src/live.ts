// Hooks that keep views live: a transaction list (query, then subscription), the balance of the
// logged-in account, and a counter that changes each time the connection comes back.
import { useEffect, useState } from 'preact/hooks';
import { EMPTY_LIST, prependTransaction, type TxList } from './lists';
import { onReconnect, request, subscribe } from './api';
import { fieldsNeeded, type Filters, hasFilters, matches, NO_FILTERS, streamArguments } from './filters';
import {
  ACCOUNT_BALANCE,
  type ShowFields,
  showVariables,
  STREAM_BALANCE,
  streamQuery,
  type Transaction,
  TRANSACTIONS_BY_IBAN,
} from './queries';

/** A number that goes up each time the WebSocket connects again after a loss. */
export function useReconnectEpoch(): number {
  const [epoch, setEpoch] = useState(0);
  useEffect(() => onReconnect(() => setEpoch((e) => e + 1)), []);
  return epoch;
}

/**
 * The live transaction list of `iban` (spec 7.4): subscribes, loads the newest `maxItems`, then
 * prepends each streamed transaction. Starts over whenever an argument changes or the connection
 * comes back; with `iban` null the list is empty and nothing is subscribed.
 */
export function useTransactions(
  iban: string | null,
  maxItems: number,
  show: ShowFields,
  filters: Filters = NO_FILTERS,
): TxList & { error: string | null } {
  const [txs, setTxs] = useState<TxList>(EMPTY_LIST);
  const [error, setError] = useState<string | null>(null);
  const epoch = useReconnectEpoch();
  const showKey = JSON.stringify(show);
  const filterKey = JSON.stringify(filters);

  useEffect(() => {
    setTxs(EMPTY_LIST);
    setError(null);
    if (!iban) return undefined;
    // Request what the filters need even when it is hidden; the boxes still honour `show`.
    const wanted: ShowFields = { ...show };
    for (const k of fieldsNeeded(filters)) wanted[k] = true;
    const vars = { iban, ...showVariables(wanted) };
    let loaded = false;
    let early: Transaction[] = [];
    let active = true;

    const stop = subscribe<{ stream_transactions: Transaction | null }>(
      streamQuery(filters),
      { ...vars, ...streamArguments(filters) },
      (d) => {
        const t = d.stream_transactions;
        if (!t || !active) return;
        if (!loaded) early.push(t);
        else setTxs((cur) => prependTransaction(cur, t, maxItems));
      },
      (msg) => active && setError(msg),
    );

    request<{ transactions_by_iban: Transaction[] | null }>(TRANSACTIONS_BY_IBAN, { ...vars, max_items: maxItems })
      .then((d) => {
        if (!active) return;
        let cur: TxList = { list: (d.transactions_by_iban ?? []).filter((t) => !hasFilters(filters) || matches(t, filters)).slice(0, maxItems), last: null };
        for (const t of early) cur = prependTransaction(cur, t, maxItems);
        cur.last = null;
        early = [];
        loaded = true;
        setTxs(cur);
      })
      .catch((e: Error) => {
        if (!active) return;
        loaded = true;
        setError(`Could not load the transactions: ${e.message}`);
      });

    return () => {
      active = false;
      stop();
    };
  }, [iban, maxItems, showKey, filterKey, epoch]);

  return { ...txs, error };
}

/**
 * The balance (a euro string) of the logged-in account: loaded with `account(iban, token)` and
 * replaced by the `new_balance` of each new transaction of that IBAN. Null while unknown.
 */
export function useBalance(iban: string | null, token: string | null): { balance: string | null; error: string | null } {
  const [balance, setBalance] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const epoch = useReconnectEpoch();
  useEffect(() => {
    setBalance(null);
    setError(null);
    if (!iban || !token) return undefined;
    let active = true;
    let newestId = -1;
    const stop = subscribe<{ stream_transactions: { id: number; iban: string | null; new_balance: string | null } | null }>(
      STREAM_BALANCE,
      { iban },
      (d) => {
        const t = d.stream_transactions;
        if (!active || !t || t.iban !== iban || !t.new_balance || t.id < newestId) return;
        newestId = t.id;
        setBalance(t.new_balance);
      },
    );
    request<{ account: { balance: string } | null }>(ACCOUNT_BALANCE, { iban, token })
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
  }, [iban, token, epoch]);
  return { balance, error };
}
