import { useEffect, useRef, useState } from 'preact/hooks';
import { request, setEmployeeKey, subscribe } from '../api';
import { type Filters, hasFilters, NO_FILTERS } from '../filters';
import { formatIban } from '../iban';
import { mergeIbans, PAGE_SIZE, pageCount, paginationItems, searchAccounts } from '../lists';
import { useEmployeeKey, useReconnectEpoch, useTransactions } from '../live';
import { formatCents, parseFilterAmount } from '../money';
import { ALL_LAST_TRANSACTIONS, type ShowFields, STREAM_ALL_IBANS } from '../queries';
import { employeeSearch, type Tab, update } from '../store';
import { AsOf } from './AsOf';
import { Icon, Notice, ViewTabs } from './common';
import { EmployeeHistory } from './History';
import { TransactionList } from './Transactions';

interface Accounts {
  /** The accounts known when the view opened (or the connection came back), by account number. */
  listed: string[];
  /** Accounts that opened since, newest first: shown apart, so the sorted list keeps its place. */
  arrived: string[];
  loading: boolean;
  error: string | null;
}

/**
 * The account list of the employee view: loaded with all_last_transactions when the view is
 * entered (and after a reconnect, when the arrivals join the sorted list), then kept live from the
 * stream of all new transactions.
 */
function useAccounts(): Accounts {
  const [listed, setListed] = useState<string[]>([]);
  const [arrived, setArrived] = useState<string[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const known = useRef(new Set<string>());
  const arrivals = useRef<string[]>([]);
  const epoch = useReconnectEpoch();
  const key = useEmployeeKey();
  const keyUsed = useRef(key);
  useEffect(() => {
    // Another employee key may see other accounts (or none): start over.
    if (keyUsed.current !== key) {
      keyUsed.current = key;
      known.current = new Set();
      arrivals.current = [];
      setArrived([]);
      setListed([]);
      setLoading(true);
    }
    setError(null);
    let active = true;
    let loaded = false;
    const early: string[] = [];
    const stop = subscribe<{ stream_transactions: { iban: string | null } | null }>(
      STREAM_ALL_IBANS,
      {},
      (d) => {
        const iban = d.stream_transactions?.iban;
        if (!active || !iban || known.current.has(iban)) return;
        if (!loaded) {
          early.push(iban);
          return;
        }
        known.current.add(iban);
        arrivals.current = [iban, ...arrivals.current];
        setArrived(arrivals.current);
      },
      // A refused stream (private mode without a valid key) says why; the list query says it too.
      (msg) => active && setError((cur) => cur ?? `New accounts do not arrive: ${msg}`),
    );
    request<{ all_last_transactions: { iban: string | null }[] | null }>(ALL_LAST_TRANSACTIONS)
      .then((d) => {
        if (!active) return;
        setError(null);
        const all = [...(d.all_last_transactions ?? []).map((t) => t.iban ?? ''), ...early].filter(Boolean);
        for (const i of all) known.current.add(i);
        // Arrivals seen before a reconnect now take their place in the sorted list.
        const joining = [...all, ...arrivals.current];
        arrivals.current = [];
        setArrived([]);
        setListed((cur) => mergeIbans(cur, joining));
      })
      .catch((e: Error) => active && setError(`Could not load the accounts: ${e.message}`))
      .finally(() => {
        loaded = true;
        if (active) setLoading(false);
      });
    return () => {
      active = false;
      stop();
    };
  }, [epoch, key]);
  return { listed, arrived, loading, error };
}

/** Bulma pagination with the seed's rules (spec 7.5). */
function Pagination({ page, total, setPage, where }: { page: number; total: number; setPage: (p: number) => void; where: string }) {
  const link = (p: number) => (
    <li key={p}>
      <button type="button" class="pagination-link" aria-label={`Go to page ${p}`} onClick={() => setPage(p)}>
        {p}
      </button>
    </li>
  );
  return (
    <nav class="pagination is-small is-rounded" role="navigation" aria-label={`Account pages (${where})`}>
      <ul class="pagination-list">
        {paginationItems(page, total).map((item, i) =>
          item.kind === 'ellipsis' ? (
            <li key={`e${i}`}>
              <span class="pagination-ellipsis">&hellip;</span>
            </li>
          ) : item.kind === 'current' ? (
            <li key="cur">
              <button type="button" class="pagination-link is-current" aria-current="page" aria-label={`Page ${item.page}`}>
                {item.page}
              </button>
            </li>
          ) : (
            link(item.page)
          ),
        )}
      </ul>
    </nav>
  );
}

function AccountButton({ iban, followed }: { iban: string; followed: string | null }) {
  return (
    <p>
      {iban === followed ? (
        <button type="button" class="button is-info is-fullwidth is-active iban-button" aria-pressed="true" aria-disabled="true" title={formatIban(iban)}>
          {iban}
        </button>
      ) : (
        <button type="button" class="button is-primary is-fullwidth iban-button" aria-pressed="false" title={formatIban(iban)} onClick={() => update({ employeeIban: iban })}>
          {iban}
        </button>
      )}
    </p>
  );
}

/**
 * The employee key of the bank's private mode (`bank run --private`, a key from `bank employee-key`):
 * typed once per tab and kept in sessionStorage, never in the address; the page sends it with every
 * request (see api.ts). In the public default no key is needed, and a key is not looked at.
 */
function EmployeeKeyForm({ refused }: { refused: boolean }) {
  const key = useEmployeeKey();
  const [typed, setTyped] = useState('');
  if (key) {
    return (
      <div id="employee-key-form" class="box employee-key" data-state="set">
        <p id="employee-key-state" class="mb-2">
          <Icon name="key" size={18} /> Your employee key is in use in this tab.
        </p>
        <button id="employee-key-forget" type="button" class="button is-small" onClick={() => setEmployeeKey(null)}>
          Forget the key
        </button>
      </div>
    );
  }
  // Closed until needed: a public bank never asks; a refusal to list the accounts opens it.
  return (
    <details id="employee-key-details" class="employee-key mb-3" open={refused}>
      <summary>
        <Icon name="key" size={16} /> Employee key (private mode)
      </summary>
    <form
      id="employee-key-form"
      class="box employee-key"
      data-state="none"
      onSubmit={(e) => {
        e.preventDefault();
        if (typed.trim() === '') return;
        setEmployeeKey(typed);
        setTyped('');
      }}
    >
      <label class="label is-small" for="employee-key">
        Your employee key
      </label>
      <div class="field has-addons mb-0">
        <div class="control is-expanded has-icons-left">
          <input
            id="employee-key"
            class="input is-small"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={typed}
            aria-describedby="employee-key-help"
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
          <Icon name="key" cls="is-left" size={18} />
        </div>
        <div class="control">
          <button id="employee-key-use" type="submit" class="button is-info is-small" disabled={typed.trim() === ''}>
            Use key
          </button>
        </div>
      </div>
      <p id="employee-key-help" class="help">
        Only a bank in private mode asks for it (from <code>bank employee-key</code>): it is kept in this tab until you close it, never in the address.
      </p>
    </form>
    </details>
  );
}

/**
 * Left column of `/employee`: the employee key (private mode), a search box, the accounts that
 * opened while the page is open, then every account by account number, 20 per page; clicking one
 * follows it. New accounts never move the page being looked at.
 */
export function EmployeeLeft({ followed }: { followed: string | null }) {
  const { listed, arrived, loading, error } = useAccounts();
  const [query, setQuery] = useState('');
  const [page, setPage] = useState(1);
  const shownListed = searchAccounts(listed, query);
  const shownArrived = searchAccounts(arrived, query);
  const total = pageCount(shownListed.length);
  const current = Math.min(page, total);
  const shown = shownListed.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);
  // Start on the page of the followed account (e.g. after a reload), once the list is there.
  const placed = useRef(false);
  useEffect(() => {
    if (placed.current || loading || !followed) return;
    placed.current = true;
    const at = listed.indexOf(followed);
    if (at >= 0) setPage(Math.floor(at / PAGE_SIZE) + 1);
  }, [loading]);
  const count = listed.length + arrived.length;
  return (
    <div id="accounts">
      <EmployeeKeyForm refused={error !== null} />
      <div class="field">
        <label class="label is-small" for="account-search">
          Find an account
        </label>
        <div class="control has-icons-left">
          <input
            id="account-search"
            class="input is-small"
            type="search"
            placeholder="IBAN or account number"
            autocomplete="off"
            spellcheck={false}
            value={query}
            onInput={(e) => {
              setQuery((e.target as HTMLInputElement).value);
              setPage(1);
            }}
          />
          <Icon name="magnify" cls="is-left" size={18} />
        </div>
      </div>
      {error && (
        <p id="accounts-error" class="notification is-warning" role="alert">
          {error}
        </p>
      )}
      {loading && (
        <p id="accounts-loading" class="list-state">
          Loading accounts…
        </p>
      )}
      {!loading && count === 0 && !error && (
        <p id="accounts-empty" class="list-state">
          No accounts yet: the first one appears here as soon as a client logs in.
        </p>
      )}
      {!loading && count > 0 && shownListed.length + shownArrived.length === 0 && (
        <p id="accounts-no-match" class="list-state">{`No account contains "${query.trim()}".`}</p>
      )}
      {shownArrived.length > 0 && (
        <div id="accounts-arrived" class="content">
          <p class="help">New since you opened this page:</p>
          {shownArrived.map((iban) => (
            <AccountButton key={iban} iban={iban} followed={followed} />
          ))}
        </div>
      )}
      {total > 1 && (
        <div>
          <Pagination page={current} total={total} setPage={setPage} where="top" />
          <br />
        </div>
      )}
      <div id="accounts-listed" class="content">
        {shown.map((iban) => (
          <AccountButton key={iban} iban={iban} followed={followed} />
        ))}
      </div>
      {total > 1 && <Pagination page={current} total={total} setPage={setPage} where="bottom" />}
      {!loading && count > 0 && (
        <p class="help" id="accounts-count">{`${count} account${count === 1 ? '' : 's'}, by account number (the digits after OPEN); new ones appear at the top as they open.`}</p>
      )}
    </div>
  );
}

/** Cents as the filter field shows them again (`1.000,50`), for a form filled from the address. */
function centsText(cents: number | null): string {
  return cents === null ? '' : formatCents(cents).slice(1);
}

/** The filter form of the followed account; applies on submit (Enter or the button). */
function FilterForm({ filters }: { filters: Filters }) {
  const [direction, setDirection] = useState<string>(filters.direction ?? '');
  const [min, setMin] = useState(centsText(filters.minAmount));
  const [max, setMax] = useState(centsText(filters.maxAmount));
  const [descr, setDescr] = useState(filters.descrIncludes ?? '');
  const [error, setError] = useState<string | null>(null);
  const apply = (e: Event): void => {
    e.preventDefault();
    const lo = parseFilterAmount(min);
    const hi = parseFilterAmount(max);
    if (!lo.ok) return setError(`Min amount: ${lo.error}`);
    if (!hi.ok) return setError(`Max amount: ${hi.error}`);
    if (lo.cents !== null && hi.cents !== null && lo.cents > hi.cents) return setError('Min amount is more than max amount');
    setError(null);
    update({
      filters: {
        direction: direction === 'DEBIT' || direction === 'CREDIT' ? direction : null,
        minAmount: lo.cents,
        maxAmount: hi.cents,
        descrIncludes: descr.trim() === '' ? null : descr,
      },
    });
  };
  const clear = (): void => {
    setDirection('');
    setMin('');
    setMax('');
    setDescr('');
    setError(null);
    update({ filters: NO_FILTERS });
  };
  return (
    <form id="filter-form" class="box" onSubmit={apply}>
      <p class="has-text-weight-semibold mb-2">
        <Icon name="filter" size={18} /> Filter the transactions
      </p>
      <div class="columns is-multiline is-variable is-2">
        <div class="column is-half-tablet">
          <label class="label is-small" for="filter-direction">Direction</label>
          <div class="select is-small is-fullwidth">
            <select id="filter-direction" value={direction} onChange={(e) => setDirection((e.target as HTMLSelectElement).value)}>
              <option value="">debit and credit</option>
              <option value="DEBIT">debit only</option>
              <option value="CREDIT">credit only</option>
            </select>
          </div>
        </div>
        <div class="column is-half-tablet">
          <label class="label is-small" for="filter-descr">Description contains</label>
          <input id="filter-descr" class="input is-small" type="text" value={descr} onInput={(e) => setDescr((e.target as HTMLInputElement).value)} />
        </div>
        <div class="column is-half-tablet">
          <label class="label is-small" for="filter-min">At least € moved</label>
          <input id="filter-min" class="input is-small" type="text" inputMode="decimal" placeholder="e.g. 10" aria-describedby="filter-amount-help" value={min} onInput={(e) => setMin((e.target as HTMLInputElement).value)} />
        </div>
        <div class="column is-half-tablet">
          <label class="label is-small" for="filter-max">At most € moved</label>
          <input id="filter-max" class="input is-small" type="text" inputMode="decimal" placeholder="e.g. 500" aria-describedby="filter-amount-help" value={max} onInput={(e) => setMax((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <p id="filter-amount-help" class="help mb-2">
        Amounts are what moved, debit or credit alike: a debit of €12,00 moved 12.
      </p>
      {error && (
        <p class="help is-danger mb-2" role="alert">
          {error}
        </p>
      )}
      <div class="buttons">
        <button id="filter-apply" type="submit" class="button is-info is-small">
          Apply filters
        </button>
        <button id="filter-clear" type="button" class="button is-small" onClick={clear} disabled={!hasFilters(filters) && !error}>
          Clear
        </button>
      </div>
    </form>
  );
}

const EMPLOYEE_TAB_LINKS: { tab: Tab; label: string; icon: 'swap-horizontal' | 'history' }[] = [
  { tab: 'transactions', label: 'Transactions', icon: 'swap-horizontal' },
  { tab: 'history', label: 'History', icon: 'history' },
];

/**
 * Middle column of `/employee`: the followed account with its transactions (filters, as of a past
 * moment or live) or its history, or a hint.
 */
export function EmployeeMiddle({
  followed,
  filters,
  maxItems,
  show,
  tab,
  asOf,
}: {
  followed: string | null;
  filters: Filters;
  maxItems: number;
  show: ShowFields;
  tab: Tab;
  asOf: string | null;
}) {
  const past = tab === 'transactions' ? asOf : null;
  const txs = useTransactions(tab === 'transactions' ? followed : null, maxItems, show, { filters, asOf: past });
  if (!followed) {
    return <p class="notification is-info">Select an account from the first column to follow the transactions.</p>;
  }
  const on = hasFilters(filters);
  return (
    <div>
      <Notice kind="is-success" closeLabel={`Stop following ${followed}`} onClose={() => update({ employeeIban: null })}>
        <p>{`You currently follow ${followed}`}</p>
      </Notice>
      <ViewTabs
        label={`Account ${followed}`}
        tabs={EMPLOYEE_TAB_LINKS.map((t) => ({
          path: `${t.tab === 'history' ? '/employee/history' : '/employee'}${employeeSearch(followed, filters, t.tab === 'transactions' ? past : null)}`,
          label: t.label,
          icon: t.icon,
          current: t.tab === tab,
        }))}
      />
      {tab === 'history' ? (
        <EmployeeHistory iban={followed} asOfPath={(at) => `/employee${employeeSearch(followed, NO_FILTERS, at)}`} />
      ) : (
        <>
          <AsOf asOf={past} what="this account" />
          <FilterForm key={followed} filters={filters} />
          <p id="filter-summary" class="help mb-3">
            {past
              ? `As it was then: the ${maxItems} newest ${on ? 'matching ' : ''}transactions of that moment.`
              : on
                ? `Filters are on: the ${maxItems} newest matching transactions are listed, and only matching new ones arrive.`
                : `The ${maxItems} newest transactions are listed; new ones arrive as they happen.`}
          </p>
          <TransactionList txs={txs} show={show} filtered={on} past={past !== null} />
        </>
      )}
    </div>
  );
}
