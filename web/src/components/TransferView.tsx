import { useEffect, useState } from 'preact/hooks';
import { getEmployeeKey, request } from '../api';
import { useEmployeeKey, useReconnectEpoch } from '../live';
import { type AccountEvent, TRANSFER_DETAILS, TRANSFER_HISTORY, type TransferDetails } from '../queries';
import type { Login } from '../store';
import { Icon, Link } from './common';
import { EventBox } from './History';

type Lookup = { kind: 'loading' } | { kind: 'unknown' } | { kind: 'error'; message: string } | { kind: 'found'; t: TransferDetails };

const STATE_TEXT = { STARTED: 'in progress', COMPLETED: 'completed', FAILED: 'failed' } as const;
const STATE_ICON = { STARTED: 'clock-outline', COMPLETED: 'check-circle', FAILED: 'alert-circle' } as const;

/**
 * The tokens that may open a transfer for this page: the logged-in user's, the shown account's
 * first (it is a side of the transfers its transactions link to), then, with an employee key (private
 * mode), none at all (the key opens it).
 */
function tokensFor(login: Login | null): (string | null)[] {
  const tokens: (string | null)[] = login ? [login.token, ...login.accounts.filter((a) => a.iban !== login.iban).map((a) => a.token)] : [];
  if (getEmployeeKey() || tokens.length === 0) tokens.push(null);
  return tokens;
}

/** Runs `ask` with each token in turn until one is not refused; rejects with the last refusal. */
async function withTokens<T>(tokens: (string | null)[], ask: (token: string | null) => Promise<T>): Promise<T> {
  let last: unknown = null;
  for (const t of tokens) {
    try {
      return await ask(t);
    } catch (e) {
      last = e;
    }
  }
  throw last instanceof Error ? last : new Error('no token opens this transfer');
}

/**
 * The transfer a transaction belongs to, looked up with `transfer(uuid, token)`: its state, amount,
 * the two accounts, the description and the reason of a failure. While it is in progress it is
 * asked again every 2 s.
 */
function useTransfer(uuid: string, login: Login | null): Lookup {
  const [lookup, setLookup] = useState<Lookup>({ kind: 'loading' });
  const epoch = useReconnectEpoch();
  const key = useEmployeeKey();
  const tokens = JSON.stringify(tokensFor(login));
  useEffect(() => {
    let active = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = (): void => {
      withTokens(JSON.parse(tokens) as (string | null)[], (token) => request<{ transfer: TransferDetails | null }>(TRANSFER_DETAILS, { uuid, token }))
        .then((d) => {
          if (!active) return;
          setLookup(d.transfer ? { kind: 'found', t: d.transfer } : { kind: 'unknown' });
          if (d.transfer?.state === 'STARTED') timer = setTimeout(ask, 2000);
        })
        .catch((e: Error) => active && setLookup({ kind: 'error', message: e.message }));
    };
    ask();
    return () => {
      active = false;
      clearTimeout(timer);
    };
  }, [uuid, epoch, tokens, key]);
  return lookup;
}

type Events = { kind: 'none' } | { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'found'; events: AccountEvent[] };

/**
 * The transfer's events, oldest first (`transfer_history`), for a holder of a token of either
 * side's account: the logged-in client, or an employee with a key (private mode). Asked again
 * when the transfer's state changes.
 */
function useTransferEvents(uuid: string, login: Login | null, state: string | null): Events {
  const [events, setEvents] = useState<Events>({ kind: 'loading' });
  const epoch = useReconnectEpoch();
  const key = useEmployeeKey();
  const tokens = JSON.stringify(login || key ? tokensFor(login) : []);
  useEffect(() => {
    const list = JSON.parse(tokens) as (string | null)[];
    if (list.length === 0) {
      setEvents({ kind: 'none' });
      return undefined;
    }
    let active = true;
    withTokens(list, (token) => request<{ transfer_history: AccountEvent[] | null }>(TRANSFER_HISTORY, { uuid, token: token ?? '' }))
      .then((d) => active && setEvents(d.transfer_history ? { kind: 'found', events: d.transfer_history } : { kind: 'error', message: 'The bank gave no events for this transfer' }))
      .catch((e: Error) => active && setEvents({ kind: 'error', message: `Could not load the transfer’s events: ${e.message}` }));
    return () => {
      active = false;
    };
  }, [uuid, tokens, state, epoch]);
  return events;
}

/** The events of a transfer, oldest first, each with what changed and when. */
function TransferEvents({ uuid, login, state }: { uuid: string; login: Login | null; state: string | null }) {
  const events = useTransferEvents(uuid, login, state);
  return (
    <section id="transfer-events" aria-labelledby="transfer-events-title">
      <h2 id="transfer-events-title" class="title is-5">
        <Icon name="history" /> Events of this transfer
      </h2>
      {events.kind === 'none' && (
        <p id="transfer-events-login" class="notification is-info">
          A transfer’s events are shown to an owner of either account: log in as a client (or, in a private bank, enter your employee key on the Bank-employee
          page).
        </p>
      )}
      {events.kind === 'loading' && <p class="list-state">Loading the events…</p>}
      {events.kind === 'error' && (
        <p id="transfer-events-error" class="notification is-warning" role="alert">
          {events.message}
        </p>
      )}
      {events.kind === 'found' &&
        (events.events.length === 0 ? (
          <p class="list-state">No events.</p>
        ) : (
          <ol id="transfer-events-list" class="history-events" aria-label="Events of this transfer, oldest first">
            {events.events.map((e, i) => (
              <EventBox key={`${i}-${e.order}`} e={e} transferLinks={false} />
            ))}
          </ol>
        ))}
    </section>
  );
}

/** The middle column of `/transfer/{uuid}`: the transfer and its events. */
export function TransferView({ uuid, login }: { uuid: string; login: Login | null }) {
  const lookup = useTransfer(uuid, login);
  return (
    <section id="transfer-view" aria-labelledby="transfer-title">
      <h1 id="transfer-title" class="title is-4">
        Transfer
      </h1>
      <p class="transfer-uuid">{uuid}</p>
      {lookup.kind === 'loading' && <p class="list-state">Looking the transfer up…</p>}
      {lookup.kind === 'error' && <p class="notification is-warning">{`Could not look the transfer up: ${lookup.message}`}</p>}
      {lookup.kind === 'unknown' && (
        <p id="transfer-unknown" class="notification is-warning">
          The bank does not know a transfer with this uuid.
        </p>
      )}
      {lookup.kind === 'found' && (
        <div class="box">
          <dl class="transfer-details">
            <dt>State</dt>
            <dd id="transfer-state" data-state={lookup.t.state} class={`transfer-state is-${lookup.t.state.toLowerCase()}`}>
              <Icon name={STATE_ICON[lookup.t.state] ?? 'help-circle'} size={18} /> {STATE_TEXT[lookup.t.state] ?? lookup.t.state}
            </dd>
            {lookup.t.reason && (
              <>
                <dt>Reason</dt>
                <dd id="transfer-reason">{lookup.t.reason}</dd>
              </>
            )}
            <dt>Amount</dt>
            <dd id="transfer-amount-value">{lookup.t.amount ?? 'unknown'}</dd>
            <dt>From</dt>
            <dd id="transfer-from">{lookup.t.from ?? 'unknown'}</dd>
            <dt>To</dt>
            <dd id="transfer-to-value">{lookup.t.to ?? 'unknown'}</dd>
            <dt>Description</dt>
            <dd id="transfer-descr-value">{lookup.t.descr ?? ''}</dd>
          </dl>
        </div>
      )}
      {lookup.kind !== 'unknown' && <TransferEvents uuid={uuid} login={login} state={lookup.kind === 'found' ? lookup.t.state : null} />}
      <div class="buttons">
        <button type="button" class="button is-info" onClick={() => window.history.back()}>
          Back
        </button>
        <Link to="/" class="button is-light">
          Home
        </Link>
      </div>
    </section>
  );
}

/** The middle column of a path that is no view: says so and offers the way home. */
export function NotFound({ path }: { path: string }) {
  return (
    <section id="not-found" aria-labelledby="not-found-title">
      <h1 id="not-found-title" class="title is-4">
        Page not found
      </h1>
      <p class="mb-3">{`There is no page at ${path}.`}</p>
      <div class="buttons">
        <Link to="/" id="not-found-home" class="button is-info">
          Go to the home page
        </Link>
        <Link to="/employee" class="button is-light">
          Bank-employee
        </Link>
        <Link to="/client" class="button is-light">
          Client
        </Link>
      </div>
    </section>
  );
}
