// No free writes (issue 11): money_transfer with made-up or wrong credentials is refused before
// anything is stored. A flood of them leaves the event stores as they were, counted with the
// sqlite3 program in the stores' own files (DIR/{user,bank,transfer}/events.db) of a real
// `bank run`, and every refusal carries the reason the saga's step would have given.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('./helpers');

let bank;
before(async () => {
  bank = await h.startBank({ args: [] }); // one process: the stores are files under dataDir
});
after(async () => {
  await bank.stop();
});

function events(store) {
  const db = path.join(bank.dataDir, store, 'events.db');
  return Number(execFileSync('sqlite3', [db, 'SELECT count(*) FROM events'], { encoding: 'utf8' }).trim());
}

const counts = () => ({ user: events('user'), bank: events('bank'), transfer: events('transfer') });

function madeUpIban() {
  // A valid open IBAN nobody holds (the check digits computed as the bank does).
  const account = '0' + String(crypto.randomInt(1e9)).padStart(9, '0');
  const check = 98n - (BigInt('24251423' + account + '232100') % 97n); // ISO 13616: OPEN, account, NL00
  return `NL${String(check).padStart(2, '0')}OPEN${account}`;
}

test('a flood of transfers with made-up credentials stores nothing', async () => {
  const a = await h.newUser(bank.url, 'owner');
  const b = await h.newUser(bank.url, 'other');
  assert.strictEqual((await h.deposit(bank.url, a, 10000)).success, true);
  await h.balanceIs(bank.url, a, '€100,00');
  const before = counts();
  const kinds = [
    // an anonymous caller: made-up username, token and IBAN
    () => [{ username: 'x' + crypto.randomBytes(4).toString('hex'), token: String(crypto.randomInt(1e9)), from: madeUpIban(), to: b.iban }, 'iban not known'],
    // a real account, someone else's credentials
    () => [{ username: b.username, token: b.token, from: a.iban, to: b.iban }, 'user is no owner of bank account'],
    // a real account and owner, a guessed token: answered as an unknown IBAN is, nothing stored
    () => [{ username: a.username, token: String(crypto.randomInt(1e9)).padStart(20, '0'), from: a.iban, to: b.iban }, 'token is not valid'],
    // a cash deposit needs the depositor's token of the account credited
    () => [{ username: a.username, token: b.token, from: 'cash', to: a.iban }, 'token is not valid'],
    () => [{ username: 'x', token: '1', from: 'cash', to: madeUpIban() }, 'iban not known'],
    () => [{ username: a.username, token: a.token, from: 'garbage', to: b.iban }, 'from is invalid'],
  ];
  const N = 600;
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < N) {
        const i = next++;
        const [t, reason] = kinds[i % kinds.length]();
        const uuid = crypto.randomUUID();
        const r = await h.transfer(bank.url, { uuid, amount: 100, descr: 'flood', ...t });
        assert.deepStrictEqual(r, { uuid, success: false, reason }, JSON.stringify(t));
      }
    }),
  );
  console.log(`${N} refused transfers in ${Date.now() - t0} ms`);
  assert.deepStrictEqual(counts(), before);
  // The accounts are untouched, and a transfer with good credentials is still stored and done.
  await h.balanceIs(bank.url, a, '€100,00');
  assert.strictEqual((await h.transfer(bank.url, { username: a.username, token: a.token, amount: 100, from: a.iban, to: b.iban, descr: 'real' })).success, true);
  const afterReal = counts();
  assert.strictEqual(afterReal.transfer, before.transfer + 2); // TransferStarted, TransferCompleted
  assert.strictEqual(afterReal.bank, before.bank + 2); // MoneyDebited, MoneyCredited
});
