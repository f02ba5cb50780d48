// Smoke run of one real program under a command prefix (valgrind, from scripts/valgrind-check.sh):
//   node smoke.js bkes -- PREFIX... /path/to/bkes
//   node smoke.js bank -- PREFIX... /path/to/bank
//   node smoke.js bank-bkes -- PREFIX... /path/to/bank   (its event stores on three native bkes)
//   node smoke.js bank-nats -- PREFIX... /path/to/bank   (bus and stores on a native nats-server)
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
if (!['bkes', 'bank', 'bank-bkes', 'bank-nats'].includes(mode) || sep !== '--' || cmd.length === 0) {
  console.error('usage: node smoke.js bkes|bank|bank-bkes|bank-nats -- COMMAND...');
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

// Starts three bkes natively (not under valgrind: the bkes smoke checks bkes itself) for the
// `bank-bkes` mode; returns { url, stop() }.
async function nativeBkesTrio() {
  const { startBkes } = require('../integration/bkes/bkes_helpers');
  const servers = [];
  try {
    for (let i = 0; i < 3; i++) servers.push(await startBkes());
  } catch (e) {
    await Promise.all(servers.map((x) => x.stop()));
    throw e;
  }
  const [user, bank, transfer] = servers.map((x) => x.address);
  return {
    url: `bkes://user=${user},bank=${bank},transfer=${transfer}`,
    stop: async () => {
      const codes = await Promise.all(servers.map((x) => x.stop()));
      servers.forEach((x) => fs.rmSync(x.dataDir, { recursive: true, force: true }));
      return codes;
    },
  };
}

// Starts a native nats-server with JetStream for the `bank-nats` mode; returns { url, stop() }.
async function nativeNats(dir) {
  const net = require('node:net');
  const bin = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server'].find((x) => x && fs.existsSync(x));
  if (!bin) throw new Error('nats-server not found: install it with scripts/install-deps.sh');
  const port = await new Promise((resolve, reject) => {
    const srv = net.createServer().on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
  fs.writeFileSync(path.join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\njetstream { store_dir: "${path.join(dir, 'js')}" }\n`);
  const proc = spawn(bin, ['-c', path.join(dir, 'nats.conf')], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const end = Date.now() + 20000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const so = net.connect(port, '127.0.0.1', () => {
        so.end();
        resolve(true);
      });
      so.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error('nats-server did not listen');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

// The bank through its GraphQL API: logins, a deposit, a transfer seen on a graphql-ws
// subscription and on a legacy subscriptions-transport-ws one, a refused transfer, queries, and a
// few bad requests (each must get a clear answer, not a crash).
async function smokeBank(dataDir, extraArgs, extraEnv = {}) {
  const h = require('../integration/bank/helpers');
  const WebSocket = require('ws');
  const { SubscriptionClient } = require('subscriptions-transport-ws');
  const p = launch(['run', '--data', dataDir, '--listen', '127.0.0.1:0', ...extraArgs], { BANK_PWHASH_FAST: '1', ...extraEnv },
    /http: listening on [^\s:]+:(\d+)/);
  let ws;
  let legacy;
  try {
    const port = await p.started;
    const url = `http://127.0.0.1:${port}`;
    const wsUrl = `ws://127.0.0.1:${port}/ws`;
    await h.waitHealthy(url, START_MS);
    const step = (promise, what) => withTimeout(promise, CALL_MS, what);
    const alice = await step(h.newUser(url, 'vg-a'), 'log in alice');
    const bob = await step(h.newUser(url, 'vg-b'), 'log in bob');
    assert.deepEqual(await step(h.getAccount(url, alice.username, 'wrong'), 'wrong password'),
      { iban: null, token: null, reason: 'invalid password' });
    ws = h.wsClient({ wsUrl });
    const sub = await step(h.streamTransactions({ url }, ws, { iban: bob.iban }), 'subscribe');
    const before = await h.metric(url, 'graphql_subscriptions_active');
    legacy = new SubscriptionClient(wsUrl, { reconnect: false }, WebSocket);
    const old = [];
    legacy
      .request({ query: `subscription($i: String) { stream_transactions(iban: $i) { ${h.TX_FIELDS} } }`, variables: { i: bob.iban } })
      .subscribe({ next: (v) => old.push(v), error: (e) => old.push({ errors: [String(e)] }) });
    await h.eventually(async () => (await h.metric(url, 'graphql_subscriptions_active')) > before, 'the legacy subscription', CALL_MS);
    const d = await step(h.deposit(url, alice, 1000), 'deposit');
    assert.equal(d.success, true, 'deposit: ' + JSON.stringify(d));
    const t = await step(h.transfer(url, {
      username: alice.username, token: alice.token, amount: 250, from: alice.iban, to: bob.iban, descr: 'vg',
    }), 'transfer');
    assert.equal(t.success, true, 'transfer: ' + JSON.stringify(t));
    const refused = await step(h.transfer(url, {
      username: bob.username, token: bob.token, amount: 100000000, from: bob.iban, to: alice.iban, descr: 'too much',
    }), 'refused transfer');
    assert.equal(refused.success, false, 'an overdraft is refused: ' + JSON.stringify(refused));
    await h.eventually(() => (sub.items.length >= 1 && old.length >= 1) || sub.errors.length > 0,
      'one transaction on each subscription', CALL_MS);
    assert.deepEqual(sub.errors, []);
    assert.equal(sub.items[0].iban, bob.iban);
    assert.equal(sub.items[0].direction, 'CREDIT');
    assert.equal(sub.items[0].descr, 'vg');
    assert.deepEqual(old[0].data.stream_transactions, sub.items[0]);
    const txs = await h.eventually(async () => {
      const l = await h.transactions(url, bob.iban);
      return l.length >= 1 ? l : null;
    }, 'bob\'s transaction in the read model', CALL_MS);
    assert.equal(txs[0].id, sub.items[0].id);
    const acc = await step(h.account(url, alice.iban, alice.token), 'account');
    assert.equal(acc.data.account.balance_cents, 750);
    const byId = await step(h.gql(url, `query($id: Int!) { transaction_by_id(id: $id) { ${h.TX_FIELDS} } }`, { id: txs[0].id }), 'by id');
    assert.deepEqual(byId.transaction_by_id, txs[0]);
    // Bad input gets an answer: a syntax error, an unknown field, a body that is not JSON.
    assert.ok((await step(h.post(url, '{ transactions_by_iban(', {}), 'syntax error')).errors);
    assert.ok((await step(h.post(url, '{ no_such_field }', {}), 'unknown field')).errors);
    const res = await step(fetch(url + '/api', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' }), 'bad json');
    assert.ok(res.status >= 400 && res.status < 500, 'a body that is not JSON is a 4xx, got ' + res.status);
    await res.arrayBuffer();
    assert.ok((await step(h.metric(url, 'graphql_subscriptions_active'), 'metrics')) >= 2);
    sub.unsubscribe();
    console.log(`${mode}: healthz, logins, 2 subscriptions (graphql-ws, legacy), deposit, transfer, refused transfer, queries, bad requests: ok`);
  } finally {
    if (legacy) legacy.close();
    if (ws) await ws.dispose();
  }
}

(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `vg-${mode}-`));
  let code = 1;
  let trio;
  let nats;
  try {
    if (mode === 'bkes') await smokeBkes(dataDir);
    else if (mode === 'bank') await smokeBank(dataDir, []);
    else if (mode === 'bank-nats') {
      nats = await nativeNats(dataDir);
      await smokeBank(path.join(dataDir, 'bank'), ['--bus', nats.url, '--store', nats.url],
        // Partition leases: under valgrind a round of 64 lease renewals can outlast the default
        // grace (TTL/2), and a handler that lost its partitions refuses their commands; a longer
        // TTL keeps this a memory check, not a timing one.
        { BANK_NATS_INDEX_DIR: path.join(dataDir, 'nats-index'), BANK_PARTITION_TTL_MS: '60000' });
    } else {
      trio = await nativeBkesTrio();
      await smokeBank(dataDir, ['--store', trio.url]);
    }
    code = await stop(current);
    console.log(`${mode}: exit code after SIGTERM: ${code}`);
  } catch (e) {
    console.error(`${mode}: FAILED: ${e.stack || e}`);
    if (current) await stop(current).catch(() => current.proc.kill('SIGKILL'));
    code = 1;
  }
  if (trio) await trio.stop();
  if (nats) await nats.stop();
  if (code !== 0 && current) console.error(`--- ${mode} output (tail) ---\n${current.log().slice(-4000)}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
})();
