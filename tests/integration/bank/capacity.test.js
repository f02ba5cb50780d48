// The command path at and past its capacity, through the GraphQL API only. A hot account (many
// payers paying one merchant while it pays out) is decided in batches and never overdrawn. Past
// the bank's capacity (here a bank started with --max-transfers 4), transfers are refused with
// the busy reason instead of waiting for their deadline, and nothing acknowledged is lost: every
// transfer answered success moved its money, every one refused moved none, the total is kept.
// Runs against `bank run` and (BANK_E2E_TOPOLOGY=nats) the split roles on NATS.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const h = require('./helpers');

const BUSY = 'the bank is busy, try again';
const LIMIT_REASON = 'insufficient funds would be below the limit of €-500,00';
const LIMIT = -50000n;
const split = process.env.BANK_E2E_TOPOLOGY === 'nats';

// Sends every transfer at once over `sockets` graphql-ws connections; resolves with [{ t, r }].
async function fire(bank, transfers, sockets = 8) {
  const clients = Array.from({ length: sockets }, () => h.wsClient(bank));
  try {
    return await Promise.all(
      transfers.map(
        (t, i) =>
          new Promise((resolve, reject) => {
            let r;
            clients[i % sockets].subscribe(
              { query: h.TRANSFER_MUTATION, variables: t },
              { next: (v) => (r = v.data.money_transfer), error: reject, complete: () => resolve({ t, r }) },
            );
          }),
      ),
    );
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
  }
}

function transferOf(from, to, amount, descr) {
  return { uuid: crypto.randomUUID(), username: from.username, token: from.token, from: from.iban, to: to.iban, amount, descr };
}

// Users with a deposit each, made one after the other (the deposits are transfers too).
async function funded(bank, n, cents, prefix) {
  const users = [];
  for (let i = 0; i < n; i++) {
    const u = await h.newUser(bank.url, prefix);
    assert.strictEqual((await h.deposit(bank.url, u, cents)).success, true);
    users.push(u);
  }
  return users;
}

async function balance(bank, u) {
  return BigInt((await h.account(bank.url, u.iban, u.token)).data.account.balance_cents);
}

test('a hot account: 200 payments in and 100 payouts at once; it is never overdrawn', async () => {
  const bank = await h.startBank();
  try {
    const payers = await funded(bank, 10, 10000, 'payer');
    const merchant = await h.newUser(bank.url, 'merchant');
    const tag = crypto.randomBytes(4).toString('hex');
    const transfers = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 2) transfers.push(transferOf(merchant, payers[i % payers.length], 1000, `${tag} out ${i}`));
      else transfers.push(transferOf(payers[i % payers.length], merchant, 100, `${tag} in ${i}`));
    }
    const results = await fire(bank, transfers);
    let income = 0n;
    let payout = 0n;
    for (const { t, r } of results) {
      assert.strictEqual(r.uuid, t.uuid);
      if (t.from !== merchant.iban) {
        assert.deepStrictEqual(r, { uuid: t.uuid, success: true, reason: null }, t.descr);
        income += BigInt(t.amount);
      } else if (r.success) {
        payout += BigInt(t.amount);
      } else {
        assert.strictEqual(r.reason, LIMIT_REASON, t.descr);
      }
    }
    assert.strictEqual(income, 20000n);
    assert.ok(payout > 0n && payout < 100000n, `paid out ${payout}`);
    const final = income - payout;
    await h.eventually(async () => (await balance(bank, merchant)) === final, 'the merchant balance');
    // Every balance the merchant's account went through stayed above the limit.
    const txs = await h.eventually(async () => {
      const l = await h.transactions(bank.url, merchant.iban);
      return l.length === results.filter(({ r }) => r.success).length ? l : null;
    }, 'every transaction of the merchant');
    for (const x of txs) assert.ok(h.cents(x.new_balance) > LIMIT, 'overdrawn: ' + x.new_balance);
    if (!split) {
      // One process: its /metrics tells that appends carried several commands.
      assert.ok((await h.metric(bank.url, 'bank_command_largest_batch')) > 1, 'no batch of several commands');
    }
  } finally {
    await bank.stop();
  }
});

test('past capacity: transfers are refused with the busy reason, nothing acknowledged is lost', async () => {
  const bank = await h.startBank({ env: { BANK_MAX_TRANSFERS: '4' } });
  try {
    const users = await funded(bank, 8, 100000, 'busy');
    const tag = crypto.randomBytes(4).toString('hex');
    const transfers = Array.from({ length: 200 }, (_, i) => transferOf(users[i % 8], users[(i + 1 + (i % 7)) % 8], 100 + i, `${tag} ${i}`));
    const results = await fire(bank, transfers, 16);
    const ok = results.filter(({ r }) => r.success);
    const busy = results.filter(({ r }) => !r.success);
    for (const { t, r } of busy) assert.deepStrictEqual(r, { uuid: t.uuid, success: false, reason: BUSY });
    assert.ok(ok.length > 0, 'some transfers went through');
    assert.ok(busy.length > 0, 'some transfers were refused as busy');
    // Every acknowledged transfer is complete and moved its money, every refused one left nothing.
    const state = async (uuid) => (await h.gql(bank.url, 'query($u: String!) { transfer(uuid: $u) { state } }', { u: uuid })).transfer;
    // The read model follows the store a moment later: a transfer may read STARTED there first.
    for (const { t } of ok)
      await h.eventually(async () => (await state(t.uuid))?.state === 'COMPLETED', 'the transfer completed in the read model: ' + t.descr);
    for (const { t } of busy) assert.strictEqual(await state(t.uuid), null, t.descr);
    const want = new Map(users.map((u) => [u.iban, 100000n]));
    for (const { t } of ok) {
      want.set(t.from, want.get(t.from) - BigInt(t.amount));
      want.set(t.to, want.get(t.to) + BigInt(t.amount));
    }
    for (const u of users) await h.eventually(async () => (await balance(bank, u)) === want.get(u.iban), 'the balance of ' + u.username);
    // The read model shows exactly the acknowledged transfers of this run.
    const seen = new Set();
    for (const u of users) for (const x of await h.transactions(bank.url, u.iban)) if (x.descr.startsWith(tag)) seen.add(x.descr);
    assert.deepStrictEqual([...seen].sort(), ok.map(({ t }) => t.descr).sort());
    if (!split) {
      // One API sends at most 4 at once, so it refuses them itself (its door comes before the
      // command service's, which then never finds more than 4).
      assert.strictEqual(await h.metric(bank.url, 'bank_api_transfers_refused_busy_total'), busy.length);
      assert.strictEqual(await h.metric(bank.url, 'bank_commands_refused_busy_total{at="transfers_in_flight"}'), 0);
      assert.strictEqual(await h.metric(bank.url, 'bank_api_transfers_in_flight'), 0);
      assert.strictEqual(await h.metric(bank.url, 'bank_api_transfers_max'), 4);
      assert.strictEqual(await h.metric(bank.url, 'bank_transfers_in_flight'), 0);
      assert.strictEqual(await h.metric(bank.url, 'bank_transfers_admitted_max'), 4);
      // The stores and the projector of the one process are on the same /metrics: a debit and a
      // credit in the bank store for each transfer that went through, in fewer group commits.
      const events = await h.metric(bank.url, 'bank_store_events_total{store="bank"}');
      const commits = await h.metric(bank.url, 'bank_store_transactions_total{store="bank"}');
      assert.ok(events >= 2 * ok.length, `${events} bank events for ${ok.length} transfers`);
      assert.ok(commits >= 1 && commits <= (await h.metric(bank.url, 'bank_store_appends_total{store="bank"}')));
      assert.strictEqual(await h.metric(bank.url, 'bank_projector_caught_up'), 1);
      assert.ok((await h.metric(bank.url, 'bank_projector_transactions_published_total')) >= 2 * ok.length);
    }
    // The bank is serviceable again at once.
    const again = await h.transfer(bank.url, transferOf(users[0], users[1], 1, `${tag} after`));
    assert.strictEqual(again.success, true);
  } finally {
    await bank.stop();
  }
});
