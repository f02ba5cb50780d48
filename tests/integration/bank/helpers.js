// Shared by the bank's end-to-end tests: start our real `bank run` on a free loopback port in a
// temp dir, and talk to it only through its GraphQL API with real clients (global fetch for
// POST /api, graphql-ws and subscriptions-transport-ws over /ws).
'use strict';
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const net = require('node:net');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert');
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');

const BIN_DIR = process.env.BIN_DIR || path.join(__dirname, '../../../build/h-bank/bin');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The suites log in hundreds of times from 127.0.0.1, many at once: far beyond the default login
// limits per client address, which protect a real bank. They are switched off here (the flags'
// environment variables); login.test.js tests the limits themselves and sets its own.
const LOOSE_LOGIN_LIMITS = { BANK_LOGIN_ADDRESS_BURST: '0', BANK_LOGIN_ADDRESS_IN_PROGRESS: '0' };

// A fresh data dir, removed when the test process exits.
const tempDirs = [];
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-test-'));
  tempDirs.push(dir);
  return dir;
}
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

// A free TCP port on loopback, never one this process was given before: the kernel may hand out
// a port again as soon as its probe socket is closed, and a test asks for several in a row.
const givenPorts = new Set();
function probePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
async function freePort() {
  for (;;) {
    const port = await probePort();
    if (!givenPorts.has(port)) {
      givenPorts.add(port);
      return port;
    }
  }
}

// Debian's nats-server (scripts/install-deps.sh installs it), or NATS_SERVER_BIN.
function natsServerBin() {
  for (const p of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (p && fs.existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v nats-server']).toString().trim();
  } catch (e) {
    throw new Error('nats-server not found: install it with scripts/install-deps.sh (Debian package nats-server)');
  }
}

// Starts nats-server with `args` (its log on stderr) and resolves once it says that it listens on
// `port`: a connection that succeeds would prove nothing, another test's server may hold the port
// (ours then exits, and this rejects with its log).
function startNatsServer(args, port) {
  const proc = track(spawn(natsServerBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  const want = `Listening for client connections on 127.0.0.1:${port}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not listen on ${port} in 20 s:\n${log}`)), 20000);
    proc.stderr.on('data', (d) => {
      if (log.length < 65536) log += d;
      if (log.includes(want)) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code ?? signal}) before listening on ${port}:\n${log}`));
    });
  });
}

// Child processes killed when this test process exits, whatever happens to the script.
const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
function track(child) {
  children.push(child);
  return child;
}

// Starts `bank ROLE ...` with its own data and index directory; resolves once it logs that it runs
// (and, for the API, once it listens and /healthz answers).
async function startRole(dir, role, natsUrl, { extra = [], env = {}, timeoutMs = 60000 } = {}) {
  const data = fs.mkdtempSync(path.join(dir, role + '-'));
  const args = [role, '--bus', natsUrl, '--data', data];
  if (role !== 'api') args.push('--store', natsUrl);
  if (role === 'api') args.push('--listen', '127.0.0.1:0');
  const proc = spawn(path.join(BIN_DIR, 'bank'), [...args, ...extra], {
    env: { ...process.env, BANK_PWHASH_FAST: '1', ...LOOSE_LOGIN_LIMITS, BANK_NATS_INDEX_DIR: path.join(data, 'nats-index'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  let output = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = role === 'api' ? /http: listening on [^\s:]+:(\d+)/ : /bank: running/;
  const m = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bank ${role} did not start:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      const found = ready.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`bank ${role} exited (${code} ${signal}) before it ran:\n${output}`));
    });
  });
  const r = {
    role,
    proc,
    exited,
    log: () => output,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.ok(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(output), `sanitizer report from ${role}:\n${output}`);
      assert.strictEqual(code, 0, `bank ${role} exited with ${code} ${signal}:\n${output.slice(-4000)}`);
    },
  };
  if (role === 'api') {
    r.url = `http://127.0.0.1:${m[1]}`;
    r.wsUrl = `ws://127.0.0.1:${m[1]}/ws`;
    await waitHealthy(r.url, timeoutMs);
  }
  return r;
}

// BANK_E2E_TOPOLOGY=nats: the same bank as separate role processes on a real nats-server (one
// API, one command handler, one projector), so the GraphQL suites run against the scale-out.
async function startSplitBank(opts = {}) {
  const dir = tempDir();
  const natsPort = await freePort();
  const nats = `nats://127.0.0.1:${natsPort}`;
  const server = await startNatsServer(['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', path.join(dir, 'js')], natsPort);
  let synced;
  for (let i = 0; i < 100; i++) {
    synced = spawnSync(path.join(BIN_DIR, 'bank'), ['sync', '--nats', nats], { encoding: 'utf8' });
    if (synced.status === 0) break;
    await sleep(100);
  }
  assert.strictEqual(synced.status, 0, 'bank sync: ' + synced.stderr);
  const env = opts.env || {};
  const commands = await startRole(dir, 'commands', nats, { env });
  const projector = await startRole(dir, 'projector', nats, { env });
  const api = await startRole(dir, 'api', nats, { env });
  const port = Number(new URL(api.url).port);
  const roles = [api, commands, projector];
  const url = `http://127.0.0.1:${port}`;
  const bank = {
    proc: api.proc,
    pid: api.proc.pid,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    dataDir: dir,
    exited: api.exited,
    log: () => roles.map((r) => r.log()).join('\n'),
    stop: async () => {
      for (const r of roles) await r.stop();
      server.kill('SIGTERM');
    },
    kill9: async () => {
      throw new Error('kill9 is for the one-process bank');
    },
  };
  return bank;
}

// BANK_E2E_TOPOLOGY=bkes-tls: `bank run` on three bkes servers with TLS and a clients file, over
// bkes+tls:// with a bearer token (certificates made now with openssl; see docs/bkes.md).
async function startBankOnTlsBkes() {
  const bk = require('../bkes/bkes_helpers');
  const dir = tempDir();
  const certs = bk.makeCerts(dir);
  const t = bk.newToken('bank', 'read,write');
  fs.writeFileSync(path.join(dir, 'clients'), t.line + '\n');
  fs.writeFileSync(path.join(dir, 'bank.token'), t.token + '\n', { mode: 0o600 });
  const servers = [];
  for (const name of ['user', 'bank', 'transfer']) {
    const args = ['--listen', '127.0.0.1:0', '--data', path.join(dir, 'bkes-' + name), '--tls-cert', certs.serverCert,
      '--tls-key', certs.serverKey, '--clients', path.join(dir, 'clients')];
    const srv = await bk.startBkes({ args });
    track(srv.proc);
    servers.push(srv);
  }
  const [user, bankStore, transfer] = servers.map((srv) => srv.address);
  const bank = await startBank({
    dataDir: path.join(dir, 'bank'),
    args: ['--store', `bkes+tls://user=${user},bank=${bankStore},transfer=${transfer}`, '--store-ca', certs.caFile,
      '--store-token-file', path.join(dir, 'bank.token')],
  });
  const stopBank = bank.stop;
  bank.stop = async () => {
    await stopBank();
    for (const srv of servers) assert.strictEqual((await srv.stop()).code, 0, srv.log());
  };
  return bank;
}

// Starts `bank run` (or, with BANK_E2E_TOPOLOGY=nats, the split roles on NATS; with
// BANK_E2E_TOPOLOGY=bkes-tls, on three TLS bkes); resolves with
// { proc, pid, port, url, wsUrl, dataDir, log(), stop(), kill9() } once it listens and /healthz
// answers 200 (the read model caught up).
async function startBank(opts = {}) {
  if (process.env.BANK_E2E_TOPOLOGY === 'nats' && !opts.dataDir && !opts.args) return startSplitBank(opts);
  if (process.env.BANK_E2E_TOPOLOGY === 'bkes-tls' && !opts.dataDir && !opts.args) return startBankOnTlsBkes();
  const dataDir = opts.dataDir || tempDir();
  const proc = spawn(path.join(BIN_DIR, 'bank'), ['run', '--data', dataDir, '--listen', '127.0.0.1:0', ...(opts.args || [])], {
    env: { ...process.env, BANK_PWHASH_FAST: '1', ...LOOSE_LOGIN_LIMITS, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bank did not start:\n' + output)), 60000);
    const onData = (chunk) => {
      output += chunk;
      const m = /http: listening on [^\s:]+:(\d+)/.exec(output);
      if (m) {
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
  const bank = {
    proc,
    pid: proc.pid,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    dataDir,
    exited,
    log: () => output,
    // SIGTERM, then the exit must be clean: code 0 and no sanitizer report.
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.ok(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(output), 'sanitizer report:\n' + output);
      assert.strictEqual(code, 0, `bank exited with ${code} ${signal}:\n${output.slice(-4000)}`);
    },
    kill9: async () => {
      proc.kill('SIGKILL');
      return exited;
    },
  };
  await waitHealthy(url);
  return bank;
}

async function waitHealthy(url, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url + '/healthz')).status === 200) return;
    } catch (e) {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error('/healthz never answered 200');
    await sleep(50);
  }
}

// POST /api; returns the whole response ({data, errors}).
async function post(url, query, variables) {
  const res = await fetch(url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  assert.strictEqual(res.status, 200, `POST /api answered ${res.status}`);
  return res.json();
}

// POST /api and insist on no errors; returns data.
async function gql(url, query, variables) {
  const r = await post(url, query, variables);
  assert.ok(!r.errors, 'GraphQL errors: ' + JSON.stringify(r.errors));
  return r.data;
}

const TX_FIELDS = 'id iban new_balance changed_by from_to descr direction';

async function getAccount(url, username, password) {
  const d = await gql(url, 'mutation($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', {
    u: username,
    p: password,
  });
  return d.get_account;
}

// A new user with its account: { username, password, iban, token }. Unless `projected` is
// false, waits until the read model shows the account (the projector runs behind the commands).
async function newUser(url, prefix = 'user', { projected = true } = {}) {
  const username = `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
  const password = 'secret-' + crypto.randomBytes(4).toString('hex');
  const a = await getAccount(url, username, password);
  assert.strictEqual(a.reason, null, 'get_account failed: ' + a.reason);
  if (projected) await eventually(async () => (await account(url, a.iban, a.token)).data.account, 'the account in the read model');
  return { username, password, iban: a.iban, token: a.token };
}

// newUser, waiting for the read model with no deadline (waitFor).
async function newUserProjected(url, prefix = 'user') {
  const u = await newUser(url, prefix, { projected: false });
  await waitFor(async () => (await account(url, u.iban, u.token)).data.account, 'the account of ' + u.username + ' in the read model');
  return u;
}

// Waits until the read model shows `want` (an euro string) as the balance of `user`'s account,
// then asserts it (so a wrong balance fails with both values after the wait).
async function balanceIs(url, user, want, ms = 10000) {
  let last;
  const end = Date.now() + ms;
  do {
    const r = await account(url, user.iban, user.token);
    last = r.data && r.data.account ? r.data.account.balance : JSON.stringify(r);
    if (last === want) return;
    await sleep(50);
  } while (Date.now() < end);
  assert.strictEqual(last, want, 'balance of ' + user.iban);
}

const TRANSFER =
  'mutation($uuid: String!, $username: String!, $token: String!, $amount: Int!, $from: String!, $to: String!, $descr: String!) ' +
  '{ money_transfer(uuid: $uuid, username: $username, token: $token, amount: $amount, from: $from, to: $to, descr: $descr) { uuid success reason } }';

// money_transfer; `t` = { uuid?, username, token, amount, from, to, descr }. Returns the result
// object (or null) with the uuid sent added as `sent`.
async function transfer(url, t) {
  const vars = { uuid: t.uuid || crypto.randomUUID(), descr: '', ...t };
  const d = await gql(url, TRANSFER, vars);
  return d.money_transfer;
}

// A cash deposit by the account's owner (F7: username and token are required).
async function deposit(url, user, amount, descr = 'deposit') {
  return transfer(url, { username: user.username, token: user.token, amount, from: 'cash', to: user.iban, descr });
}

async function account(url, iban, token) {
  const r = await post(url, 'query($i: String!, $t: String!) { account(iban: $i, token: $t) { iban balance balance_cents owners } }', {
    i: iban,
    t: token,
  });
  return r;
}

// The transactions of `iban`, newest first (at most 1000, the API's cap).
async function transactions(url, iban, max = 1000) {
  const d = await gql(url, `query($i: String!, $m: Int!) { transactions_by_iban(iban: $i, max_items: $m) { ${TX_FIELDS} } }`, {
    i: iban,
    m: max,
  });
  return d.transactions_by_iban;
}

// GraphQL types of the filter arguments of stream_transactions and transactions_by_iban.
const FILTER_TYPES = { iban: 'String', descr_includes: 'String', direction: 'dtype', min_amount: 'Int', max_amount: 'Int' };

// transactions_by_iban with filters (`f`: min_amount, max_amount, direction, descr_includes) and
// the selection `fields`; returns the whole response ({data, errors}).
async function transactionsFiltered(url, iban, max, f = {}, fields = TX_FIELDS) {
  const names = Object.keys(f);
  const decl = names.map((n) => `, $${n}: ${FILTER_TYPES[n]}`).join('');
  const pass = names.map((n) => `, ${n}: $${n}`).join('');
  return post(url, `query($i: String!, $m: Int!${decl}) { transactions_by_iban(iban: $i, max_items: $m${pass}) { ${fields} } }`, {
    i: iban,
    m: max,
    ...f,
  });
}

// Parses an euro string of spec 3.6 (`€-1.234,56`) to integer cents (BigInt, exact).
function cents(euro) {
  const m = /^€(-?)(\d{1,3}(?:\.\d{3})*),(\d{2})$/.exec(euro);
  assert.ok(m, 'not an euro string: ' + euro);
  const v = BigInt(m[2].replace(/\./g, '') + m[3]);
  return m[1] ? -v : v;
}

// Signed change of a transaction in cents (changed_by is absolute, direction carries the sign).
function signed(tx) {
  return tx.direction === 'DEBIT' ? -cents(tx.changed_by) : cents(tx.changed_by);
}

// Polls `fn` until it returns a truthy value; throws `what` after `ms`.
async function eventually(fn, what, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

// Polls `fn` until it returns a truthy value, with no deadline: for tests that must not fail on a
// slow machine, a hang is caught by ctest's TIMEOUT (a hang guard). Says on stderr what it still
// waits for every 1000 polls, so that a hang's output names it.
async function waitFor(fn, what) {
  for (let polls = 1; ; polls++) {
    let last = '';
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = ': ' + e.message;
    }
    if (polls % 1000 === 0) console.error(`still waiting for ${what}${last}`);
    await sleep(20);
  }
}

// Waits until something accepts connections on 127.0.0.1:`port` (a server started by the test);
// no deadline, as waitFor.
async function waitPort(port) {
  const listening = () =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  await waitFor(listening, `a server listening on ${port}`);
}

// One metric value from the Prometheus text of /metrics.
async function metric(url, name) {
  const text = await (await fetch(url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ').pop()) : undefined;
}

// A graphql-ws client (sub-protocol graphql-transport-ws); `opts` are more createClient options.
function wsClient(bank, opts = {}) {
  return createClient({ url: bank.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, ...opts });
}

// Subscribes to stream_transactions with `args` and collects what arrives. Resolves once the
// server has registered the subscription (the active-subscription gauge went up), so every
// transaction made afterwards must reach it.
async function streamTransactions(bank, client, args = {}, fields = TX_FIELDS) {
  const before = await metric(bank.url, 'graphql_subscriptions_active');
  const names = Object.keys(args);
  const decl = names.length ? '(' + names.map((n) => `$${n}: ${FILTER_TYPES[n]}`).join(', ') + ')' : '';
  const pass = names.length ? '(' + names.map((n) => `${n}: $${n}`).join(', ') + ')' : '';
  const sub = { items: [], errors: [], done: false };
  sub.unsubscribe = client.subscribe(
    { query: `subscription${decl} { stream_transactions${pass} { ${fields} } }`, variables: args },
    {
      next: (v) => (v.errors ? sub.errors.push(v.errors) : sub.items.push(v.data.stream_transactions)),
      error: (e) => sub.errors.push(e),
      complete: () => (sub.done = true),
    },
  );
  await eventually(async () => (await metric(bank.url, 'graphql_subscriptions_active')) > before, 'the subscription to register');
  return sub;
}

module.exports = {
  BIN_DIR,
  waitPort,
  startRole,
  freePort,
  startNatsServer,
  natsServerBin,
  track,
  sleep,
  tempDir,
  startBank,
  waitHealthy,
  post,
  gql,
  TX_FIELDS,
  getAccount,
  newUser,
  newUserProjected,
  transfer,
  TRANSFER_MUTATION: TRANSFER,
  deposit,
  account,
  balanceIs,
  transactions,
  transactionsFiltered,
  cents,
  signed,
  eventually,
  waitFor,
  metric,
  wsClient,
  streamTransactions,
};
