// Partition ownership among command handlers on a real nats-server (docs/architecture.md,
// "Throughput"): each handler holds leases on a share of the 64 partitions of the aggregate keys,
// commands are routed to the owner, and its cache is authoritative for what it owns. These tests
// take handlers away the hard ways, while transfers flow through the API, and check what a user
// would notice: every transfer that answered success is in the history exactly once, money is
// conserved, no account is overdrawn, and no transfer stays `started`.
//
// No time limits: every wait is for a condition (h.waitFor); ctest's TIMEOUT only bounds a hang.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../bank/helpers');

const { freePort } = h;
// Short leases, so that a dead handler's partitions move within seconds (renewed every second).
const TTL_MS = 3000;
const ENV = { BANK_PARTITION_TTL_MS: String(TTL_MS) };

let dir;
let nats;
let natsUrl;
let api;
let projector;
const handlers = []; // every command handler started, live or not

async function startHandler() {
  const r = await h.startRole(dir, 'commands', natsUrl, { env: ENV });
  handlers.push(r);
  return r;
}

// The partitions a handler owns by its last lease round (its log says "owning N").
function owning(r) {
  const all = [...r.log().matchAll(/owning (\d+)/g)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
}

function alive(r) {
  return r.proc.exitCode === null && r.proc.signalCode === null;
}

// Waits until `live` handlers own all 64 partitions between them, each some.
async function waitOwners(live) {
  await h.waitFor(() => live.every((r) => owning(r) > 0) && live.reduce((n, r) => n + owning(r), 0) === 64, `the 64 partitions owned by ${live.length} handlers`);
}

async function users(n, balanceCents, prefix) {
  const us = [];
  for (let i = 0; i < n; i++) {
    const u = await h.newUserProjected(api.url, prefix);
    const r = await h.deposit(api.url, u, balanceCents, 'start');
    assert.strictEqual(r.success, true, 'deposit: ' + r.reason);
    us.push(u);
  }
  return us;
}

// Sends `n` transfers between `us` (random pairs, `amount(i)` cents), `parallel` at a time; calls
// `during(i)` before the i-th is sent. Returns [{ uuid, from, to, amount, result }].
async function stream(us, n, parallel, amount, during) {
  const sent = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      if (during) await during(i);
      const a = us[crypto.randomInt(us.length)];
      let b = us[crypto.randomInt(us.length)];
      if (b === a) b = us[(us.indexOf(a) + 1) % us.length];
      const t = { uuid: crypto.randomUUID(), from: a, to: b, amount: amount(i) };
      sent.push(t);
      try {
        t.result = await h.transfer(api.url, { uuid: t.uuid, username: a.username, token: a.token, amount: t.amount, from: a.iban, to: b.iban, descr: 'p-' + t.uuid });
      } catch (e) {
        t.result = { success: false, reason: 'client: ' + e.message };
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return sent;
}

const STATUS = 'query($u: String!) { transfer(uuid: $u) { state } }';

// Waits until no transfer of `sent` is STARTED; returns their final states by uuid (null: never
// stored).
async function settled(sent) {
  const state = new Map();
  for (const t of sent) {
    await h.waitFor(async () => {
      const d = await h.gql(api.url, STATUS, { u: t.uuid });
      const s = d.transfer ? d.transfer.state : null;
      if (s === 'STARTED') return false;
      state.set(t.uuid, s);
      return true;
    }, `transfer ${t.uuid} to end`);
  }
  return state;
}

// Checks the read model against the transfers: each completed one is one debit of `from` and one
// credit of `to` (exactly once), every success answer is completed, and each balance is its
// start plus what the completed transfers moved (so money is conserved and none is below its
// overdraft limit of -500 euro).
async function checkBooks(us, startCents, sent, state) {
  const tally = {};
  for (const t of sent) {
    const k = `${t.result && t.result.success ? 'success' : (t.result && t.result.reason) || 'no answer'} -> ${state.get(t.uuid)}`;
    tally[k] = (tally[k] || 0) + 1;
  }
  console.log('answers -> final states: ' + JSON.stringify(tally));
  for (const t of sent) {
    if (t.result && t.result.success) assert.strictEqual(state.get(t.uuid), 'COMPLETED', `transfer ${t.uuid} answered success`);
  }
  const completed = sent.filter((t) => state.get(t.uuid) === 'COMPLETED');
  const want = new Map(us.map((u) => [u.iban, BigInt(startCents)]));
  for (const t of completed) {
    want.set(t.from.iban, want.get(t.from.iban) - BigInt(t.amount));
    want.set(t.to.iban, want.get(t.to.iban) + BigInt(t.amount));
  }
  let total = 0n;
  for (const u of us) {
    // The projector follows the stores a moment behind.
    await h.waitFor(async () => {
      const a = await h.account(api.url, u.iban, u.token);
      if (!(a.data && a.data.account)) return false;
      const got = BigInt(a.data.account.balance_cents);
      // Thrown, so that a wait that never ends says what the read model shows (h.waitFor).
      if (got !== want.get(u.iban)) throw new Error(`the read model shows ${got} cents`);
      return true;
    }, `the balance of ${u.iban} to be ${want.get(u.iban)} cents`);
    assert.ok(want.get(u.iban) >= -50000n, `${u.iban} below its overdraft limit: ${want.get(u.iban)}`);
    total += want.get(u.iban);
    const txs = await h.transactions(api.url, u.iban);
    const ours = new Set(sent.map((t) => 'p-' + t.uuid));
    const seen = new Map();
    for (const tx of txs) {
      if (!ours.has(tx.descr)) continue;
      const k = `${tx.descr}/${tx.direction}`;
      seen.set(k, (seen.get(k) || 0) + 1);
    }
    for (const t of completed) {
      if (t.from === u) assert.strictEqual(seen.get(`p-${t.uuid}/DEBIT`), 1, `the debit of ${t.uuid} once at ${u.iban}`);
      if (t.to === u) assert.strictEqual(seen.get(`p-${t.uuid}/CREDIT`), 1, `the credit of ${t.uuid} once at ${u.iban}`);
    }
    for (const [k, n] of seen) {
      const uuid = k.slice(2, k.lastIndexOf('/'));
      assert.strictEqual(state.get(uuid), 'COMPLETED', `a row of ${uuid} (${k}) for a transfer that did not complete`);
      assert.strictEqual(n, 1, `${k} ${n} times`);
    }
  }
  assert.strictEqual(total, BigInt(startCents) * BigInt(us.length), 'money conserved');
}

before(async () => {
  dir = h.tempDir();
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\nmax_payload: 2MB\njetstream { store_dir: "${path.join(dir, 'js')}" }\n`);
  nats = await h.startNatsServer(['-c', path.join(dir, 'nats.conf')], port);
  natsUrl = `nats://127.0.0.1:${port}`;
  // The first handler creates the streams; the second one joins and takes half the partitions.
  await startHandler();
  await startHandler();
  await waitOwners(handlers);
  projector = await h.startRole(dir, 'projector', natsUrl);
  api = await h.startRole(dir, 'api', natsUrl);
});

after(async () => {
  for (const r of [api, projector, ...handlers.filter(alive)]) if (r) await r.stop();
  if (nats) {
    nats.kill('SIGTERM');
    await new Promise((resolve) => nats.on('exit', resolve));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('kill -9 of a command handler mid-stream: the other takes its partitions, nothing acknowledged is lost', async () => {
  const [victim, survivor] = handlers;
  assert.ok(owning(victim) > 0 && owning(survivor) > 0, 'both handlers own partitions');
  const us = await users(6, 10000, 'kill');
  const sent = await stream(us, 120, 8, (i) => 1 + (i % 50), async (i) => {
    if (i !== 40) return;
    victim.proc.kill('SIGKILL');
    await victim.exited;
  });
  await waitOwners([survivor]);
  assert.strictEqual(owning(survivor), 64);
  const ok = sent.filter((t) => t.result && t.result.success).length;
  assert.ok(ok > 0, 'some transfers succeeded');
  const state = await settled(sent);
  await checkBooks(us, 10000, sent, state);
});

test('two handlers racing for the same partitions, then one paused past its leases: no double spend', async () => {
  const [, survivor] = handlers;
  // Accounts that can pay only two or three of the transfers sent from them (the overdraft limit
  // is -500 euro): the rest must be refused, whichever handler decides them.
  const us = await users(4, 1000, "race");
  // Two handlers start at once and race for the partitions (and with the survivor) while the
  // transfers flow.
  const joining = Promise.all([startHandler(), startHandler()]);
  const first = stream(us, 60, 12, () => 20000);
  const [a, b] = await joining;
  const sent = await first;
  await waitOwners([survivor, a, b]);
  // One handler stopped past its leases while transfers flow: the others take its partitions;
  // then it runs again with a cache it must no longer trust, and the commands NATS still
  // delivered to it meanwhile (its subscriptions live on while it is stopped) are decided now.
  const more = await stream(us, 80, 12, () => 15000, async (i) => {
    if (i === 10) a.proc.kill('SIGSTOP');
    if (i !== 40) return;
    await waitOwners([survivor, b]);
    a.proc.kill('SIGCONT');
  });
  sent.push(...more);
  await waitOwners([survivor, a, b]);
  const state = await settled(sent);
  for (const t of sent) {
    const r = t.result;
    if (r && !r.success) assert.ok(/insufficient|busy|timed out|try again|client:/i.test(r.reason || ''), `an unexpected refusal: ${r.reason}`);
  }
  await checkBooks(us, 1000, sent, state);
});
