// The bank scaled out on NATS: a real nats-server, two API processes, two command handler
// processes and one projector, all started from our `bank` binary with --bus nats:// and
// --store nats://, and driven only through the GraphQL API with real clients (fetch, graphql-ws).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../bank/helpers');

// Shared with the bank tests: free ports and the nats-server binary; h.track kills children at exit.
const { freePort } = h;

let dir;
let nats;
let natsUrl;
let api1;
let api2;
let commands1;
let commands2;
let projector;

before(async () => {
  dir = h.tempDir();
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'nats.conf'),
    `listen: 127.0.0.1:${port}\nmax_payload: 2MB\njetstream { store_dir: "${path.join(dir, 'js')}" }\n`,
  );
  nats = await h.startNatsServer(['-c', path.join(dir, 'nats.conf')], port);
  natsUrl = `nats://127.0.0.1:${port}`;
  // The command handlers first: one of them creates the streams and the company account.
  // The roles behind the API serve /healthz and /metrics on their --admin-listen.
  const admin = { extra: ['--admin-listen', '127.0.0.1:0'] };
  // The operator's connection budget holds there too (checked below).
  commands1 = await h.startRole(dir, 'commands', natsUrl, { extra: [...admin.extra, '--max-connections-per-address', '8'] });
  commands2 = await h.startRole(dir, 'commands', natsUrl, admin);
  projector = await h.startRole(dir, 'projector', natsUrl, admin);
  api1 = await h.startRole(dir, 'api', natsUrl);
  api2 = await h.startRole(dir, 'api', natsUrl);
});

after(async () => {
  for (const r of [api1, api2, projector, commands1, commands2]) if (r) await r.stop();
  if (nats) {
    nats.kill('SIGTERM');
    await new Promise((resolve) => nats.on('exit', resolve));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an account made through one API is seen, and funded, through the other', async () => {
  const u = await h.newUser(api1.url, 'scale');
  // The read model is eventually consistent: for a moment after the account is made, another
  // instance may still answer "username does not have accounts".
  const again = await h.eventually(async () => {
    const a = await h.getAccount(api2.url, u.username, u.password);
    return a.reason === 'username does not have accounts' ? null : a;
  }, 'the account through api2');
  assert.deepStrictEqual(again, { iban: u.iban, token: u.token, reason: null });
  const r = await h.deposit(api2.url, u, 12345, 'via api2');
  assert.strictEqual(r.success, true, 'deposit failed: ' + r.reason);
  const acc = await h.eventually(async () => {
    const a = await h.account(api1.url, u.iban, u.token);
    return a.data && a.data.account && Number(a.data.account.balance_cents) === 12345 ? a.data.account : null;
  }, 'the balance through api1');
  assert.deepStrictEqual(acc.owners, [u.username]);
});

test('a transaction made through one API reaches a subscriber of the other', async () => {
  const u = await h.newUser(api1.url, 'sub');
  const client = h.wsClient(api2);
  const sub = await h.streamTransactions(api2, client, { iban: u.iban });
  const r = await h.deposit(api1.url, u, 700, 'fan-out');
  assert.strictEqual(r.success, true, r.reason);
  await h.eventually(async () => sub.items.length >= 1, 'the transaction on api2');
  assert.strictEqual(sub.items[0].iban, u.iban);
  assert.strictEqual(sub.items[0].descr, 'fan-out');
  assert.deepStrictEqual(sub.errors, []);
  sub.unsubscribe();
  await client.dispose();
});

test('concurrent transfers through both APIs keep every euro', async () => {
  const users = [];
  for (let i = 0; i < 4; i++) users.push(await h.newUser(i % 2 ? api1.url : api2.url, 'conc'));
  for (const u of users) assert.strictEqual((await h.deposit(api1.url, u, 10000)).success, true);
  const jobs = [];
  for (let i = 0; i < 40; i++) {
    const from = users[i % 4];
    const to = users[(i + 1) % 4];
    const url = i % 2 ? api1.url : api2.url;
    jobs.push(h.transfer(url, { username: from.username, token: from.token, amount: 100 + i, from: from.iban, to: to.iban, descr: `t${i}` }));
  }
  const results = await Promise.all(jobs);
  for (const r of results) assert.strictEqual(r.success, true, 'transfer failed: ' + r.reason);
  // Every transfer moved money between the four accounts: the total stays 4 x 100 euro.
  const total = await h.eventually(async () => {
    let sum = 0;
    for (const u of users) {
      const txs = await h.transactions(api2.url, u.iban);
      if (txs.length !== 1 + 20) return null; // the deposit + 10 outgoing + 10 incoming
      const a = await h.account(api2.url, u.iban, u.token);
      sum += Number(a.data.account.balance_cents);
    }
    return sum;
  }, 'all transfers in the read model');
  assert.strictEqual(total, 40000);
});

// The admin listener of a role without the API, from its log.
function adminUrl(role) {
  const m = /http: listening on ([^\s:]+):(\d+)/.exec(role.log());
  assert.ok(m, `no admin listener in the log of ${role.role}:\n${role.log()}`);
  return `http://${m[1]}:${m[2]}`;
}

// /metrics of a role as { 'name{labels}': value }.
async function metrics(role) {
  const r = await fetch(adminUrl(role) + '/metrics');
  assert.strictEqual(r.status, 200);
  const out = {};
  for (const line of (await r.text()).split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

test('the command handlers and the projector show their work on their own /metrics', async () => {
  for (const role of [commands1, commands2, projector]) {
    assert.strictEqual((await fetch(adminUrl(role) + '/healthz')).status, 200, role.role);
    // No GraphQL there: a clear error, not a hang or a crash.
    const r = await fetch(adminUrl(role) + '/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const body = await r.json();
    assert.match(body.errors[0].message, /runs no GraphQL API/);
  }
  // The 64 partitions are split between the two handlers (once the lease rounds have settled).
  const [m1, m2] = await h.eventually(async () => {
    const both = [await metrics(commands1), await metrics(commands2)];
    return both[0].bank_partitions_owned + both[1].bank_partitions_owned === 64 ? both : null;
  }, 'the partitions split between the handlers');
  assert.ok(m1.bank_partition_lease_rounds_total > 0 && m2.bank_partition_lease_rounds_total > 0);
  // The test above stored 4 deposits and 40 transfers (a debit and a credit each) in the bank
  // store, through one handler or the other.
  const events = (m) => m['bank_store_events_total{store="bank"}'];
  assert.ok(events(m1) + events(m2) >= 84, `bank events stored: ${events(m1)} + ${events(m2)}`);
  assert.ok(m1.bank_commands_submitted_total + m2.bank_commands_submitted_total > 0);
  for (const m of [m1, m2]) {
    assert.strictEqual(m['bank_store_publishes_in_flight{store="bank"}'], 0);
    assert.ok(Number.isFinite(m['bank_store_index_behind{store="transfer"}']));
  }
  // The projector has applied what the handlers' indexes hold, and published every transaction.
  const p = await h.eventually(async () => {
    const [mp, mc] = [await metrics(projector), await metrics(commands1)];
    const at = 'bank_projector_applied_position{store="bank"}';
    return mp[at] > 0 && mp[at] === mc['bank_store_indexed_position{store="bank"}'] ? mp : null;
  }, 'the projector at the handlers\' position of the bank store');
  assert.strictEqual(p.bank_projector_caught_up, 1);
  assert.ok(p.bank_projector_transactions_published_total >= 84, String(p.bank_projector_transactions_published_total));
  assert.ok(p.bank_projector_events_applied_total >= p.bank_projector_transactions_published_total);
});

test("the admin listener keeps the operator's connection budget", async () => {
  const net = require('node:net');
  const url = new URL(adminUrl(commands1));
  const refused = async () => (await metrics(commands1))['http_connections_refused_total{reason="address"}'] || 0;
  const before = await refused();
  // 9 silent connections from one address against --max-connections-per-address 8: one refused.
  const socks = [];
  try {
    for (let i = 0; i < 9; i++) {
      const s = net.connect({ host: url.hostname, port: Number(url.port), localAddress: '127.0.0.3' });
      s.on('error', () => {});
      socks.push(s);
    }
    await h.eventually(async () => ((await refused()) === before + 1 ? true : null), 'one connection refused');
  } finally {
    for (const s of socks) s.destroy();
  }
});

test('a mistyped --admin-listen stops a command handler before it starts anything', async () => {
  // On a server of its own, empty: a handler that got as far as starting would create the
  // streams, take all 64 partitions and fund the company account, and log each.
  const data = fs.mkdtempSync(path.join(dir, 'typo-'));
  const port = await freePort();
  const server = await h.startNatsServer(['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(data, 'js')], port);
  try {
    const url = `nats://127.0.0.1:${port}`;
    const r = spawnSync(path.join(h.BIN_DIR, 'bank'), ['commands', '--bus', url, '--store', url, '--data', data, '--admin-listen', '9091'], {
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, BANK_NATS_INDEX_DIR: path.join(data, 'nats-index') },
    });
    const lines = (r.stdout + r.stderr).split('\n').filter(Boolean);
    assert.strictEqual(r.status, 1, lines.join('\n'));
    assert.match(lines[0], /ERROR bank: cannot start: --admin-listen must be HOST:PORT, not '9091'/);
    assert.deepStrictEqual(lines.slice(1).map((l) => l.replace(/^.*INFO +/, '')), ['bank: stopped']);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.on('exit', resolve));
  }
});

test('commands go on when one command handler is killed', async () => {
  commands2.proc.kill('SIGKILL');
  await commands2.exited;
  commands2 = null;
  // A command sent in the instant the server still routes to the dead member may time out; once
  // the server has dropped its subscription the queue group has one member, which serves all.
  await h.eventually(async () => {
    const a = await h.getAccount(api1.url, `probe-${crypto.randomBytes(4).toString('hex')}`, 'secret-probe');
    return a.reason === null;
  }, 'a command served after the kill');
  for (let i = 0; i < 5; i++) {
    const u = await h.newUser(i % 2 ? api1.url : api2.url, 'survivor');
    const r = await h.deposit(api1.url, u, 100);
    assert.strictEqual(r.success, true, r.reason);
  }
});
