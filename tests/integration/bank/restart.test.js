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
