import { useEffect, useState } from 'preact/hooks';
import { request, subscribe } from '../api';
import { type Filters, hasFilters, NO_FILTERS } from '../filters';
import { mergeIbans, PAGE_SIZE, pageCount, paginationItems } from '../lists';
import { useReconnectEpoch, useTransactions } from '../live';
import { parseSignedAmount } from '../money';
import { ALL_LAST_TRANSACTIONS, type ShowFields, STREAM_ALL_IBANS } from '../queries';
import { update } from '../store';
import { Icon } from './common';
import { TransactionList } from './Transactions';

/**
 * The account list of the employee view: loaded with all_last_transactions when the view is entered
 * (and after a reconnect), then kept live from the stream of all new transactions.
 */
function useAccounts(): { ibans: string[]; error: string | null } {
  const [ibans, setIbans] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const epoch = useReconnectEpoch();
  useEffect(() => {
    let active = true;
    const stop = subscribe<{ stream_transactions: { iban: string | null } | null }>(STREAM_ALL_IBANS, {}, (d) => {
      const iban = d.stream_transactions?.iban;
      if (active && iban) setIbans((cur) => mergeIbans(cur, [iban]));
    });
    request<{ all_last_transactions: { iban: string | null }[] | null }>(ALL_LAST_TRANSACTIONS)
      .then((d) => {
        if (!active) return;
        setError(null);
        setIbans((cur) => mergeIbans(cur, (d.all_last_transactions ?? []).map((t) => t.iban ?? '')));
      })
      .catch((e: Error) => active && setError(`Could not load the accounts: ${e.message}`));
    return () => {
      active = false;
      stop();
    };
  }, [epoch]);
  return { ibans, error };
}

/** Bulma pagination with the seed's rules (spec 7.5). */
function Pagination({ page, total, setPage, where }: { page: number; total: number; setPage: (p: number) => void; where: string }) {
  const link = (p: number) => (
    <li key={p}>
      <button type="button" class="pagination-link" aria-label={`Goto page ${p}`} onClick={() => setPage(p)}>
        {p}
      </button>
    </li>
  );
  return (
    <nav class="pagination is-small is-rounded" role="navigation" aria-label={`pagination ${where}`}>
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

/** Left column of `/employee`: the accounts, 20 per page; clicking one follows it. */
export function EmployeeLeft({ followed }: { followed: string | null }) {
  const { ibans, error } = useAccounts();
  const [page, setPage] = useState(1);
  const total = pageCount(ibans.length);
  const current = Math.min(page, total);
  const shown = ibans.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);
  return (
    <div id="accounts">
      {error && <p class="notification is-warning">{error}</p>}
      {total > 1 && (
        <div>
          <Pagination page={current} total={total} setPage={setPage} where="top" />
          <br />
        </div>
      )}
      <div class="content">
        {shown.map((iban) => (
          <p key={iban}>
            {iban === followed ? (
              <button type="button" class="button is-info is-fullwidth is-active iban-button" aria-pressed="true" aria-disabled="true">
                {iban}
              </button>
            ) : (
              <button type="button" class="button is-primary is-fullwidth iban-button" aria-pressed="false" onClick={() => update({ employeeIban: iban })}>
                {iban}
              </button>
            )}
          </p>
        ))}
      </div>
      {total > 1 && <Pagination page={current} total={total} setPage={setPage} where="bottom" />}
      <p class="help">{`${ibans.length} account${ibans.length === 1 ? '' : 's'} with transactions; new ones appear here as they happen.`}</p>
    </div>
  );
}

/** The filter form of the followed account; applies on submit (Enter or the button). */
function FilterForm({ filters, setFilters }: { filters: Filters; setFilters: (f: Filters) => void }) {
  const [direction, setDirection] = useState(filters.direction ?? '');
  const [min, setMin] = useState('');
  const [max, setMax] = useState('');
  const [descr, setDescr] = useState(filters.descrIncludes ?? '');
  const [error, setError] = useState<string | null>(null);
  const apply = (e: Event): void => {
    e.preventDefault();
    const lo = parseSignedAmount(min);
    const hi = parseSignedAmount(max);
    if (!lo.ok) return setError(`Min amount: ${lo.error}`);
    if (!hi.ok) return setError(`Max amount: ${hi.error}`);
    if (lo.cents !== null && hi.cents !== null && lo.cents > hi.cents) return setError('Min amount is more than max amount');
    setError(null);
    setFilters({
      direction: direction === 'DEBIT' || direction === 'CREDIT' ? direction : null,
      minAmount: lo.cents,
      maxAmount: hi.cents,
      descrIncludes: descr.trim() === '' ? null : descr.trim(),
    });
  };
  const clear = (): void => {
    setDirection('');
    setMin('');
    setMax('');
    setDescr('');
    setError(null);
    setFilters(NO_FILTERS);
  };
  return (
    <form id="filter-form" class="box" onSubmit={apply}>
      <p class="has-text-weight-semibold mb-2">
        <Icon name="filter" size="18px" /> Filter the transactions
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
          <label class="label is-small" for="filter-min">Min change in € (debits are negative)</label>
          <input id="filter-min" class="input is-small" type="text" inputMode="decimal" placeholder="e.g. -100" value={min} onInput={(e) => setMin((e.target as HTMLInputElement).value)} />
        </div>
        <div class="column is-half-tablet">
          <label class="label is-small" for="filter-max">Max change in €</label>
          <input id="filter-max" class="input is-small" type="text" inputMode="decimal" placeholder="e.g. 500" value={max} onInput={(e) => setMax((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      {error && <p class="help is-danger mb-2" role="alert">{error}</p>}
      <div class="buttons">
        <button id="filter-apply" type="submit" class="button is-info is-small">Apply filters</button>
        <button id="filter-clear" type="button" class="button is-small" onClick={clear} disabled={!hasFilters(filters) && !error}>
          Clear
        </button>
      </div>
    </form>
  );
}

/** Middle column of `/employee`: the followed account with its filters and live list, or a hint. */
export function EmployeeMiddle({ followed, maxItems, show }: { followed: string | null; maxItems: number; show: ShowFields }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  useEffect(() => setFilters(NO_FILTERS), [followed]);
  const txs = useTransactions(followed, maxItems, show, filters);
  if (!followed) {
    return <p class="notification is-info">Select an account from the first column to follow the transactions.</p>;
  }
  return (
    <div>
      <div class="notification is-success">
        <button type="button" class="delete" aria-label={`Stop following ${followed}`} onClick={() => update({ employeeIban: null })} />
        <p>{`You currently follow ${followed}`}</p>
      </div>
      <FilterForm key={followed} filters={filters} setFilters={setFilters} />
      {hasFilters(filters) && <p class="help mb-3">Filters are on: only matching transactions are listed, and only matching new ones arrive.</p>}
      <TransactionList txs={txs} show={show} error={txs.error} />
    </div>
  );
}
