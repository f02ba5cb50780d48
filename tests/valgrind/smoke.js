// Smoke run of one real program under a command prefix (valgrind, from scripts/valgrind-check.sh):
//   node smoke.js bkes -- PREFIX... /path/to/bkes
//   node smoke.js bank -- PREFIX... /path/to/bank
// Starts the program on a free loopback port in a temp dir, drives it with the same real clients as
// the integration tests (@grpc/grpc-js for bkes; fetch and graphql-ws for the bank), sends SIGTERM
// and exits with the program's exit code (valgrind's --error-exitcode turns any error or leak into
// a non-zero code). Every wait is bounded: valgrind makes the programs 20-50x slower.
'use strict';
const { spawn } = require('node:child_process');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const START_MS = 180000; // start-up under valgrind (gRPC and lws initialisation are slow there)
const CALL_MS = 60000; // one call or one wait under valgrind
const EXIT_MS = 120000; // SIGTERM to exit, leak check included

const [mode, sep, ...cmd] = process.argv.slice(2);
if (!['bkes', 'bank'].includes(mode) || sep !== '--' || cmd.length === 0) {
  console.error('usage: node smoke.js bkes|bank -- COMMAND...');
  process.exit(2);
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out: ' + what)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// Spawns the program; resolves with { proc, exited, log(), port } once `re` (with the port as its
// first group) appears in its output.
let current; // the program launched, for its output on failure
function launch(args, env, re) {
  const proc = spawn(cmd[0], [...cmd.slice(1), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const started = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const m = re.exec(output);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exited.then(({ code, signal }) => reject(new Error(`exited (${code} ${signal}) before listening`)));
  });
  current = { proc, exited, log: () => output, started: withTimeout(started, START_MS, 'start-up') };
  return current;
}

async function stop(p) {
  if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
  const { code, signal } = await withTimeout(p.exited, EXIT_MS, 'exit after SIGTERM');
  return signal ? 128 + os.constants.signals[signal] : code;
}

async function smokeBkes(dataDir) {
  const { grpc, client, call, b } = require('../integration/bkes/bkes_helpers');
  const p = launch(['--listen', '127.0.0.1:0', '--data', dataDir], {}, /listening on \S+ \(port (\d+)\)/);
  let c;
  try {
    const port = await p.started;
    c = client('127.0.0.1:' + port);
    const s = await call(c, 'Start', { key: b('vg'), value: b('e0') }, CALL_MS);
    assert.equal(s.reply, 'success', JSON.stringify(s));
    const a = await call(c, 'Add', { key: b('vg'), value: b('e1'), order: 1 }, CALL_MS);
    assert.equal(a.reply, 'success', JSON.stringify(a));
    const bad = await call(c, 'Add', { key: b('vg'), value: b('x'), order: 7 }, CALL_MS);
    assert.equal(bad.reply, 'error', 'a stale order is refused');
    const batch = await call(c, 'AddBatch', { key: b('vg'), order: 2, values: [b('e2'), b('e3')] }, CALL_MS);
    assert.equal(batch.reply, 'success', JSON.stringify(batch));
    const r = await call(c, 'Retrieve', { key: b('vg') }, CALL_MS);
    assert.deepEqual(r.success.records.map((x) => x.value.toString()), ['e0', 'e1', 'e2', 'e3']);
    const rf = await call(c, 'RetrieveFrom', { key: b('vg'), from_order: 2 }, CALL_MS);
    assert.deepEqual(rf.success.events.map((e) => e.value.toString()), ['e2', 'e3']);
    assert.equal((await call(c, 'Count', { key: b('vg') }, CALL_MS)).count, 4);
    const head = BigInt((await call(c, 'Head', {}, CALL_MS)).position);
    // A Subscribe stream from the last stored event, then one live event, then cancelled.
    const stream = c.Subscribe({ from_position: String(head) });
    const got = [];
    const two = new Promise((resolve, reject) => {
      stream.on('data', (m) => {
        got.push(m.event);
        if (got.length === 2) resolve();
      });
      stream.on('error', (e) => {
        if (e.code !== grpc.status.CANCELLED) reject(e);
      });
    });
    await call(c, 'Start', { key: b('vg-live'), value: b('l0') }, CALL_MS);
    await withTimeout(two, CALL_MS, 'two Subscribe events');
    stream.cancel();
    assert.deepEqual(got.map((e) => e.value.toString()), ['e3', 'l0']);
    console.log('bkes: Start, Add, stale Add, AddBatch, Retrieve, RetrieveFrom, Count, Head, Subscribe: ok');
  } finally {
    if (c) c.close();
  }
}

async function smokeBank(dataDir) {
  const h = require('../integration/bank/helpers');
  const p = launch(['run', '--data', dataDir, '--listen', '127.0.0.1:0'], { BANK_PWHASH_FAST: '1' },
    /http: listening on [^\s:]+:(\d+)/);
  let ws;
  try {
    const port = await p.started;
    const url = `http://127.0.0.1:${port}`;
    await h.waitHealthy(url, START_MS);
    const alice = await withTimeout(h.newUser(url, 'vg-a'), CALL_MS, 'log in alice');
    const bob = await withTimeout(h.newUser(url, 'vg-b'), CALL_MS, 'log in bob');
    ws = h.wsClient({ wsUrl: `ws://127.0.0.1:${port}/ws` });
    const sub = await withTimeout(h.streamTransactions({ url }, ws, { iban: bob.iban }), CALL_MS, 'subscribe');
    const d = await withTimeout(h.deposit(url, alice, 1000), CALL_MS, 'deposit');
    assert.equal(d.success, true, 'deposit: ' + JSON.stringify(d));
    const t = await withTimeout(h.transfer(url, {
      username: alice.username, token: alice.token, amount: 250, from: alice.iban, to: bob.iban, descr: 'vg',
    }), CALL_MS, 'transfer');
    assert.equal(t.success, true, 'transfer: ' + JSON.stringify(t));
    await h.eventually(() => sub.items.length >= 1 || sub.errors.length > 0, 'one transaction on the subscription', CALL_MS);
    assert.deepEqual(sub.errors, []);
    assert.equal(sub.items[0].iban, bob.iban);
    assert.equal(sub.items[0].direction, 'CREDIT');
    assert.equal(sub.items[0].descr, 'vg');
    sub.unsubscribe();
    console.log('bank: healthz, 2 logins, subscription, deposit, transfer, transaction received: ok');
  } finally {
    if (ws) await ws.dispose();
  }
}

(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `vg-${mode}-`));
  let code = 1;
  try {
    await (mode === 'bkes' ? smokeBkes(dataDir) : smokeBank(dataDir));
    code = await stop(current);
    console.log(`${mode}: exit code after SIGTERM: ${code}`);
  } catch (e) {
    console.error(`${mode}: FAILED: ${e.stack || e}`);
    if (current) await stop(current).catch(() => current.proc.kill('SIGKILL'));
    code = 1;
  }
  if (code !== 0 && current) console.error(`--- ${mode} output (tail) ---\n${current.log().slice(-4000)}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
})();
