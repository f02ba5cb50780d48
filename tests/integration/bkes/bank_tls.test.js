// The attack of issue 11, end to end: the bank on three bkes servers over bkes+tls:// with a
// token, a transfer through its GraphQL API, and a plain gRPC client that tries to read password
// hashes and account tokens and to forge a MoneyCredited: refused (UNAUTHENTICATED), and after a
// restart the bank's balances are what the transfers made them. Also: the token file must be
// private, a bank without the token does not start, and `bank run --data` creates private data.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const bk = require('./bkes_helpers');
const h = require('../bank/helpers');

const { UNAUTHENTICATED } = bk.grpc.status;

let certs;
let token;
let tokenFile;
const servers = [];
let storeUrl;
let dataDir;

before(async () => {
  const dir = bk.tempDir();
  certs = bk.makeCerts(dir);
  token = bk.newToken('bank', 'read,write');
  const clients = path.join(dir, 'clients');
  fs.writeFileSync(clients, token.line + '\n');
  tokenFile = path.join(dir, 'bank.token');
  fs.writeFileSync(tokenFile, token.token + '\n', { mode: 0o600 });
  for (let i = 0; i < 3; i++) {
    servers.push(await bk.startBkes({
      args: ['--listen', '127.0.0.1:0', '--data', bk.tempDir(), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--clients', clients],
    }));
  }
  const [user, bank, transfer] = servers.map((s) => s.address);
  storeUrl = `bkes+tls://user=${user},bank=${bank},transfer=${transfer}`;
  dataDir = path.join(h.tempDir(), 'bank-data');
});

after(async () => {
  for (const s of servers) assert.equal((await s.stop()).code, 0, s.log());
});

function bankArgs(extra = []) {
  return ['--store', storeUrl, '--store-ca', certs.caFile, ...extra];
}

// Every value stored under `key` in a bkes, read with the bank's own token over TLS.
async function stored(srv, key) {
  const c = bk.client(srv.address, { tls: certs.tls(), token: token.token });
  const r = await bk.call(c, 'Retrieve', { key: bk.b(key) });
  c.close();
  return r.success ? r.success.records.map((x) => x.value) : [];
}

test('the bank runs on bkes+tls:// with a token; a plain gRPC client can neither read nor forge', async () => {
  const bank = await h.startBank({ dataDir, args: bankArgs(['--store-token-file', tokenFile]) });
  const alice = await h.newUser(bank.url, 'alice');
  const bob = await h.newUser(bank.url, 'bob');
  assert.equal((await h.deposit(bank.url, alice, 1000)).success, true);
  const t = await h.transfer(bank.url, { username: alice.username, token: alice.token, amount: 250, from: alice.iban, to: bob.iban, descr: 'over tls' });
  assert.equal(t.success, true, t.reason);
  await h.balanceIs(bank.url, alice, '€7,50');
  await h.balanceIs(bank.url, bob, '€2,50');

  const [userStore, bankStore] = servers;
  const before = await stored(bankStore, alice.iban);
  assert.ok(before.length >= 3, 'the bank wrote alice\'s events through TLS with its token');
  // The attacker of issue 11: a plain client (as before), then TLS without a token.
  for (const opts of [{}, { tls: certs.tls() }]) {
    const attacker = bk.client(bankStore.address, opts);
    const forged = { key: bk.b(alice.iban), value: before[before.length - 1], order: before.length };
    await assert.rejects(bk.call(attacker, 'Add', forged, 5000), (e) => (opts.tls ? e.code === UNAUTHENTICATED : true));
    await assert.rejects(bk.call(attacker, 'Retrieve', { key: bk.b(alice.iban) }, 5000));
    attacker.close();
    const snoop = bk.client(userStore.address, opts);
    await assert.rejects(bk.call(snoop, 'Retrieve', { key: bk.b(alice.username) }, 5000),
      (e) => (opts.tls ? e.code === UNAUTHENTICATED : true), 'password hashes and tokens stay unread');
    snoop.close();
  }
  assert.equal((await stored(bankStore, alice.iban)).length, before.length, 'nothing was forged');
  await bank.stop();

  // After a restart the balances are what the transfers made them.
  const again = await h.startBank({ dataDir, args: bankArgs(['--store-token-file', tokenFile]) });
  await h.balanceIs(again.url, alice, '€7,50');
  const tooMuch = await h.transfer(again.url, { username: alice.username, token: alice.token, amount: 100000, from: alice.iban, to: bob.iban, descr: 'more than there is' });
  assert.equal(tooMuch.success, false);
  await again.stop();
});

test('bank run --data creates a private data directory: directories 0700, files 0600', () => {
  // The previous test ran the bank on a fresh --data; its read model lives there.
  const seen = bk.assertPrivate(dataDir);
  assert.ok(seen.some((p) => p.endsWith('projection.db')), seen.join(' '));
});

test('bank run on the default sqlite stores: every directory and file it creates is private', async () => {
  const data = path.join(h.tempDir(), 'fresh');
  const bank = await h.startBank({ dataDir: data });
  const u = await h.newUser(bank.url, 'carol');
  assert.equal((await h.deposit(bank.url, u, 500)).success, true);
  const files = bk.assertPrivate(data).map((p) => path.relative(data, p));
  for (const f of ['user/events.db', 'bank/events.db', 'transfer/events.db', 'projection.db'])
    assert.ok(files.includes(f), `${f} in ${files.join(' ')}`);
  assert.ok(files.some((f) => f.endsWith('-wal')), 'WAL files too: ' + files.join(' '));
  await bank.stop();
  bk.assertPrivate(data);
});

test('a token file others can read is refused, and so is a bank without the token', () => {
  const open = path.join(path.dirname(tokenFile), 'open.token');
  fs.writeFileSync(open, token.token + '\n', { mode: 0o644 });
  fs.chmodSync(open, 0o644);
  const bankBin = path.join(h.BIN_DIR, 'bank');
  let r = spawnSync(bankBin, ['run', '--data', h.tempDir(), '--listen', '127.0.0.1:0', ...bankArgs(['--store-token-file', open])],
    { encoding: 'utf8', env: { ...process.env, BANK_PWHASH_FAST: '1' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--store-token-file .*open\.token can be read by other users \(mode 644\): chmod 600/);
  r = spawnSync(bankBin, ['run', '--data', h.tempDir(), '--listen', '127.0.0.1:0', ...bankArgs()],
    { encoding: 'utf8', env: { ...process.env, BANK_PWHASH_FAST: '1' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /refused the call \(UNAUTHENTICATED\): bkes needs credentials/);
  r = spawnSync(bankBin, ['run', '--data', h.tempDir(), '--store-token-file', tokenFile], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--store-token-file are for bkes:\/\/ and bkes\+tls:\/\/ stores/);
});
