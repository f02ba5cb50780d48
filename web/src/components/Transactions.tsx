import type { ShowFields, Transaction } from '../queries';
import type { TxList } from '../lists';
import { Icon } from './common';

/** One transaction (spec 7.4): direction, amount, counter party and id; description; balance and IBAN. */
function TransactionBox({ t, show, isLast }: { t: Transaction; show: ShowFields; isLast: boolean }) {
  const has = (k: keyof ShowFields): boolean => show[k] && t[k] !== undefined && t[k] !== null;
  const first = has('changed_by') || has('from_to') || has('direction');
  return (
    <div
      id={`transaction-box-${t.id}`}
      class={`box transaction-box ${isLast ? 'will-fade-out' : 'will-fade-in'}`}
      style={isLast ? { visibility: 'hidden' } : undefined}
      aria-hidden={isLast ? 'true' : undefined}
    >
      <div class="columns is-multiline is-mobile">
        <div class="column is-full-mobile is-half-tablet is-one-third-desktop">
          {first && (
            <p class="is-clearfix">
              {has('direction') &&
                (t.direction === 'CREDIT' ? (
                  <span class="is-pulled-left">
                    <Icon name="arrow-up" color="#95c23d" label="credit" />
                  </span>
                ) : (
                  <span class="is-pulled-left">
                    <Icon name="arrow-down" color="#b30000" label="debit" />
                  </span>
                ))}
              {has('changed_by') && <span class="is-pulled-right changed-by">{t.changed_by}</span>}
            </p>
          )}
          {has('from_to') && <p class="from-to">{t.from_to}</p>}
          <p class="transaction-id has-text-grey">{t.id}</p>
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

/** The list container `#transactions`: newest first, then the entry fading out. */
export function TransactionList({ txs, show, error }: { txs: TxList; show: ShowFields; error?: string | null }) {
  return (
    <div id="transactions" aria-live="polite" aria-relevant="additions">
      {error && <p class="notification is-warning">{error}</p>}
      {txs.list.map((t) => (
        <TransactionBox key={t.id} t={t} show={show} isLast={false} />
      ))}
      {txs.last && <TransactionBox key={`last-${txs.last.id}`} t={txs.last} show={show} isLast={true} />}
    </div>
  );
}
