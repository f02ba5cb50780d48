#!/usr/bin/env node
// Time travel on a long account (issue 15): builds one account with --events bank events through
// the real GraphQL API (money_transfer mutations pipelined over graphql-transport-ws: cash
// deposits to the account, every --debit-every'th a transfer from it to a second account, so its
// history has credits and debits), then measures, one request at a time, the latency of
//
//   account(iban, token)                          the live account (the read model): the reference
//   account(iban, token, at)                      at instants early, middle and late in its history
//                                                 and at "now" (after its last event)
//   transactions_by_iban(iban, max_items)         live, the reference for the next
//   transactions_by_iban(iban, max_items, at)     at the same instants
//
// The cases are interleaved (one request of each case per round, in a shuffled order), so a
// neighbour's load on the shared machine falls on all of them alike. Every answer is checked
// against the balance the account had then (the summary of its last event then, from
// account_history), so a fast wrong answer cannot pass. For scale, it also times reading the
// whole history through account_history. Prints figures and never fails on them; exits non-zero
// only when the setup fails or an answer is wrong.
//
// usage: timetravel.js --url http://127.0.0.1:PORT [--events 100000] [--rounds 300]
//                      [--max-items 10] [--window 256] [--debit-every 10] [--json FILE]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const SOURCE_DIR = process.env.SOURCE_DIR || path.join(__dirname, '../..');
const WebSocket = require(path.join(SOURCE_DIR, 'tests/node_modules/ws'));

function parseArgs() {
  const o = { url: 'http://127.0.0.1:8888', events: 100000, rounds: 300, maxItems: 10, window: 256, debitEvery: 10, json: '' };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    switch (a[i]) {
      case '--url': o.url = v; break;
      case '--events': o.events = Number(v); break;
      case '--rounds': o.rounds = Number(v); break;
      case '--max-items': o.maxItems = Number(v); break;
      case '--window': o.window = Number(v); break;
      case '--debit-every': o.debitEvery = Number(v); break;
      case '--json': o.json = v; break;
      default:
        console.error('unknown option ' + a[i]);
        process.exit(2);
    }
  }
  return o;
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, monotonic
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A graphql-transport-ws connection with any number of operations in flight: run() resolves with
// the operation's payload ({data} or {errors}).
function connect(wsUrl) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    const waiting = new Map();
    let next = 0;
    ws.on('error', reject);
    ws.on('open', () => ws.send('{"type":"connection_init"}'));
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'connection_ack') {
        resolve({
          run(query, variables) {
            const id = String(next++);
            return new Promise((res) => {
              waiting.set(id, res);
              ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
            });
          },
          close() { closing = true; ws.close(); },
        });
      } else if (m.type === 'next' || m.type === 'error') {
        const res = waiting.get(m.id);
        waiting.delete(m.id);
        if (res) res(m.type === 'next' ? m.payload : { errors: m.payload });
      } else if (m.type === 'ping') ws.send('{"type":"pong"}');
    });
    ws.on('close', (code) => {
      if (!closing) {
        console.error(`websocket closed by the server (${code})`);
        process.exit(1);
      }
    });
  });
}
let closing = false;

function must(payload, field) {
  if (payload.errors) throw new Error(`${field}: ${JSON.stringify(payload.errors)}`);
  return payload.data[field];
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const TRANSFER =
  'mutation($uuid: String!, $username: String!, $token: String!, $amount: Int!, $from: String!, $to: String!, $descr: String!) ' +
  '{ money_transfer(uuid: $uuid, username: $username, token: $token, amount: $amount, from: $from, to: $to, descr: $descr) { success reason } }';
const BUSY_REASON = 'the bank is busy, try again';

async function main() {
  const o = parseArgs();
  const wsUrl = o.url.replace(/^http/, 'ws') + '/ws';
  const run = crypto.randomBytes(3).toString('hex');
  const conns = await Promise.all([0, 1, 2, 3].map(() => connect(wsUrl)));
  const c = conns[0];

  // Two users: `a` gets the long history, `b` is paid from it.
  const open = async (name) => {
    const r = must(await c.run('mutation($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }',
      { u: `tt-${run}-${name}`, p: 'bench-password' }), 'get_account');
    if (r.reason) throw new Error('get_account: ' + r.reason);
    return { username: `tt-${run}-${name}`, iban: r.iban, token: r.token };
  };
  const a = await open('a');
  const b = await open('b');

  // Setup: events 1 .. events-1 of `a` (event 0 is its creation), --window transfers in flight
  // over 4 sockets. Event 1 is a deposit that pays for every debit, so the transfers need no
  // order; deposit k is 100 + k % 7 cents, a debit 50 cents. A busy refusal is sent again with the
  // same uuid (it moved no money).
  const n = o.events - 1;
  const amount = new Array(n); // signed change of each transfer
  for (let k = 0; k < n; k++) amount[k] = o.debitEvery > 0 && k % o.debitEvery === o.debitEvery - 1 ? -50 : 100 + (k % 7);
  amount[0] = 50 * n;
  const t0 = now();
  let done = 0, busy = 0, lastReport = t0;
  const sendOne = async (k, conn) => {
    const debit = amount[k] < 0;
    const vars = {
      uuid: crypto.randomUUID(), username: a.username, token: a.token, amount: Math.abs(amount[k]),
      from: debit ? a.iban : 'cash', to: debit ? b.iban : a.iban, descr: `tt ${run} ${k}`,
    };
    for (;;) {
      const r = must(await conn.run(TRANSFER, vars), 'money_transfer');
      if (r.success) break;
      if (r.reason !== BUSY_REASON) throw new Error(`transfer ${k}: ${r.reason}`);
      busy++;
      await sleep(20);
    }
    done++;
  };
  await sendOne(0, c);
  const inflight = new Set();
  for (let k = 1; k < n; k++) {
    while (inflight.size >= o.window) await Promise.race(inflight);
    const p = sendOne(k, conns[k % conns.length]).then(() => inflight.delete(p));
    inflight.add(p);
    if (now() - lastReport > 10000) {
      lastReport = now();
      console.log(`  setup: ${done} of ${n} transfers in ${((now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  await Promise.all(inflight);
  const setupS = (now() - t0) / 1000;
  const finalBalance = amount.reduce((s, x) => s + x, 0);
  // The projector (read model and event index, one SQLite transaction per batch) has caught up
  // when the live balance is the last one.
  const ACCOUNT = 'query($i: String!, $t: String!, $at: String) { account(iban: $i, token: $t, at: $at) { balance_cents } }';
  for (;;) {
    const acc = must(await c.run(ACCOUNT, { i: a.iban, t: a.token }), 'account');
    if (acc.balance_cents === finalBalance) break;
    await sleep(100);
  }
  const caughtS = (now() - t0) / 1000;
  const debits = amount.filter((x) => x < 0).length;
  console.log(`setup: ${o.events} events on ${a.iban} (${n} transfers: ${n - debits} cash deposits, ${debits} debits) in ${setupS.toFixed(1)} s (${(n / setupS).toFixed(0)} transfers/s, ${busy} busy refusals sent again); ` +
    `read model caught up after ${caughtS.toFixed(1)} s`);

  // The instants: the store time of the events at 1%, 50% and 99% of the history (account_history
  // of one event), and now. Several events share a store time (one store batch), so the account
  // at that instant has every event stored by then, up to some later order.
  const HISTORY = 'query($i: String!, $t: String!, $b: Int) { account_history(iban: $i, token: $t, max_items: 1, before_order: $b) { order at } }';
  const timeOf = async (order) => {
    const h = must(await c.run(HISTORY, { i: a.iban, t: a.token, b: order + 1 }), 'account_history');
    return h[0].at;
  };
  // Events whose store time is not after `at`, found by asking the history after `order`, and
  // the balance then, from the summary of the last of them (`... (balance €1.234,56)`).
  const euroCents = (text) => {
    const m = /(-?)€([\d.]+),(\d\d)/.exec(text || '');
    return m ? (m[1] ? -1 : 1) * (Number(m[2].replace(/\./g, '')) * 100 + Number(m[3])) : NaN;
  };
  const PAGE = 'query($i: String!, $t: String!, $b: Int) { account_history(iban: $i, token: $t, max_items: 50, before_order: $b) { order at summary } }';
  const eventsAt = async (order, at) => {
    for (let hi = order + 1; ; hi += 50) {
      const h = must(await c.run(PAGE, { i: a.iban, t: a.token, b: Math.min(o.events, hi + 50) }), 'account_history');
      const later = h.filter((e) => Date.parse(e.at) > Date.parse(at)).map((e) => e.order);
      if (later.length || hi + 50 >= o.events) {
        const events = later.length ? Math.min(...later) : o.events;
        const last = must(await c.run(PAGE.replace('max_items: 50', 'max_items: 1'), { i: a.iban, t: a.token, b: events }), 'account_history');
        return { events, balance: euroCents(/balance (€[\d.,]+)/.exec(last[0].summary)?.[1]) };
      }
    }
  };
  const instants = [];
  for (const [name, share] of [['early', 0.01], ['middle', 0.5], ['late', 0.99]]) {
    const order = Math.floor(share * (o.events - 1));
    const at = await timeOf(order);
    instants.push({ name, at, ...(await eventsAt(order, at)) });
  }
  await sleep(5); // "now" strictly after the last event
  instants.push({ name: 'now', at: new Date().toISOString(), events: o.events, balance: finalBalance });
  for (const i of instants)
    console.log(`  at ${i.name}: ${i.at} (${i.events} events then, ${i.events % 256} of them after the last snapshot)`);

  const TXS = 'query($i: String!, $m: Int!, $at: String) { transactions_by_iban(iban: $i, max_items: $m, at: $at) { id new_balance } }';
  const cases = [{ name: 'account live', q: ACCOUNT, v: { i: a.iban, t: a.token }, field: 'account', check: (r) => r.balance_cents === finalBalance }];
  for (const i of instants)
    cases.push({ name: `account at ${i.name}`, q: ACCOUNT, v: { i: a.iban, t: a.token, at: i.at }, field: 'account', check: (r) => r.balance_cents === i.balance });
  cases.push({ name: 'transactions live', q: TXS, v: { i: a.iban, m: o.maxItems }, field: 'transactions_by_iban', check: (r) => r.length === o.maxItems });
  for (const i of instants)
    cases.push({ name: `transactions at ${i.name}`, q: TXS, v: { i: a.iban, m: o.maxItems, at: i.at }, field: 'transactions_by_iban',
      check: (r) => r.length === o.maxItems && euroCents(r[0].new_balance) === i.balance });
  // Each answer is the account then: the balance the history's summary gives (the newest
  // transaction's new balance for the list).
  for (const cs of cases) {
    const r = must(await c.run(cs.q, cs.v), cs.field);
    if (!cs.check(r)) throw new Error(`${cs.name}: unexpected answer ${JSON.stringify(r).slice(0, 300)}`);
    cs.lat = [];
  }

  // Warm up, then the rounds.
  for (let w = 0; w < 20; w++) for (const cs of cases) must(await c.run(cs.q, cs.v), cs.field);
  const t1 = now();
  for (let r = 0; r < o.rounds; r++) {
    const order = cases.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const cs = cases[i];
      const s = now();
      const res = must(await c.run(cs.q, cs.v), cs.field);
      cs.lat.push(now() - s);
      if (!cs.check(res)) throw new Error(`${cs.name}: unexpected answer ${JSON.stringify(res).slice(0, 300)}`);
    }
  }
  console.log(`measured: ${o.rounds} rounds of ${cases.length} requests, one at a time, in ${((now() - t1) / 1000).toFixed(1)} s`);

  const ref = { account: null, transactions: null };
  console.log('case                          p50 ms   p90 ms   p99 ms   max ms   p50/live  p99/live');
  const rows = [];
  for (const cs of cases) {
    const s = cs.lat.slice().sort((x, y) => x - y);
    const row = { case: cs.name, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] };
    const kind = cs.field === 'account' ? 'account' : 'transactions';
    if (!ref[kind]) ref[kind] = row;
    row.p50Ratio = row.p50 / ref[kind].p50;
    row.p99Ratio = row.p99 / ref[kind].p99;
    rows.push(row);
    console.log(`${cs.name.padEnd(28)}${row.p50.toFixed(2).padStart(8)}${row.p90.toFixed(2).padStart(9)}${row.p99.toFixed(2).padStart(9)}` +
      `${row.max.toFixed(2).padStart(9)}${row.p50Ratio.toFixed(2).padStart(11)}${row.p99Ratio.toFixed(2).padStart(10)}`);
  }
  // For scale: what reading the whole history costs (what an `at` would cost without the index
  // and the snapshots, and more: account_history also decodes every record to JSON). Pages of
  // 1,000 events, newest first, one request at a time, three times.
  const FULL = 'query($i: String!, $t: String!, $b: Int) { account_history(iban: $i, token: $t, max_items: 1000, before_order: $b) { order } }';
  const full = [];
  for (let rep = 0; rep < 3; rep++) {
    const s = now();
    let seen = 0;
    for (let before = o.events; before > 0; before -= 1000) seen += must(await c.run(FULL, { i: a.iban, t: a.token, b: before }), 'account_history').length;
    full.push(now() - s);
    if (seen !== o.events) throw new Error(`account_history gave ${seen} events of ${o.events}`);
  }
  full.sort((x, y) => x - y);
  console.log(`reading all ${o.events} events through account_history (pages of 1000): ${full.map((x) => x.toFixed(0)).join(', ')} ms ` +
    `(${(full[1] / ref.account.p50).toFixed(0)}x the live account's p50)`);
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ events: o.events, setupS, instants, rows, fullReadMs: full }, null, 2));
  for (const x of conns) x.close();
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
