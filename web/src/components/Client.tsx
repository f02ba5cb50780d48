import { useState } from 'preact/hooks';
import { ApiError, request } from '../api';
import { useBalance, useTransactions } from '../live';
import { formatCents, parseTransferAmount } from '../money';
import { type AccountResult, GET_ACCOUNT, type ShowFields } from '../queries';
import { type Login, update } from '../store';
import { clearOutcomes, deposit, describe, transfer, useOutcomes } from '../transfers';
import { Icon } from './common';
import { TransactionList } from './Transactions';

const DEPOSITS = [1000, 2000, 5000, 10000, 20000, 50000];

/** Ends the session: forgets the login (also in sessionStorage) and the transfer outcomes. */
function logout(): void {
  clearOutcomes();
  update({ login: null });
}

/** Left column of `/client`: the deposit buttons, or the login hint. */
export function ClientLeft({ login }: { login: Login | null }) {
  if (!login) return <p class="notification is-primary">Login to create/access your account</p>;
  return (
    <div class="content">
      {DEPOSITS.map((cents) => (
        <p key={cents}>
          <button type="button" id={`deposit-${cents}`} class="button is-info is-fullwidth is-rounded is-danger" onClick={() => void deposit(login, cents)}>
            {`deposit ${cents / 100} euro`}
          </button>
        </p>
      ))}
    </div>
  );
}

/** The outcome of each recent transfer and deposit: pending, completed, or failed with the reason. */
function Outcomes() {
  const outcomes = useOutcomes();
  if (outcomes.length === 0) return null;
  return (
    <div id="transfer-outcomes" aria-live="polite">
      {outcomes.map((o) => (
        <div
          key={o.uuid}
          id={`outcome-${o.uuid}`}
          data-state={o.state}
          class={`notification outcome ${o.state === 'failed' ? 'is-warning' : o.state === 'completed' ? 'is-completed' : 'is-pending'}`}
        >
          <Icon name={o.state === 'failed' ? 'alert-circle' : o.state === 'completed' ? 'check-circle' : 'clock-outline'} size="18px" />{' '}
          <span>{describe(o)}</span>
        </div>
      ))}
    </div>
  );
}

/** The transfer form (spec 7.7, with the intended fixes): controlled inputs, exact cents, new uuid per submit. */
function TransferForm({ login }: { login: Login }) {
  const [amount, setAmount] = useState('');
  const [to, setTo] = useState('');
  const [descr, setDescr] = useState('');
  const parsed = parseTransferAmount(amount);
  const valid = parsed.ok && to.trim().length > 7 && descr.length > 0;
  const submit = (e: Event): void => {
    e.preventDefault();
    if (!valid || !parsed.ok) return;
    void transfer(login, parsed.cents, to.trim(), descr);
    setAmount('');
    setTo('');
    setDescr('');
  };
  return (
    <form id="transfer-form" onSubmit={submit} noValidate>
      <div class="field">
        <label class="label is-sr-only" for="transfer-amount">Amount to transfer</label>
        <div class="control has-icons-left">
          <input
            id="transfer-amount"
            class={`input ${amount !== '' && !parsed.ok ? 'is-danger' : ''}`}
            type="text"
            inputMode="decimal"
            autocomplete="off"
            placeholder="Amount to transfer"
            value={amount}
            aria-describedby="transfer-amount-help"
            onInput={(e) => setAmount((e.target as HTMLInputElement).value)}
          />
          <Icon name="currency-eur" cls="is-left" />
        </div>
        <p id="transfer-amount-help" class={`help ${amount !== '' && !parsed.ok ? 'is-danger' : ''}`}>
          {amount === '' ? 'In euros, e.g. 12.34 or 12,34' : parsed.ok ? `${formatCents(parsed.cents)}` : parsed.error}
        </p>
      </div>
      <div class="field">
        <label class="label is-sr-only" for="transfer-to">To</label>
        <div class="control has-icons-left">
          <input id="transfer-to" class="input" type="text" autocomplete="off" placeholder="To" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
          <Icon name="lock" cls="is-left" />
        </div>
      </div>
      <div class="field">
        <label class="label is-sr-only" for="transfer-descr">Description</label>
        <div class="control has-icons-left">
          <input id="transfer-descr" class="input" type="text" autocomplete="off" placeholder="Description" value={descr} onInput={(e) => setDescr((e.target as HTMLInputElement).value)} />
          <Icon name="note-text" cls="is-left" />
        </div>
      </div>
      <div class="field">
        <div class="control">
          <button id="transfer-button" type="submit" class="button is-info" disabled={!valid}>
            Transfer
          </button>
        </div>
      </div>
      <Outcomes />
    </form>
  );
}

/** Middle column of `/client`. */
export function ClientMiddle({ login, maxItems, show }: { login: Login | null; maxItems: number; show: ShowFields }) {
  const txs = useTransactions(login?.iban ?? null, maxItems, show);
  const { balance, error } = useBalance(login?.iban ?? null, login?.token ?? null);
  if (!login) {
    return (
      <div class="content">
        <p>After login transactions will show here.</p>
        <p>Both username and password need to have a minimal of 8 characters. Once a username is taken, you need the set password for access</p>
      </div>
    );
  }
  return (
    <div>
      <div class="notification is-success">
        <p>{`Showing transactions from ${login.iban}`}</p>
        <p class="is-size-5 mt-1">
          Balance: <strong id="balance">{balance ?? (error ? 'unknown' : '…')}</strong>
        </p>
        {error && <p class="is-size-7">{error}</p>}
        <p class="is-hidden-tablet mt-2">
          {`Logged in as: ${login.username} `}
          <button type="button" id="logout-button-mobile" class="button is-warning is-rounded is-small ml-2" onClick={logout}>
            Logout
          </button>
        </p>
      </div>
      <TransferForm login={login} />
      <hr />
      <TransactionList txs={txs} show={show} error={txs.error} />
    </div>
  );
}

/** The login form (spec 7.6): both fields need 8+ characters; a new username creates user and account. */
function LoginForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [reason, setReason] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const valid = username.length > 7 && password.length > 7 && !busy;
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!valid) return;
    const vars = { username, password };
    setUsername('');
    setPassword('');
    setReason(null);
    setBusy(true);
    try {
      const d = await request<{ get_account: AccountResult | null }>(GET_ACCOUNT, vars);
      const r = d.get_account;
      if (r?.iban && r.token) {
        clearOutcomes();
        update({ login: { username: vars.username, iban: r.iban, token: r.token } });
      } else {
        setReason(r?.reason ?? 'the server gave no account');
      }
    } catch (err) {
      setReason(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
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
          <input id="login-password" class="input" type="password" autocomplete="current-password" placeholder="Password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
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
        <div class="notification is-warning" role="alert">
          {reason}
        </div>
      )}
    </form>
  );
}

/** The login box of the right column: the form, or who is logged in and the Logout button. */
export function ClientRight({ login }: { login: Login | null }) {
  if (!login) return <LoginForm />;
  return (
    <div class="content mb-5">
      <p>
        Logged in as: <strong id="logged-in-as">{login.username}</strong>
      </p>
      <button
        type="button"
        id="logout-button"
        class="button is-warning is-rounded"
        onClick={logout}
      >
        Logout
      </button>
    </div>
  );
}
