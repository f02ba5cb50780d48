import { useEffect, useState } from 'preact/hooks';
import { checkIban } from '../iban';
import { useBalance, useOnline, useTransactions } from '../live';
import { formatCents, parseTransferAmount } from '../money';
import type { ShowFields } from '../queries';
import { logIn, logout, openAccount, switchAccount } from '../session';
import { clientSearch, getState, type Login, pathOf, type Tab, update } from '../store';
import { formatTime } from '../time';
import { deposit, describe, dismissOutcome, transfer, useOutcomes } from '../transfers';
import { AlertFeed, AlertSettings } from './Alerts';
import { AsOf } from './AsOf';
import { Icon, Notice, ViewTabs } from './common';
import { HistoryView } from './History';
import { OwnersView } from './Owners';
import { TransactionList } from './Transactions';

const DEPOSITS = [1000, 2000, 5000, 10000, 20000, 50000];
/** The server's limit on a description, in bytes of UTF-8 (`descr is longer than 256 bytes`). */
export const DESCR_MAX_BYTES = 256;

/** Says that sending is off while the server cannot be reached. */
function OfflineNote({ id }: { id: string }) {
  return (
    <p id={id} class="help is-danger offline-note" role="status">
      <Icon name="lan-disconnect" size={16} /> No connection to the bank: sending is off until it is back.
    </p>
  );
}

/** Left column of `/client`: the deposit buttons, or the login hint. */
export function ClientLeft({ login, past }: { login: Login | null; past: boolean }) {
  const online = useOnline();
  if (!login) return <p class="notification is-primary">Login to create/access your account</p>;
  return (
    <div class="content">
      {DEPOSITS.map((cents) => (
        <p key={cents}>
          <button
            type="button"
            id={`deposit-${cents}`}
            class="button is-fullwidth is-rounded is-danger"
            disabled={!online || past}
            onClick={() => void deposit(login, cents)}
          >
            {`deposit ${cents / 100} euro`}
          </button>
        </p>
      ))}
      {!online && <OfflineNote id="deposit-offline" />}
      {online && past && (
        <p id="deposit-past" class="help">
          You are looking at the past: go back to live to deposit.
        </p>
      )}
    </div>
  );
}

const OUTCOME_ICON = { failed: 'alert-circle', 'not-received': 'alert-circle', completed: 'check-circle', pending: 'clock-outline' } as const;
const OUTCOME_CLASS = { failed: 'is-warning', 'not-received': 'is-warning', completed: 'is-completed', pending: 'is-pending' } as const;

/** The outcome of each recent transfer and deposit (at most 3 kept, each can be dismissed). */
function Outcomes() {
  const outcomes = useOutcomes();
  return (
    <div id="transfer-outcomes" aria-live="polite">
      {outcomes.map((o) => (
        <div key={o.uuid} id={`outcome-${o.uuid}`} data-state={o.state} class={`notification outcome ${OUTCOME_CLASS[o.state]}`}>
          <button type="button" class="delete" aria-label="Dismiss this notice" onClick={() => dismissOutcome(o.uuid)} />
          <Icon name={OUTCOME_ICON[o.state]} size={18} /> <span>{describe(o)}</span>
        </div>
      ))}
    </div>
  );
}

/** The UTF-8 length of a text: what the server's description limit counts. */
function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * The transfer form (spec 7.7, with the intended fixes): controlled inputs, exact cents (Dutch
 * `1.000,00` too), the IBAN checked as it is typed, the description's length against the server's
 * limit, a new uuid per submit. The values stay while the transfer is pending and when it fails or
 * never reaches the bank; they are cleared once it completed. Nothing can be sent while the server
 * is away.
 */
function TransferForm({ login }: { login: Login }) {
  const online = useOnline();
  const outcomes = useOutcomes();
  const [amount, setAmount] = useState('');
  const [to, setTo] = useState('');
  const [descr, setDescr] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const parsed = parseTransferAmount(amount);
  const iban = checkIban(to);
  const own = iban.state === 'valid' && iban.iban === login.iban;
  const descrBytes = utf8Length(descr);
  const descrOk = descr.trim().length > 0 && descrBytes <= DESCR_MAX_BYTES;
  const sentOutcome = sent === null ? undefined : outcomes.find((o) => o.uuid === sent);
  const waiting = sentOutcome?.state === 'pending';
  const valid = parsed.ok && iban.state === 'valid' && !own && descrOk;

  useEffect(() => {
    if (sent === null || waiting) return;
    const completed = sentOutcome?.state === 'completed';
    if (completed) {
      setAmount('');
      setTo('');
      setDescr('');
    }
    setSent(null);
    // The form was disabled while waiting, which took the focus away: give it back.
    if (!document.activeElement || document.activeElement === document.body) {
      document.getElementById(completed ? 'transfer-amount' : 'transfer-button')?.focus();
    }
  }, [sent, sentOutcome?.state]);

  const submit = (e: Event): void => {
    e.preventDefault();
    if (!valid || !parsed.ok || !online || waiting) return;
    setSent(transfer(login, parsed.cents, iban.iban, descr).uuid);
  };

  const amountBad = amount !== '' && !parsed.ok;
  const ibanBad = iban.state === 'invalid' || own;
  const descrBad = descrBytes > DESCR_MAX_BYTES;
  return (
    <form id="transfer-form" onSubmit={submit} noValidate aria-busy={waiting ? 'true' : 'false'}>
      <fieldset disabled={waiting}>
        <legend class="is-sr-only">Transfer money</legend>
        <div class="columns is-variable is-2 mb-0">
        <div class="field column is-5-tablet">
          <label class="label is-sr-only" for="transfer-amount">Amount to transfer</label>
          <div class="control has-icons-left">
            <input
              id="transfer-amount"
              class={`input ${amountBad ? 'is-danger' : ''}`}
              type="text"
              inputMode="decimal"
              autocomplete="off"
              placeholder="Amount to transfer"
              value={amount}
              aria-invalid={amountBad}
              aria-describedby="transfer-amount-help"
              onInput={(e) => setAmount((e.target as HTMLInputElement).value)}
            />
            <Icon name="currency-eur" cls="is-left" />
          </div>
          <p id="transfer-amount-help" class={`help ${amountBad ? 'is-danger' : ''}`}>
            {amount === '' ? 'In euros, e.g. 12,34 or 1.000,00' : parsed.ok ? formatCents(parsed.cents) : parsed.error}
          </p>
        </div>
        <div class="field column">
          <label class="label is-sr-only" for="transfer-to">To</label>
          <div class="control has-icons-left">
            <input
              id="transfer-to"
              class={`input ${ibanBad ? 'is-danger' : iban.state === 'valid' ? 'is-success' : ''}`}
              type="text"
              autocomplete="off"
              autocapitalize="characters"
              spellcheck={false}
              placeholder="To (IBAN)"
              value={to}
              aria-invalid={ibanBad}
              aria-describedby="transfer-to-help"
              onInput={(e) => setTo((e.target as HTMLInputElement).value)}
            />
            <Icon name="lock" cls="is-left" />
          </div>
          <p id="transfer-to-help" class={`help ${ibanBad ? 'is-danger' : ''}`} data-iban-state={own ? 'invalid' : iban.state}>
            {iban.state === 'empty' ? 'The IBAN to send to, e.g. NL61 OPEN 0305 7978 28' : own ? 'That is your own account: send to another IBAN' : iban.message}
          </p>
        </div>
        </div>
        <div class="field">
          <label class="label is-sr-only" for="transfer-descr">Description</label>
          <div class="control has-icons-left">
            <input
              id="transfer-descr"
              class={`input ${descrBad ? 'is-danger' : ''}`}
              type="text"
              autocomplete="off"
              placeholder="Description"
              value={descr}
              aria-invalid={descrBad}
              aria-describedby="transfer-descr-help"
              onInput={(e) => setDescr((e.target as HTMLInputElement).value)}
            />
            <Icon name="note-text" cls="is-left" />
          </div>
          <p id="transfer-descr-help" class={`help ${descrBad ? 'is-danger' : ''}`}>
            <span id="transfer-descr-count">{`${descrBytes}/${DESCR_MAX_BYTES}`}</span>
            {descrBad
              ? ` — too long: the bank takes at most ${DESCR_MAX_BYTES}`
              : descrBytes !== descr.length
                ? ' (an accented letter counts as 2)'
                : ' characters'}
          </p>
        </div>
        <div class="field">
          <div class="control">
            <button id="transfer-button" type="submit" class={`button is-info ${waiting ? 'is-loading' : ''}`} disabled={!valid || !online}>
              Transfer
            </button>
          </div>
          {waiting && (
            <p class="help" id="transfer-waiting">
              Waiting for the bank's answer; the form is kept until then.
            </p>
          )}
          {!online && <OfflineNote id="transfer-offline" />}
        </div>
      </fieldset>
      <Outcomes />
    </form>
  );
}

/** The user's accounts to choose from (shown when there are several). */
function AccountSwitcher({ login }: { login: Login }) {
  if (login.accounts.length < 2) return null;
  return (
    <div class="field account-switcher mt-2">
      <label class="label is-small" for="account-switcher">{`Your accounts (${login.accounts.length})`}</label>
      <div class="select is-small">
        <select id="account-switcher" value={login.iban} onChange={(e) => switchAccount((e.target as HTMLSelectElement).value)}>
          {login.accounts.map((a) => (
            <option key={a.iban} value={a.iban}>
              {a.iban}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}

const CLIENT_TAB_LINKS: { tab: Tab; label: string; icon: 'swap-horizontal' | 'history' | 'bell-ring' | 'account-multiple' }[] = [
  { tab: 'transactions', label: 'Transactions', icon: 'swap-horizontal' },
  { tab: 'history', label: 'History', icon: 'history' },
  { tab: 'alerts', label: 'Alerts', icon: 'bell-ring' },
  { tab: 'owners', label: 'Owners', icon: 'account-multiple' },
];

/** The transactions part of `/client`: the transfer form and the live list, or the list of a past moment. */
function ClientTransactions({ login, maxItems, show, asOf }: { login: Login; maxItems: number; show: ShowFields; asOf: string | null }) {
  const txs = useTransactions(login.iban, maxItems, show, { asOf, token: login.token });
  return (
    <div>
      {asOf ? (
        <p id="transfer-past" class="help mb-3">
          Transfers are sent from the live view.
        </p>
      ) : (
        <TransferForm login={login} />
      )}
      <hr />
      <TransactionList txs={txs} show={show} past={asOf !== null} />
    </div>
  );
}

/** Middle column of `/client`: the account, then its transactions, history, alerts or owners. */
export function ClientMiddle({ login, maxItems, show, tab, asOf }: { login: Login | null; maxItems: number; show: ShowFields; tab: Tab; asOf: string | null }) {
  const past = tab === 'transactions' ? asOf : null;
  const { balance, error } = useBalance(login?.iban ?? null, login?.token ?? null, past);
  if (!login) {
    return (
      <div class="content">
        <p>After login transactions will show here.</p>
        <p>
          Username and password need at least 8 characters each. A username the bank has not seen before creates a new user with a new account; after
          that, the same password is needed to log in.
        </p>
      </div>
    );
  }
  return (
    <div>
      <div id="account-summary" class={`notification compact-notice ${past ? 'is-past' : 'is-success'}`} tabIndex={-1}>
        <p>{`Showing transactions from ${login.iban}`}</p>
        <p class="is-size-5 mt-1">
          {past ? 'Balance then: ' : 'Balance: '}
          <strong id="balance" data-past={past ? 'true' : 'false'}>
            {balance ?? (error ? 'unknown' : 'loading…')}
          </strong>
        </p>
        {past && (
          <p id="past-note" class="mt-1">
            {'As it was at '}
            <time dateTime={past}>{formatTime(past) ?? past}</time>{' '}
            <button type="button" id="summary-live" class="button is-small is-primary ml-2" onClick={() => update({ asOf: null })}>
              Back to live
            </button>
          </p>
        )}
        {error && (
          <p id="balance-error" class="is-size-7">
            {error}
          </p>
        )}
        <AccountSwitcher login={login} />
        <p class="is-hidden-tablet mt-2">
          {`Logged in as: ${login.username} `}
          <button type="button" id="logout-button-mobile" class="button is-warning is-rounded is-small ml-2" onClick={logout}>
            Logout
          </button>
        </p>
      </div>
      {login.created && (
        <Notice id="account-created" kind="is-info compact-notice" closeLabel="Dismiss the welcome notice" onClose={() => update({ login: { ...login, created: false } })}>
          {`Welcome, ${login.username}: this username was new, so the bank created it with a new account, ${login.iban}. Log in with the same password to come back.`}
        </Notice>
      )}
      <AlertFeed />
      <ViewTabs
        label="Your account"
        tabs={CLIENT_TAB_LINKS.map((t) => ({
          path: pathOf('client', t.tab) + (t.tab === 'transactions' && tab === 'transactions' ? clientSearch(asOf) : ''),
          label: t.label,
          icon: t.icon,
          current: t.tab === tab,
        }))}
      />
      {tab === 'transactions' && <ClientTransactions login={login} maxItems={maxItems} show={show} asOf={asOf} />}
      {tab === 'history' && <HistoryView iban={login.iban} token={login.token} asOfPath={(at) => `/client${clientSearch(at)}`} />}
      {tab === 'alerts' && <AlertSettings login={login} />}
      {tab === 'owners' && <OwnersView login={login} />}
    </div>
  );
}

/**
 * The login form (spec 7.6): both fields need 8+ characters; a new username creates user and
 * account (the page then says so). A refused login keeps the username and clears the password.
 */
function LoginForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [reason, setReason] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const valid = username.length > 7 && password.length > 7 && !busy;
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!valid) return;
    setReason(null);
    setBusy(true);
    const refused = await logIn(username, password);
    setBusy(false);
    if (refused === null) return;
    setReason(refused);
    // Refused: the username stays, the password is typed again.
    setPassword('');
    if (getState().login === null) document.getElementById('login-password')?.focus();
  };
  return (
    <form id="login-form" class="mb-5" onSubmit={(e) => void submit(e)}>
      <div class="field">
        <label class="label is-sr-only" for="login-username">Username</label>
        <div class="control has-icons-left">
          <input id="login-username" class="input" type="text" autocomplete="username" placeholder="Username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
          <Icon name="account" cls="is-left" />
        </div>
      </div>
      <div class="field">
        <label class="label is-sr-only" for="login-password">Password</label>
        <div class="control has-icons-left">
          <input
            id="login-password"
            class="input"
            type="password"
            autocomplete="current-password"
            placeholder="Password"
            value={password}
            aria-describedby={reason ? 'login-reason' : undefined}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
          <Icon name="lock" cls="is-left" />
        </div>
      </div>
      <div class="field">
        <div class="control">
          <button id="login-button" type="submit" class={`button is-info is-fullwidth ${busy ? 'is-loading' : ''}`} disabled={!valid}>
            Login
          </button>
        </div>
      </div>
      {reason && (
        <div id="login-reason" class="notification is-warning" role="alert">
          {reason}
        </div>
      )}
    </form>
  );
}

/**
 * Opening another account: the password is asked again (the bank checks it, and the page does not
 * keep it); the new account is then shown.
 */
function OpenAccount({ login }: { login: Login }) {
  const online = useOnline();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [reason, setReason] = useState<string | null>(null);
  const [opened, setOpened] = useState<string | null>(null);
  if (!open) {
    return (
      <div>
        <button
          type="button"
          id="open-account"
          class="button is-info is-small"
          onClick={() => {
            setOpen(true);
            setOpened(null);
          }}
        >
          <Icon name="plus" size={18} />
          <span>Open another account</span>
        </button>
        {opened && (
          <p id="account-opened" class="help" role="status">
            {`Opened ${opened}: it is shown now; switch between your accounts above the transactions.`}
          </p>
        )}
      </div>
    );
  }
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (busy || password.length < 8) return;
    setBusy(true);
    setReason(null);
    const refused = await openAccount(login, password);
    setBusy(false);
    setPassword('');
    if (refused) {
      setReason(refused);
      return;
    }
    setOpen(false);
    setOpened(getState().login?.iban ?? null);
  };
  return (
    <form id="open-account-form" class="box" onSubmit={(e) => void submit(e)}>
      <label class="label is-small" for="open-account-password">
        Your password, to open another account
      </label>
      <input
        id="open-account-password"
        class="input is-small mb-2"
        type="password"
        autocomplete="current-password"
        value={password}
        onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
      />
      <div class="buttons">
        <button id="open-account-button" type="submit" class={`button is-info is-small ${busy ? 'is-loading' : ''}`} disabled={!online || password.length < 8 || busy}>
          Open account
        </button>
        <button type="button" class="button is-small" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      {reason && (
        <p id="open-account-reason" class="notification is-warning compact-notice" role="alert">
          {reason}
        </p>
      )}
    </form>
  );
}

/**
 * The login box of the right column: the form, or who is logged in, their accounts and the Logout
 * button; on the transactions, the "as of" control (with the list's other settings below it).
 */
export function ClientRight({ login, tab, asOf }: { login: Login | null; tab: Tab; asOf: string | null }) {
  if (!login) return <LoginForm />;
  return (
    <div class="content mb-5">
      <p>
        Logged in as: <strong id="logged-in-as">{login.username}</strong>
      </p>
      <button type="button" id="logout-button" class="button is-warning is-rounded" onClick={logout}>
        Logout
      </button>
      <div class="mt-2">
        <OpenAccount login={login} />
      </div>
      {tab === 'transactions' && (
        <div class="mt-4">
          <AsOf asOf={asOf} what="your account" />
        </div>
      )}
    </div>
  );
}
