import type { ShowFields } from '../queries';
import { useTransactions } from '../live';
import { COMPANY_IBAN } from '../store';
import { TransactionList } from './Transactions';

/** Left column of `/`: what this system is and where to go. */
export function HomeLeft() {
  return (
    <div class="content">
      <p>
        This is <strong>bkes bank</strong>, a small event-sourced bank. Every change (a new user, an account, a transfer) is stored as an event, in
        an embedded store or in <strong>bkes</strong>, the project's own event store server; balances and transaction lists are built from those
        events.
      </p>
      <p>
        The server is written in C. This page talks to its GraphQL API: queries and transfers over HTTP, and live transactions over a WebSocket
        subscription, so new ones appear without reloading.
      </p>
      <p>{`Next to this text you see the newest transactions of the company account, ${COMPANY_IBAN}; on the right you choose how many to show and which details.`}</p>
      <p>In the menu, Bank-employee follows any account live, with filters; Client opens your own account to deposit and transfer money.</p>
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
      <TransactionList txs={txs} show={show} />
    </div>
  );
}
