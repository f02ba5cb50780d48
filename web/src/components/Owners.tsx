import { useEffect, useRef, useState } from 'preact/hooks';
import { request } from '../api';
import { useOnline, useReconnectEpoch } from '../live';
import { ACCOUNT_OWNERS, ADD_OWNER, type ChangeResult, REMOVE_OWNER } from '../queries';
import { logout } from '../session';
import { getState, type Login, update } from '../store';
import { Icon } from './common';

type Owners = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; owners: string[] };

/** Leaves an account the user no longer owns: shows another of theirs, or logs out. */
function leave(iban: string): void {
  const login = getState().login;
  if (!login) return;
  const accounts = login.accounts.filter((a) => a.iban !== iban);
  const next = accounts[0];
  if (!next) {
    logout();
    return;
  }
  update({ login: { ...login, accounts, iban: next.iban, token: next.token } });
}

/**
 * The owners of the shown account (issue 15), listed with `account(iban, token) { owners }`; any
 * owner adds a user by username (`add_owner`: that user then sees the account at their next login
 * and uses it with a token of their own). Removing is the seed's RemoveUserFromBankAccount, which
 * takes the removed user's own token: each owner can only take themselves off (`remove_owner` with
 * their own name), so only the user's own row has a button. The bank's reason shows when it
 * refuses (an unknown user, the last owner, the company account). Leaving takes a second click.
 */
export function OwnersView({ login }: { login: Login }) {
  const online = useOnline();
  const epoch = useReconnectEpoch();
  const [owners, setOwners] = useState<Owners>({ kind: 'loading' });
  const [reload, setReload] = useState(0);
  const [username, setUsername] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const [leaving, setLeaving] = useState(false);
  // After leaving an account the view shows another one: the outcome stays to say what happened.
  const left = useRef(false);

  useEffect(() => {
    if (!left.current) setOutcome(null);
    left.current = false;
    setLeaving(false);
  }, [login.iban]);
  useEffect(() => {
    let active = true;
    request<{ account: { owners: string[] } | null }>(ACCOUNT_OWNERS, { iban: login.iban, token: login.token })
      .then((d) => {
        if (!active) return;
        setOwners(d.account ? { kind: 'ready', owners: d.account.owners } : { kind: 'error', message: 'The bank does not know this account and token' });
      })
      .catch((e: Error) => active && setOwners({ kind: 'error', message: `Could not load the owners: ${e.message}` }));
    return () => {
      active = false;
    };
  }, [login.iban, login.token, epoch, reload]);

  const change = async (mutation: string, field: 'add_owner' | 'remove_owner', who: string, done: string): Promise<boolean> => {
    setBusy(true);
    setOutcome(null);
    try {
      const d = await request<Record<string, ChangeResult | null>>(mutation, { iban: login.iban, token: login.token, username: who });
      const r = d[field];
      if (!r) throw new Error('the bank gave no answer');
      if (!r.success) {
        setOutcome({ ok: false, text: `${field === 'add_owner' ? 'Not added' : 'Not removed'}: ${r.reason ?? 'no reason given'}` });
        return false;
      }
      setOutcome({ ok: true, text: done });
      setReload((n) => n + 1);
      return true;
    } catch (err) {
      setOutcome({ ok: false, text: `${field === 'add_owner' ? 'Not added' : 'Not removed'}: ${(err as Error).message}` });
      return false;
    } finally {
      setBusy(false);
    }
  };

  const add = async (e: Event): Promise<void> => {
    e.preventDefault();
    const who = username.trim();
    if (who === '' || busy) return;
    if (await change(ADD_OWNER, 'add_owner', who, `${who} is now an owner of ${login.iban}: they see it when they log in next.`)) setUsername('');
  };
  const leaveAccount = async (): Promise<void> => {
    if (!leaving) {
      setLeaving(true);
      return;
    }
    setLeaving(false);
    if (await change(REMOVE_OWNER, 'remove_owner', login.username, `You are no longer an owner of ${login.iban}.`)) {
      left.current = true;
      leave(login.iban);
    }
  };

  return (
    <section id="owners" aria-labelledby="owners-title">
      <h2 id="owners-title" class="title is-5">
        <Icon name="account-multiple" /> {`Owners of ${login.iban}`}
      </h2>
      {owners.kind === 'loading' && <p class="list-state">Loading the owners…</p>}
      {owners.kind === 'error' && (
        <p id="owners-error" class="notification is-warning" role="alert">
          {owners.message}
        </p>
      )}
      {owners.kind === 'ready' && (
        <ul id="owners-list" class="owners-list box">
          {owners.owners.map((o) => (
            <li key={o} data-owner={o} class="owner">
              <span class="owner-name">
                <Icon name="account" size={18} /> {o}
                {o === login.username && <span class="tag-you"> (you)</span>}
              </span>
              {o === login.username && (
                <button
                  type="button"
                  id="owners-leave"
                  class={`button is-small ${leaving ? 'is-warning' : ''}`}
                  disabled={busy || !online}
                  aria-label={leaving ? `Confirm: leave ${login.iban}` : `Leave ${login.iban}`}
                  onClick={() => void leaveAccount()}
                >
                  {leaving ? 'Confirm: leave' : 'Leave'}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {owners.kind === 'ready' && owners.owners.length > 1 && (
        <p class="help mb-3">Each owner can take only themselves off an account (with their own token): the others leave it from their own login.</p>
      )}
      {leaving && (
        <p id="owners-leave-note" class="help is-danger mb-3" role="alert">
          {`Leaving ${login.iban} takes away your access; another owner can add you again. Click “Confirm: leave” to go on.`}
        </p>
      )}
      <form id="add-owner-form" class="box" onSubmit={(e) => void add(e)}>
        <label class="label is-small" for="add-owner-username">
          Add an owner by username
        </label>
        <div class="field has-addons mb-0">
          <div class="control is-expanded has-icons-left">
            <input
              id="add-owner-username"
              class="input is-small"
              type="text"
              autocomplete="off"
              spellcheck={false}
              value={username}
              aria-describedby="add-owner-help"
              onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
            />
            <Icon name="account-plus" cls="is-left" size={18} />
          </div>
          <div class="control">
            <button id="add-owner-button" type="submit" class={`button is-info is-small ${busy ? 'is-loading' : ''}`} disabled={busy || !online || username.trim() === ''}>
              Add owner
            </button>
          </div>
        </div>
        <p id="add-owner-help" class="help">
          An owner sees this account when they log in, with a token of their own, and can send money from it.
        </p>
      </form>
      <div aria-live="polite">
        {outcome && (
          <p id="owners-outcome" class={`notification compact-notice ${outcome.ok ? 'is-completed-note' : 'is-warning'}`} data-ok={outcome.ok ? 'true' : 'false'}>
            {outcome.text}
          </p>
        )}
      </div>
    </section>
  );
}
