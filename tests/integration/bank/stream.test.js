// stream_transactions seen by real WebSocket clients: graphql-ws (graphql-transport-ws) and the
// legacy subscriptions-transport-ws (graphql-ws); filters with the INTENDED meaning (F9),
// no backlog, stop (checklist items 53, 57, 68-73).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { SubscriptionClient } = require('subscriptions-transport-ws');
const h = require('./helpers');

const EXTERNAL = 'NL91ABNA0417164300';
const UNKNOWN_OPEN = 'NL61OPEN0305797828';

let bank;
let url;
before(async () => {
  bank = await h.startBank();
  url = bank.url;
});
after(async () => {
  await bank.stop();
});

// The INTENDED filter (spec 6.6 with F9): AND of iban, |amount| bounds, direction, descr substring.
function accepts(f, tx) {
  const amount = h.cents(tx.changed_by);
  if (f.iban !== undefined && tx.iban !== f.iban) return false;
  if (f.min_amount !== undefined && amount < BigInt(f.min_amount)) return false;
  if (f.max_amount !== undefined && amount > BigInt(f.max_amount)) return false;
  if (f.direction !== undefined && tx.direction !== f.direction) return false;
  if (f.descr_includes !== undefined && !tx.descr.toLowerCase().includes(f.descr_includes.toLowerCase())) return false;
  return true;
}

const byId = (a, b) => a.id - b.id;

test('68-72: every filter and their AND, only transactions after subscribing, each exactly once', async () => {
  const a = await h.newUser(url, 'sa');
  const b = await h.newUser(url, 'sb');
  const c = await h.newUser(url, 'sc');
  const mark = 'M' + crypto.randomBytes(3).toString('hex');
  const client = h.wsClient(bank);
  try {
    // The projector publishes a transaction after the transfer answered; a probe stream that saw
    // both deposits proves they were published before the streams under test subscribe.
    const baseline = await h.metric(url, 'graphql_subscriptions_active');
    const probe = await h.streamTransactions(bank, client, { descr_includes: mark + ' before subscribing' });
    await h.deposit(url, a, 50000, mark + ' before subscribing');
    await h.deposit(url, b, 50000, mark + ' before subscribing');
    await h.eventually(() => probe.items.length === 2, 'the deposits on the probe stream');
    probe.unsubscribe();
    // streamTransactions sees a registration by the gauge going up: let the stop land first.
    await h.eventually(async () => (await h.metric(url, 'graphql_subscriptions_active')) === baseline, 'the probe to stop');
    await filtersCheck(a, b, c, mark, client);
  } finally {
    await client.dispose();
  }
});

async function filtersCheck(a, b, c, mark, client) {
  // The unfiltered one first: it is served last for each transaction (see the sentinel below).
  const all = await h.streamTransactions(bank, client);
  const filters = [
    { iban: a.iban },
    { iban: 'NL80OPEN0123456789' },
    { direction: 'DEBIT' },
    { direction: 'CREDIT' },
    { descr_includes: mark.toLowerCase() + '-RENT' },
    { descr_includes: 'Cancelled Transaction' },
    { min_amount: 250 },
    { max_amount: 250 },
    { min_amount: 250, max_amount: 500 },
    { min_amount: 600, max_amount: 500 },
    { iban: b.iban, direction: 'DEBIT', min_amount: 300 },
    { iban: a.iban, direction: 'CREDIT', descr_includes: 'gift', max_amount: 1000 },
  ];
  const subs = [];
  for (const f of filters) subs.push({ f, s: await h.streamTransactions(bank, client, f) });

  const tr = (from, to, amount, descr, extra = {}) =>
    h.transfer(url, { username: from.username, token: from.token, from: from.iban, to: to.iban || to, amount, descr: `${mark}-${descr}`, ...extra });
  const results = [
    await tr(a, b, 100, 'small'),
    await tr(a, b, 250, 'rent'),
    await tr(b, a, 300, 'Gift'),
    await tr(b, a, 500, 'RENT part 2'),
    await tr(a, c, 1000, 'gift big'),
    await tr(c, b, 999, 'gift back'),
    await tr(a, EXTERNAL, 600, 'rent outside'),
    await tr(b, UNKNOWN_OPEN, 400, 'lost'),
    await h.deposit(url, c, 250, `${mark}-cash gift`),
    await tr(a, b, 100000, 'too much'),
  ];
  assert.deepStrictEqual(
    results.map((r) => r.reason),
    [null, null, null, null, null, null, null, 'iban not known', null, 'insufficient funds would be below the limit of €-500,00'],
  );
  // What a client must see: 2 per internal transfer, 1 external debit, debit + return, 1 deposit.
  const expectedCount = 6 * 2 + 1 + 2 + 1;
  // The sentinel: the last transaction. The unfiltered stream was registered first, so the server
  // queues each transaction to it after the filtered ones on the same socket.
  const s = await h.newUser(url, 'sentinel');
  await h.deposit(url, s, 1, 'sentinel');
  await h.eventually(() => all.items.some((t) => t.descr === 'sentinel'), 'the sentinel');
  await h.sleep(200); // lets the other streams' last frames arrive; the checks below do not depend on it

  assert.deepStrictEqual(all.errors, []);
  assert.ok(!all.items.some((t) => t.descr.endsWith('before subscribing')), '68: no backlog');
  const mine = all.items.filter((t) => t.descr.startsWith(mark + '-') || t.descr.includes('because iban not known'));
  assert.strictEqual(mine.length, expectedCount, JSON.stringify(mine, null, 1));
  // 53: every money event once, ids strictly increasing in delivery order.
  for (let i = 1; i < all.items.length; i++) assert.ok(all.items[i].id > all.items[i - 1].id, 'ids increase');
  // The stream carries what the queries carry.
  for (const t of mine) {
    const d = await h.gql(url, `query($id: Int!) { transaction_by_id(id: $id) { ${h.TX_FIELDS} } }`, { id: t.id });
    assert.deepStrictEqual(d.transaction_by_id, t);
  }
  const ret = mine.find((t) => t.descr.startsWith('Cancelled transaction with id'));
  assert.ok(ret && ret.iban === b.iban && ret.direction === 'CREDIT' && ret.changed_by === '€4,00' && ret.from_to === UNKNOWN_OPEN);

  for (const { f, s: sub } of subs) {
    assert.deepStrictEqual(sub.errors, [], JSON.stringify(f));
    const want = all.items.filter((t) => accepts(f, t)).sort(byId);
    assert.deepStrictEqual([...sub.items].sort(byId), want, 'filter ' + JSON.stringify(f));
  }
  // The filters are not vacuous: each non-empty expectation below was checked above.
  const count = (i) => subs[i].s.items.length;
  assert.strictEqual(count(0), 6, 'a: 4 debits (small, rent, gift big, rent outside), 2 credits, none for the refused one');
  assert.strictEqual(count(1), 0);
  assert.strictEqual(count(2) + count(3), expectedCount + 1, "every transaction, the sentinel included, is a debit or a credit");
  assert.strictEqual(count(4), 5, 'case-insensitive: rent and RENT part 2 (debit and credit each), rent outside');
  assert.strictEqual(count(5), 1);
  assert.strictEqual(count(11), 1, 'a received the Gift of 300');
  for (const { s: sub } of subs) sub.unsubscribe();
  all.unsubscribe();
}

test('73: stopping one subscription leaves the others', async () => {
  const a = await h.newUser(url);
  const baseline = await h.metric(url, 'graphql_subscriptions_active');
  const c1 = h.wsClient(bank);
  const c2 = h.wsClient(bank);
  const keep = await h.streamTransactions(bank, c1, { iban: a.iban });
  const stop = await h.streamTransactions(bank, c1, { iban: a.iban });
  const other = await h.streamTransactions(bank, c2, { iban: a.iban });
  await h.deposit(url, a, 100, 'one');
  await h.eventually(() => keep.items.length === 1 && stop.items.length === 1 && other.items.length === 1, 'the first deposit everywhere');
  const active = await h.metric(url, 'graphql_subscriptions_active');
  stop.unsubscribe();
  await h.eventually(async () => (await h.metric(url, 'graphql_subscriptions_active')) === active - 1, 'the stop to arrive');
  await h.deposit(url, a, 200, 'two');
  await h.deposit(url, a, 300, 'three');
  await h.eventually(() => keep.items.length === 3 && other.items.length === 3, 'the next deposits');
  assert.deepStrictEqual(
    keep.items.map((t) => [t.descr, t.new_balance]),
    [
      ['one', '€1,00'],
      ['two', '€3,00'],
      ['three', '€6,00'],
    ],
  );
  assert.deepStrictEqual(other.items, keep.items);
  assert.deepStrictEqual(stop.items.map((t) => t.descr), ['one']);
  assert.strictEqual(stop.done, true);
  keep.unsubscribe();
  other.unsubscribe();
  await c1.dispose();
  await c2.dispose();
  await h.eventually(async () => (await h.metric(url, 'graphql_subscriptions_active')) === baseline, 'every subscription to end');
});

test('57: the legacy subscriptions-transport-ws client subscribes and transfers over /ws', async () => {
  const a = await h.newUser(url);
  const b = await h.newUser(url);
  const sc = new SubscriptionClient(bank.wsUrl, { reconnect: false }, WebSocket);
  const got = [];
  const errors = [];
  const before = await h.metric(url, 'graphql_subscriptions_active');
  const sub = sc
    .request({ query: `subscription($i: String) { stream_transactions(iban: $i) { ${h.TX_FIELDS} } }`, variables: { i: b.iban } })
    .subscribe({ next: (v) => got.push(v), error: (e) => errors.push(e) });
  await h.eventually(async () => (await h.metric(url, 'graphql_subscriptions_active')) > before, 'the legacy subscription');
  // A mutation over the same socket: one data, then complete.
  const once = (op) =>
    new Promise((resolve, reject) => {
      const out = [];
      sc.request(op).subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
    });
  const dep = await once({
    query:
      'mutation($u: String!, $t: String!, $i: String!) { money_transfer(uuid: "' +
      crypto.randomUUID() +
      '", username: $u, token: $t, amount: 5000, from: "cash", to: $i, descr: "legacy deposit") { success reason } }',
    variables: { u: a.username, t: a.token, i: a.iban },
  });
  assert.deepStrictEqual(dep, [{ data: { money_transfer: { success: true, reason: null } } }]);
  const uuid = crypto.randomUUID();
  const res = await once({
    query: `mutation { money_transfer(uuid: "${uuid}", username: "${a.username}", token: "${a.token}", amount: 1999, from: "${a.iban}", to: "${b.iban}", descr: "legacy") { uuid success reason } }`,
  });
  assert.deepStrictEqual(res, [{ data: { money_transfer: { uuid, success: true, reason: null } } }]);
  await h.eventually(() => got.length === 1, 'the credit on the legacy stream');
  assert.deepStrictEqual(errors, []);
  assert.deepStrictEqual(got[0].data.stream_transactions, {
    id: got[0].data.stream_transactions.id,
    iban: b.iban,
    new_balance: '€19,99',
    changed_by: '€19,99',
    from_to: a.iban,
    descr: 'legacy',
    direction: 'CREDIT',
  });
  sub.unsubscribe();
  await h.eventually(async () => (await h.metric(url, 'graphql_subscriptions_active')) === before, 'stop');
  sc.close();
});

test('54: subscriptions only over /ws; a bad filter is an error and the socket stays usable', async () => {
  const res = await fetch(url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'subscription { stream_transactions { id } }' }),
  });
  assert.strictEqual(res.status, 400);
  assert.deepStrictEqual(await res.json(), { errors: [{ message: 'Subscriptions are only served over WebSocket (/ws)' }] });

  const client = h.wsClient(bank);
  try {
    const bad = await new Promise((resolve) => {
      client.subscribe(
        { query: 'subscription { stream_transactions(direction: SIDEWAYS) { id } }' },
        { next: () => resolve('next'), error: (e) => resolve(e), complete: () => resolve('complete') },
      );
    });
    assert.ok(Array.isArray(bad), JSON.stringify(bad));
    assert.strictEqual(bad[0].message, 'Value "SIDEWAYS" does not exist in "dtype" enum.');
    const a = await h.newUser(url);
    const good = await h.streamTransactions(bank, client, { iban: a.iban, direction: 'CREDIT' });
    await h.deposit(url, a, 321, 'after a bad one');
    await h.eventually(() => good.items.length === 1, 'the deposit');
    assert.strictEqual(good.items[0].changed_by, '€3,21');
    good.unsubscribe();
  } finally {
    await client.dispose();
  }
});
