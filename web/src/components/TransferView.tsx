import { useEffect, useState } from 'preact/hooks';
import { request } from '../api';
import { useReconnectEpoch } from '../live';
import { TRANSFER_DETAILS, type TransferDetails } from '../queries';
import { Icon, Link } from './common';

type Lookup = { kind: 'loading' } | { kind: 'unknown' } | { kind: 'error'; message: string } | { kind: 'found'; t: TransferDetails };

const STATE_TEXT = { STARTED: 'in progress', COMPLETED: 'completed', FAILED: 'failed' } as const;
const STATE_ICON = { STARTED: 'clock-outline', COMPLETED: 'check-circle', FAILED: 'alert-circle' } as const;

/**
 * The transfer a transaction belongs to, looked up with `transfer(uuid)`: its state, amount, the
 * two accounts, the description and the reason of a failure. While it is in progress it is asked
 * again every 2 s.
 */
function useTransfer(uuid: string): Lookup {
  const [lookup, setLookup] = useState<Lookup>({ kind: 'loading' });
  const epoch = useReconnectEpoch();
  useEffect(() => {
    let active = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = (): void => {
      request<{ transfer: TransferDetails | null }>(TRANSFER_DETAILS, { uuid })
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
  }, [uuid, epoch]);
  return lookup;
}

/** The middle column of `/transfer/{uuid}`. */
export function TransferView({ uuid }: { uuid: string }) {
  const lookup = useTransfer(uuid);
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
