// kill -9 during a stream of concurrent transfers, twice (the second right after the first
// restart, during recovery), restart on the same data dir: every transfer that returned success
// is there, none is left `started`, the balances equal their transactions and money is conserved
// (cash in minus what left the bank).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const h = require('./helpers');

const EXTERNAL = 'NL91ABNA0417164300';
const UNKNOWN_OPEN = 'NL61OPEN0305797828';
const OPS = 240;
const WORKERS = 16;
const KILL_AFTER = 90; // answered transfers before the first kill
const KILL_AFTER_RESTART = 40; // and before the second, right after the first restart
const ALREADY = 'transfer was already started, current status: ';

function plan(users) {
  const ops = [];
  for (let i = 0; i < OPS; i++) {
    const from = users[crypto.randomInt(users.length)];
    let to = users[crypto.randomInt(users.length)];
    if (to === from) to = users[(users.indexOf(from) + 1) % users.length];
    const kind = i % 10 === 0 ? 'deposit' : i % 10 === 3 ? 'external' : i % 10 === 7 ? 'unknown' : 'internal';
    const t = { uuid: crypto.randomUUID(), username: from.username, token: from.token, from: from.iban, amount: 1 + crypto.randomInt(20000), descr: `crash-${i}` };
    if (kind === 'deposit') Object.assign(t, { from: 'cash', to: from.iban });
    else if (kind === 'external') t.to = EXTERNAL;
    else if (kind === 'unknown') t.to = UNKNOWN_OPEN;
    else t.to = to.iban;
    ops.push({ kind, t, outcome: 'unsent' });
  }
  return ops;
}

// Runs the ops not sent yet with WORKERS in flight; kills the bank after `killAfter` answers.
async function stream(bank, ops, killAfter) {
  let next = ops.findIndex((o) => o.outcome === 'unsent');
  let answered = 0;
  let killed = null;
  const worker = async () => {
    while (next < ops.length && !killed) {
      const op = ops[next++];
      op.outcome = 'unknown';
      try {
        const r = await h.transfer(bank.url, op.t);
        if (r.success) op.outcome = 'success';
        else if (/^timed out after/.test(r.reason)) op.outcome = 'unknown'; // F15: may still complete
        else op.outcome = 'refused: ' + r.reason;
      } catch (e) {
        op.outcome = 'unknown'; // the connection died with the process
      }
      if (++answered === killAfter) killed = bank.kill9();
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  await killed;
}

test('kill -9 twice in a stream of transfers: recovery completes each, nothing lost or doubled', async (t) => {
  const dataDir = h.tempDir();
  let bank = await h.startBank({ dataDir });
  const users = [];
  for (let i = 0; i < 5; i++) users.push(await h.newUser(bank.url, 'crash'));
  for (const u of users) assert.strictEqual((await h.deposit(bank.url, u, 100000, 'seed')).success, true);
  const ops = plan(users);
  await stream(bank, ops, KILL_AFTER);
  const count = (p) => ops.filter((o) => o.outcome.startsWith(p)).length;
  assert.ok(count('success') >= KILL_AFTER / 2, 'most answered transfers succeeded: ' + count('success'));
  const unsentAfterFirst = count('unsent');
  // Again, at once after the restart, while the recovery of the first kill may still run.
  bank = await h.startBank({ dataDir });
  await stream(bank, ops, KILL_AFTER_RESTART);
  assert.ok(count('unsent') > 0 && count('unsent') < unsentAfterFirst, 'both kills came in the middle of the stream');

  bank = await h.startBank({ dataDir });
  try {
    // No transfer is left `started`: re-sending each uuid tells its final state (a transfer the
    // dead process never received runs now).
    for (const op of ops.filter((o) => o.outcome !== 'unsent')) {
      const r = await h.eventually(async () => {
        const x = await h.transfer(bank.url, op.t);
        return x.reason === ALREADY + 'started' ? null : x;
      }, `transfer ${op.t.descr} (${op.outcome}) to leave started`);
      let state;
      if (r.reason === ALREADY + 'complete') state = 'complete';
      else if (r.reason === ALREADY + 'failed') state = 'failed';
      else state = r.success ? 'complete' : 'failed'; // it ran now
      if (op.outcome === 'success') assert.strictEqual(state, 'complete', `${op.t.descr} returned success but is ${r.reason}`);
      if (op.outcome.startsWith('refused')) assert.strictEqual(r.reason, ALREADY + 'failed', `${op.t.descr}: ${op.outcome}, now ${r.reason}`);
      op.state = state;
      op.via = r.reason && r.reason.startsWith(ALREADY) ? 'recovered' : 'ran now';
    }
    const tally = {};
    for (const op of ops) {
      const key = `${op.kind} ${op.outcome.split(':')[0]} -> ${op.state || '-'} ${op.via || ''}`;
      tally[key] = (tally[key] || 0) + 1;
    }
    t.diagnostic(JSON.stringify(tally));
    // Wait for the read model to show every completed transfer, then check it.
    const ibans = users.map((u) => u.iban);
    const byIban = {};
    await h.eventually(async () => {
      for (const u of users) byIban[u.iban] = await h.transactions(bank.url, u.iban);
      const seen = ibans.flatMap((i) => byIban[i]);
      const want = { deposit: 1, internal: 2, external: 1 };
      return ops.every((op) => op.state !== 'complete' || seen.filter((x) => x.descr === op.t.descr).length === want[op.kind]);
    }, 'every completed transfer in the read model');
    const all = ibans.flatMap((i) => byIban[i]);
    const ids = all.map((x) => x.id);
    assert.strictEqual(new Set(ids).size, ids.length, 'transaction ids are unique');

    let cashIn = 0n;
    let leftBank = 0n;
    for (const op of ops) {
      const mine = all.filter((x) => x.descr === op.t.descr);
      const ret = all.filter((x) => x.descr === `Cancelled transaction with id ${op.t.uuid} because iban not known`);
      const amount = BigInt(op.t.amount);
      const where = () => `${op.t.descr} ${op.kind} ${op.outcome}/${op.state}: ${JSON.stringify([...mine, ...ret])}`;
      const debit = mine.filter((x) => x.direction === 'DEBIT');
      const credit = mine.filter((x) => x.direction === 'CREDIT');
      // Never applied twice.
      assert.ok(debit.length <= 1 && credit.length <= 1 && ret.length <= 1, where());
      for (const x of [...mine, ...ret]) assert.strictEqual(h.cents(x.changed_by), amount, where());
      if (op.state === undefined) {
        assert.strictEqual(mine.length + ret.length, 0, where()); // never sent
      } else if (op.kind === 'deposit') {
        assert.strictEqual(credit.length, op.state === 'complete' ? 1 : 0, where());
        assert.strictEqual(debit.length, 0, where());
        if (credit.length) assert.strictEqual(credit[0].from_to, 'cash');
        if (credit.length) cashIn += amount;
      } else if (op.kind === 'internal') {
        if (op.state === 'complete') {
          assert.deepStrictEqual([debit.length, credit.length], [1, 1], where());
          assert.strictEqual(debit[0].iban, op.t.from);
          assert.strictEqual(credit[0].iban, op.t.to);
        } else {
          assert.deepStrictEqual([debit.length, credit.length], [0, 0], where()); // refused by the debit
        }
      } else if (op.kind === 'external') {
        assert.strictEqual(debit.length, op.state === 'complete' ? 1 : 0, where());
        assert.strictEqual(credit.length, 0, where());
        if (debit.length) leftBank += amount;
      } else {
        // to an unknown open IBAN: always fails; a debit is always returned.
        assert.strictEqual(op.state, 'failed', where());
        assert.strictEqual(debit.length, ret.length, where());
        if (ret.length) assert.strictEqual(ret[0].iban, op.t.from);
      }
    }
    // Balances equal their transactions; money is conserved.
    let total = 0n;
    for (const u of users) {
      const acc = (await h.account(bank.url, u.iban, u.token)).data.account;
      const balance = BigInt(acc.balance_cents);
      const sum = byIban[u.iban].reduce((s, x) => s + h.signed(x), 0n);
      assert.strictEqual(balance, sum, u.iban);
      assert.strictEqual(h.cents(byIban[u.iban][0].new_balance), balance);
      assert.strictEqual(h.cents(acc.balance), balance);
      assert.ok(balance > -50000n);
      total += balance;
    }
    assert.strictEqual(total, 5n * 100000n + cashIn - leftBank, 'money is conserved');
  } finally {
    await bank.stop();
  }
});
