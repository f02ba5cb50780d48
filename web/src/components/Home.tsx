import type { ShowFields } from '../queries';
import { useTransactions } from '../live';
import { COMPANY_IBAN } from '../store';
import { TransactionList } from './Transactions';

/** Left column of `/` (spec 7.5). */
export function HomeLeft() {
  return (
    <div class="content">
      <p>This is a small demo project for showing some of the possibilities when exposing kafka topics as GraphQL endpoint.</p>
      <p>All the components, beside the kafka cluster, and schema registry, are written in clojure.</p>
      <p>{`At the right you see some of the transactions of account ${COMPANY_IBAN} further on the right are filtering options.`}</p>
      <p>From the navigation you can go to Bank-employee to see the other accounts or Client to open your own account.</p>
    </div>
  );
}

/** Middle column of `/`: the company account's live transactions. */
export function HomeMiddle({ maxItems, show }: { maxItems: number; show: ShowFields }) {
  const txs = useTransactions(COMPANY_IBAN, maxItems, show);
  return (
    <div>
      <div class="notification is-success">
        <p>Showing transactions from the company account.</p>
      </div>
      <TransactionList txs={txs} show={show} error={txs.error} />
    </div>
  );
}
