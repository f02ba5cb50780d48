#!/usr/bin/env node
// Load generator for `bank run` (the seed's open-bank-mark workload, adapted): money transfers
// over GraphQL (graphql-transport-ws mutations) at a fixed rate per step, each measured from
// sending the mutation to receiving its credit on a stream_transactions subscription (matched by
// the transfer uuid put in `descr`). Rates step up until p99 passes 1 s or errors appear.
// Prints one line per step and a summary; never fails on figures.
//
// --url may list several API endpoints: the senders are spread over them and each has a
// subscription of its own; a transfer counts as delivered once every subscription has its credit
// (its latency is the last one's), and a credit that a subscription receives twice is counted as a
// duplicate, a failure like an error (bench/nats/run.sh uses that for the split roles, and its
// set-up e for two APIs behind two projectors: each subscriber must get each transaction once).
// --pids NAME=PID,... reports the CPU% and peak RSS of each process per step (--pid PID is the same
// for one `bank` process), and --json FILE writes the steps and the summary.
//
// --hot SHARE sends that share (0..1) of the transfers to one account, --hot-iban (default the
// company account NL66OPEN0000000000, which every client may pay): the hot-account case. Refusals
// with the bank's busy reason are counted apart ("busy", with the p99 of their answers), and
// --keep-going runs every step even when some fail or are refused (the overload case: a step at
// twice the sustainable rate, where goodput and the busy answers are what count).
//
// usage: loadgen.js --url http://127.0.0.1:PORT[,http://...] [--pid BANK_PID | --pids NAME=PID,...]
//                   [--rates 100,300,...] [--step-seconds 10] [--users 100] [--connections 100]
//                   [--drain-ms 3000] [--hot 0..1] [--hot-iban IBAN] [--keep-going] [--json FILE]
//                   [--varz http://127.0.0.1:MONITOR_PORT/varz]
//
// Each step also prints the CPU per delivered transfer summed over the --pids processes, and with
// --varz (nats-server's monitoring endpoint) the NATS messages per transfer (in_msgs and out_msgs
// of the server, deltas over the step).
'use strict';
const fs = require('node:fs');
const crypto = require('node:crypto');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const { WebSocket, BUSY_REASON, MUTATION, post } = require('./bank_client.js');

function parseArgs() {
  const o = {
    url: 'http://127.0.0.1:8888',
    pid: 0,
    rates: [100, 300, 1000, 2000, 3000, 4000, 5000, 6000, 8000],
    stepSeconds: 10,
    users: 100,
    connections: 100, // one WebSocket per user, as browsers do (a socket takes 100 operations at once)
    drainMs: 3000,
    pids: [], // [{ name, pid }]
    json: '',
    hot: 0,
    hotIban: 'NL66OPEN0000000000',
    keepGoing: false,
    varz: '',
  };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    if (a[i] === '--keep-going') {
      o.keepGoing = true;
      i--;
      continue;
    }
    switch (a[i]) {
      case '--hot': o.hot = Number(v); break;
      case '--hot-iban': o.hotIban = v; break;
      case '--url': o.url = v; break;
      case '--pid': o.pid = Number(v); break;
      case '--pids':
        o.pids = v.split(',').filter(Boolean).map((x) => {
          const [name, pid] = x.split('=');
          return { name, pid: Number(pid) };
        });
        break;
      case '--json': o.json = v; break;
      case '--varz': o.varz = v; break;
      case '--drain-ms': o.drainMs = Number(v); break;
      case '--rates': o.rates = v.split(',').map(Number); break;
      case '--step-seconds': o.stepSeconds = Number(v); break;
      case '--users': o.users = Number(v); break;
      case '--connections': o.connections = Number(v); break;
      default:
        console.error('unknown option ' + a[i]);
        process.exit(2);
    }
  }
  return o;
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, monotonic
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// nats-server's counters (in_msgs, out_msgs), or null without --varz or when it does not answer.
async function varz(o) {
  if (!o.varz) return null;
  try {
    return await (await fetch(o.varz)).json();
  } catch (e) {
    return null;
  }
}

// One graphql-transport-ws connection, spoken directly on `ws` (no per-message client overhead).
function connect(wsUrl, onNext, onComplete) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    ws.on('error', reject);
    ws.on('open', () => ws.send('{"type":"connection_init"}'));
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'connection_ack') resolve(ws);
      else if (m.type === 'next') onNext(m.id, m.payload);
      else if (m.type === 'complete') onComplete && onComplete(m.id);
      else if (m.type === 'error') onNext(m.id, { errors: m.payload });
      else if (m.type === 'ping') ws.send('{"type":"pong"}');
    });
    ws.on('close', (code) => {
      if (!closing) console.error(`websocket closed by the server (${code})`);
    });
  });
}
let closing = false;

// CPU seconds (user + system) and RSS (KiB) of a process, from /proc.
function procStat(pid) {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    return { cpu: ticks / 100, rss }; // CLK_TCK is 100 on Linux
  } catch (e) {
    return null;
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const o = parseArgs();
  const urls = o.url.split(',');
  o.url = urls[0];
  if (!o.pids.length && o.pid) o.pids = [{ name: 'bank', pid: o.pid }];
  const run = crypto.randomBytes(3).toString('hex');

  // Users, each with a deposit large enough for the whole run.
  const t0 = now();
  const users = [];
  for (let i = 0; i < o.users; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(o.users, i + 20); j++) {
      const username = `bench-${run}-${j}`;
      batch.push(
        post(o.url, 'mutation($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', {
          u: username,
          p: 'bench-password',
        }).then((d) => {
          if (d.get_account.reason) throw new Error(d.get_account.reason);
          return { username, iban: d.get_account.iban, token: d.get_account.token };
        }),
      );
    }
    users.push(...(await Promise.all(batch)));
  }
  await Promise.all(
    users.map((u) =>
      post(o.url, MUTATION, { uuid: crypto.randomUUID(), username: u.username, token: u.token, amount: 1000000000, from: 'cash', to: u.iban, descr: 'bench deposit' }).then((d) => {
        if (!d.money_transfer.success) throw new Error('deposit: ' + d.money_transfer.reason);
      }),
    ),
  );
  console.log(`setup: ${o.users} users with a deposit each in ${((now() - t0) / 1000).toFixed(1)} s`);

  // In-flight transfers by descr: { sent, answered, delivered, got (subscriptions that have its
  // credit), step }.
  const flight = new Map();
  let step = null; // the current step's counters

  // One subscription per API. copies[i][n]: how many credits of transfer n subscription i got.
  const subs = [];
  const copies = urls.map(() => new Uint8Array(1 << 16));
  for (let i = 0; i < urls.length; i++) {
    const sub = await connect(urls[i].replace(/^http/, 'ws') + '/ws', (id, payload) => {
      const tx = payload.data && payload.data.stream_transactions;
      if (!tx) {
        if (step) step.streamErrors++;
        return;
      }
      const n = Number(tx.descr.slice(run.length + 1));
      if (!Number.isInteger(n) || n < 0) return; // not one of this run's transfers
      if (n >= copies[i].length) {
        const grown = new Uint8Array(Math.max(n + 1, copies[i].length * 2));
        grown.set(copies[i]);
        copies[i] = grown;
      }
      if (copies[i][n] < 255) copies[i][n]++;
      if (copies[i][n] > 1) {
        if (step) step.duplicates++;
        return;
      }
      const key = tx.descr;
      const f = flight.get(key);
      if (!f || f.delivered || ++f.got < subs.length) return;
      f.delivered = now();
      f.step.latencies.push(f.delivered - f.sent);
      f.step.delivered++;
      if (f.answered) flight.delete(key);
    });
    sub.send(
      JSON.stringify({
        id: 's',
        type: 'subscribe',
        payload: { query: `subscription { stream_transactions(direction: CREDIT, descr_includes: "${run}:") { descr } }` },
      }),
    );
    subs.push(sub);
  }
  const senders = [];
  for (let i = 0; i < o.connections; i++) {
    senders.push(
      await connect(urls[i % urls.length].replace(/^http/, 'ws') + '/ws', (id, payload) => {
        const f = flight.get(id);
        if (!f) return;
        f.answered = now();
        const r = payload.data && payload.data.money_transfer;
        if (r && !r.success && r.reason === BUSY_REASON) {
          f.step.busy++;
          f.step.busyLatencies.push(f.answered - f.sent);
          flight.delete(id);
          return;
        }
        if (!r || !r.success) {
          f.step.errors++;
          if (f.step.errorSamples.length < 3) f.step.errorSamples.push(r ? r.reason : JSON.stringify(payload.errors || payload));
          flight.delete(id);
          return;
        }
        f.step.answerLatencies.push(f.answered - f.sent);
        if (f.delivered) flight.delete(id);
      }),
    );
  }
  await sleep(500); // the subscription is registered long before the first transfer

  let seq = 0;
  function sendOne(st) {
    const a = users[crypto.randomInt(users.length)];
    let b = users[crypto.randomInt(users.length)];
    if (b === a) b = users[(users.indexOf(a) + 1) % users.length];
    if (o.hot > 0 && Math.random() < o.hot) b = { iban: o.hotIban };
    const descr = `${run}:${seq}`; // the uuid is in the flight map under this key
    const uuid = crypto.randomUUID();
    seq++;
    flight.set(descr, { sent: now(), answered: 0, delivered: 0, got: 0, step: st });
    const msg = {
      id: descr,
      type: 'subscribe',
      payload: { query: MUTATION, variables: { uuid, username: a.username, token: a.token, amount: 1 + (seq % 100), from: a.iban, to: b.iban, descr } },
    };
    senders[seq % senders.length].send(JSON.stringify(msg));
    st.sent++;
  }

  const results = [];
  console.log(
    'target/s  sent/s  delivered/s   p50 ms   p95 ms   p99 ms   max ms  answer p99  errors  lost   busy  busy p99  client CPU%' +
      o.pids.map((p) => `  ${p.name} CPU%/RSS MiB`).join(''),
  );
  for (const rate of o.rates) {
    const st = { rate, sent: 0, delivered: 0, errors: 0, busy: 0, streamErrors: 0, duplicates: 0, latencies: [], answerLatencies: [], busyLatencies: [], errorSamples: [], rssMax: 0 };
    step = st;
    const v0 = await varz(o);
    const p0 = o.pids.map((p) => procStat(p.pid));
    st.procs = o.pids.map((p) => ({ name: p.name, cpu: NaN, rssMax: 0 }));
    const c0 = process.cpuUsage();
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const start = now();
    const end = start + o.stepSeconds * 1000;
    let lastRss = 0;
    // Paced sending: every tick, send what the rate asks for by now.
    while (now() < end) {
      const due = Math.floor(((now() - start) / 1000) * rate);
      while (st.sent < due) sendOne(st);
      if (now() - lastRss > 250) {
        o.pids.forEach((q, i) => {
          const p = procStat(q.pid);
          if (p) st.procs[i].rssMax = Math.max(st.procs[i].rssMax, p.rss);
        });
        lastRss = now();
      }
      await sleep(1); // timers, not a busy loop: the client must leave the CPU to the bank
    }
    const sendEnd = now();
    const p1 = o.pids.map((p) => procStat(p.pid));
    const c1 = process.cpuUsage(c0);
    lag.disable();
    st.clientLagP99 = lag.percentile(99) / 1e6;
    st.clientLagMax = lag.max / 1e6;
    const v1 = await varz(o);
    // Wait for stragglers.
    const drainEnd = now() + o.drainMs;
    while (now() < drainEnd && [...flight.values()].some((f) => f.step === st)) await sleep(10);
    let lost = 0;
    const lostSamples = [];
    for (const [k, f] of flight) {
      if (f.step === st) {
        lost++;
        if (lostSamples.length < 3) lostSamples.push(`${k}: ${f.answered ? 'answered' : 'no answer'}, ${f.delivered ? 'delivered' : `its credit on ${f.got} of ${subs.length} subscriptions`}`);
        flight.delete(k);
      }
    }
    const secs = (sendEnd - start) / 1000;
    const lat = st.latencies.sort((x, y) => x - y);
    const ans = st.answerLatencies.sort((x, y) => x - y);
    const busyLat = st.busyLatencies.sort((x, y) => x - y);
    st.busyP99 = percentile(busyLat, 99);
    st.sentRate = st.sent / secs;
    st.deliveredRate = st.delivered / secs;
    st.p50 = percentile(lat, 50);
    st.p95 = percentile(lat, 95);
    st.p99 = percentile(lat, 99);
    st.max = lat.length ? lat[lat.length - 1] : NaN;
    st.answerP99 = percentile(ans, 99);
    st.lost = lost;
    st.procs.forEach((q, i) => {
      if (p0[i] && p1[i]) q.cpu = ((p1[i].cpu - p0[i].cpu) / secs) * 100;
      if (p1[i]) q.rssMax = Math.max(q.rssMax, p1[i].rss);
    });
    st.clientCpu = ((c1.user + c1.system) / 1e6 / secs) * 100;
    results.push(st);
    const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
    console.log(
      [
        String(rate).padStart(8),
        f1(st.sentRate).padStart(7),
        f1(st.deliveredRate).padStart(12),
        f1(st.p50).padStart(8),
        f1(st.p95).padStart(8),
        f1(st.p99).padStart(8),
        f1(st.max).padStart(8),
        f1(st.answerP99).padStart(11),
        String(st.errors + st.streamErrors).padStart(7),
        String(lost).padStart(5),
        String(st.busy).padStart(6),
        f1(st.busyP99).padStart(9),
        f1(st.clientCpu).padStart(12),
        ...st.procs.map((q) =>
          `${f1(q.cpu)}/${q.rssMax ? (q.rssMax / 1024).toFixed(1) : '-'}`.padStart(q.name.length + 15),
        ),
      ].join(' '),
    );
    st.cpuMsPerTransfer = st.procs.reduce((a, q) => a + (Number.isFinite(q.cpu) ? q.cpu : 0), 0) * 10 / st.deliveredRate;
    const parts = [];
    if (o.pids.length) parts.push(`CPU per delivered transfer (listed processes): ${Number.isFinite(st.cpuMsPerTransfer) ? st.cpuMsPerTransfer.toFixed(3) : '-'} ms`);
    if (v0 && v1 && st.delivered > 0) {
      st.natsInPerTransfer = (v1.in_msgs - v0.in_msgs) / (st.deliveredRate * secs);
      st.natsOutPerTransfer = (v1.out_msgs - v0.out_msgs) / (st.deliveredRate * secs);
      parts.push(`NATS messages per transfer: in ${f1(st.natsInPerTransfer)}, out ${f1(st.natsOutPerTransfer)}`);
    }
    if (subs.length > 1 || st.duplicates) parts.push(`${subs.length} subscriptions, ${st.duplicates} duplicate credits`);
    parts.push(`client event-loop lag p99 ${f1(st.clientLagP99)} ms, max ${f1(st.clientLagMax)} ms`);
    console.log('  ' + parts.join('; '));
    if (st.errorSamples.length) console.log('  error samples: ' + st.errorSamples.join(' | '));
    if (lostSamples.length) console.log('  lost samples: ' + lostSamples.join(' | '));
    if (o.keepGoing) continue;
    if (!(st.p99 <= 1000) || st.errors + st.streamErrors + st.busy + lost + st.duplicates > 0) {
      console.log(`stopping: ${st.p99 > 1000 ? 'p99 passed 1 s' : 'errors, duplicates or lost transfers'} at ${rate}/s`);
      break;
    }
    if (st.sentRate < rate * 0.95) {
      console.log(`stopping: the load generator sent only ${st.sentRate.toFixed(0)}/s of ${rate}/s`);
      break;
    }
  }
  const ok = (s) => s.errors + s.streamErrors + s.busy + s.lost + s.duplicates === 0 && s.deliveredRate >= s.rate * 0.95;
  const sustained = results.filter((s) => ok(s) && s.p99 <= 1000).map((s) => s.rate);
  const fast = results.filter((s) => ok(s) && s.p99 < 100).map((s) => s.rate);
  console.log(`highest sustained rate (no errors, p99 <= 1 s): ${sustained.length ? Math.max(...sustained) : 0}/s`);
  console.log(`highest rate with p99 < 100 ms: ${fast.length ? Math.max(...fast) : 0}/s`);
  if (o.json) {
    const steps = results.map((s) => ({
      rate: s.rate, sentRate: s.sentRate, deliveredRate: s.deliveredRate, p50: s.p50, p95: s.p95, p99: s.p99,
      max: s.max, answerP99: s.answerP99, cpuMsPerTransfer: s.cpuMsPerTransfer, natsInPerTransfer: s.natsInPerTransfer, natsOutPerTransfer: s.natsOutPerTransfer, errors: s.errors + s.streamErrors, lost: s.lost, duplicates: s.duplicates, sent: s.sent, busy: s.busy, busyP99: s.busyP99, clientCpu: s.clientCpu,
      procs: s.procs.map((q) => ({ name: q.name, cpu: q.cpu, rssMiB: q.rssMax / 1024 })),
    }));
    fs.writeFileSync(o.json, JSON.stringify({
      steps,
      sustained: sustained.length ? Math.max(...sustained) : 0,
      fast: fast.length ? Math.max(...fast) : 0,
      maxDelivered: Math.max(0, ...results.filter(ok).map((s) => s.deliveredRate)),
    }, null, 1));
  }
  closing = true;
  for (const s of [...subs, ...senders]) s.close();
}

main().catch((e) => {
  console.error('loadgen: ' + (e.stack || e));
  process.exit(1);
});
