// 50 concurrent transfers from one account against its limit (spec 3.5): the balance never reaches
// -€500,00 and exactly the accepted transfers are applied (checklist 31, 42).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const h = require('./helpers');

const LIMIT_REASON = 'insufficient funds would be below the limit of €-500,00';
const LIMIT = -50000n;

let bank;
before(async () => {
  bank = await h.startBank();
});
after(async () => {
  await bank.stop();
});

// Sends all transfers at once (half over HTTP, half over one graphql-ws socket).
async function fire(from, tos, amounts, tag) {
  const client = h.wsClient(bank);
  try {
    const sends = amounts.map((amount, i) => {
      const t = {
        uuid: crypto.randomUUID(),
        username: from.username,
        token: from.token,
        from: from.iban,
        to: tos[i % tos.length].iban,
        amount,
        descr: `${tag} ${i}`,
      };
      if (i % 2 === 0) return h.transfer(bank.url, t).then((r) => ({ t, r }));
      return new Promise((resolve, reject) => {
        let r;
        client.subscribe(
          { query: h.TRANSFER_MUTATION, variables: t },
          { next: (v) => (r = v.data.money_transfer), error: reject, complete: () => resolve({ t, r }) },
        );
      });
    });
    return await Promise.all(sends);
  } finally {
    await client.dispose();
  }
}

// Checks the payer's read model against the outcomes; returns the final balance in cents.
async function checkPayer(payer, results, startCents) {
  const accepted = results.filter(({ r }) => r.success);
  const refused = results.filter(({ r }) => !r.success);
  for (const { t, r } of results) assert.strictEqual(r.uuid, t.uuid);
  for (const { r } of refused) assert.strictEqual(r.reason, LIMIT_REASON);
  const spent = accepted.reduce((s, { t }) => s + BigInt(t.amount), 0n);
  const txs = await h.eventually(async () => {
    const l = await h.transactions(bank.url, payer.iban);
    const debits = l.filter((x) => x.direction === 'DEBIT');
    return debits.length >= accepted.length ? l : null;
  }, 'the accepted debits');
  const debits = txs.filter((x) => x.direction === 'DEBIT');
  // Exactly the accepted ones were applied, each once, with its own amount.
  assert.deepStrictEqual(debits.map((x) => x.descr).sort(), accepted.map(({ t }) => t.descr).sort());
  for (const { t } of accepted) {
    const x = debits.find((d) => d.descr === t.descr);
    assert.strictEqual(h.cents(x.changed_by), BigInt(t.amount));
    assert.strictEqual(x.from_to, t.to);
  }
  // The balance never went at or below the limit, and it is the start minus what was accepted.
  for (const x of txs) assert.ok(h.cents(x.new_balance) > LIMIT, 'balance at or below the limit: ' + x.new_balance);
  const acc = (await h.account(bank.url, payer.iban, payer.token)).data.account;
  const final = startCents - spent;
  assert.strictEqual(BigInt(acc.balance_cents), final);
  assert.strictEqual(h.cents(txs[0].new_balance), final);
  // The balance only went down, so each refused transfer did not fit even at the final balance.
  for (const { t } of refused) assert.ok(final - BigInt(t.amount) <= LIMIT, `${t.amount} was refused at ${final}`);
  return { final, accepted, refused };
}

test('50 equal concurrent transfers: exactly 33 fit above the limit', async () => {
  const payer = await h.newUser(bank.url, 'payer');
  const payee = await h.newUser(bank.url, 'payee');
  const results = await fire(payer, [payee], new Array(50).fill(1500), 'equal');
  const { final, accepted, refused } = await checkPayer(payer, results, 0n);
  // 33 * 15 = 495 euro: a 34th would reach -510.
  assert.strictEqual(accepted.length, 33);
  assert.strictEqual(refused.length, 17);
  assert.strictEqual(final, -49500n);
  const credits = await h.eventually(async () => {
    const l = await h.transactions(bank.url, payee.iban);
    return l.length === 33 ? l : null;
  }, 'the 33 credits');
  assert.strictEqual(credits[0].new_balance, '€495,00');
});

test('50 random concurrent transfers to several accounts after a deposit', async () => {
  const payer = await h.newUser(bank.url, 'payer');
  const payees = [await h.newUser(bank.url, 'payee'), await h.newUser(bank.url, 'payee')];
  assert.strictEqual((await h.deposit(bank.url, payer, 20000)).success, true);
  const amounts = Array.from({ length: 50 }, () => 500 + crypto.randomInt(4000));
  const results = await fire(payer, payees, amounts, 'random');
  const { accepted, refused } = await checkPayer(payer, results, 20000n);
  assert.ok(accepted.length > 0 && refused.length > 0, `${accepted.length} accepted, ${refused.length} refused`);
  // The payees got exactly the accepted amounts.
  let total = 0n;
  for (const p of payees) {
    const want = accepted.filter(({ t }) => t.to === p.iban).reduce((s, { t }) => s + BigInt(t.amount), 0n);
    await h.eventually(async () => BigInt((await h.account(bank.url, p.iban, p.token)).data.account.balance_cents) === want, 'payee balance');
    total += want;
  }
  assert.ok(total > 0n);
});
