// `bank sync` against a real nats-server: creates the streams and records the schemas, is
// idempotent, updates a changed stream, accepts a compatible schema change and refuses an
// incompatible one with a message naming the field.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.BIN_DIR;
const SRC = process.env.SOURCE_DIR;
let tmp, nats, url;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('nats-server did not start');
}

function sync(...args) {
  const r = spawnSync(path.join(BIN, 'bank'), ['sync', '--nats', url, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function copySchemas() {
  const dir = fs.mkdtempSync(path.join(tmp, 'schemas-'));
  for (const f of fs.readdirSync(path.join(SRC, 'schemas'))) {
    if (f.endsWith('.avsc')) fs.copyFileSync(path.join(SRC, 'schemas', f), path.join(dir, f));
  }
  return dir;
}

function addField(dir, record, field) {
  const file = path.join(dir, `${record}.avsc`);
  const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  schema.fields.push(field);
  fs.writeFileSync(file, JSON.stringify(schema, null, 2));
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-sync-'));
  const port = await freePort();
  url = `nats://127.0.0.1:${port}`;
  nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(tmp, 'js')],
    { stdio: 'ignore' });
  await waitForPort(port);
});

after(() => {
  nats.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('creates the streams and the schema bucket, then finds them up to date', () => {
  const first = sync();
  assert.strictEqual(first.code, 0, first.err);
  for (const s of ['BANK_USER', 'BANK_BANK', 'BANK_TRANSFER']) {
    assert.match(first.out, new RegExp(`created stream ${s} \\(bank\\.[a-z]+\\.events\\.>, 1 replica, capped at the number of servers\\)`));
  }
  assert.match(first.out, /created schema bucket BANK_SCHEMAS/);
  assert.match(first.out, /registered schema nl\.openweb\.data\.MoneyTransferCommand/);

  const again = sync();
  assert.strictEqual(again.code, 0, again.err);
  assert.match(again.out, /stream BANK_BANK is up to date/);
  assert.match(again.out, /\d+ schemas up to date/);
  assert.doesNotMatch(again.out, /created|registered|updated/);
});

test('updates a stream whose topology changed, and a dry run changes nothing', () => {
  const topo = JSON.parse(fs.readFileSync(path.join(SRC, 'schemas', 'topology.json'), 'utf8'));
  topo.streams[1].max_age_s = 3600;
  const file = path.join(tmp, 'topology.json');
  fs.writeFileSync(file, JSON.stringify(topo));
  const dry = sync('--topology', file, '--dry-run');
  assert.strictEqual(dry.code, 0, dry.err);
  assert.match(dry.out, /would update stream BANK_BANK: max_age_s 0 -> 3600/);
  const real = sync('--topology', file);
  assert.strictEqual(real.code, 0, real.err);
  assert.match(real.out, /updated stream BANK_BANK: max_age_s 0 -> 3600/);
  assert.match(sync('--topology', file).out, /stream BANK_BANK is up to date/);
});

test('refuses an incompatible schema change, naming the field, and records nothing', () => {
  const dir = copySchemas();
  addField(dir, 'MoneyCreditedEvent', { name: 'currency', type: 'string' });
  const r = sync('--schemas', dir);
  assert.strictEqual(r.code, 1);
  assert.match(r.err, /schema nl\.openweb\.data\.MoneyCreditedEvent is not backward compatible with the recorded one: field 'currency' of nl\.openweb\.data\.MoneyCreditedEvent is new and has no default/);
  assert.doesNotMatch(r.out, /updated schema/);
});

test('accepts a field added with a default', () => {
  const dir = copySchemas();
  addField(dir, 'MoneyCreditedEvent', { name: 'currency', type: 'string', default: 'EUR' });
  const r = sync('--schemas', dir);
  assert.strictEqual(r.code, 0, r.err);
  assert.match(r.out, /updated schema nl\.openweb\.data\.MoneyCreditedEvent/);
  // A type that cannot be read from the recorded one is refused.
  const narrowed = copySchemas();
  addField(narrowed, 'MoneyCreditedEvent', { name: 'currency', type: 'int', default: 0 });
  const bad = sync('--schemas', narrowed);
  assert.strictEqual(bad.code, 1);
  assert.match(bad.err, /field 'currency' of nl\.openweb\.data\.MoneyCreditedEvent: string cannot be read as int/);
});

test('a NATS that cannot be reached is an error with a clear message', async () => {
  const port = await freePort();
  const r = spawnSync(path.join(BIN, 'bank'), ['sync', '--nats', `nats://127.0.0.1:${port}`], { encoding: 'utf8' });
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /cannot connect to NATS/);
});
