// bkes secure by default (issue 11): loopback unless told otherwise, refusal to serve beyond
// loopback without TLS and client authentication, bearer tokens with separate read and write
// rights (hashes only on disk), TLS verified by a real client (@grpc/grpc-js) with certificates
// made now by the openssl command, client certificates named in the clients file, and the data
// directory private to its user. Every attack is a plain gRPC client nobody here wrote.
'use strict';
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { grpc, startBkes, client, call, tempDir, b, BIN_DIR, makeCerts, newToken, assertPrivate } = require('./bkes_helpers');

const BKES = path.join(BIN_DIR, 'bkes');
const { UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE } = grpc.status;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Asserts that a call fails with gRPC status `code` and a message matching `text`.
async function refused(promise, code, text) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `status ${e.code} (${e.details}), expected ${code}`);
    if (text) assert.match(e.details, text);
    return true;
  });
}

// The first event of a Subscribe stream, or the error that ended it.
function firstOfStream(c) {
  return new Promise((resolve, reject) => {
    const s = c.Subscribe({ from_position: '1' });
    s.on('data', (m) => { resolve(m); s.cancel(); });
    s.on('error', (e) => (e.code === grpc.status.CANCELLED ? null : reject(e)));
  });
}

let certs;
const tokens = {};
let clientsFile;
before(() => {
  const dir = tempDir();
  certs = makeCerts(dir, ['auditor', 'writer', 'stranger']);
  tokens.bank = newToken('bank', 'read,write');
  tokens.reader = newToken('reader', 'read');
  tokens.appender = newToken('appender', 'write');
  clientsFile = path.join(dir, 'clients');
  fs.writeFileSync(clientsFile, ['# who may call bkes', tokens.bank.line, tokens.reader.line, tokens.appender.line, ''].join('\n'));
});

test('bkes token prints a fresh token once and the clients-file line with only its SHA-256', () => {
  const t = newToken('bank', 'read,write');
  assert.match(t.token, /^[0-9a-f]{64}$/);
  const hash = require('node:crypto').createHash('sha256').update(t.token).digest('hex');
  assert.equal(t.line, `bank read,write sha256:${hash}`);
  assert.notEqual(newToken('bank', 'read,write').token, t.token);
  // --out: the token goes to a new file of mode 0600, never over an existing one.
  const dir = tempDir();
  const out = path.join(dir, 'bank.token');
  const line = execFileSync(BKES, ['token', 'bank', 'read', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const token = fs.readFileSync(out, 'utf8').trim();
  assert.equal(fs.statSync(out).mode & 0o777, 0o600);
  assert.equal(line, `bank read sha256:${require('node:crypto').createHash('sha256').update(token).digest('hex')}`);
  const again = spawnSync(BKES, ['token', 'bank', 'read', '--out', out], { encoding: 'utf8' });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /File exists/);
  const bad = spawnSync(BKES, ['token', 'bank', 'everything'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /must be read, write or read,write/);
});

test('the default address is loopback: 127.0.0.1:API_PORT', async () => {
  const port = await freePort();
  const srv = await startBkes({ args: [], env: { API_PORT: String(port), DATA_PATH: tempDir() } });
  assert.match(srv.log(), new RegExp(`listening on 127\\.0\\.0\\.1:${port} `));
  assert.match(srv.log(), /no --clients: every caller that reaches 127\.0\.0\.1:\d+ may read and write \(every process on this host\)/);
  assert.equal((await srv.stop()).code, 0);
});

test('beyond loopback without TLS and client authentication bkes refuses to start and says what to pass', () => {
  for (const extra of [[], ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey], ['--clients', clientsFile]]) {
    const r = spawnSync(BKES, ['--listen', '0.0.0.0:0', '--data', tempDir(), ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /beyond loopback, without .*anyone who reaches the port could read every event and forge new ones/);
    assert.match(r.stderr, /--tls-cert FILE --tls-key FILE and --clients FILE .*--listen 127\.0\.0\.1:PORT, or --insecure/);
  }
  const r = spawnSync(BKES, ['--listen', ':0', '--data', tempDir()], { encoding: 'utf8' });
  assert.equal(r.status, 2, 'an empty host is every interface');
});

test('--insecure serves beyond loopback anyway, and says so', async () => {
  const srv = await startBkes({ args: ['--listen', '0.0.0.0:0', '--data', tempDir(), '--insecure'] });
  assert.match(srv.log(), /--insecure: serving 0\.0\.0\.0:0 beyond loopback without TLS and client authentication/);
  assert.equal((await srv.stop()).code, 0);
});

test('TLS with tokens beyond loopback starts without --insecure', async () => {
  const srv = await startBkes({
    args: ['--listen', '0.0.0.0:0', '--data', tempDir(), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--clients', clientsFile],
  });
  assert.match(srv.log(), /, TLS, 3 clients/);
  const c = client('127.0.0.1:' + srv.port, { tls: certs.tls(), token: tokens.bank.token });
  assert.equal((await call(c, 'Start', { key: b('k'), value: b('v') })).reply, 'success');
  c.close();
  assert.equal((await srv.stop()).code, 0);
});

test('bad security settings are usage errors that name the problem (exit 2)', () => {
  const dir = tempDir();
  const run = (...args) => spawnSync(BKES, ['--listen', '127.0.0.1:0', '--data', dir, ...args], { encoding: 'utf8' });
  const bad = path.join(dir, 'bad-clients');
  fs.writeFileSync(bad, tokens.bank.line + '\nmallory read,write password123\n');
  let r = run('--clients', bad);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad-clients line 2: the credential of 'mallory' must be sha256:HEX/);
  fs.writeFileSync(bad, tokens.bank.line + '\n' + tokens.bank.line.replace('bank', 'twin') + '\n');
  r = run('--clients', bad);
  assert.match(r.stderr, /line 2: 'twin' has the same token hash as 'bank'/);
  fs.writeFileSync(bad, 'auditor read cn:auditor\n');
  r = run('--clients', bad, '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /names client certificates \(cn:\) but --tls-client-ca is not given/);
  r = run('--tls-cert', certs.serverCert);
  assert.match(r.stderr, /TLS needs both --tls-cert and --tls-key/);
  r = run('--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.caFile);
  assert.match(r.stderr, /--tls-client-ca needs --clients FILE/);
  r = run('--clients', path.join(dir, 'missing'));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot read the clients file .*missing/);
});

test('with a clients file, a forged append without credentials is refused (UNAUTHENTICATED), and so is reading', async () => {
  const srv = await startBkes({ args: ['--listen', '127.0.0.1:0', '--data', tempDir(), '--clients', clientsFile] });
  const bank = client(srv.address, { token: tokens.bank.token });
  assert.equal((await call(bank, 'Start', { key: b('NL01OPEN0000000001'), value: b('created') })).reply, 'success');
  const attacker = client(srv.address);
  const forged = { key: b('NL01OPEN0000000001'), value: b('MoneyCredited 100000000000000'), order: 1 };
  await refused(call(attacker, 'Add', forged), UNAUTHENTICATED, /bkes needs credentials: a bearer token .* or a client certificate/);
  await refused(call(attacker, 'Start', { key: b('x'), value: b('y') }), UNAUTHENTICATED);
  await refused(call(attacker, 'AddBatch', { key: b('NL01OPEN0000000001'), order: 1, values: [b('x')] }), UNAUTHENTICATED);
  await refused(call(attacker, 'AddMany', { appends: [{ key: b('NL01OPEN0000000001'), order: 1, values: [b('x')] }] }), UNAUTHENTICATED);
  await refused(call(attacker, 'Retrieve', { key: b('NL01OPEN0000000001') }), UNAUTHENTICATED);
  await refused(call(attacker, 'RetrieveFrom', { key: b('NL01OPEN0000000001'), from_order: 0 }), UNAUTHENTICATED);
  await refused(call(attacker, 'Count', { key: b('NL01OPEN0000000001') }), UNAUTHENTICATED);
  await refused(call(attacker, 'Head', {}), UNAUTHENTICATED);
  await refused(firstOfStream(attacker), UNAUTHENTICATED);
  attacker.close();
  // A guessed token, or one that is not a bearer token, is no better.
  const guesser = client(srv.address, { token: tokens.bank.token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) });
  await refused(call(guesser, 'Add', forged), UNAUTHENTICATED, /the bearer token is not one this bkes knows/);
  guesser.close();
  const basic = new grpc.Metadata();
  basic.set('authorization', 'Basic YmFuazpiYW5r');
  const raw = client(srv.address);
  await refused(new Promise((resolve, reject) => raw.Add(forged, basic, (e, r) => (e ? reject(e) : resolve(r)))), UNAUTHENTICATED, /must be 'Bearer TOKEN'/);
  raw.close();
  // Nothing was added: the key still holds the one event the bank wrote.
  const got = await call(bank, 'Retrieve', { key: b('NL01OPEN0000000001') });
  assert.deepEqual(got.success.records.map((r) => r.value.toString()), ['created']);
  bank.close();
  assert.match(srv.log(), /WARN  bkes: refused \/tech\.gklijs\.bkes\.api\.Bkes\/Add from ipv4:127\.0\.0\.1:\d+: UNAUTHENTICATED: bkes needs credentials/);
  assert.ok(!srv.log().includes(tokens.bank.token), 'no token in the log');
  await srv.stop();
  assert.match(srv.log(), /stopped \(calls refused: 11 unauthenticated, 0 permission denied\)/);
});

test('read and write rights are separate (PERMISSION_DENIED), read,write may do both', async () => {
  const srv = await startBkes({ args: ['--listen', '127.0.0.1:0', '--data', tempDir(), '--clients', clientsFile] });
  const rw = client(srv.address, { token: tokens.bank.token });
  const reader = client(srv.address, { token: tokens.reader.token });
  const appender = client(srv.address, { token: tokens.appender.token });
  assert.equal((await call(rw, 'Start', { key: b('k'), value: b('0') })).reply, 'success');
  assert.equal((await call(rw, 'Add', { key: b('k'), value: b('1'), order: 1 })).reply, 'success');
  // The reader reads everything, writes nothing.
  assert.deepEqual((await call(reader, 'Retrieve', { key: b('k') })).success.records.map((r) => r.value.toString()), ['0', '1']);
  assert.equal((await call(reader, 'Count', { key: b('k') })).count, 2);
  assert.equal((await firstOfStream(reader)).event.value.toString(), '0');
  const denied = /client 'reader' may not write \(its rights: read\)/;
  await refused(call(reader, 'Add', { key: b('k'), value: b('forged'), order: 2 }), PERMISSION_DENIED, denied);
  await refused(call(reader, 'Start', { key: b('new'), value: b('x') }), PERMISSION_DENIED, denied);
  await refused(call(reader, 'AddBatch', { key: b('k'), order: 2, values: [b('x')] }), PERMISSION_DENIED, denied);
  await refused(call(reader, 'AddMany', { appends: [{ key: b('k'), order: 2, values: [b('x')] }] }), PERMISSION_DENIED, denied);
  // The appender writes, and reads nothing.
  assert.equal((await call(appender, 'Add', { key: b('k'), value: b('2'), order: 2 })).reply, 'success');
  const blind = /client 'appender' may not read \(its rights: write\)/;
  await refused(call(appender, 'Retrieve', { key: b('k') }), PERMISSION_DENIED, blind);
  await refused(call(appender, 'Head', {}), PERMISSION_DENIED, blind);
  await refused(firstOfStream(appender), PERMISSION_DENIED, blind);
  assert.equal((await call(rw, 'Count', { key: b('k') })).count, 3);
  for (const c of [rw, reader, appender]) c.close();
  await srv.stop();
  assert.match(srv.log(), /calls refused: 0 unauthenticated, 7 permission denied/);
});

test('TLS: a real client verifies the server against the CA; the token still decides; plaintext and a wrong CA get nowhere', async () => {
  const srv = await startBkes({
    args: ['--listen', '127.0.0.1:0', '--data', tempDir(), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--clients', clientsFile],
  });
  const good = client(srv.address, { tls: certs.tls(), token: tokens.bank.token });
  assert.equal((await call(good, 'Start', { key: b('k'), value: b('over tls') })).reply, 'success');
  assert.equal((await call(good, 'Retrieve', { key: b('k') })).success.records[0].value.toString(), 'over tls');
  good.close();
  const noToken = client(srv.address, { tls: certs.tls() });
  await refused(call(noToken, 'Add', { key: b('k'), value: b('forged'), order: 1 }), UNAUTHENTICATED);
  noToken.close();
  const reader = client(srv.address, { tls: certs.tls(), token: tokens.reader.token });
  await refused(call(reader, 'Add', { key: b('k'), value: b('forged'), order: 1 }), PERMISSION_DENIED);
  reader.close();
  // Plaintext to a TLS port: no call gets through.
  const plain = client(srv.address, { token: tokens.bank.token });
  await refused(call(plain, 'Count', { key: b('k') }, 5000), UNAVAILABLE);
  plain.close();
  // A client that trusts another CA refuses the server's certificate (so does one that checks
  // the name: the certificate is for 127.0.0.1 and localhost only).
  const wrongCa = client(srv.address, { tls: { ca: fs.readFileSync(path.join(certs.dir, 'other-ca.pem')) }, token: tokens.bank.token });
  await refused(call(wrongCa, 'Count', { key: b('k') }, 5000), UNAVAILABLE);
  wrongCa.close();
  assert.equal((await srv.stop()).code, 0);
});

test('client certificates: the verified CN is looked up in the clients file with its rights', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'clients');
  fs.writeFileSync(file, ['writer read,write cn:writer', 'auditor read cn:auditor', tokens.bank.line, ''].join('\n'));
  const srv = await startBkes({
    args: ['--listen', '127.0.0.1:0', '--data', tempDir(), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey,
      '--tls-client-ca', certs.caFile, '--clients', file],
  });
  assert.match(srv.log(), /TLS, 3 clients, client certificates verified/);
  const writer = client(srv.address, { tls: certs.tls('writer') });
  assert.equal((await call(writer, 'Start', { key: b('k'), value: b('by cert') })).reply, 'success');
  writer.close();
  const auditor = client(srv.address, { tls: certs.tls('auditor') });
  assert.equal((await call(auditor, 'Count', { key: b('k') })).count, 1);
  await refused(call(auditor, 'Add', { key: b('k'), value: b('forged'), order: 1 }), PERMISSION_DENIED, /client 'auditor' may not write/);
  auditor.close();
  // Signed by the CA but not in the clients file: not a client.
  const stranger = client(srv.address, { tls: certs.tls('stranger') });
  await refused(call(stranger, 'Count', { key: b('k') }), UNAUTHENTICATED, /the client certificate 'stranger' is not in the clients file/);
  stranger.close();
  // Signed by another CA: the TLS handshake fails.
  const rogue = client(srv.address, { tls: { ca: certs.ca, cert: fs.readFileSync(path.join(certs.dir, 'rogue.pem')), key: fs.readFileSync(path.join(certs.dir, 'rogue.key')) } });
  await refused(call(rogue, 'Count', { key: b('k') }, 5000), UNAVAILABLE);
  rogue.close();
  // Without a certificate, a token works; with neither, nothing does.
  const byToken = client(srv.address, { tls: certs.tls(), token: tokens.bank.token });
  assert.equal((await call(byToken, 'Count', { key: b('k') })).count, 1);
  byToken.close();
  const nobody = client(srv.address, { tls: certs.tls() });
  await refused(call(nobody, 'Count', { key: b('k') }), UNAUTHENTICATED);
  nobody.close();
  assert.equal((await srv.stop()).code, 0);
});

test('data at rest: the data directory bkes creates is 0700 and its files 0600', async () => {
  const data = path.join(tempDir(), 'new', 'bkes-data');
  fs.mkdirSync(path.dirname(data));
  const srv = await startBkes({ args: ['--listen', '127.0.0.1:0', '--data', data] });
  const c = client(srv.address);
  assert.equal((await call(c, 'Start', { key: b('k'), value: b('v') })).reply, 'success');
  // While it runs: the WAL and shared-memory files exist too.
  const files = assertPrivate(data).map((p) => path.basename(p));
  assert.ok(files.some((f) => f.endsWith('-wal')), files.join(' '));
  c.close();
  assert.equal((await srv.stop()).code, 0);
  assertPrivate(data);
});
