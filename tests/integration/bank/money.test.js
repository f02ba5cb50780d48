// Issue 12, end to end through the GraphQL API: a mistyped destination never loses money (every
// IBAN variant), one meaning per transaction filter in the history and the live stream, filtered
// lists that show N matches, and transactions that carry their time and transfer.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const h = require('./helpers');

const UNKNOWN_OPEN = 'NL61OPEN0305797828';
const FOREIGN_NL = 'NL91ABNA0417164300';
const FOREIGN_DE = 'DE89370400440532013000';
const FIELDS = h.TX_FIELDS + ' at transfer';
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let bank;
let url;
before(async () => {
  bank = await h.startBank();
  url = bank.url;
});
after(async () => {
  await bank.stop();
});

// How a person might type an IBAN: lower case, in groups of four.
const typed = (iban) => iban.toLowerCase().replace(/(.{4})/g, '$1 ').trim();

// The same IBAN with other (wrong) check digits.
function wrongCheck(iban) {
  const cd = Number(iban.slice(2, 4));
  return iban.slice(0, 2) + String(cd === 98 ? 2 : cd + 1).padStart(2, '0') + iban.slice(4);
}

async function transferState(uuid) {
  const d = await h.gql(url, 'query($u: String!) { transfer(uuid: $u) { state reason to } }', { u: uuid });
  return d.transfer;
}

// Waits until the read model shows the transfer in `state` (it follows the stores a moment later).
async function stateIs(uuid, state) {
  return h.eventually(async () => {
    const t = await transferState(uuid);
    return t && t.state === state ? t : null;
  }, `transfer ${uuid} ${state}`);
}

// Waits until the read model shows exactly `n` transactions of `iban` (with FIELDS).
async function allOf(iban, n) {
  return h.eventually(async () => {
    const r = await h.transactionsFiltered(url, iban, 1000, {}, FIELDS);
    assert.ok(!r.errors, JSON.stringify(r.errors));
    return r.data.transactions_by_iban.length === n ? r.data.transactions_by_iban : null;
  }, `${n} transactions of ${iban}`);
}

test('every IBAN variant of a destination, end to end: credited, refused, returned or sent out', async () => {
  const a = await h.newUser(url, 'payer');
  const b = await h.newUser(url, 'payee');
  assert.strictEqual((await h.deposit(url, a, 100000, 'funds')).success, true);
  const send = (to, amount, extra = {}) =>
    h.transfer(url, { uuid: crypto.randomUUID(), username: a.username, token: a.token, from: a.iban, to, amount, descr: 'to ' + to, ...extra });

  // One of ours written with spaces and in lower case: credited to that account.
  for (const to of [typed(b.iban), ' ' + b.iban + ' ', b.iban.toLowerCase()]) {
    const r = await send(to, 100);
    assert.strictEqual(r.success, true, `${to}: ${r.reason}`);
  }
  await h.balanceIs(url, b, '€3,00');
  await h.balanceIs(url, a, '€997,00');
  const [debit] = await allOf(a.iban, 4);
  assert.strictEqual(debit.from_to, b.iban); // the counter party as stored: normalised
  // `from` may be typed the same way.
  const fromTyped = await send(b.iban, 100, { from: typed(a.iban) });
  assert.strictEqual(fromTyped.success, true, fromTyped.reason);
  await h.balanceIs(url, b, '€4,00');

  // Not a valid IBAN: refused with a reason, the payer is not debited and nothing is stored.
  const refused = [
    [wrongCheck(b.iban), 'to is not a valid IBAN: the check digits do not match'],
    [typed(wrongCheck(b.iban)), 'to is not a valid IBAN: the check digits do not match'],
    ['NL00OPEN' + b.iban.slice(8), 'to is not a valid IBAN: the check digits do not match'],
    ['NL00OPEN0123456789', 'to is not a valid IBAN: the check digits do not match'],
    [b.iban.slice(0, 17), 'to is not a valid IBAN: it should have 18 characters for NL, not 17'],
    [b.iban + '0', 'to is not a valid IBAN: it should have 18 characters for NL, not 19'],
    [b.iban.slice(0, 4) + 'OP3N' + b.iban.slice(8),
      'to is not a valid IBAN: for NL the 14 characters after the check digits should be 4 letters and 10 digits'],
    [b.iban.slice(0, 16) + 'O' + b.iban.slice(17),
      'to is not a valid IBAN: for NL the 14 characters after the check digits should be 4 letters and 10 digits'],
    ['NLA1OPEN0000000000', 'to is not a valid IBAN: the country code should be followed by two check digits'],
    ['1234OPEN0000000000', 'to is not a valid IBAN: it should start with a two-letter country code'],
    ['XX66OPEN0000000000', 'to is not a valid IBAN: there are no IBANs for country code XX'],
    ['NL66-OPEN-0000-0000-00', 'to is not a valid IBAN: it may only hold letters, digits and spaces'],
    ['', 'to is not a valid IBAN: it is empty'],
    ['   ', 'to is not a valid IBAN: it is empty'],
    ['my friend', 'to is not a valid IBAN: there are no IBANs for country code MY'],
    [FOREIGN_DE.slice(0, 21), 'to is not a valid IBAN: it should have 22 characters for DE, not 21'],
    [wrongCheck(FOREIGN_NL), 'to is not a valid IBAN: the check digits do not match'],
  ];
  const refusedIds = [];
  for (const [to, reason] of refused) {
    const uuid = crypto.randomUUID();
    const r = await send(to, 700, { uuid });
    assert.deepStrictEqual(r, { uuid, success: false, reason }, JSON.stringify(to));
    refusedIds.push(uuid);
  }
  // A refused uuid was never used: corrected, the same uuid goes through.
  const uuid = crypto.randomUUID();
  assert.strictEqual((await send(wrongCheck(b.iban), 50, { uuid })).success, false);
  assert.deepStrictEqual(await send(b.iban, 50, { uuid }), { uuid, success: true, reason: null });
  await h.balanceIs(url, b, '€4,50');
  await h.balanceIs(url, a, '€995,50');
  // The read model follows the transfer store in order: once this later transfer shows, a
  // refused one would show too if anything had been stored for it.
  await stateIs(uuid, 'COMPLETED');
  for (const id of refusedIds) assert.strictEqual(await transferState(id), null, 'nothing stored for ' + id);

  // A valid IBAN of ours that does not exist: debited, returned, `iban not known` (as before).
  const unknown = crypto.randomUUID();
  assert.deepStrictEqual(await send(typed(UNKNOWN_OPEN), 1234, { uuid: unknown }), { uuid: unknown, success: false, reason: 'iban not known' });
  assert.deepStrictEqual(await stateIs(unknown, 'FAILED'), { state: 'FAILED', reason: 'iban not known', to: UNKNOWN_OPEN });
  const [ret, lost] = await allOf(a.iban, 8);
  assert.strictEqual(lost.direction, 'DEBIT');
  assert.strictEqual(ret.descr, `Cancelled transaction with id ${unknown} because iban not known`);
  assert.strictEqual(ret.transfer, unknown);
  assert.strictEqual(lost.transfer, unknown);
  await h.balanceIs(url, a, '€995,50');

  // Valid IBANs of other banks (any spelling) and cash: the money leaves the bank, as before.
  for (const [to, stored] of [[FOREIGN_NL, FOREIGN_NL], [typed(FOREIGN_DE), FOREIGN_DE], ['cash', 'cash']]) {
    const id = crypto.randomUUID();
    assert.deepStrictEqual(await send(to, 500, { uuid: id }), { uuid: id, success: true, reason: null }, to);
    assert.strictEqual((await stateIs(id, 'COMPLETED')).to, stored);
  }
  await h.balanceIs(url, a, '€980,50');
  const [out] = await allOf(a.iban, 11);
  assert.strictEqual(out.from_to, 'cash');
  assert.deepStrictEqual(await h.transactions(url, FOREIGN_DE), []);
});

// The filter rule of the schema, written independently: AND of |amount| bounds (inclusive),
// direction and a case-insensitive description match (JS toLowerCase covers the test's texts).
function accepts(f, tx) {
  const moved = h.cents(tx.changed_by);
  if (f.min_amount !== undefined && moved < BigInt(f.min_amount)) return false;
  if (f.max_amount !== undefined && moved > BigInt(f.max_amount)) return false;
  if (f.direction !== undefined && tx.direction !== f.direction) return false;
  if (f.descr_includes !== undefined && !tx.descr.toLowerCase().includes(f.descr_includes.toLowerCase())) return false;
  return true;
}

test('history and live stream keep the same transactions for every filter, debits and credits on both sides of every bound', async () => {
  const a = await h.newUser(url, 'fa');
  const b = await h.newUser(url, 'fb');
  await h.deposit(url, a, 500000, 'Funds for ÉCLAIRS');
  await h.deposit(url, b, 500000, 'funds');
  const filters = [
    { min_amount: 1000 },
    { max_amount: 2000 },
    { min_amount: 1000, max_amount: 2000 },
    { min_amount: 1001, max_amount: 1999 },
    { direction: 'DEBIT' },
    { direction: 'CREDIT', min_amount: 2000 },
    { direction: 'DEBIT', max_amount: 1000 },
    { descr_includes: 'éclair' },
    { descr_includes: 'ÉCLAIR' },
    { descr_includes: 'καλημέρα σας' },
    { descr_includes: 'ОПЛАТА' },
    { min_amount: 1000, max_amount: 2000, direction: 'CREDIT', descr_includes: 'ÉcLaIr' },
    { min_amount: 3000, max_amount: 2000 },
  ];
  const client = h.wsClient(bank);
  try {
    const subs = [];
    for (const f of filters) subs.push({ f, s: await h.streamTransactions(bank, client, { iban: a.iban, ...f }, FIELDS) });
    const all = await h.streamTransactions(bank, client, { iban: a.iban }, FIELDS);
    // Each amount around the bounds, as a debit of a and as a credit of a.
    const descrs = ['un éclair', 'ΚΑΛΗΜΈΡΑ ΣΑΣ', 'оплата за квартиру', 'plain rent'];
    let i = 0;
    for (const amount of [999, 1000, 1001, 1999, 2000, 2001]) {
      for (const [payer, payee] of [[a, b], [b, a]]) {
        const descr = descrs[i++ % descrs.length];
        const r = await h.transfer(url, { username: payer.username, token: payer.token, from: payer.iban, to: payee.iban, amount, descr });
        assert.strictEqual(r.success, true, r.reason);
      }
    }
    const history = await allOf(a.iban, 13);
    await h.eventually(() => all.items.length === 12, 'the 12 transfers on the live stream');
    const live = [...all.items].reverse(); // newest first, as the history
    assert.deepStrictEqual(live, history.slice(0, 12), 'at and transfer included, the live stream shows what the history shows');
    for (const { f, s } of subs) {
      const r = await h.transactionsFiltered(url, a.iban, 1000, f, FIELDS);
      assert.ok(!r.errors, JSON.stringify(r.errors));
      const want = history.slice(0, 12).filter((tx) => accepts(f, tx));
      assert.deepStrictEqual(r.data.transactions_by_iban.filter((tx) => tx.descr !== 'Funds for ÉCLAIRS'), want, 'history ' + JSON.stringify(f));
      await h.eventually(() => s.items.length >= want.length, `${want.length} transactions on the stream ${JSON.stringify(f)}`);
      assert.deepStrictEqual([...s.items].reverse(), want, 'live ' + JSON.stringify(f));
      assert.deepStrictEqual(s.errors, []);
    }
    // The deposit before subscribing is history only, and matched by the same rule.
    const r = await h.transactionsFiltered(url, a.iban, 1000, { descr_includes: 'éclairs', direction: 'CREDIT' }, FIELDS);
    assert.deepStrictEqual(r.data.transactions_by_iban.map((tx) => tx.descr), ['Funds for ÉCLAIRS']);
    // Both sides of each bound were there: 999 and 2001 are outside [1000, 2000], as debits and credits.
    const both = await h.transactionsFiltered(url, a.iban, 1000, { min_amount: 1000, max_amount: 2000 });
    assert.deepStrictEqual(both.data.transactions_by_iban.map((tx) => `${tx.direction} ${tx.changed_by}`).sort(),
      ['CREDIT €10,00', 'CREDIT €10,01', 'CREDIT €19,99', 'CREDIT €20,00', 'DEBIT €10,00', 'DEBIT €10,01', 'DEBIT €19,99', 'DEBIT €20,00']);
  } finally {
    await client.dispose();
  }
});

test('a filtered list shows max_items matches, however far back they are', async () => {
  const a = await h.newUser(url, 'many');
  const b = await h.newUser(url, 'other');
  // 20 credits, then 8 debits, then 2 credits: the newest 10 rows hold only 2 credits.
  for (let i = 1; i <= 20; i++) assert.strictEqual((await h.deposit(url, a, 1000 + i, `credit ${i}`)).success, true);
  for (let i = 1; i <= 8; i++) {
    const r = await h.transfer(url, { username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 100 + i, descr: `debit ${i}` });
    assert.strictEqual(r.success, true, r.reason);
  }
  for (let i = 21; i <= 22; i++) await h.deposit(url, a, 1000 + i, `credit ${i}`);
  const all = await allOf(a.iban, 30);
  assert.strictEqual(all.slice(0, 10).filter((tx) => tx.direction === 'CREDIT').length, 2);

  const credits = await h.transactionsFiltered(url, a.iban, 10, { direction: 'CREDIT' });
  assert.deepStrictEqual(credits.data.transactions_by_iban.map((tx) => tx.descr), [22, 21, 20, 19, 18, 17, 16, 15, 14, 13].map((n) => `credit ${n}`));
  const allCredits = await h.transactionsFiltered(url, a.iban, 25, { direction: 'CREDIT' });
  assert.strictEqual(allCredits.data.transactions_by_iban.length, 22);
  const debits = await h.transactionsFiltered(url, a.iban, 5, { direction: 'DEBIT', max_amount: 104 });
  assert.deepStrictEqual(debits.data.transactions_by_iban.map((tx) => tx.descr), ['debit 4', 'debit 3', 'debit 2', 'debit 1']);
  const text = await h.transactionsFiltered(url, a.iban, 3, { descr_includes: 'CREDIT 1' });
  assert.deepStrictEqual(text.data.transactions_by_iban.map((tx) => tx.descr), ['credit 19', 'credit 18', 'credit 17']);
  // Without filters nothing changed: the newest max_items rows.
  assert.deepStrictEqual((await h.transactions(url, a.iban, 10)).map((tx) => tx.id), all.slice(0, 10).map((tx) => tx.id));
});

test('max_items is capped at 1000 with a clear error; 0 or less gives an empty list; bad filters are errors', async () => {
  const a = await h.newUser(url, 'cap');
  await h.deposit(url, a, 100, 'one');
  await allOf(a.iban, 1);
  for (const [max, f] of [[1001, {}], [2147483647, {}], [1001, { direction: 'CREDIT' }]]) {
    const r = await h.transactionsFiltered(url, a.iban, max, f);
    assert.strictEqual(r.data.transactions_by_iban, null);
    assert.strictEqual(r.errors[0].message, 'max_items should be at most 1000');
  }
  assert.strictEqual((await h.transactionsFiltered(url, a.iban, 1000, { direction: 'CREDIT' })).data.transactions_by_iban.length, 1);
  for (const max of [0, -1]) assert.deepStrictEqual((await h.transactionsFiltered(url, a.iban, max, { direction: 'CREDIT' })).data.transactions_by_iban, []);
  const long = await h.transactionsFiltered(url, a.iban, 10, { descr_includes: 'x'.repeat(257) });
  assert.strictEqual(long.errors[0].message, 'descr_includes should have at most 256 bytes');
  assert.strictEqual((await h.transactionsFiltered(url, a.iban, 10, { descr_includes: 'x'.repeat(256) })).data.transactions_by_iban.length, 0);
});

test('transactions carry their time and transfer, the same in queries, by id and live', async () => {
  const a = await h.newUser(url, 'time');
  const b = await h.newUser(url, 'time');
  const client = h.wsClient(bank);
  try {
    const sa = await h.streamTransactions(bank, client, { iban: a.iban }, FIELDS);
    const sb = await h.streamTransactions(bank, client, { iban: b.iban }, FIELDS);
    const start = Date.now();
    const dep = crypto.randomUUID();
    assert.strictEqual((await h.transfer(url, { uuid: dep, username: a.username, token: a.token, from: 'cash', to: a.iban, amount: 5000, descr: 'in' })).success, true);
    const pay = crypto.randomUUID();
    assert.strictEqual((await h.transfer(url, { uuid: pay, username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 1500, descr: 'out' })).success, true);
    const end = Date.now();
    const [debit, credit0] = await allOf(a.iban, 2);
    const [credit] = await allOf(b.iban, 1);
    assert.strictEqual(credit0.transfer, dep);
    assert.strictEqual(debit.transfer, pay);
    assert.strictEqual(credit.transfer, pay); // a debit and its credit link to one transfer
    for (const tx of [debit, credit0, credit]) {
      assert.match(tx.at, ISO_UTC_MS);
      const t = Date.parse(tx.at);
      assert.ok(t >= start - 1000 && t <= end + 1000, `${tx.at} between the calls`);
    }
    assert.ok(Date.parse(credit0.at) <= Date.parse(debit.at));
    assert.strictEqual(debit.direction, 'DEBIT'); // the client shows the minus sign
    await h.eventually(() => sa.items.length === 2 && sb.items.length === 1, 'the live transactions');
    assert.deepStrictEqual([...sa.items].reverse(), [debit, credit0]);
    assert.deepStrictEqual(sb.items, [credit]);
    const byId = await h.gql(url, `query($id: Int!) { transaction_by_id(id: $id) { ${FIELDS} } }`, { id: debit.id });
    assert.deepStrictEqual(byId.transaction_by_id, debit);
    const last = await h.gql(url, `{ all_last_transactions { ${FIELDS} } }`);
    assert.deepStrictEqual(last.all_last_transactions.find((tx) => tx.iban === b.iban), credit);
    // The transaction's transfer is the one transfer(uuid) finds.
    assert.strictEqual((await stateIs(debit.transfer, 'COMPLETED')).to, b.iban);
  } finally {
    await client.dispose();
  }
});

// A projection.db written before transactions had `at` and `transfer` (the older layout, made
// here from a current one with python3's sqlite3) is rebuilt from the stores at start-up: the
// same ids, balances and lists, now with their times and transfers.
test('an older projection.db is rebuilt with the time and transfer of every transaction', { skip: process.env.BANK_E2E_TOPOLOGY === 'nats' && 'one process: it owns projection.db' }, async () => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const dataDir = h.tempDir();
  let one = await h.startBank({ dataDir });
  const a = await h.newUser(one.url, 'old');
  const b = await h.newUser(one.url, 'old');
  await h.deposit(one.url, a, 10000, 'before the upgrade');
  const pay = crypto.randomUUID();
  assert.strictEqual((await h.transfer(one.url, { uuid: pay, username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 2500, descr: 'Éclair' })).success, true);
  await h.eventually(async () => (await h.transactions(one.url, b.iban)).length === 1, 'the credit to b');
  const list = async (u, iban) => (await h.transactionsFiltered(u, iban, 1000, {}, FIELDS)).data.transactions_by_iban;
  const before = { a: await list(one.url, a.iban), b: await list(one.url, b.iban) };
  await one.stop();

  const downgrade = spawnSync('/usr/bin/python3', ['-c', [
    'import sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1])',
    'db.execute("ALTER TABLE transactions DROP COLUMN at")',
    'db.execute("ALTER TABLE transactions DROP COLUMN transfer")',
    'db.execute("PRAGMA user_version=0")',
    'db.commit()',
  ].join('\n'), path.join(dataDir, 'projection.db')], { encoding: 'utf8' });
  assert.strictEqual(downgrade.status, 0, downgrade.stderr);

  one = await h.startBank({ dataDir });
  try {
    assert.match(one.log(), /has the layout of an older version: rebuilding it from the stores/);
    const after = { a: await list(one.url, a.iban), b: await list(one.url, b.iban) };
    assert.deepStrictEqual(after, before);
    assert.strictEqual(after.b[0].transfer, pay);
    assert.match(after.b[0].at, ISO_UTC_MS);
    await h.balanceIs(one.url, a, '€75,00');
    // The filters work on the rebuilt history, and the numbering continues.
    assert.deepStrictEqual((await h.transactionsFiltered(one.url, a.iban, 10, { descr_includes: 'éCLAIR' })).data.transactions_by_iban.map((t) => t.id), [after.a[0].id]);
    await h.deposit(one.url, b, 100, 'after the upgrade');
    const [newest] = await h.eventually(async () => {
      const l = await list(one.url, b.iban);
      return l.length === 2 ? l : null;
    }, 'the new deposit');
    assert.ok(newest.id > Math.max(...after.a.map((t) => t.id)));
  } finally {
    await one.stop();
  }
});

// A projection.db of layout 3 (before the read model took fewer B-trees per batch: transfers
// without a row number, money events by transfer id, an index of transactions by iban and one of
// events by time; made here from a current one with python3's sqlite3) is rebuilt from the
// stores at start-up, and every reader answers as before: the lists, a transfer, its history and
// the account and its transactions at an instant.
test('a layout-3 projection.db is rebuilt and answers every query as before', { skip: process.env.BANK_E2E_TOPOLOGY === 'nats' && 'one process: it owns projection.db' }, async () => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const EVENT = 'order type at transfer summary data';
  const queries = (a, b, pay, at) => [
    [`query($i: String!) { transactions_by_iban(iban: $i, max_items: 1000) { ${FIELDS} } }`, { i: a.iban }],
    [`query($i: String!) { transactions_by_iban(iban: $i, max_items: 1000) { ${FIELDS} } }`, { i: b.iban }],
    [`query($i: String!) { transactions_by_iban(iban: $i, max_items: 1, direction: DEBIT) { ${FIELDS} } }`, { i: a.iban }],
    [`query($i: String!, $at: String) { transactions_by_iban(iban: $i, max_items: 10, at: $at) { ${FIELDS} } }`, { i: a.iban, at }],
    ['query($i: String!, $t: String!, $at: String) { account(iban: $i, token: $t, at: $at) { iban balance owners } }', { i: a.iban, t: a.token, at }],
    [`query($u: String!, $t: String!) { transfer_history(uuid: $u, token: $t) { ${EVENT} } }`, { u: pay, t: b.token }],
    ['query($u: String!) { transfer(uuid: $u) { uuid state amount from to descr } }', { u: pay }],
    [`{ all_last_transactions { ${FIELDS} } }`, {}],
  ];
  const answers = async (url, ...args) => {
    const out = [];
    for (const [q, v] of queries(...args)) out.push(await h.gql(url, q, v));
    return out;
  };
  const dataDir = h.tempDir();
  let one = await h.startBank({ dataDir });
  const a = await h.newUser(one.url, 'l3');
  const b = await h.newUser(one.url, 'l3');
  await h.deposit(one.url, a, 10000, 'before the upgrade');
  await h.eventually(async () => (await h.transactions(one.url, a.iban)).length === 1, 'the deposit');
  const at = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 5));
  const pay = crypto.randomUUID();
  assert.strictEqual((await h.transfer(one.url, { uuid: pay, username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 2500, descr: 'layout 3' })).success, true);
  await h.eventually(async () => (await h.transactions(one.url, b.iban)).length === 1, 'the credit to b');
  const before = await answers(one.url, a, b, pay, at);
  assert.strictEqual(before[5].transfer_history.length, 4); // started, debit, credit, completed
  assert.strictEqual(before[3].transactions_by_iban.length, 1); // only the deposit then
  await one.stop();

  const downgrade = spawnSync('/usr/bin/python3', ['-c', [
    'import sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1])',
    'db.executescript("""',
    'CREATE INDEX transactions_by_iban ON transactions(iban, id);',
    'CREATE TABLE t3(id BLOB PRIMARY KEY, amount INTEGER NOT NULL, from_iban TEXT NOT NULL, to_iban TEXT NOT NULL, description TEXT NOT NULL, username TEXT NOT NULL, state TEXT NOT NULL, reason TEXT);',
    'INSERT INTO t3 SELECT id, amount, from_iban, to_iban, description, username, state, reason FROM transfers;',
    'DROP TABLE transfers; ALTER TABLE t3 RENAME TO transfers;',
    'DROP TABLE bank_events;',
    "CREATE TABLE bank_events(iban TEXT NOT NULL, ord INTEGER NOT NULL, at INTEGER NOT NULL, at_max INTEGER NOT NULL, tx_id INTEGER, transfer TEXT NOT NULL, PRIMARY KEY(iban, ord)) WITHOUT ROWID;",
    'CREATE INDEX bank_events_by_time ON bank_events(iban, at_max, ord);',
    "CREATE INDEX bank_events_by_transfer ON bank_events(transfer) WHERE transfer != '';",
    'PRAGMA user_version=3;',
    '""")',
    'db.commit()',
  ].join('\n'), path.join(dataDir, 'projection.db')], { encoding: 'utf8' });
  assert.strictEqual(downgrade.status, 0, downgrade.stderr);

  one = await h.startBank({ dataDir });
  try {
    assert.match(one.log(), /has the layout of an older version: rebuilding it from the stores/);
    assert.deepStrictEqual(await answers(one.url, a, b, pay, at), before);
  } finally {
    await one.stop();
  }
});
