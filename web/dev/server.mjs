#!/usr/bin/env node
// DEVELOPMENT AID ONLY: an in-memory stand-in for `bank run`, so the UI can be developed and its
// browser test script exercised before the C server exists. It implements graphql/bank.graphql
// with the behaviour of the spec (sections 3-6, INTENDED fixes) closely enough for the UI, but it
// is NOT a test oracle for the C server: never compare the C server's answers with this one.
//
// Usage: node dev/server.mjs [--listen 127.0.0.1:8888] [--static DIR] [--data IGNORED]
//        [--saga-delay-ms N]   (each transfer's saga takes N ms; above 2000 the mutation times out)
//        [--private --employee-key-hash HEX]   (the private mode of issue 11: employee key or token)
// Issue 15 (history, time travel, alerts, several and shared accounts) is here as the UI expects
// it, ahead of the C server: the answers' wording is this file's guess, not the bank's.
// Serves POST /api and /graphql, WebSocket /ws (graphql-transport-ws), GET /healthz and the
// static UI with index.html for unknown paths, like `bank run`.
import { createHash, pbkdf2Sync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, execute, parse, validate } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== 'run');
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const listen = opt('listen', '127.0.0.1:8888');
const staticDir = resolve(opt('static', join(here, '..', 'dist')));
const sagaDelayMs = Number(opt('saga-delay-ms', '0'));
const privateMode = args.includes('--private');
const employeeKeyHash = opt('employee-key-hash', null);
const [host, portText] = listen.includes(':') ? [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)] : ['127.0.0.1', listen];

// ---- values (spec 3) ----
const COMPANY = 'NL66OPEN0000000000';
const LIMIT = -50000n;
const TIMEOUT_MS = 2000;

function ibanFor(account10) {
  const n = BigInt(`24251423${account10}232100`);
  const check = String(98n - (n % 97n)).padStart(2, '0');
  return `NL${check}OPEN${account10}`;
}
const validOpenIban = (s) => typeof s === 'string' && s.length === 18 && /^\d{10}$/.test(s.slice(8)) && ibanFor(s.slice(8)) === s;
const newIban = () => ibanFor(`0${String(randomInt(0, 1e9)).padStart(9, '0')}`);
const newToken = () => Array.from({ length: 20 }, () => randomInt(0, 10)).join('');
function euro(cents) {
  let c = BigInt(cents);
  const neg = c < 0n;
  if (neg) c = -c;
  const whole = (c / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `€${neg ? '-' : ''}${whole},${(c % 100n).toString().padStart(2, '0')}`;
}
function hashPassword(pw, salt = randomBytes(8)) {
  return `${salt.toString('base64')}$${pbkdf2Sync(pw, salt, 10000, 20, 'sha1').toString('base64')}`;
}
function checkPassword(pw, stored) {
  const [salt] = stored.split('$');
  const a = Buffer.from(hashPassword(pw, Buffer.from(salt, 'base64')));
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---- state ----
const users = new Map(); // username -> password hash
const accounts = new Map(); // iban -> {balance: bigint, owners: Map(username -> token), ibanOrder}
const ibansByUser = new Map();
const transactions = []; // {id, iban, cbl: bigint, new_balance: bigint, from_to, descr}
const byIban = new Map();
const transfers = new Map(); // uuid -> {state, reason, amount, from, to, descr}
const subscribers = new Set(); // {filter, push}
const events = new Map(); // iban -> [{order, type, at, transfer, summary, data}] (issue 15)
const transferEvents = new Map(); // uuid -> [{order, type, at, transfer, summary, data}]
const alertRules = new Map(); // iban -> [rule]
const alertsByIban = new Map(); // iban -> [{id, kind, message, t}]
const alertSubscribers = new Set(); // {iban, push}

function addEvent(iban, type, data, transfer = null, summary = '') {
  const list = events.get(iban) ?? [];
  events.set(iban, list);
  const e = { order: list.length, type, at: new Date().toISOString(), transfer, summary, data: JSON.stringify(data) };
  list.push(e);
  return e;
}

function addTransferEvent(uuid, type, data, summary) {
  const list = transferEvents.get(uuid) ?? [];
  transferEvents.set(uuid, list);
  list.push({ order: list.length, type, at: new Date().toISOString(), transfer: uuid, summary, data: JSON.stringify(data) });
}

// The alert rules of an account, checked against each of its new transactions (issue 15).
function checkAlerts(t) {
  const rules = alertRules.get(t.iban) ?? [];
  const list = alertsByIban.get(t.iban) ?? [];
  alertsByIban.set(t.iban, list);
  for (const r of rules) {
    let message = null;
    const moved = t.cbl < 0n ? -t.cbl : t.cbl;
    if (r.kind === 'DEBIT_ABOVE' && t.cbl < 0n && moved > BigInt(r.amount_cents)) message = `a debit of ${euro(moved)} is above ${euro(r.amount_cents)}`;
    if (r.kind === 'BALANCE_BELOW' && t.newBalance < BigInt(r.amount_cents)) message = `the balance fell to ${euro(t.newBalance)}, below ${euro(r.amount_cents)}`;
    if (r.kind === 'CREDIT_FROM' && t.cbl > 0n && t.fromTo === r.iban) message = `a credit of ${euro(moved)} from ${r.iban}`;
    if (r.kind === 'DESCRIPTION_CONTAINS' && fold(t.descr).includes(fold(r.word))) message = `a ${t.cbl < 0n ? 'debit' : 'credit'} of ${euro(moved)} with "${r.word}" in its description: ${t.descr}`;
    if (message === null) continue;
    const a = { id: list.length + 1, kind: r.kind, message, t };
    list.push(a);
    for (const s of alertSubscribers) if (s.iban === t.iban) s.push(a);
  }
}

function record(iban, change, fromTo, descr, transfer = null) {
  const acc = accounts.get(iban);
  acc.balance += change;
  const t = { id: transactions.length + 1, iban, cbl: change, newBalance: acc.balance, fromTo, descr, at: new Date().toISOString(), transfer };
  transactions.push(t);
  byIban.get(iban).push(t);
  const kind = change < 0n ? 'MoneyDebitedEvent' : 'MoneyCreditedEvent';
  const verb = change < 0n ? 'debited' : 'credited';
  const e = addEvent(iban, kind, { iban, amount: Number(change < 0n ? -change : change), id: transfer }, transfer, `${verb} ${euro(change < 0n ? -change : change)} (balance ${euro(acc.balance)})`);
  t.at = e.at;
  if (transfer) addTransferEvent(transfer, kind, { iban, amount: Number(change < 0n ? -change : change), id: transfer }, `${iban} ${verb} ${euro(change < 0n ? -change : change)}`);
  for (const s of subscribers) if (s.accepts(t)) s.push(t);
  checkAlerts(t);
}

function mapTx(t, info) {
  if (!t) return null;
  void info;
  return {
    id: t.id,
    iban: t.iban,
    new_balance: euro(t.newBalance),
    changed_by: euro(t.cbl < 0n ? -t.cbl : t.cbl),
    from_to: t.fromTo,
    descr: t.descr,
    direction: t.cbl < 0n ? 'DEBIT' : 'CREDIT',
    at: t.at,
    transfer: t.transfer,
  };
}

// The filters of transactions_by_iban and stream_transactions (one meaning, graphql/bank.graphql):
// amounts are the cents moved whatever the direction, bounds included; the description matches
// ignoring case, accented letters too.
const fold = (text) => String(text).normalize('NFC').toLowerCase();
function passes(filter, t) {
  const moved = t.cbl < 0n ? -t.cbl : t.cbl;
  if (filter.iban != null && filter.iban !== t.iban) return false;
  if (filter.min_amount != null && BigInt(filter.min_amount) > moved) return false;
  if (filter.max_amount != null && BigInt(filter.max_amount) < moved) return false;
  if (filter.direction != null && filter.direction !== (t.cbl < 0n ? 'DEBIT' : 'CREDIT')) return false;
  if (filter.descr_includes != null && !fold(t.descr).includes(fold(filter.descr_includes))) return false;
  return true;
}

function createAccount(iban, username) {
  if (!validOpenIban(iban)) return { reason: 'invalid open iban' };
  if (accounts.has(iban)) return { reason: 'iban already exist' };
  const token = newToken();
  accounts.set(iban, { balance: 0n, owners: new Map([[username, token]]), created: new Date().toISOString() });
  byIban.set(iban, []);
  ibansByUser.set(username, [...(ibansByUser.get(username) ?? []), iban]);
  addEvent(iban, 'BankAccountCreatedEvent', { iban, token, username }, null, `account opened for ${username}`);
  return { token };
}

// The saga (spec 4.6), run synchronously after an optional delay; returns the failure reason or null.
function runSaga(uuid) {
  const tr = transfers.get(uuid);
  const fail = (reason) => {
    tr.state = 'failed';
    tr.reason = reason;
    addTransferEvent(uuid, 'TransferFailedEvent', { id: uuid, reason }, `failed: ${reason}`);
    return reason;
  };
  const complete = () => {
    tr.state = 'completed';
    addTransferEvent(uuid, 'TransferCompletedEvent', { id: uuid }, 'completed');
    return null;
  };
  if (tr.from === tr.to) return fail("from and to can't be same for transfer");
  if (tr.from !== 'cash' && !validOpenIban(tr.from)) return fail('from is invalid');
  if (tr.amount <= 0n) return fail('amount must be positive');
  if (tr.from !== 'cash') {
    const acc = accounts.get(tr.from);
    if (!acc) return fail('iban not known');
    if (!acc.owners.has(tr.username)) return fail('user is no owner of bank account');
    if (acc.owners.get(tr.username) !== tr.token) return fail('token is not valid');
    if (!(acc.balance - tr.amount > LIMIT)) return fail(`insufficient funds would be below the limit of ${euro(LIMIT)}`);
    record(tr.from, -tr.amount, tr.to, tr.descr, uuid);
    if (!validOpenIban(tr.to)) return complete();
  }
  if (tr.from === 'cash') {
    // This bank checks the depositor of cash (F7, docs/domain.md).
    if (!tr.username) return fail('user is no owner of bank account');
    if (!tr.token) return fail('token is not valid');
    const acc = accounts.get(tr.to);
    if (!acc) return fail('iban not known');
    if (!acc.owners.has(tr.username)) return fail('user is no owner of bank account');
    if (acc.owners.get(tr.username) !== tr.token) return fail('token is not valid');
  }
  if (!accounts.has(tr.to)) {
    if (tr.from !== 'cash') record(tr.from, tr.amount, tr.to, `Cancelled transaction with id ${uuid} because iban not known`, uuid);
    return fail('iban not known');
  }
  record(tr.to, tr.amount, tr.from, tr.descr, uuid);
  return complete();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function moneyTransfer(a) {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(a.uuid)) return null;
  const key = a.uuid.toLowerCase();
  const existing = transfers.get(key);
  if (existing) {
    const st = existing.state === 'completed' ? 'complete' : existing.state;
    return { uuid: a.uuid, success: false, reason: `transfer was already started, current status: ${st}` };
  }
  transfers.set(key, { state: 'started', reason: null, amount: BigInt(a.amount), from: a.from, to: a.to, descr: a.descr, username: a.username, token: a.token });
  addTransferEvent(key, 'TransferStartedEvent', { id: key, amount: a.amount, from: a.from, to: a.to, description: a.descr, username: a.username }, `${euro(a.amount)} from ${a.from} to ${a.to} started`);
  const saga = (async () => {
    if (sagaDelayMs > 0) await sleep(sagaDelayMs);
    return runSaga(key);
  })();
  const result = await Promise.race([saga.then((reason) => ({ reason })), sleep(TIMEOUT_MS).then(() => ({ timeout: true }))]);
  if (result.timeout) return { uuid: a.uuid, success: false, reason: `timed out after ${TIMEOUT_MS} ms` };
  return { uuid: a.uuid, success: result.reason === null, reason: result.reason };
}

function getAccount({ username, password }) {
  const stored = users.get(username);
  if (!stored) {
    users.set(username, hashPassword(password));
    const iban = newIban();
    const r = createAccount(iban, username);
    if (r.reason) return { iban: null, token: null, reason: r.reason, created: false };
    return { iban, token: r.token, reason: null, created: true };
  }
  if (!checkPassword(password, stored)) return { iban: null, token: null, reason: 'invalid password', created: false };
  const ibans = ibansByUser.get(username) ?? [];
  if (ibans.length === 0) return { iban: null, token: null, reason: 'username does not have accounts', created: false };
  return { iban: ibans[0], token: accounts.get(ibans[0]).owners.get(username), reason: null, created: false };
}

// A push queue turned into an async iterator, bounded so a stalled client cannot grow it forever.
function transactionStream(filter) {
  const queue = [];
  let wake = null;
  let done = false;
  const sub = {
    accepts: (t) => passes(filter, t),
    push: (t) => {
      if (queue.length < 1000) queue.push(t);
      wake?.();
    },
  };
  subscribers.add(sub);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      while (!done && queue.length === 0) await new Promise((r) => (wake = r));
      if (done) return { done: true, value: undefined };
      return { done: false, value: { stream_transactions: mapTx(queue.shift()) } };
    },
    async return() {
      done = true;
      subscribers.delete(sub);
      wake?.();
      return { done: true, value: undefined };
    },
  };
}

// ---- issue 15 helpers ----
class GqlError extends Error {}

/** The token opens the account (one of its owners' tokens). */
const opens = (iban, token) => {
  const acc = accounts.get(iban);
  return !!acc && typeof token === 'string' && [...acc.owners.values()].includes(token);
};

/** The `at` argument as milliseconds, or a clear error (no time zone, in the future, unreadable). */
function instant(at) {
  if (at == null) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(at)) throw new GqlError(`at is not an ISO-8601 time with a time zone: ${at}`);
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) throw new GqlError(`at is not a valid time: ${at}`);
  if (ms > Date.now()) throw new GqlError('at is in the future');
  return ms;
}

function txsAt(iban, ms) {
  const acc = accounts.get(iban);
  if (!acc) return [];
  if (ms !== null && Date.parse(acc.created) > ms) throw new GqlError(`the account ${iban} did not exist yet at that time`);
  return (byIban.get(iban) ?? []).filter((t) => ms === null || Date.parse(t.at) <= ms);
}

// The private mode (issue 11): an employee key opens everything; otherwise a token of the account.
function callerKind(ctx) {
  const auth = ctx?.authorization;
  if (!auth || !/^Bearer\s+/i.test(auth)) return 'anonymous';
  const key = auth.replace(/^Bearer\s+/i, '');
  return employeeKeyHash && createHash('sha256').update(key).digest('hex') === employeeKeyHash.toLowerCase() ? 'employee' : 'bad-key';
}
function guard(ctx, rule, iban, token) {
  if (!privateMode) return;
  const who = callerKind(ctx);
  if (who === 'employee') return;
  if (who === 'bad-key') throw new GqlError('the employee credential is not valid');
  if (rule === 'employee' || !iban) throw new GqlError('this bank is private: an employee credential is needed (Authorization: Bearer KEY)');
  if (!token) throw new GqlError("this bank is private: give the account's token, or an employee credential");
  if (!opens(iban, token)) throw new GqlError('token is not valid');
}
/** For the issue 15 fields that always need the token: an employee key (private mode) opens them. */
function needToken(ctx, iban, token) {
  if (privateMode && callerKind(ctx) === 'employee') return;
  if (privateMode && callerKind(ctx) === 'bad-key') throw new GqlError('the employee credential is not valid');
  if (!opens(iban, token)) throw new GqlError('token is not valid');
}

const mapRule = (r) => ({ kind: r.kind, amount_cents: r.amount_cents ?? null, iban: r.iban ?? null, word: r.word ?? null });
const mapAlert = (a) => ({ id: a.id, kind: a.kind, message: a.message, transaction: mapTx(a.t) });

function alertStream(iban) {
  const queue = [];
  let wake = null;
  let done = false;
  const sub = { iban, push: (a) => (queue.push(a), wake?.()) };
  alertSubscribers.add(sub);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      while (!done && queue.length === 0) await new Promise((r) => (wake = r));
      if (done) return { done: true, value: undefined };
      return { done: false, value: { stream_alerts: mapAlert(queue.shift()) } };
    },
    async return() {
      done = true;
      alertSubscribers.delete(sub);
      wake?.();
      return { done: true, value: undefined };
    },
  };
}

// ---- schema ----
const schema = buildSchema(readFileSync(join(here, '..', '..', 'graphql', 'bank.graphql'), 'utf8'));
const q = schema.getQueryType().getFields();
q.transaction_by_id.resolve = (_, { id }, ctx) => (guard(ctx, 'employee'), mapTx(transactions[id - 1]));
q.transactions_by_iban.resolve = (_, a, ctx) => {
  guard(ctx, 'account', a.iban, a.token);
  return txsAt(a.iban, instant(a.at))
    .slice()
    .reverse()
    .filter((t) => passes(a, t))
    .slice(0, Math.max(0, Math.min(1000, a.max_items)))
    .map((t) => mapTx(t));
};
q.all_last_transactions.resolve = (_, __, ctx) => {
  guard(ctx, 'employee');
  return [...byIban.entries()].filter(([, l]) => l.length > 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([, l]) => mapTx(l[l.length - 1]));
};
q.transfer.resolve = (_, { uuid, token }, ctx) => {
  const t = transfers.get(String(uuid).toLowerCase());
  if (privateMode && callerKind(ctx) !== 'employee') {
    if (callerKind(ctx) === 'bad-key') throw new GqlError('the employee credential is not valid');
    if (!token) throw new GqlError("this bank is private: give the account's token, or an employee credential");
    if (!t || !(opens(t.from, token) || opens(t.to, token))) throw new GqlError('token is not valid');
  }
  if (!t) return null;
  return { uuid, state: t.state.toUpperCase(), reason: t.reason, amount: euro(t.amount), amount_cents: Number(t.amount), from: t.from, to: t.to, descr: t.descr };
};
q.account.resolve = (_, { iban, token, at }) => {
  const acc = accounts.get(iban);
  if (!acc || ![...acc.owners.values()].includes(token)) return null;
  const ms = instant(at);
  if (ms === null) return { iban, balance: euro(acc.balance), balance_cents: Number(acc.balance), owners: [...acc.owners.keys()] };
  const list = txsAt(iban, ms);
  const balance = list.length ? list[list.length - 1].newBalance : 0n;
  return { iban, balance: euro(balance), balance_cents: Number(balance), owners: [...acc.owners.keys()] };
};
q.account_history.resolve = (_, { iban, token, max_items, before_order }, ctx) => {
  needToken(ctx, iban, token);
  const n = max_items ?? 100;
  if (n < 1 || n > 1000) throw new GqlError('max_items must be between 1 and 1000');
  return (events.get(iban) ?? [])
    .filter((e) => before_order == null || e.order < before_order)
    .slice()
    .reverse()
    .slice(0, n);
};
q.transfer_history.resolve = (_, { uuid, token }, ctx) => {
  const key = String(uuid).toLowerCase();
  const t = transfers.get(key);
  if (!(privateMode && callerKind(ctx) === 'employee') && !(t && (opens(t.from, token) || opens(t.to, token)))) throw new GqlError('token is not valid');
  return transferEvents.get(key) ?? [];
};
q.alerts.resolve = (_, { iban, token }, ctx) => (needToken(ctx, iban, token), (alertRules.get(iban) ?? []).map(mapRule));
q.alerts_since.resolve = (_, { iban, token, after_id }, ctx) => {
  needToken(ctx, iban, token);
  return (alertsByIban.get(iban) ?? []).filter((a) => a.id > after_id).slice(0, 1000).map(mapAlert);
};
q.accounts.resolve = (_, { username, password }) => {
  const stored = users.get(username);
  if (!stored || !checkPassword(password, stored)) throw new GqlError('invalid username or password');
  return (ibansByUser.get(username) ?? []).filter((i) => accounts.get(i)?.owners.has(username)).map((iban) => ({ iban, token: accounts.get(iban).owners.get(username), reason: null, created: false }));
};
const m = schema.getMutationType().getFields();
m.get_account.resolve = (_, a) => getAccount(a);
m.money_transfer.resolve = (_, a) => moneyTransfer(a);
m.set_alerts.resolve = (_, { iban, token, rules }) => {
  if (!opens(iban, token)) throw new GqlError('token is not valid');
  if (rules.length > 20) throw new GqlError('at most 20 alert rules');
  for (const r of rules) {
    const need = { DEBIT_ABOVE: 'amount_cents', BALANCE_BELOW: 'amount_cents', CREDIT_FROM: 'iban', DESCRIPTION_CONTAINS: 'word' }[r.kind];
    if (r[need] == null || r[need] === '') throw new GqlError(`a ${r.kind} rule needs ${need}`);
  }
  alertRules.set(iban, rules.map(mapRule));
  addEvent(iban, 'AlertsSettingsUpdated', { iban, rules: rules.map(mapRule) }, null, `alert rules set (${rules.length})`);
  return alertRules.get(iban);
};
m.open_account.resolve = (_, { username, password }) => {
  const stored = users.get(username);
  if (!stored || !checkPassword(password, stored)) return { iban: null, token: null, reason: 'invalid username or password', created: false };
  const iban = newIban();
  const r = createAccount(iban, username);
  if (r.reason) return { iban: null, token: null, reason: r.reason, created: false };
  return { iban, token: r.token, reason: null, created: true };
};
m.add_owner.resolve = (_, { iban, token, username }) => {
  if (!opens(iban, token)) return { success: false, reason: 'token is not valid' };
  if (iban === COMPANY) return { success: false, reason: 'the company account cannot be shared' };
  if (!users.has(username)) return { success: false, reason: 'user does not exist' };
  const acc = accounts.get(iban);
  if (acc.owners.has(username)) return { success: false, reason: 'user is already an owner of the account' };
  acc.owners.set(username, newToken());
  if (!(ibansByUser.get(username) ?? []).includes(iban)) ibansByUser.set(username, [...(ibansByUser.get(username) ?? []), iban]);
  addEvent(iban, 'UserAddedToBankAccountEvent', { iban, username }, null, `${username} added as an owner`);
  return { success: true, reason: null };
};
m.remove_owner.resolve = (_, { iban, token, username }) => {
  if (!opens(iban, token)) return { success: false, reason: 'token is not valid' };
  const acc = accounts.get(iban);
  if (!acc.owners.has(username)) return { success: false, reason: 'user to remove is not owner of bank account' };
  // The seed's command carries the removed user's own token: an owner removes only itself.
  if (acc.owners.get(username) !== token) return { success: false, reason: "an owner can only remove itself: the token is another owner's, not username's" };
  if (acc.owners.size === 1) return { success: false, reason: 'the last owner cannot be removed: the account would have no owner' };
  acc.owners.delete(username);
  ibansByUser.set(username, (ibansByUser.get(username) ?? []).filter((i) => i !== iban));
  addEvent(iban, 'UserRemovedFromBankAccountEvent', { iban, username }, null, `${username} removed from the owners`);
  return { success: true, reason: null };
};
const s = schema.getSubscriptionType().getFields();
s.stream_transactions.subscribe = (_, a, ctx) => (guard(ctx, 'account', a.iban, a.token), transactionStream(a));
s.stream_transactions.resolve = (payload) => payload.stream_transactions;
s.stream_alerts.subscribe = (_, { iban, token }, ctx) => (needToken(ctx, iban, token), alertStream(iban));
s.stream_alerts.resolve = (payload) => payload.stream_alerts;

// The company account (spec 3.4).
users.set('openweb', hashPassword(randomBytes(16).toString('hex')));
createAccount(COMPANY, 'openweb');
record(COMPANY, 100000000000000000n, 'cash', 'initial funds');

// ---- HTTP ----
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.woff2': 'font/woff2', '.png': 'image/png', '.map': 'application/json', '.json': 'application/json' };

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function graphqlHttp(req, res) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) return sendJson(res, 413, { errors: [{ message: 'request too large' }] });
    chunks.push(c);
  }
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return sendJson(res, 400, { errors: [{ message: 'Must be application/json' }] });
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return sendJson(res, 400, { errors: [{ message: 'malformed JSON' }] });
  }
  if (!body.query || !String(body.query).trim()) return sendJson(res, 400, { errors: [{ message: "JSON 'query' key is missing or blank" }] });
  let doc;
  try {
    doc = parse(body.query);
  } catch (e) {
    return sendJson(res, 400, { errors: [{ message: e.message }] });
  }
  const errors = validate(schema, doc);
  if (errors.length) return sendJson(res, 400, { errors: errors.map((e) => ({ message: e.message })) });
  const result = await execute({ schema, document: doc, variableValues: body.variables, operationName: body.operationName, contextValue: { authorization: req.headers.authorization } });
  sendJson(res, 200, result);
}

// What `bank run` is meant to send with the UI (issue 12): the precompressed sibling the browser
// accepts, hashed files cached for a year, index.html revalidated, and a strict CSP.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
function serveStatic(req, res) {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  let file = normalize(join(staticDir, path));
  if (!file.startsWith(staticDir)) file = join(staticDir, 'index.html');
  if (!existsSync(file) || statSync(file).isDirectory()) file = join(staticDir, 'index.html');
  if (!existsSync(file)) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end(`no UI build in ${staticDir}: run npm run build in web/\n`);
  }
  const accept = String(req.headers['accept-encoding'] ?? '');
  const headers = {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': /\/assets\/[^/]*-[A-Za-z0-9_-]{8}\.[a-z0-9]+$/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
    'Content-Security-Policy': CSP,
    Vary: 'Accept-Encoding',
  };
  let body = file;
  for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']]) {
    if (new RegExp(`\\b${enc}\\b`).test(accept) && existsSync(file + ext)) {
      headers['Content-Encoding'] = enc;
      body = file + ext;
      break;
    }
  }
  const data = readFileSync(body);
  headers.ETag = `"${createHash('sha1').update(data).digest('hex')}"`;
  if (req.headers['if-none-match'] === headers.ETag) {
    res.writeHead(304, headers);
    return res.end();
  }
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : data);
}

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if ((path === '/api' || path === '/graphql') && req.method === 'POST') {
    graphqlHttp(req, res).catch((e) => sendJson(res, 500, { errors: [{ message: String(e) }] }));
    return;
  }
  if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(req, res);
  res.writeHead(405).end();
});

const wss = new WebSocketServer({ server, path: '/ws', handleProtocols: (p) => (p.has('graphql-transport-ws') ? 'graphql-transport-ws' : false) });
useServer({ schema, context: (ctx) => ({ authorization: ctx.connectionParams?.authorization ?? ctx.extra.request.headers.authorization }) }, wss);

server.listen(Number(portText), host, () => {
  console.log(`dev server (in-memory, NOT the bank) on http://${host}:${portText}/ serving ${staticDir}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
