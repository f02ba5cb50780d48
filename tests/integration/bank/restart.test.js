// Restart persistence: after a clean stop (SIGTERM, exit 0) and a start on the same data dir, a
// GraphQL client sees the same users, accounts, balances, transactions and transfer states; the
// company account is not credited again (checklist 23, 40, 45, 59).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const h = require('./helpers');

const COMPANY = 'NL66OPEN0000000000';

async function snapshot(url, users) {
  const out = {};
  for (const u of users) {
    out[u.iban] = {
      account: (await h.account(url, u.iban, u.token)).data.account,
      txs: await h.transactions(url, u.iban),
    };
  }
  out.company = await h.transactions(url, COMPANY);
  out.last = (await h.gql(url, `{ all_last_transactions { ${h.TX_FIELDS} } }`)).all_last_transactions;
  return out;
}

test('everything survives a restart, twice; the company account is credited once', async () => {
  const dataDir = h.tempDir();
  let bank = await h.startBank({ dataDir });
  const users = [];
  for (let i = 0; i < 3; i++) users.push(await h.newUser(bank.url, 'restart'));
  const [a, b, c] = users;
  await h.deposit(bank.url, a, 10000);
  const done = { uuid: crypto.randomUUID(), username: a.username, token: a.token, from: a.iban, to: b.iban, amount: 2500, descr: 'before restart' };
  assert.strictEqual((await h.transfer(bank.url, done)).success, true);
  const failed = { uuid: crypto.randomUUID(), username: c.username, token: c.token, from: c.iban, to: a.iban, amount: 50000, descr: 'too much' };
  assert.strictEqual((await h.transfer(bank.url, failed)).reason, 'insufficient funds would be below the limit of €-500,00');
  await h.eventually(async () => (await h.transactions(bank.url, b.iban)).length === 1, 'the credit to b');
  const before = await snapshot(bank.url, users);
  assert.strictEqual(before[a.iban].account.balance, '€75,00');
  await bank.stop();

  for (let round = 0; round < 2; round++) {
    bank = await h.startBank({ dataDir });
    // /healthz said the read model caught up: the state is there at once.
    assert.deepStrictEqual(await snapshot(bank.url, users), before, 'round ' + round);
    for (const u of users) {
      assert.deepStrictEqual(await h.getAccount(bank.url, u.username, u.password), { iban: u.iban, token: u.token, reason: null });
      assert.strictEqual((await h.getAccount(bank.url, u.username, 'wrong')).reason, 'invalid password');
    }
    assert.strictEqual((await h.transfer(bank.url, done)).reason, 'transfer was already started, current status: complete');
    assert.strictEqual((await h.transfer(bank.url, failed)).reason, 'transfer was already started, current status: failed');
    const initial = before.company.filter((t) => t.descr === 'initial funds');
    assert.strictEqual(initial.length, 1);
    assert.strictEqual(initial[0].id, 1);
    assert.strictEqual((await h.getAccount(bank.url, 'openweb', 'any')).reason, 'invalid password');
    await bank.stop();
  }

  // New work continues the numbering: the next transaction id follows the last one.
  bank = await h.startBank({ dataDir });
  const maxId = Math.max(...before.last.map((t) => t.id));
  await h.deposit(bank.url, c, 100, 'after restarts');
  const [tx] = await h.eventually(async () => {
    const l = await h.transactions(bank.url, c.iban);
    return l.length === 1 ? l : null;
  }, 'the new deposit');
  assert.strictEqual(tx.id, maxId + 1);
  const d = await h.newUser(bank.url, 'after');
  assert.ok(!users.some((u) => u.iban === d.iban));
  await bank.stop();
});

test('the read model is rebuilt the same from the event stores when projection.db is deleted', async () => {
  const fs = require('node:fs');
  const dataDir = h.tempDir();
  let bank = await h.startBank({ dataDir });
  const users = [];
  for (let i = 0; i < 4; i++) users.push(await h.newUser(bank.url, 'rebuild'));
  for (const u of users) assert.strictEqual((await h.deposit(bank.url, u, 10000)).success, true);
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const [from, to] = [users[i % 4], users[(i + 1) % 4]];
      const target = i % 5 === 4 ? 'NL61OPEN0305797828' : to.iban; // some debited and returned
      return h.transfer(bank.url, { username: from.username, token: from.token, from: from.iban, to: target, amount: 10 + i, descr: `rebuild ${i}` });
    }),
  );
  assert.strictEqual(results.filter((r) => r.success).length, 32);
  // 4 deposits, 32 transfers (debit + credit), 8 debits returned: 4 + 64 + 16 transactions.
  await h.eventually(async () => (await Promise.all(users.map((u) => h.transactions(bank.url, u.iban)))).flat().length === 84, 'all 84 transactions');
  const before = await snapshot(bank.url, users);
  await bank.stop();
  const removed = fs.readdirSync(dataDir).filter((f) => f.startsWith('projection.db'));
  assert.ok(removed.includes('projection.db'), 'the read model lives in projection.db: ' + removed);
  for (const f of removed) fs.rmSync(`${dataDir}/${f}`);
  bank = await h.startBank({ dataDir });
  assert.deepStrictEqual(await snapshot(bank.url, users), before);
  for (const u of users) assert.deepStrictEqual(await h.getAccount(bank.url, u.username, u.password), { iban: u.iban, token: u.token, reason: null });
  await bank.stop();
});

// SIGTERM while transfers are in flight: every thread that may still answer is stopped before
// what it answers through is freed (the shutdown order of src/cmd/bank_main.c stop()); three
// rounds, each checked for a clean exit and no sanitizer report.
test('SIGTERM with transfers in flight: clean exit', async () => {
  for (let round = 0; round < 3; round++) {
    const bank = await h.startBank();
    const users = [];
    for (let i = 0; i < 4; i++) users.push(await h.newUser(bank.url, 'term'));
    for (const u of users) await h.deposit(bank.url, u, 1000000);
    let answered = 0;
    let stopping = null;
    const sends = Array.from({ length: 400 }, (_, i) => {
      const [from, to] = [users[i % 4], users[(i + 1) % 4]];
      return h
        .transfer(bank.url, { username: from.username, token: from.token, from: from.iban, to: to.iban, amount: 1 + i, descr: `term ${i}` })
        .catch(() => null)
        .finally(() => {
          if (++answered === 50) stopping = bank.stop(); // exit code 0, no sanitizer report
        });
    });
    await Promise.all(sends);
    await stopping;
  }
});
