// The GraphQL field transfer(uuid) (beyond the seed) through the real server: `bank run` answers
// it with a FindTransferQuery to the projector, which reads the transfer from its read model.
// Driven only through POST /api with graphql-http's client (written by others).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createClient } = require('graphql-http');

const BIN_DIR = process.env.BIN_DIR || path.join(__dirname, '../../../build/h-tq/bin');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let bank; // { proc, url, log(), exited, dataDir }
let client;

// Starts `bank run` on a free loopback port (port 0: the kernel picks it, the log names it) and
// waits for GET /healthz 200.
async function startBank() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-tq-'));
  const proc = spawn(path.join(BIN_DIR, 'bank'), ['run', '--data', dataDir, '--listen', '127.0.0.1:0'], {
    env: { ...process.env, BANK_PWHASH_FAST: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bank did not start:\n' + output)), 60000);
    const onData = (chunk) => {
      output += chunk;
      const m = /listening on [^\s:]+:(\d+)/.exec(output);
      if (m && Number(m[1]) > 0) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`bank exited (${code} ${signal}) before listening:\n${output}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 60000;
  for (;;) {
    try {
      if ((await fetch(url + '/healthz')).status === 200) break;
    } catch (e) {
      /* not answering yet */
    }
    if (Date.now() > end) throw new Error('/healthz never answered 200:\n' + output);
    await sleep(50);
  }
  return { proc, url, exited, dataDir, log: () => output };
}

// One GraphQL operation; resolves with the whole result ({ data, errors }).
function run(query, variables) {
  return new Promise((resolve, reject) => {
    let result;
    client.subscribe(
      { query, variables },
      {
        next: (r) => (result = r),
        error: reject,
        complete: () => resolve(result),
      },
    );
  });
}

async function gql(query, variables) {
  const r = await run(query, variables);
  assert.ok(!r.errors, 'GraphQL errors: ' + JSON.stringify(r.errors));
  return r.data;
}

const TRANSFER_STATUS = 'query($u: String!) { transfer(uuid: $u) { uuid state reason amount amount_cents from to descr } }';

async function transferStatus(uuid) {
  return (await gql(TRANSFER_STATUS, { u: uuid })).transfer;
}

// The read model is updated asynchronously: ask until the transfer is in `state` (or give up
// after a few seconds, then the last answer is asserted on and fails with its content).
async function statusWhen(uuid, state) {
  let last;
  for (let i = 0; i < 50; i++) {
    last = await transferStatus(uuid);
    if (last && last.state === state) return last;
    await sleep(100);
  }
  return last;
}

const MONEY_TRANSFER =
  'mutation($uuid: String!, $username: String!, $token: String!, $amount: Int!, $from: String!, $to: String!, $descr: String!) ' +
  '{ money_transfer(uuid: $uuid, username: $username, token: $token, amount: $amount, from: $from, to: $to, descr: $descr) { uuid success reason } }';

let user; // { username, iban, token }

before(async () => {
  bank = await startBank();
  client = createClient({ url: bank.url + '/api', retryAttempts: 0 });
  const username = 'tq-' + crypto.randomBytes(4).toString('hex');
  const d = await gql('mutation($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', {
    u: username,
    p: 'secret-' + crypto.randomBytes(4).toString('hex'),
  });
  assert.strictEqual(d.get_account.reason, null);
  assert.match(d.get_account.iban, /^NL\d\dOPEN\d{10}$/);
  user = { username, iban: d.get_account.iban, token: d.get_account.token };
});

after(async () => {
  if (client) client.dispose();
  if (!bank) return;
  if (bank.proc.exitCode === null && bank.proc.signalCode === null) bank.proc.kill('SIGTERM');
  const { code, signal } = await bank.exited;
  const out = bank.log();
  fs.rmSync(bank.dataDir, { recursive: true, force: true });
  assert.ok(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(out), 'sanitizer report:\n' + out);
  assert.strictEqual(code, 0, `bank exited with ${code} ${signal}:\n${out.slice(-4000)}`);
});

test('a completed cash deposit reads as COMPLETED with its amount, parties and description', async () => {
  const uuid = crypto.randomUUID();
  const d = await gql(MONEY_TRANSFER, {
    uuid,
    username: user.username,
    token: user.token,
    amount: 1000,
    from: 'cash',
    to: user.iban,
    descr: 'first deposit',
  });
  assert.deepStrictEqual(d.money_transfer, { uuid, success: true, reason: null });
  const s = await statusWhen(uuid, 'COMPLETED');
  assert.deepStrictEqual(s, {
    uuid,
    state: 'COMPLETED',
    reason: null,
    amount: '€10,00',
    amount_cents: 1000,
    from: 'cash',
    to: user.iban,
    descr: 'first deposit',
  });
  // The same transfer looked up with an upper-case uuid: the canonical form comes back.
  assert.deepStrictEqual(await transferStatus(uuid.toUpperCase()), s);
});

test('a transfer past the overdraft limit reads as FAILED with the reason', async () => {
  const uuid = crypto.randomUUID();
  const amount = 1000 + 50000 + 1; // the balance is €10,00: this ends €0,01 below -€500,00
  const d = await gql(MONEY_TRANSFER, {
    uuid,
    username: user.username,
    token: user.token,
    amount,
    from: user.iban,
    to: 'NL66OPEN0000000000',
    descr: 'too much',
  });
  assert.deepStrictEqual(d.money_transfer, {
    uuid,
    success: false,
    reason: 'insufficient funds would be below the limit of €-500,00',
  });
  const s = await statusWhen(uuid, 'FAILED');
  assert.deepStrictEqual(s, {
    uuid,
    state: 'FAILED',
    reason: 'insufficient funds would be below the limit of €-500,00',
    amount: '€510,01',
    amount_cents: amount,
    from: user.iban,
    to: 'NL66OPEN0000000000',
    descr: 'too much',
  });
});

test('an unknown uuid gives null without errors', async () => {
  const r = await run(TRANSFER_STATUS, { u: crypto.randomUUID() });
  assert.deepStrictEqual(r, { data: { transfer: null } });
});

test('an invalid uuid gives null without errors, and a warning in the log', async () => {
  for (const bad of ['not-a-uuid', '', '1234', crypto.randomUUID() + 'x']) {
    const r = await run(TRANSFER_STATUS, { u: bad });
    assert.deepStrictEqual(r, { data: { transfer: null } }, `uuid ${JSON.stringify(bad)}`);
  }
  assert.match(bank.log(), /transfer with an invalid uuid/);
});

test('the fields can be selected alone, and the enum is TransferState', async () => {
  const r = await run('{ __type(name: "TransferState") { enumValues { name } } }');
  assert.deepStrictEqual(r.data.__type.enumValues.map((v) => v.name), ['STARTED', 'COMPLETED', 'FAILED']);
  const uuid = crypto.randomUUID();
  await gql(MONEY_TRANSFER, { uuid, username: user.username, token: user.token, amount: 5, from: 'cash', to: user.iban, descr: '' });
  let s;
  for (let i = 0; i < 50 && !(s && s.state === 'COMPLETED'); i++) {
    s = (await gql('query($u: String!) { transfer(uuid: $u) { state amount_cents } }', { u: uuid })).transfer;
    if (!s || s.state !== 'COMPLETED') await sleep(100);
  }
  assert.deepStrictEqual(s, { state: 'COMPLETED', amount_cents: 5 });
});
