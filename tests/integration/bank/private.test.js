// The private mode (`bank run --private --employee-key-hash HASH`), over POST /api and over
// WebSocket (graphql-ws with the key in the connection_init payload): reading other people's
// accounts needs an employee key; an account's own transactions open with its token; refusals are
// clear errors. The key comes from `bank employee-key`, as an operator would make it.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');
const h = require('./helpers');

const EMPLOYEE_ONLY = 'this bank is private: an employee credential is needed (Authorization: Bearer KEY)';
const TOKEN_NEEDED = "this bank is private: give the account's token, or an employee credential";
const BAD_KEY = 'the employee credential is not valid';
const TOKEN = 'token is not valid';

let bank;
let key; // an employee's key
let other; // a second employee's key, configured through --employee-keys FILE
let a;
let b;
let deposit; // the uuid of a's deposit

function employeeKey() {
  const out = execFileSync(path.join(h.BIN_DIR, 'bank'), ['employee-key'], { encoding: 'utf8' });
  const m = /^key: +([0-9a-f]{64})\nhash: ([0-9a-f]{64})\n$/.exec(out);
  assert.ok(m, out);
  assert.strictEqual(crypto.createHash('sha256').update(m[1]).digest('hex'), m[2]);
  return { key: m[1], hash: m[2] };
}

before(async () => {
  const one = employeeKey();
  const two = employeeKey();
  key = one.key;
  other = two.key;
  const dir = h.tempDir();
  const file = path.join(dir, 'employees');
  fs.writeFileSync(file, `# the employees of the bank\n\n${two.hash}  second employee\n`);
  bank = await h.startBank({ args: ['--private', '--employee-key-hash', one.hash, '--employee-keys', file] });
  a = await h.newUser(bank.url, 'pa');
  b = await h.newUser(bank.url, 'pb');
  deposit = crypto.randomUUID();
  assert.strictEqual((await h.transfer(bank.url, { uuid: deposit, username: a.username, token: a.token, amount: 1234, from: 'cash', to: a.iban, descr: 'private deposit' })).success, true);
  await h.balanceIs(bank.url, a, '€12,34');
});
after(async () => {
  if (bank) await bank.stop();
});

async function post(query, variables, authorization) {
  const headers = { 'content-type': 'application/json' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(bank.url + '/api', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  assert.strictEqual(res.status, 200);
  return res.json();
}

function refusedWith(r, field, message) {
  assert.strictEqual(r.data[field], null, JSON.stringify(r));
  assert.strictEqual(r.errors.length, 1, JSON.stringify(r));
  assert.strictEqual(r.errors[0].message, message);
  assert.deepStrictEqual(r.errors[0].path, [field]);
}

const ALL_LAST = '{ all_last_transactions { iban } }';
const BY_ID = '{ transaction_by_id(id: 1) { iban descr } }';
const BY_IBAN = 'query($i: String!, $t: String) { transactions_by_iban(iban: $i, max_items: 10, token: $t) { iban changed_by descr } }';
const TRANSFER = 'query($u: String!, $t: String) { transfer(uuid: $u, token: $t) { uuid state amount } }';

test('employees only: all_last_transactions and transaction_by_id', async () => {
  for (const [q, field] of [
    [ALL_LAST, 'all_last_transactions'],
    [BY_ID, 'transaction_by_id'],
  ]) {
    refusedWith(await post(q), field, EMPLOYEE_ONLY);
    refusedWith(await post(q, {}, 'Bearer ' + 'f'.repeat(64)), field, BAD_KEY);
    refusedWith(await post(q, {}, 'Bearer ' + a.token), field, BAD_KEY);
    // An Authorization that is not a bearer credential is not an employee key.
    refusedWith(await post(q, {}, 'Basic ' + Buffer.from('x:y').toString('base64')), field, EMPLOYEE_ONLY);
    for (const k of [key, other]) {
      const r = await post(q, {}, 'Bearer ' + k);
      assert.ok(!r.errors, JSON.stringify(r.errors));
      assert.ok(r.data[field]);
    }
  }
  const r = await post(BY_ID, {}, 'bearer  ' + key); // the scheme ignores case
  assert.deepStrictEqual(r.data, { transaction_by_id: { iban: 'NL66OPEN0000000000', descr: 'initial funds' } });
});

test("an account's transactions: its token or an employee key", async () => {
  refusedWith(await post(BY_IBAN, { i: a.iban }), 'transactions_by_iban', TOKEN_NEEDED);
  refusedWith(await post(BY_IBAN, { i: a.iban, t: b.token }), 'transactions_by_iban', TOKEN);
  refusedWith(await post(BY_IBAN, { i: a.iban, t: '' }), 'transactions_by_iban', TOKEN);
  // An unknown IBAN answers as a wrong token.
  refusedWith(await post(BY_IBAN, { i: 'NL80OPEN0123456789', t: a.token }), 'transactions_by_iban', TOKEN);
  const mine = [{ iban: a.iban, changed_by: '€12,34', descr: 'private deposit' }];
  assert.deepStrictEqual(await post(BY_IBAN, { i: a.iban, t: a.token }), { data: { transactions_by_iban: mine } });
  assert.deepStrictEqual(await post(BY_IBAN, { i: a.iban }, 'Bearer ' + key), { data: { transactions_by_iban: mine } });
  refusedWith(await post(BY_IBAN, { i: a.iban, t: a.token }, 'Bearer nope'), 'transactions_by_iban', BAD_KEY);
  // account() and the mutations are as before: they carry their own credentials.
  assert.strictEqual((await h.account(bank.url, a.iban, a.token)).data.account.balance, '€12,34');
  assert.strictEqual((await h.account(bank.url, a.iban, b.token)).errors[0].message, TOKEN);
});

test('a transfer: a token of either side, or an employee key', async () => {
  const pay = crypto.randomUUID();
  assert.strictEqual((await h.transfer(bank.url, { uuid: pay, username: a.username, token: a.token, amount: 100, from: a.iban, to: b.iban })).success, true);
  const state = { uuid: pay, state: 'COMPLETED', amount: '€1,00' };
  refusedWith(await post(TRANSFER, { u: pay }), 'transfer', TOKEN_NEEDED);
  for (const t of [a.token, b.token]) {
    // The read model follows the store a moment later: it may show the transfer STARTED first.
    const r = await h.eventually(async () => {
      const x = await post(TRANSFER, { u: pay, t });
      return x.data.transfer && x.data.transfer.state === 'COMPLETED' ? x : null;
    }, 'the transfer completed in the read model');
    assert.deepStrictEqual(r, { data: { transfer: state } });
  }
  assert.deepStrictEqual(await post(TRANSFER, { u: pay }, 'Bearer ' + key), { data: { transfer: state } });
  // The deposit from cash has one side: the account credited.
  assert.deepStrictEqual((await post(TRANSFER, { u: deposit, t: a.token })).data.transfer.state, 'COMPLETED');
  refusedWith(await post(TRANSFER, { u: deposit, t: b.token }), 'transfer', TOKEN);
  // An unknown transfer answers as a wrong token (employees see null, as in the public mode).
  refusedWith(await post(TRANSFER, { u: crypto.randomUUID(), t: a.token }), 'transfer', TOKEN);
  assert.deepStrictEqual(await post(TRANSFER, { u: crypto.randomUUID() }, 'Bearer ' + key), { data: { transfer: null } });
});

function ws(connectionParams) {
  return createClient({ url: bank.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams });
}

// Subscribes and collects; resolves { items, errors, done, unsubscribe }.
function subscribe(client, variables) {
  const sub = { items: [], errors: [], done: false };
  sub.unsubscribe = client.subscribe(
    {
      query: 'subscription($i: String, $t: String) { stream_transactions(iban: $i, token: $t) { iban changed_by descr } }',
      variables,
    },
    {
      next: (v) => (v.errors ? sub.errors.push(...v.errors) : sub.items.push(v.data.stream_transactions)),
      error: (e) => sub.errors.push(...(Array.isArray(e) ? e : [e])),
      complete: () => (sub.done = true),
    },
  );
  return sub;
}

test('stream_transactions over WebSocket: all of them for employees, one account with its token', async () => {
  const anonymous = ws();
  const employee = ws({ authorization: 'Bearer ' + key });
  const impostor = ws({ Authorization: 'Bearer ' + 'a'.repeat(64) });
  try {
    const refusedAll = subscribe(anonymous, {});
    const refusedNoToken = subscribe(anonymous, { i: a.iban });
    const refusedWrong = subscribe(anonymous, { i: a.iban, t: b.token });
    const refusedImpostor = subscribe(impostor, {});
    for (const [s, message] of [
      [refusedAll, EMPLOYEE_ONLY],
      [refusedNoToken, TOKEN_NEEDED],
      [refusedWrong, TOKEN],
      [refusedImpostor, BAD_KEY],
    ]) {
      await h.eventually(async () => s.errors.length > 0 || s.done, 'the refusal');
      assert.deepStrictEqual(s.errors.map((e) => e.message), [message]);
      assert.deepStrictEqual(s.items, []);
    }
    const before = await h.metric(bank.url, 'graphql_subscriptions_active');
    const all = subscribe(employee, {});
    const mine = subscribe(anonymous, { i: a.iban, t: a.token });
    await h.eventually(async () => (await h.metric(bank.url, 'graphql_subscriptions_active')) >= before + 2, 'the subscriptions');
    // Right after subscribing (the token may still be being checked): nothing is lost.
    const descr = 'streamed ' + crypto.randomBytes(3).toString('hex');
    assert.strictEqual((await h.transfer(bank.url, { username: a.username, token: a.token, amount: 500, from: a.iban, to: b.iban, descr })).success, true);
    await h.eventually(async () => mine.items.length >= 1 && all.items.filter((t) => t.descr === descr).length >= 2, 'the transactions');
    assert.deepStrictEqual(mine.items, [{ iban: a.iban, changed_by: '€5,00', descr }]);
    assert.deepStrictEqual(all.items.filter((t) => t.descr === descr).map((t) => t.iban).sort(), [a.iban, b.iban].sort());
    assert.deepStrictEqual([mine.errors, all.errors], [[], []]);
    mine.unsubscribe();
    all.unsubscribe();
  } finally {
    await Promise.all([anonymous.dispose(), employee.dispose(), impostor.dispose()]);
  }
});

test('the private mode counts its refusals in /metrics', async () => {
  assert.ok((await h.metric(bank.url, 'bank_private_refused_total')) >= 10);
});
