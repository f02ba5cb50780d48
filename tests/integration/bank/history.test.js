// Issue 15, the audit trail and time travel, through the GraphQL API only: account_history (newest
// first, decoded stored records with the secrets hidden, paged by before_order), transfer_history
// (for a token of either side), account(at) and transactions_by_iban(at) computed from the events,
// and every bad input refused with a clear error. Runs on `bank run`, on the split roles over NATS
// (BANK_E2E_TOPOLOGY=nats) and on TLS bkes (BANK_E2E_TOPOLOGY=bkes-tls).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./helpers');

const EVENT = 'order type at transfer summary data';
const HISTORY = `query($i: String!, $t: String!, $m: Int, $b: Int) { account_history(iban: $i, token: $t, max_items: $m, before_order: $b) { ${EVENT} } }`;
const TRANSFER_HISTORY = `query($u: String!, $t: String!) { transfer_history(uuid: $u, token: $t) { ${EVENT} } }`;
const ACCOUNT_AT = 'query($i: String!, $t: String!, $at: String) { account(iban: $i, token: $t, at: $at) { iban balance balance_cents owners } }';
const TXS_AT = `query($i: String!, $m: Int!, $at: String, $d: dtype) { transactions_by_iban(iban: $i, max_items: $m, at: $at, direction: $d) { ${h.TX_FIELDS} at } }`;

let bank;
before(async () => {
  bank = await h.startBank();
});
after(async () => {
  await bank.stop();
});

async function history(user, vars = {}) {
  return h.post(bank.url, HISTORY, { i: user.iban, t: user.token, ...vars });
}

function errorOf(r) {
  assert.ok(r.errors && r.errors.length, 'expected an error, got ' + JSON.stringify(r.data));
  return r.errors[0].message;
}

// A user with three deposits of 10, 20 and 30 euro; returns the user and the transfer uuids.
async function userWithDeposits(prefix) {
  const u = await h.newUserProjected(bank.url, prefix);
  const uuids = [];
  for (const euros of [10, 20, 30]) {
    const uuid = crypto.randomUUID();
    uuids.push(uuid);
    const r = await h.transfer(bank.url, { uuid, username: u.username, token: u.token, amount: euros * 100, from: 'cash', to: u.iban, descr: `deposit ${euros}` });
    assert.equal(r.success, true, r.reason);
    // the next one stored a millisecond later at least, so there is an instant between each two
    const answered = Date.now();
    await h.waitFor(() => Date.now() > answered + 1, 'the clock to move on');
  }
  // the read model follows the stores a moment later (over NATS, another process)
  const txs = await h.waitFor(async () => {
    const l = await h.transactions(bank.url, u.iban);
    return l.length >= 3 ? l : null;
  }, 'the deposits in the read model');
  assert.equal(txs.length, 3);
  return { u, uuids };
}

test('account_history: the account\'s own events newest first, decoded, secrets hidden, paged', async () => {
  const { u, uuids } = await userWithDeposits('hist');
  const v = await h.newUserProjected(bank.url, 'hist-to');
  const pay = crypto.randomUUID();
  assert.equal((await h.transfer(bank.url, { uuid: pay, username: u.username, token: u.token, amount: 1250, from: u.iban, to: v.iban, descr: 'rent' })).success, true);

  const r = await history(u);
  assert.ok(!r.errors, JSON.stringify(r.errors));
  const events = r.data.account_history;
  assert.deepEqual(events.map((e) => e.order), [4, 3, 2, 1, 0]);
  assert.deepEqual(events.map((e) => e.type), ['MoneyDebitedEvent', 'MoneyCreditedEvent', 'MoneyCreditedEvent', 'MoneyCreditedEvent', 'BankAccountCreatedEvent']);
  assert.deepEqual(events.map((e) => e.summary), [
    'debited €12,50 (balance €47,50)',
    'credited €30,00 (balance €60,00)',
    'credited €20,00 (balance €30,00)',
    'credited €10,00 (balance €10,00)',
    `account opened by ${u.username}`,
  ]);
  assert.deepEqual(events.map((e) => e.transfer), [pay, uuids[2], uuids[1], uuids[0], null]);
  for (const e of events) assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  // data: the stored Avro record as JSON, field names as in schemas/, the token hidden
  assert.deepEqual(JSON.parse(events[0].data), { iban: u.iban, amount: 1250, id: pay });
  assert.deepEqual(JSON.parse(events[4].data), { iban: u.iban, token: '(hidden)', username: u.username });
  assert.ok(!events.some((e) => e.data.includes(u.token)), 'a token never shows');
  // the same `at` as the transaction of the same event
  await h.waitFor(async () => (await h.transactions(bank.url, u.iban)).length >= 4, 'the debit in the read model');
  const txs = await h.gql(bank.url, `query($i: String!) { transactions_by_iban(iban: $i, max_items: 10) { at transfer } }`, { i: u.iban });
  assert.equal(txs.transactions_by_iban[0].at, events[0].at);

  // pages
  const page = (await history(u, { m: 2 })).data.account_history;
  assert.deepEqual(page.map((e) => e.order), [4, 3]);
  const next = (await history(u, { m: 2, b: 3 })).data.account_history;
  assert.deepEqual(next.map((e) => e.order), [2, 1]);
  assert.deepEqual((await history(u, { b: 1 })).data.account_history.map((e) => e.order), [0]);
  assert.deepEqual((await history(u, { b: 0 })).data.account_history, []);
  assert.deepEqual((await history(u, { b: 1000 })).data.account_history.length, 5);

  // the payee sees its credit, with its own balance
  const vh = await h.waitFor(async () => {
    const l = (await history(v)).data.account_history;
    return l.length >= 2 ? l : null;
  }, 'the credit in the payee\'s history');
  assert.deepEqual(vh.map((e) => e.type), ['MoneyCreditedEvent', 'BankAccountCreatedEvent']);
  assert.equal(vh[0].summary, 'credited €12,50 (balance €12,50)');
  assert.equal(vh[0].transfer, pay);
});

test('account_history: bad input is a clear error', async () => {
  const u = await h.newUserProjected(bank.url, 'hist-bad');
  const other = await h.newUserProjected(bank.url, 'hist-other');
  assert.equal(errorOf(await history(u, { m: 0 })), 'max_items should be 1 to 1000');
  assert.equal(errorOf(await history(u, { m: 1001 })), 'max_items should be 1 to 1000');
  assert.equal(errorOf(await history(u, { m: 2147483647 })), 'max_items should be 1 to 1000');
  assert.equal(errorOf(await history(u, { b: -1 })), 'before_order should not be negative');
  assert.equal(errorOf(await history({ iban: u.iban, token: other.token })), 'token is not valid');
  assert.equal(errorOf(await history({ iban: 'NL61OPEN0305797828', token: u.token })), 'token is not valid');
  assert.equal(errorOf(await history({ iban: 'x'.repeat(100), token: u.token })), 'token is not valid');
  assert.equal(errorOf(await history({ iban: u.iban, token: 'x'.repeat(100) })), 'token is not valid');
  assert.equal((await history(u)).data.account_history.length, 1, 'nothing changed');
});

test('transfer_history: a transfer\'s events in saga order, for a token of either side only', async () => {
  const { u } = await userWithDeposits('th-from');
  const v = await h.newUserProjected(bank.url, 'th-to');
  const stranger = await h.newUserProjected(bank.url, 'th-stranger');
  const uuid = crypto.randomUUID();
  assert.equal((await h.transfer(bank.url, { uuid, username: u.username, token: u.token, amount: 500, from: u.iban, to: v.iban, descr: 'lunch' })).success, true);
  // its money events are found through the projector's index: a moment after the transfer
  await h.waitFor(async () => (await h.gql(bank.url, TRANSFER_HISTORY, { u: uuid, t: u.token })).transfer_history.length >= 4, 'the money events');
  for (const who of [u, v]) {
    const r = await h.post(bank.url, TRANSFER_HISTORY, { u: uuid, t: who.token });
    assert.ok(!r.errors, JSON.stringify(r.errors));
    const events = r.data.transfer_history;
    assert.deepEqual(events.map((e) => e.type), ['TransferStartedEvent', 'MoneyDebitedEvent', 'MoneyCreditedEvent', 'TransferCompletedEvent']);
    assert.deepEqual(events.map((e) => e.summary), [
      `transfer of €5,00 from ${u.iban} to ${v.iban} started: lunch`,
      `${u.iban} debited €5,00`,
      `${v.iban} credited €5,00`,
      'transfer completed',
    ]);
    assert.ok(events.every((e) => e.transfer === uuid));
    const started = JSON.parse(events[0].data);
    assert.equal(started.token, '(hidden)');
    assert.equal(started.username, '(hidden)');
    assert.equal(started.description, 'lunch');
    assert.deepEqual(events.map((e) => e.order), [0, 4, 1, 1]);
  }
  // a failed transfer: started, debited, returned, failed
  const bad = crypto.randomUUID();
  const r = await h.transfer(bank.url, { uuid: bad, username: u.username, token: u.token, amount: 100, from: u.iban, to: 'NL61OPEN0305797828', descr: 'nobody' });
  assert.equal(r.reason, 'iban not known');
  const failed = await h.waitFor(async () => {
    const l = (await h.gql(bank.url, TRANSFER_HISTORY, { u: bad, t: u.token })).transfer_history;
    return l.length >= 4 ? l : null;
  }, 'the failed transfer\'s events');
  assert.deepEqual(failed.map((e) => e.type), ['TransferStartedEvent', 'MoneyDebitedEvent', 'MoneyReturnedEvent', 'TransferFailedEvent']);
  assert.equal(failed[3].summary, 'transfer failed: iban not known');

  assert.equal(errorOf(await h.post(bank.url, TRANSFER_HISTORY, { u: uuid, t: stranger.token })), 'token is not valid');
  assert.equal(errorOf(await h.post(bank.url, TRANSFER_HISTORY, { u: crypto.randomUUID(), t: u.token })), 'token is not valid');
  assert.equal(errorOf(await h.post(bank.url, TRANSFER_HISTORY, { u: 'not-a-uuid', t: u.token })), 'uuid is not a valid UUID');
});

test('time travel: the account and its transactions as they were, from the events', async () => {
  const { u } = await userWithDeposits('tt');
  const txs = await h.transactions(bank.url, u.iban);
  const ats = (await h.gql(bank.url, 'query($i: String!) { transactions_by_iban(iban: $i, max_items: 10) { at } }', { i: u.iban })).transactions_by_iban.map((t) => t.at).reverse();
  assert.equal(ats.length, 3);
  assert.ok(ats[0] < ats[1] && ats[1] < ats[2], 'three instants: ' + ats);
  const created = (await history(u)).data.account_history.at(-1).at;

  const at = async (when) => h.post(bank.url, ACCOUNT_AT, { i: u.iban, t: u.token, at: when });
  // at each deposit's time: the balance after it (the events stored by then)
  const balances = ['€10,00', '€30,00', '€60,00'];
  for (let k = 0; k < 3; k++) {
    const r = await at(ats[k]);
    assert.ok(!r.errors, JSON.stringify(r.errors));
    assert.equal(r.data.account.balance, balances[k]);
    assert.deepEqual(r.data.account.owners, [u.username]);
    const list = (await h.gql(bank.url, TXS_AT, { i: u.iban, m: 10, at: ats[k] })).transactions_by_iban;
    assert.deepEqual(list.map((t) => t.id), txs.slice(2 - k).map((t) => t.id), 'the transactions then');
    assert.equal(list[0].new_balance, balances[k]);
  }
  // at the creation: the account, no money yet; the same instant in another zone
  assert.equal((await at(created)).data.account.balance, '€0,00');
  const ms = Date.parse(created);
  const plusTwo = new Date(ms + 2 * 3600 * 1000).toISOString().replace('Z', '+02:00');
  assert.equal((await at(plusTwo)).data.account.balance, '€0,00');
  // now: the live balance
  assert.equal((await at(new Date().toISOString())).data.account.balance, '€60,00');
  assert.equal((await h.account(bank.url, u.iban, u.token)).data.account.balance, '€60,00');

  // before the account existed: a clear error, and the same for its transactions
  const early = new Date(ms - 1).toISOString();
  assert.equal(errorOf(await at(early)), `account ${u.iban} did not exist yet at ${early}`);
  assert.equal(errorOf(await h.post(bank.url, TXS_AT, { i: u.iban, m: 10, at: early })), `account ${u.iban} did not exist yet at ${early}`);
  // refused instants
  const future = new Date(Date.now() + 3600 * 1000).toISOString();
  assert.equal(errorOf(await at(future)), 'at is in the future: the past is all there is to see');
  assert.equal(errorOf(await at('2026-12-04T09:30:00')), 'at needs a time zone, e.g. 2026-12-04T09:30:00Z or 2026-12-04T10:30:00+01:00');
  for (const bad of ['yesterday', '2026-02-30T00:00:00Z', '2026-12-04 09:30:00Z', '']) {
    assert.equal(errorOf(await at(bad)), 'at should be an ISO-8601 date and time with a time zone, e.g. 2026-12-04T09:30:00Z');
    assert.equal(errorOf(await h.post(bank.url, TXS_AT, { i: u.iban, m: 10, at: bad })), 'at should be an ISO-8601 date and time with a time zone, e.g. 2026-12-04T09:30:00Z');
  }
  assert.equal(errorOf(await h.post(bank.url, TXS_AT, { i: u.iban, m: 1001, at: created })), 'max_items should be at most 1000');
  const other = await h.newUserProjected(bank.url, 'tt-other');
  assert.equal(errorOf(await h.post(bank.url, ACCOUNT_AT, { i: u.iban, t: other.token, at: created })), 'token is not valid');
  // with a filter, at an instant
  const debits = (await h.gql(bank.url, TXS_AT, { i: u.iban, m: 10, at: ats[2], d: 'DEBIT' })).transactions_by_iban;
  assert.deepEqual(debits, []);
  // a null `at` is the live view
  assert.equal((await h.gql(bank.url, TXS_AT, { i: u.iban, m: 10, at: null })).transactions_by_iban.length, 3);
});
