// Many clients, each on its own connection, appending to the same key at the same order: exactly
// one wins each order, the others get the seed's order-mismatch text as CONCURRENCY.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBkes, client, call, b } = require('./bkes_helpers');

const CLIENTS = 24;
const ROUNDS = 15;
let srv;
let clients;
before(async () => {
  srv = await startBkes();
  clients = Array.from({ length: CLIENTS }, () => client(srv.address));
});
after(async () => {
  clients.forEach((c) => c.close());
  assert.equal((await srv.stop()).code, 0, srv.log());
});

test('Start race: exactly one client creates the aggregate', async () => {
  const replies = await Promise.all(clients.map((c, i) => call(c, 'Start', { key: b('race'), value: b('start-' + i) })));
  const winners = replies.filter((r) => r.reply === 'success');
  assert.equal(winners.length, 1);
  for (const r of replies.filter((x) => x.reply === 'error'))
    assert.deepEqual(r.error, { type: 0, error: "Already a verified record for this key, can't start aggregate", cause: '' });
});

test('Add race: exactly one winner per order; the losers see the current count', async () => {
  const winnersByOrder = [];
  for (let order = 1; order <= ROUNDS; order++) {
    const replies = await Promise.all(clients.map((c, i) =>
      call(c, 'Add', { key: b('race'), value: b(`${order}-${i}`), order })));
    const wins = replies.map((r, i) => [r, i]).filter(([r]) => r.reply === 'success');
    assert.equal(wins.length, 1, `order ${order}: ${wins.length} winners`);
    winnersByOrder.push(`${order}-${wins[0][1]}`);
    for (const r of replies.filter((x) => x.reply === 'error')) {
      assert.deepEqual(r.error, {
        type: 1,
        error: `Could not add records because there are currently ${order + 1} records instead of ${order} for key: 'race'`,
        cause: '',
      });
    }
  }
  const all = await call(clients[0], 'Retrieve', { key: b('race') });
  assert.equal(all.success.records.length, ROUNDS + 1);
  assert.deepEqual(all.success.records.slice(1).map((r) => r.value.toString()), winnersByOrder);
});

test('free-running writers on one key: every order is taken exactly once, no acknowledged write is lost', async () => {
  const key = b('free');
  await call(clients[0], 'Start', { key, value: b('s') });
  const mine = [];
  const TARGET = 200;
  await Promise.all(clients.map(async (c, i) => {
    let order = 1;
    while (order <= TARGET) {
      const r = await call(c, 'Add', { key, value: b(`${i}@${order}`), order });
      if (r.reply === 'success') {
        mine.push(`${i}@${order}`);
        order++;
      } else {
        assert.equal(r.error.type, 1);
        const m = /currently (\d+) records/.exec(r.error.error);
        order = Number(m[1]); // catch up, as a command handler reloading would
      }
    }
  }));
  const all = await call(clients[0], 'Retrieve', { key });
  const values = all.success.records.slice(1).map((r) => r.value.toString());
  assert.equal(values.length, TARGET);
  values.forEach((v, idx) => assert.equal(v.split('@')[1], String(idx + 1), 'each record sits at the order it asked for'));
  assert.deepEqual([...mine].sort(), [...values].sort(), 'the acknowledged writes are exactly the stored ones');
});
