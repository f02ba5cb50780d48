// The bank seen by a GraphQL client over POST /api: accounts, transfers and their reasons,
// transactions and their euro strings (spec 3-6, checklist items 23-67 that a client can see).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const h = require('./helpers');

const COMPANY = 'NL66OPEN0000000000';
const UNKNOWN_OPEN = 'NL61OPEN0305797828';
const EXTERNAL = 'NL91ABNA0417164300';
const LIMIT_REASON = 'insufficient funds would be below the limit of €-500,00';

let bank;
let url;
before(async () => {
  bank = await h.startBank();
  url = bank.url;
});
after(async () => {
  await bank.stop();
});

// Waits until the read model shows `n` transactions for `iban` (newest first).
async function txsOf(iban, n) {
  return h.eventually(async () => {
    const list = await h.transactions(url, iban);
    return list.length >= n ? list : null;
  }, `${n} transactions of ${iban}`);
}

test('23: the company account got exactly one initial funds credit, transaction 1', async () => {
  const d = await h.gql(url, `{ transaction_by_id(id: 1) { ${h.TX_FIELDS} } }`);
  assert.deepStrictEqual(d.transaction_by_id, {
    id: 1,
    iban: COMPANY,
    new_balance: '€1.000.000.000.000.000,00',
    changed_by: '€1.000.000.000.000.000,00',
    from_to: 'cash',
    descr: 'initial funds',
    direction: 'CREDIT',
  });
  const list = await h.transactions(url, COMPANY);
  assert.strictEqual(list.filter((t) => t.descr === 'initial funds').length, 1);
});

test('F21: logging in as openweb with any password gives invalid password', async () => {
  for (const pw of ['password1', 'anything-else', 'x']) {
    assert.deepStrictEqual(await h.getAccount(url, 'openweb', pw), { iban: null, token: null, reason: 'invalid password' });
  }
});

test('58-60: get_account creates, logs in again, and refuses a wrong password', async () => {
  const u = await h.newUser(url);
  assert.match(u.iban, /^NL\d{2}OPEN0\d{9}$/);
  assert.strictEqual(u.iban.length, 18);
  assert.match(u.token, /^\d{20}$/);
  assert.deepStrictEqual(await h.getAccount(url, u.username, u.password), { iban: u.iban, token: u.token, reason: null });
  assert.deepStrictEqual(await h.getAccount(url, u.username, u.password + 'x'), {
    iban: null,
    token: null,
    reason: 'invalid password',
  });
  const other = await h.newUser(url);
  assert.notStrictEqual(other.iban, u.iban);
});

test('19: generated IBANs pass the ISO 13616 mod-97 check', async () => {
  for (let i = 0; i < 5; i++) {
    const { iban } = await h.newUser(url, 'iban');
    const digits = (iban.slice(4) + iban.slice(0, 4)).replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
    assert.strictEqual(BigInt(digits) % 97n, 1n, iban);
  }
});

test('27: logins racing to create the same user all get its one account; it stays serviceable', async () => {
  // Beyond the seed (whose CreateUser answers `user already exists` to the losers): get_account
  // turns a lost creation race into a login of the user that won it.
  const username = 'race-' + crypto.randomBytes(4).toString('hex');
  const results = await Promise.all([1, 2, 3, 4].map(() => h.getAccount(url, username, 'same-password')));
  assert.strictEqual(results[0].reason, null, JSON.stringify(results));
  for (const r of results) assert.deepStrictEqual(r, results[0]);
  assert.deepStrictEqual(await h.getAccount(url, username, 'same-password'), results[0]);
  assert.strictEqual((await h.getAccount(url, username, 'other-password')).reason, 'invalid password');
});

// Spec item 59 and W1 (9.1): a client that just got its IBAN can log in at once, although the
// read model that get_account reads is filled by the projector behind the commands (before
// 4ec7780 about 1 in 90 such logins answered `user already exists` or `username does not have
// accounts`).
test('59: a login right after the creation returns that account (read your writes)', async () => {
  const failures = [];
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const u = await h.newUser(url, 'ryw', { projected: false });
        const again = await h.getAccount(url, u.username, u.password);
        if (again.iban !== u.iban || again.token !== u.token || again.reason !== null) failures.push(again);
      }),
    );
  }
  assert.deepStrictEqual(failures, []);
});

test('36, F7, 63: a cash deposit by the owner credits the account, only after the saga completed', async () => {
  const u = await h.newUser(url);
  const uuid = crypto.randomUUID();
  const r = await h.transfer(url, { uuid, username: u.username, token: u.token, amount: 123456, from: 'cash', to: u.iban, descr: 'first deposit' });
  assert.deepStrictEqual(r, { uuid, success: true, reason: null });
  // 63: the whole saga ended before the answer: the transfer is already complete.
  const again = await h.transfer(url, { uuid, username: u.username, token: u.token, amount: 123456, from: 'cash', to: u.iban, descr: 'first deposit' });
  assert.deepStrictEqual(again, { uuid, success: false, reason: 'transfer was already started, current status: complete' });
  const [tx] = await txsOf(u.iban, 1);
  assert.deepStrictEqual(
    { ...tx, id: 0 },
    { id: 0, iban: u.iban, new_balance: '€1.234,56', changed_by: '€1.234,56', from_to: 'cash', descr: 'first deposit', direction: 'CREDIT' },
  );
  const acc = await h.account(url, u.iban, u.token);
  assert.deepStrictEqual(acc, { data: { account: { iban: u.iban, balance: '€1.234,56', balance_cents: 123456, owners: [u.username] } } });
  // 40: the repeated uuid moved no money.
  assert.strictEqual((await h.transactions(url, u.iban)).length, 1);
});

test('F7: a cash deposit needs the owner and its token', async () => {
  const u = await h.newUser(url);
  const other = await h.newUser(url);
  const base = { amount: 1000, from: 'cash', to: u.iban, descr: 'deposit' };
  const cases = [
    [{ username: '', token: '' }, 'user is no owner of bank account'],
    [{ username: u.username, token: '' }, 'token is not valid'],
    [{ username: other.username, token: other.token }, 'user is no owner of bank account'],
    [{ username: u.username, token: other.token }, 'token is not valid'],
    [{ username: u.username, token: '00000000000000000000' }, 'token is not valid'],
  ];
  for (const [who, reason] of cases) {
    const uuid = crypto.randomUUID();
    assert.deepStrictEqual(await h.transfer(url, { ...base, ...who, uuid }), { uuid, success: false, reason }, JSON.stringify(who));
  }
  const acc = await h.account(url, u.iban, u.token);
  assert.strictEqual(acc.data.account.balance, '€0,00');
});

test('44, F6: amounts must be positive and at most €10.000.000,00', async () => {
  const u = await h.newUser(url);
  await h.deposit(url, u, 5000);
  const t = { username: u.username, token: u.token, from: u.iban, to: EXTERNAL, descr: 'amount check' };
  for (const amount of [0, -1, -5000]) {
    const r = await h.transfer(url, { ...t, amount });
    assert.deepStrictEqual({ ...r, uuid: 0 }, { uuid: 0, success: false, reason: 'amount should be positive' });
  }
  for (const amount of [1000000001, 2147483647]) {
    const r = await h.transfer(url, { ...t, amount });
    assert.strictEqual(r.reason, 'amount should not be more than €10.000.000,00');
    const d = await h.deposit(url, u, amount);
    assert.strictEqual(d.reason, 'amount should not be more than €10.000.000,00');
  }
  const r = await h.deposit(url, u, 0);
  assert.strictEqual(r.reason, 'amount should be positive');
  // The largest allowed amount works.
  assert.strictEqual((await h.deposit(url, u, 1000000000)).success, true);
  await h.balanceIs(url, u, '€10.000.050,00');
});

test('28-31, 34, 35: refused transfers give the seed reasons and move no money', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  await h.deposit(url, a, 10000);
  const t = { username: a.username, token: a.token, amount: 100, from: a.iban, to: b.iban, descr: 'refused' };
  // `stored`: the transfer is stored and then fails in its saga. Issue 11 (no free writes): one
  // whose credentials or from/to do not check out is refused before anything is stored, so
  // sending it again gives the same refusal and transfer(uuid) does not know it.
  const cases = [
    [{ from: 'NL80OPEN0123456789' }, 'iban not known'],
    [{ username: b.username, token: b.token }, 'user is no owner of bank account'],
    [{ token: b.token }, 'token is not valid'],
    [{ to: a.iban }, "from and to can't be same for transfer"],
    [{ from: 'not-an-iban' }, 'from is invalid'],
    [{ from: 'NL66OPEN0000000001' }, 'from is invalid'],
    [{ amount: 60001 }, LIMIT_REASON, 'stored'],
    [{ from: 'cash', to: 'cash' }, "from and to can't be same for transfer"],
  ];
  for (const [change, reason, stored] of cases) {
    const uuid = crypto.randomUUID();
    assert.deepStrictEqual(await h.transfer(url, { ...t, ...change, uuid }), { uuid, success: false, reason }, JSON.stringify(change));
    // A stored refused transfer is failed for good; one refused before storing is refused again.
    const again = await h.transfer(url, { ...t, ...change, uuid });
    assert.strictEqual(again.reason, stored ? 'transfer was already started, current status: failed' : reason);
    if (!stored) assert.deepStrictEqual(await h.gql(url, 'query($u: String!) { transfer(uuid: $u) { state } }', { u: uuid }), { transfer: null });
  }
  await h.balanceIs(url, a, '€100,00');
  await h.balanceIs(url, b, '€0,00');
  assert.strictEqual((await h.transactions(url, a.iban)).length, 1);
  assert.strictEqual((await h.transactions(url, b.iban)).length, 0);
});

test('31, 46, 47, 67: the limit is -€500,00 exclusive; debits and credits map as the seed', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  const t = { username: a.username, token: a.token, from: a.iban, to: b.iban };
  assert.strictEqual((await h.transfer(url, { ...t, amount: 50000, descr: 'to the limit' })).reason, LIMIT_REASON);
  const ok = await h.transfer(url, { ...t, amount: 49999, descr: 'just above the limit' });
  assert.strictEqual(ok.success, true, ok.reason);
  assert.strictEqual((await h.transfer(url, { ...t, amount: 1, descr: 'one cent more' })).reason, LIMIT_REASON);
  const [debit] = await txsOf(a.iban, 1);
  const [credit] = await txsOf(b.iban, 1);
  assert.deepStrictEqual(debit, {
    id: debit.id,
    iban: a.iban,
    new_balance: '€-499,99',
    changed_by: '€499,99',
    from_to: b.iban,
    descr: 'just above the limit',
    direction: 'DEBIT',
  });
  assert.deepStrictEqual(credit, {
    id: debit.id + 1,
    iban: b.iban,
    new_balance: '€499,99',
    changed_by: '€499,99',
    from_to: a.iban,
    descr: 'just above the limit',
    direction: 'CREDIT',
  });
  // A credit is never limited: b pays back more than it has... only down to the limit.
  const back = await h.transfer(url, { username: b.username, token: b.token, from: b.iban, to: a.iban, amount: 99998, descr: 'back' });
  assert.strictEqual(back.success, true, back.reason);
  await h.balanceIs(url, a, '€499,99');
  await h.balanceIs(url, b, '€-499,99');
  assert.strictEqual((await h.account(url, b.iban, b.token)).data.account.balance_cents, -49999);
});

test('37: a transfer to a non-open IBAN succeeds and the money leaves the bank', async () => {
  const a = await h.newUser(url);
  await h.deposit(url, a, 2500);
  const r = await h.transfer(url, { username: a.username, token: a.token, from: a.iban, to: EXTERNAL, amount: 1000, descr: 'rent' });
  assert.strictEqual(r.success, true, r.reason);
  const [debit] = await txsOf(a.iban, 2);
  assert.deepStrictEqual({ ...debit, id: 0 }, { id: 0, iban: a.iban, new_balance: '€15,00', changed_by: '€10,00', from_to: EXTERNAL, descr: 'rent', direction: 'DEBIT' });
  assert.deepStrictEqual(await h.transactions(url, EXTERNAL), []);
});

test('38, 43, 48: a transfer to an unknown open IBAN is debited, returned and fails iban not known', async () => {
  const a = await h.newUser(url);
  await h.deposit(url, a, 3000);
  const uuid = crypto.randomUUID();
  const r = await h.transfer(url, { uuid, username: a.username, token: a.token, from: a.iban, to: UNKNOWN_OPEN, amount: 1234, descr: 'lost?' });
  assert.deepStrictEqual(r, { uuid, success: false, reason: 'iban not known' });
  const [ret, debit, dep] = await txsOf(a.iban, 3);
  assert.strictEqual(dep.descr, 'deposit');
  assert.deepStrictEqual({ ...debit, id: 0 }, { id: 0, iban: a.iban, new_balance: '€17,66', changed_by: '€12,34', from_to: UNKNOWN_OPEN, descr: 'lost?', direction: 'DEBIT' });
  assert.deepStrictEqual(ret, {
    id: debit.id + 1,
    iban: a.iban,
    new_balance: '€30,00',
    changed_by: '€12,34',
    from_to: UNKNOWN_OPEN,
    descr: `Cancelled transaction with id ${uuid} because iban not known`,
    direction: 'CREDIT',
  });
  assert.strictEqual((await h.transfer(url, { uuid, username: a.username, token: a.token, from: a.iban, to: UNKNOWN_OPEN, amount: 1234, descr: 'lost?' })).reason, 'transfer was already started, current status: failed');
});

test('39: a cash deposit to an unknown IBAN fails iban not known', async () => {
  const a = await h.newUser(url);
  const uuid = crypto.randomUUID();
  const r = await h.transfer(url, { uuid, username: a.username, token: a.token, from: 'cash', to: UNKNOWN_OPEN, amount: 100, descr: 'nowhere' });
  assert.deepStrictEqual(r, { uuid, success: false, reason: 'iban not known' });
});

test('40, 66: a repeated uuid moves no money; a non-UUID uuid gives null', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  await h.deposit(url, a, 10000);
  const uuid = crypto.randomUUID();
  const t = { uuid, username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 700, descr: 'once' };
  assert.deepStrictEqual(await h.transfer(url, t), { uuid, success: true, reason: null });
  for (const change of [{}, { amount: 1 }, { to: EXTERNAL }]) {
    assert.deepStrictEqual(await h.transfer(url, { ...t, ...change }), {
      uuid,
      success: false,
      reason: 'transfer was already started, current status: complete',
    });
  }
  for (const bad of ['not-a-uuid', '', '1234', crypto.randomUUID() + 'x']) {
    assert.strictEqual(await h.transfer(url, { ...t, uuid: bad }), null, bad);
  }
  await txsOf(b.iban, 1);
  await h.balanceIs(url, a, '€93,00');
  await h.balanceIs(url, b, '€7,00');
});

test('45, 51: transaction ids are global and consecutive; transaction_by_id finds each, null when unknown', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  await h.deposit(url, a, 900, 'ids 1');
  await h.transfer(url, { username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 300, descr: 'ids 2' });
  await h.transfer(url, { username: b.username, token: b.token, from: b.iban, to: a.iban, amount: 100, descr: 'ids 3' });
  const ta = await txsOf(a.iban, 3);
  const tb = await txsOf(b.iban, 2);
  const ids = [...ta, ...tb].map((t) => t.id).sort((x, y) => x - y);
  for (let i = 1; i < ids.length; i++) assert.strictEqual(ids[i], ids[0] + i, 'ids ' + ids);
  for (const t of [...ta, ...tb]) {
    const d = await h.gql(url, `query($id: Int!) { transaction_by_id(id: $id) { ${h.TX_FIELDS} } }`, { id: t.id });
    assert.deepStrictEqual(d.transaction_by_id, t);
  }
  for (const id of [0, -1, ids[ids.length - 1] + 1000000]) {
    const d = await h.gql(url, `query($id: Int!) { transaction_by_id(id: $id) { id } }`, { id });
    assert.strictEqual(d.transaction_by_id, null, 'id ' + id);
  }
});

test('49: transactions_by_iban gives at most max_items, newest first; unknown IBAN gives []', async () => {
  const a = await h.newUser(url);
  for (let i = 1; i <= 6; i++) await h.deposit(url, a, i * 100, `dep ${i}`);
  const all = await txsOf(a.iban, 6);
  assert.deepStrictEqual(
    all.map((t) => t.descr),
    ['dep 6', 'dep 5', 'dep 4', 'dep 3', 'dep 2', 'dep 1'],
  );
  assert.deepStrictEqual(
    all.map((t) => t.new_balance),
    ['€21,00', '€15,00', '€10,00', '€6,00', '€3,00', '€1,00'],
  );
  assert.deepStrictEqual(await h.transactions(url, a.iban, 2), all.slice(0, 2));
  assert.deepStrictEqual(await h.transactions(url, a.iban, 0), []);
  assert.deepStrictEqual(await h.transactions(url, a.iban, -3), []);
  assert.deepStrictEqual(await h.transactions(url, 'NL80OPEN0123456789', 10), []);
  assert.deepStrictEqual(await h.transactions(url, 'garbage', 10), []);
});

test('50: all_last_transactions has each IBAN once, its latest, sorted by IBAN', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  await h.deposit(url, a, 100, 'last a 1');
  await h.deposit(url, b, 100, 'last b 1');
  await h.deposit(url, a, 100, 'last a 2');
  const [latestA] = await txsOf(a.iban, 2);
  const [latestB] = await txsOf(b.iban, 1);
  const d = await h.gql(url, `{ all_last_transactions { ${h.TX_FIELDS} } }`);
  const list = d.all_last_transactions;
  const ibans = list.map((t) => t.iban);
  assert.deepStrictEqual(ibans, [...ibans].sort(), 'sorted by IBAN');
  assert.strictEqual(new Set(ibans).size, ibans.length, 'each IBAN once');
  assert.deepStrictEqual(list.find((t) => t.iban === a.iban), latestA);
  assert.deepStrictEqual(list.find((t) => t.iban === b.iban), latestB);
  assert.ok(ibans.includes(COMPANY));
  // An account without transactions is left out.
  const c = await h.newUser(url);
  const d2 = await h.gql(url, '{ all_last_transactions { iban } }');
  assert.ok(!d2.all_last_transactions.some((t) => t.iban === c.iban));
});

test('account: balance and owners for a token holder; a wrong token and an unknown IBAN answer alike', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  await h.deposit(url, a, 4242);
  await h.balanceIs(url, a, '€42,42');
  const ok = await h.account(url, a.iban, a.token);
  assert.deepStrictEqual(ok, { data: { account: { iban: a.iban, balance: '€42,42', balance_cents: 4242, owners: [a.username] } } });
  for (const token of [b.token, '', 'x'.repeat(100)]) {
    const r = await h.account(url, a.iban, token);
    assert.strictEqual(r.data.account, null);
    assert.strictEqual(r.errors.length, 1);
    assert.strictEqual(r.errors[0].message, 'token is not valid');
    assert.deepStrictEqual(r.errors[0].path, ['account']);
  }
  // Issue 11: an unknown IBAN answers exactly as a wrong token, so account() tells no one which
  // IBANs exist.
  for (const iban of ['NL80OPEN0123456789', 'not an iban', '']) {
    const unknown = await h.account(url, iban, a.token);
    assert.deepStrictEqual(unknown, {
      data: { account: null },
      errors: [{ message: 'token is not valid', locations: unknown.errors[0].locations, path: ['account'] }],
    });
  }
  // The company account's balance is exact beyond 2^53 cents (spec 3.6, F12).
  const company = await h.gql(url, `{ transaction_by_id(id: 1) { new_balance } }`);
  assert.strictEqual(company.transaction_by_id.new_balance, '€1.000.000.000.000.000,00');
});

test('55: /api answers 400 for non-JSON and blank queries; /graphql serves the same schema', async () => {
  const r1 = await fetch(url + '/api', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ all_last_transactions { id } }' });
  assert.strictEqual(r1.status, 400);
  assert.match(await r1.text(), /Must be application\/json/);
  const r2 = await fetch(url + '/api', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '  ' }) });
  assert.strictEqual(r2.status, 400);
  assert.match(await r2.text(), /JSON 'query' key is missing or blank/);
  const r3 = await fetch(url + '/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ transaction_by_id(id: 1) { descr } }' }),
  });
  assert.strictEqual(r3.status, 200);
  assert.deepStrictEqual(await r3.json(), { data: { transaction_by_id: { descr: 'initial funds' } } });
});
