import { useEffect, useState } from 'preact/hooks';
import { request } from '../api';
import { eventLabel, prettyData } from '../events';
import { useEmployeeKey, useReconnectEpoch } from '../live';
import { ACCOUNT_HISTORY, type AccountEvent } from '../queries';
import { formatTime } from '../time';
import { Icon, Link } from './common';

/** Events asked per page of the history. */
const PAGE = 25;

interface HistoryState {
  events: AccountEvent[];
  loading: boolean;
  error: string | null;
  /** True while older events may exist (the last page was full). */
  more: boolean;
}

/**
 * One account's events, newest first, a page at a time (`account_history`, paged by
 * `before_order`); starts over when the account, the token or the connection changes.
 */
function useHistory(iban: string, token: string | null): HistoryState & { older: () => void } {
  const [state, setState] = useState<HistoryState>({ events: [], loading: true, error: null, more: false });
  const epoch = useReconnectEpoch();
  const key = JSON.stringify([iban, token, epoch]);
  // The page asked for: older events of the same account, token and connection, or the newest.
  const [cursor, setCursor] = useState<{ key: string; before: number | null }>({ key, before: null });
  const before = cursor.key === key ? cursor.before : null;
  useEffect(() => {
    if (token === null) {
      setState({ events: [], loading: false, error: null, more: false });
      return undefined;
    }
    let active = true;
    setState((s) => ({ ...(before === null ? { events: [], more: false } : s), loading: true, error: null }));
    request<{ account_history: AccountEvent[] | null }>(ACCOUNT_HISTORY, { iban, token, max_items: PAGE, before_order: before })
      .then((d) => {
        if (!active) return;
        const got = d.account_history;
        if (!got) {
          setState((s) => ({ ...s, loading: false, error: 'The bank gave no history for this account' }));
          return;
        }
        setState((s) => {
          const kept = before === null ? [] : s.events;
          return { events: [...kept, ...got.filter((e) => !kept.some((x) => x.order === e.order))], loading: false, error: null, more: got.length === PAGE };
        });
      })
      .catch((e: Error) => active && setState((s) => ({ ...s, loading: false, error: `Could not load the history: ${e.message}` })));
    return () => {
      active = false;
    };
  }, [key, before]);
  const older = (): void => {
    const last = state.events[state.events.length - 1];
    if (last) setCursor({ key, before: last.order });
  };
  return { ...state, older };
}

/** One stored event: what it is, when, what changed, its transfer, and the record as stored. */
export function EventBox({ e, asOfPath, transferLinks = true }: { e: AccountEvent; asOfPath?: (at: string) => string; transferLinks?: boolean }) {
  const time = formatTime(e.at);
  return (
    <li class="box history-event" id={`event-${e.order}`} data-type={e.type}>
      <p class="event-head">
        <span class="event-order">{`#${e.order}`}</span> <strong class="event-type">{eventLabel(e.type)}</strong>
        {time && (
          <>
            {' · '}
            <time class="event-at" dateTime={e.at}>
              {time}
            </time>
          </>
        )}
      </p>
      <p class="event-summary">{e.summary}</p>
      <p class="event-links">
        {e.transfer && transferLinks && (
          <Link to={`/transfer/${e.transfer}`} class="event-transfer" aria-label={`Transfer ${e.transfer.slice(0, 8)}: its events (event ${e.order})`}>
            {`Transfer ${e.transfer.slice(0, 8)}: its events`}
          </Link>
        )}
        {asOfPath && (
          <Link to={asOfPath(e.at)} class="event-as-of" aria-label={`The account at this moment (event ${e.order})`}>
            The account at this moment
          </Link>
        )}
      </p>
      <details class="event-data">
        <summary>{`Stored record (${e.type})`}</summary>
        <pre>{prettyData(e.data)}</pre>
      </details>
    </li>
  );
}

/**
 * The History view of one account (issue 15): its events newest first, each with what changed,
 * its time, the transfer it belongs to (a link to that transfer's events) and the stored record.
 * `token` null: nothing can be asked yet (the employee has not given one).
 */
export function HistoryView({ iban, token, asOfPath }: { iban: string; token: string | null; asOfPath: (at: string) => string }) {
  const h = useHistory(iban, token);
  const empty = !h.loading && !h.error && h.events.length === 0 && token !== null;
  return (
    <section id="history" aria-labelledby="history-title" aria-busy={h.loading ? 'true' : 'false'}>
      <h2 id="history-title" class="title is-5">
        <Icon name="history" /> {`History of ${iban}`}
      </h2>
      <p class="help mb-3">Every change to the account as the bank stored it, newest first. Each money event links to the events of its transfer.</p>
      {h.error && (
        <p id="history-error" class="notification is-warning" role="alert">
          {h.error}
        </p>
      )}
      {empty && (
        <p id="history-empty" class="list-state">
          No events.
        </p>
      )}
      {h.events.length > 0 && (
        <ol id="history-events" class="history-events" aria-label={`Events of ${iban}, newest first`}>
          {h.events.map((e) => (
            <EventBox key={e.order} e={e} asOfPath={asOfPath} />
          ))}
        </ol>
      )}
      {h.loading && (
        <p id="history-loading" class="list-state">
          <Icon name="clock-outline" size={18} /> Loading the history…
        </p>
      )}
      {h.more && !h.loading && (
        <button id="history-older" type="button" class="button is-info is-small" onClick={h.older}>
          Show older events
        </button>
      )}
    </section>
  );
}

/**
 * The employee's History of a followed account. The API gives an account's events to a holder of
 * its token only: in private mode the employee key opens it (the token is then not looked at, so
 * none is sent); otherwise the employee asks the client for the account's token and types it here.
 * The token is kept only while the page shows this account, never stored.
 */
export function EmployeeHistory({ iban, asOfPath }: { iban: string; asOfPath: (at: string) => string }) {
  const key = useEmployeeKey();
  const [typed, setTyped] = useState('');
  const [token, setToken] = useState<string | null>(null);
  useEffect(() => {
    setTyped('');
    setToken(null);
  }, [iban]);
  const used = token ?? (key ? '' : null);
  return (
    <div>
      <form
        id="history-token-form"
        class="box"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(typed.trim() === '' ? null : typed.trim());
        }}
      >
        <label class="label is-small" for="history-token">
          Token of this account
        </label>
        <div class="field has-addons mb-0">
          <div class="control is-expanded">
            <input
              id="history-token"
              class="input is-small"
              type="password"
              autocomplete="off"
              value={typed}
              aria-describedby="history-token-help"
              onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="control">
            <button id="history-token-use" type="submit" class="button is-info is-small">
              Show history
            </button>
          </div>
        </div>
        <p id="history-token-help" class="help">
          {key
            ? 'Your employee key opens every account’s history; a token is only needed when the bank does not run in private mode.'
            : 'An account’s history is for holders of its token: ask the client for it, or enter your employee key (private mode) in the first column.'}
        </p>
      </form>
      {used === null ? (
        <p id="history-needs-token" class="notification is-info">
          Enter the account’s token (or your employee key) to see its history.
        </p>
      ) : (
        <HistoryView iban={iban} token={used} asOfPath={asOfPath} />
      )}
    </div>
  );
}
