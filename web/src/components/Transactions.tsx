import { amountMoved } from '../filters';
import type { LiveList } from '../live';
import { formatCents } from '../money';
import type { ShowFields, Transaction } from '../queries';
import { formatTime } from '../time';
import { Icon, Link } from './common';

/** The amount of a transaction as shown: a debit with a minus sign (`€-12,34`), a credit without. */
export function shownAmount(t: Transaction): string | null {
  const moved = amountMoved(t);
  if (moved === null) return t.changed_by ?? null;
  return formatCents(t.direction === 'DEBIT' ? -moved : moved);
}

/**
 * One transaction (spec 7.4): direction, amount (debits with a minus sign), counter party, then
 * the id, the time and a link to its transfer; the description; the balance and the IBAN.
 */
function TransactionBox({ t, show, isLast }: { t: Transaction; show: ShowFields; isLast: boolean }) {
  const has = (k: keyof ShowFields): boolean => show[k] && t[k] !== undefined && t[k] !== null;
  const first = has('changed_by') || has('from_to') || has('direction');
  const time = formatTime(t.at);
  return (
    <div
      id={`transaction-box-${t.id}`}
      class={`box transaction-box ${isLast ? 'will-fade-out' : 'will-fade-in'} ${t.direction === 'DEBIT' ? 'is-debit' : 'is-credit'}`}
      aria-hidden={isLast ? 'true' : undefined}
    >
      <div class="columns is-multiline is-mobile">
        <div class="column is-full-mobile is-half-tablet is-one-third-desktop">
          {first && (
            <p class="is-clearfix">
              {has('direction') &&
                (t.direction === 'CREDIT' ? (
                  <span class="is-pulled-left">
                    <Icon name="arrow-up" tone="credit" label="credit" />
                  </span>
                ) : (
                  <span class="is-pulled-left">
                    <Icon name="arrow-down" tone="debit" label="debit" />
                  </span>
                ))}
              {has('changed_by') && <span class="is-pulled-right changed-by">{shownAmount(t)}</span>}
            </p>
          )}
          {has('from_to') && <p class="from-to">{t.from_to}</p>}
          <p class="transaction-meta">
            <span class="transaction-id">{`#${t.id}`}</span>
            {time && (
              <>
                {' · '}
                <time class="transaction-at" dateTime={t.at ?? undefined}>
                  {time}
                </time>
              </>
            )}
          </p>
          {t.transfer && !isLast && (
            <p class="transaction-transfer">
              <Link to={`/transfer/${t.transfer}`} class="transfer-link" aria-label={`Transfer details of transaction ${t.id}`}>
                Transfer details
              </Link>
            </p>
          )}
        </div>
        {has('descr') && (
          <div class="column is-full-mobile is-half-tablet is-one-third-desktop">
            <p class="descr">{t.descr}</p>
          </div>
        )}
        {(has('new_balance') || has('iban')) && (
          <div class="column is-full-mobile is-half-tablet is-one-third-desktop">
            {has('new_balance') && <p class="new-balance">{t.new_balance}</p>}
            {has('iban') && <p class="iban">{t.iban}</p>}
          </div>
        )}
      </div>
    </div>
  );
}

/**
 * The list container `#transactions`: a loading line, an empty state, or the transactions newest
 * first, then the entry fading out. `past`: the list of an earlier moment (`as of`), not live.
 */
export function TransactionList({ txs, show, filtered = false, past = false }: { txs: LiveList; show: ShowFields; filtered?: boolean; past?: boolean }) {
  const empty = !txs.loading && !txs.error && txs.list.length === 0;
  return (
    <div id="transactions" class={past ? 'is-past' : ''} data-past={past ? 'true' : 'false'} aria-live="polite" aria-relevant="additions" aria-busy={txs.loading ? 'true' : 'false'}>
      {txs.error && <p class="notification is-warning">{txs.error}</p>}
      {txs.loading && (
        <p id="transactions-loading" class="list-state">
          <Icon name="clock-outline" size={18} /> Loading transactions…
        </p>
      )}
      {empty && (
        <p id="transactions-empty" class="list-state">
          {filtered ? (past ? 'No transactions matched these filters at that moment.' : 'No transactions match these filters.') : past ? 'No transactions at that moment.' : 'No transactions yet.'}
        </p>
      )}
      {txs.list.map((t) => (
        <TransactionBox key={t.id} t={t} show={show} isLast={false} />
      ))}
      {txs.last && <TransactionBox key={`last-${txs.last.id}`} t={txs.last} show={show} isLast={true} />}
    </div>
  );
}
