#!/usr/bin/env node
// A light client beside the load generator: how fast the bank answers one more client while
// loadgen.js keeps it busy. loadgen.js measures its own thousands of operations a second, and
// its figures include its own event loop's lag (it reports that lag); this probe sends few, so
// what it measures is the bank's side: the time from sending to the answer of
//   * a money_transfer (every --every-ms): answered busy when the bank is at its door, otherwise
//     answered once the saga ended;
//   * a trivial query `{ __typename }` (as often), which no door refuses: the loop's own delay.
// It uses its own user, its own WebSocket and its own process.
//
// usage: probe.js --url http://127.0.0.1:PORT [--seconds 10] [--every-ms 5] [--wait-ms 0] [--json FILE]
// (--wait-ms: after its set-up, which must come before the overload, wait that long from the start)
// Prints one line per kind: count, p50, p99, max (ms), and its own event-loop lag.
'use strict';
const fs = require('node:fs');
const crypto = require('node:crypto');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const { WebSocket, BUSY_REASON, MUTATION, post } = require('./bank_client.js');

function args() {
  const o = { url: 'http://127.0.0.1:8888', seconds: 10, everyMs: 5, waitMs: 0, json: '' };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    if (a[i] === '--url') o.url = v;
    else if (a[i] === '--seconds') o.seconds = Number(v);
    else if (a[i] === '--every-ms') o.everyMs = Number(v);
    else if (a[i] === '--wait-ms') o.waitMs = Number(v);
    else if (a[i] === '--json') o.json = v;
    else {
      console.error('unknown option ' + a[i] + '\nusage: probe.js --url URL [--seconds 10] [--every-ms 5] [--wait-ms 0] [--json FILE]');
      process.exit(2);
    }
  }
  return o;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

function summary(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  const pct = (p) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN);
  return { n: s.length, p50: pct(50), p99: pct(99), max: s.length ? s[s.length - 1] : NaN };
}

async function main() {
  const o = args();
  const t0 = now();
  const username = `probe-${crypto.randomBytes(3).toString('hex')}`;
  const acct = (await post(o.url, 'mutation($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', { u: username, p: 'probe-password' })).get_account;
  if (acct.reason) throw new Error(acct.reason);
  const dep = await post(o.url, MUTATION, { uuid: crypto.randomUUID(), username, token: acct.token, amount: 1000000000, from: 'cash', to: acct.iban, descr: 'probe deposit' });
  if (!dep.money_transfer.success) throw new Error('deposit: ' + dep.money_transfer.reason);

  const sent = new Map(); // id -> { kind, at }
  const lat = { busy: [], transfer: [], failed: [], query: [] };
  const ws = new WebSocket(o.url.replace(/^http/, 'ws') + '/ws', 'graphql-transport-ws');
  await new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => ws.send('{"type":"connection_init"}'));
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'connection_ack') return resolve();
      if (m.type === 'ping') return ws.send('{"type":"pong"}');
      if (m.type !== 'next' && m.type !== 'error') return;
      const s = sent.get(m.id);
      if (!s) return;
      sent.delete(m.id);
      const ms = now() - s.at;
      if (s.kind === 'query') return lat.query.push(ms);
      const r = m.payload && m.payload.data && m.payload.data.money_transfer;
      if (r && r.success) lat.transfer.push(ms);
      else if (r && r.reason === BUSY_REASON) lat.busy.push(ms);
      else lat.failed.push(ms);
    });
  });

  const waitEnd = t0 + o.waitMs;
  while (now() < waitEnd) await new Promise((r) => setTimeout(r, 20));
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  let n = 0;
  const end = now() + o.seconds * 1000;
  while (now() < end) {
    const t = `t${n}`;
    sent.set(t, { kind: 'transfer', at: now() });
    ws.send(JSON.stringify({ id: t, type: 'subscribe', payload: { query: MUTATION, variables: { uuid: crypto.randomUUID(), username, token: acct.token, amount: 1, from: acct.iban, to: 'NL66OPEN0000000000', descr: 'probe' } } }));
    const q = `q${n}`;
    sent.set(q, { kind: 'query', at: now() });
    ws.send(JSON.stringify({ id: q, type: 'subscribe', payload: { query: '{ __typename }' } }));
    n++;
    await new Promise((r) => setTimeout(r, o.everyMs));
  }
  const drainEnd = now() + 3000;
  while (sent.size && now() < drainEnd) await new Promise((r) => setTimeout(r, 10));
  lag.disable();
  ws.close();

  const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const out = {};
  console.log('probe answers       count   p50 ms   p99 ms   max ms');
  for (const k of ['busy', 'transfer', 'failed', 'query']) {
    const s = (out[k] = summary(lat[k]));
    console.log(`  ${k.padEnd(16)} ${String(s.n).padStart(6)} ${f(s.p50).padStart(8)} ${f(s.p99).padStart(8)} ${f(s.max).padStart(8)}`);
  }
  out.unanswered = sent.size;
  out.lagP99 = lag.percentile(99) / 1e6;
  out.lagMax = lag.max / 1e6;
  console.log(`  unanswered ${sent.size}; the probe's own event-loop lag p99 ${f(out.lagP99)} ms, max ${f(out.lagMax)} ms`);
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(out, null, 1));
}

main().catch((e) => {
  console.error('probe: ' + (e.stack || e));
  process.exit(1);
});
