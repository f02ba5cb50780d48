// The bank on a 3-node nats-server cluster (routes on loopback, R3 streams): one node is killed
// (SIGKILL) while transfers flow through the API. Transfers go on, and no money is created or lost.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../bank/helpers');

// Shared with the bank tests: free ports and the nats-server binary; h.track kills children at exit.
const { freePort, natsServerBin } = h;

// Waits until every node's monitoring endpoint says JetStream is healthy.
async function waitHealthy(nodes, ms = 60000) {
  const end = Date.now() + ms;
  for (const n of nodes) {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${n.http}/healthz`);
        if (r.status === 200) break;
      } catch (e) {
        /* not up yet */
      }
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) {
        throw new Error(`nats node ${n.name} exited (${n.proc.exitCode ?? n.proc.signalCode}): ${logTail(n)}`);
      }
      if (Date.now() > end) throw new Error(`nats node ${n.name} never became healthy: ${logTail(n)}`);
      await h.sleep(100);
    }
  }
}

// The last lines of a node's log (why it did not start or join), for the error.
function logTail(n) {
  try {
    return fs.readFileSync(n.log, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}

let dir;
const nodes = [];
let natsUrl;
let roles = [];
let api;

before(async () => {
  dir = h.tempDir();
  for (let i = 1; i <= 3; i++) {
    nodes.push({ name: `n${i}`, port: await freePort(), cluster: await freePort(), http: await freePort() });
  }
  const routes = nodes.map((n) => `    nats-route://127.0.0.1:${n.cluster}`).join('\n');
  for (const n of nodes) {
    const conf = path.join(dir, `${n.name}.conf`);
    fs.writeFileSync(
      conf,
      `server_name: ${n.name}\nlisten: 127.0.0.1:${n.port}\nhttp: 127.0.0.1:${n.http}\nmax_payload: 2MB\n` +
        `jetstream { store_dir: "${path.join(dir, 'js-' + n.name)}" }\n` +
        `cluster {\n  name: bank\n  listen: 127.0.0.1:${n.cluster}\n  routes: [\n${routes}\n  ]\n}\n`,
    );
    n.log = path.join(dir, `${n.name}.log`);
    n.proc = spawn(natsServerBin(), ['-c', conf, '-l', n.log], { stdio: 'ignore' });
    h.track(n.proc);
    n.exited = new Promise((resolve) => n.proc.on('exit', resolve));
  }
  await waitHealthy(nodes);
  natsUrl = 'nats://' + nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  // The synchronizer creates the R3 streams first, as in production (docs/operations.md); like the
  // seed's synchronize.sh it is retried while the new cluster settles.
  let synced;
  for (let i = 0; i < 40; i++) {
    synced = spawnSync(path.join(h.BIN_DIR, 'bank'), ['sync', '--nats', natsUrl], { encoding: 'utf8' });
    if (synced.status === 0) break;
    await h.sleep(250);
  }
  assert.strictEqual(synced.status, 0, 'bank sync: ' + synced.stderr);
  assert.match(synced.stdout, /created stream BANK_BANK \(bank\.bank\.events\.>, 3 replicas\)/);
  roles.push(await h.startRole(dir, 'commands', natsUrl, { env: { BANK_NATS_REPLICAS: '3' }, timeoutMs: 90000 }));
  roles.push(await h.startRole(dir, 'projector', natsUrl, { env: { BANK_NATS_REPLICAS: '3' }, timeoutMs: 90000 }));
  api = await h.startRole(dir, 'api', natsUrl, { env: { BANK_NATS_REPLICAS: '3' }, timeoutMs: 90000 });
  roles.push(api);
});

after(async () => {
  for (const r of roles.reverse()) await r.stop();
  for (const n of nodes) {
    if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGTERM');
    await n.exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('killing a nats node during transfers loses no money', async () => {
  const users = [];
  for (let i = 0; i < 4; i++) users.push(await h.newUser(api.url, 'ha'));
  for (const u of users) assert.strictEqual((await h.deposit(api.url, u, 100000)).success, true);

  let stop = false;
  const outcome = { ok: 0, failed: 0, errors: 0, reasons: {} };
  const loop = (async () => {
    for (let i = 0; !stop; i++) {
      const from = users[i % 4];
      const to = users[(i + 1) % 4];
      try {
        const r = await h.transfer(api.url, { username: from.username, token: from.token, amount: 1 + (i % 50), from: from.iban, to: to.iban });
        if (r && r.success) outcome.ok++;
        else {
          outcome.failed++;
          const why = (r && r.reason) || 'null';
          outcome.reasons[why] = (outcome.reasons[why] || 0) + 1;
        }
      } catch (e) {
        outcome.errors++;
        outcome.reasons[e.message] = (outcome.reasons[e.message] || 0) + 1;
      }
    }
  })();
  await h.eventually(async () => outcome.ok >= 30, '30 transfers before the kill', 60000);
  const victim = nodes[1];
  victim.proc.kill('SIGKILL');
  await victim.exited;
  const okAtKill = outcome.ok;
  await h.eventually(async () => outcome.ok >= okAtKill + 30, '30 transfers after the kill', 90000);
  stop = true;
  await loop;
  console.log(`# transfers: ${outcome.ok} succeeded, ${outcome.failed} refused, ${outcome.errors} errors`, outcome.reasons);

  // Every transfer stayed between the four accounts: once the read model settles the total is
  // exactly what was deposited.
  const total = await h.eventually(
    async () => {
      let sum = 0;
      for (const u of users) {
        const a = await h.account(api.url, u.iban, u.token);
        if (!a.data || !a.data.account) return null;
        sum += Number(a.data.account.balance_cents);
      }
      return sum === 400000 ? sum : null;
    },
    'the balances to add up to the deposits',
    60000,
  );
  assert.strictEqual(total, 400000);
});
