// Several projectors and several APIs on NATS: every projector publishes every derived
// transaction, and each stream_transactions subscriber still receives each transaction exactly
// once. A real nats-server, one command handler, two projectors and two APIs started from our
// `bank` binary; a third projector joins later with an empty read model and publishes the whole
// history again. Driven only through the GraphQL API with real clients (fetch, graphql-ws).
//
// No step depends on timing: each waits for an exact condition (what the read model shows, how
// many copies an API has received), and the timeouts are only a guard against a hang.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../bank/helpers');

const LONG = 180000; // ms: a guard against a hang on a busy machine, not a performance limit

let dir;
let nats;
let natsUrl;
const roles = [];
let api1;
let api2;

before(async () => {
  dir = h.tempDir();
  const port = await h.freePort();
  fs.writeFileSync(
    path.join(dir, 'nats.conf'),
    `listen: 127.0.0.1:${port}\nmax_payload: 2MB\njetstream { store_dir: "${path.join(dir, 'js')}" }\n`,
  );
  nats = await h.startNatsServer(['-c', path.join(dir, 'nats.conf')], port);
  natsUrl = `nats://127.0.0.1:${port}`;
  // The command handler first: it creates the streams. The APIs before the projectors: they
  // receive every transaction the projectors publish, from the bank's first on.
  roles.push(await h.startRole(dir, 'commands', natsUrl));
  api1 = await h.startRole(dir, 'api', natsUrl);
  api2 = await h.startRole(dir, 'api', natsUrl);
  roles.push(api1, api2);
  roles.push(await h.startRole(dir, 'projector', natsUrl));
  roles.push(await h.startRole(dir, 'projector', natsUrl));
});

after(async () => {
  for (const r of roles.reverse()) await r.stop();
  if (nats) {
    nats.kill('SIGTERM');
    await new Promise((resolve) => nats.on('exit', resolve));
  }
});

// Every transaction of `users` in the read model (through `url`), by id, once there are `n`.
async function readModel(url, users, n) {
  return h.eventually(async () => {
    const found = new Map();
    for (const u of users) for (const t of await h.transactions(url, u.iban)) found.set(t.id, t);
    return found.size === n ? found : null;
  }, `${n} transactions in the read model`, LONG);
}

// Waits until each API has received exactly `n` copies of transactions from the projectors.
async function received(n, what) {
  for (const api of [api1, api2]) {
    let got;
    await h.eventually(async () => {
      got = await h.metric(api.url, 'bank_stream_transactions_received_total');
      return got >= n;
    }, `${n} copies at ${api.url} (${what})`, LONG);
    assert.strictEqual(got, n, `copies received at ${api.url} (${what})`);
  }
}

test('two projectors and two APIs deliver each transaction once to each subscriber', async () => {
  const users = [];
  for (let i = 0; i < 4; i++) users.push(await h.newUser(i % 2 ? api1.url : api2.url, 'once'));
  for (const u of users) assert.strictEqual((await h.deposit(api1.url, u, 100000)).success, true);
  // Transaction ids count from 1 in the bank's order; the bank made `base` of its own before these
  // deposits (the company account's). The APIs subscribed before the projectors started, so each
  // receives every transaction from each projector. The subscribers, not there yet, must not get
  // these.
  const old = await readModel(api1.url, users, 4);
  const base = Math.min(...old.keys()) - 1;
  assert.deepStrictEqual([...old.keys()].sort((a, b) => a - b), [1, 2, 3, 4].map((i) => base + i));
  let total = base + 4;
  await received(2 * total, 'the deposits from two projectors');

  // On each API: one subscriber to everything, one to the account of one user.
  const clients = [h.wsClient(api1), h.wsClient(api2)];
  const subs = [
    { name: 'api1, all', sub: await h.streamTransactions(api1, clients[0]), iban: null },
    { name: 'api1, iban', sub: await h.streamTransactions(api1, clients[0], { iban: users[0].iban }), iban: users[0].iban },
    { name: 'api2, all', sub: await h.streamTransactions(api2, clients[1]), iban: null },
    { name: 'api2, iban', sub: await h.streamTransactions(api2, clients[1], { iban: users[1].iban }), iban: users[1].iban },
  ];

  const transfers = async (n, tag) => {
    const jobs = [];
    for (let i = 0; i < n; i++) {
      const from = users[i % 4];
      const to = users[(i + 1 + (i % 3)) % 4]; // never `from`
      const url = i % 2 ? api1.url : api2.url;
      jobs.push(h.transfer(url, { username: from.username, token: from.token, amount: 100 + i, from: from.iban, to: to.iban, descr: `${tag}${i}` }));
      if (jobs.length === 8) for (const r of await Promise.all(jobs.splice(0))) assert.strictEqual(r.success, true, r.reason);
    }
    for (const r of await Promise.all(jobs)) assert.strictEqual(r.success, true, r.reason);
  };
  await transfers(40, 'a'); // a debit and a credit each
  total += 2 * 40;
  await readModel(api1.url, users, total - base);
  await received(2 * total, 'the first transfers from two projectors');

  // A third projector joins with an empty read model: it projects and publishes the whole history
  // again, every transaction a third time.
  roles.push(await h.startRole(dir, 'projector', natsUrl));
  await received(3 * total, 'the history again from the third projector');

  await transfers(20, 'b');
  assert.strictEqual((await h.deposit(api2.url, users[2], 1, 'marker')).success, true);
  total += 2 * 20 + 1;
  await readModel(api1.url, users, total - base);
  await received(3 * total, 'the second transfers from three projectors');

  // Every copy of every transaction so far has reached both APIs. One more deposit on the account
  // of each `iban` subscriber: an API streams in the order it receives, so once a subscriber has
  // these, nothing sent before them is still on its way to it.
  for (const u of [users[0], users[1]]) assert.strictEqual((await h.deposit(api1.url, u, 1, 'end')).success, true);
  total += 2;
  const all = await readModel(api1.url, users, total - base);
  await received(3 * total, 'the end markers from three projectors');
  for (const id of old.keys()) all.delete(id);
  const wanted = (s) => [...all.values()].filter((t) => !s.iban || t.iban === s.iban).map((t) => t.id).sort((a, b) => a - b);
  for (const s of subs) {
    const want = wanted(s);
    await h.eventually(async () => {
      const got = new Set(s.sub.items.map((t) => t.id));
      return want.every((id) => got.has(id));
    }, `${s.name}: ${want.length} transactions`, LONG);
  }

  for (const s of subs) {
    const got = s.sub.items.map((t) => t.id);
    const counts = new Map();
    for (const id of got) counts.set(id, (counts.get(id) || 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepStrictEqual(twice, [], `${s.name}: received more than once`);
    assert.deepStrictEqual([...got].sort((a, b) => a - b), wanted(s), `${s.name}: not each transaction once`);
    assert.deepStrictEqual(s.sub.errors, []);
    // The same transaction as the read model has, field for field.
    for (const t of s.sub.items) assert.deepStrictEqual(t, all.get(t.id));
  }
  // Each API took one copy of each transaction and counted the others as duplicates.
  for (const api of [api1, api2]) {
    assert.strictEqual(await h.metric(api.url, 'bank_stream_transactions_duplicate_total'), 2 * total, `duplicates at ${api.url}`);
    assert.strictEqual(await h.metric(api.url, 'bank_stream_transactions_dropped_total'), 0, `dropped at ${api.url}`);
  }
  for (const s of subs) s.sub.unsubscribe();
  for (const c of clients) await c.dispose();
});
