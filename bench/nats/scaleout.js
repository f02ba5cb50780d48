#!/usr/bin/env node
// The scale-out benchmark: the bank's transfer workload (bench/bank/loadgen.js, with its --url list
// and --pids options) on the split roles over NATS JetStream, in three set-ups started afresh
// one after the other:
//   a) one nats-server; 1 api, 1 commands, 1 projector
//   b) the same with 2 command-handler instances (the scaling figure: b / a, same invocation)
//   c) a 3-node nats-server cluster (routes on loopback, R3 streams by `bank sync`); 1/1/1 roles
//   d) one nats-server; 4 command handlers (the handler count case: CPU per transfer should stay
//      flat with 1 (a), 2 (b) and 4 (d) handlers; this machine has 2 cores, so no speed-up)
//   e) one nats-server; 2 APIs, 1 command handler, 2 projectors (each projector publishes every
//      transaction): the load generator sends through both APIs and subscribes on each, and
//      counts the credits a subscriber gets twice (duplicates) or not at all (missing)
// a) and b) run alternately (a1 b1 a2 b2, --repeat) since the machine is shared and noisy; the
// scaling figure is the sum of b's highest sustained rates over the sum of a's.
// Each set-up prints the stepped-rate table (per-process CPU% and peak RSS) and its highest
// sustained rate; set-up a) is also profiled (perf record -g on the command handler) at a fixed
// rate. Figures only: it never fails on them. Every process is killed and every temp dir deleted.
//
// usage: scaleout.js --bank BIN [--rates 100,200,...] [--step-seconds 8] [--only a,b,c,d,e] [--perf 0|1]
//                    [--repeat N] (a and b alternate N times, default 2; the ratio uses all runs)
//                    [--hot SHARE] (that share, 0..1, of the transfers pays the company account:
//                    the hot-account case, one aggregate taking every credit)
'use strict';
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '../..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs() {
  const o = {
    bank: path.join(ROOT, 'build/bin/bank'),
    rates: [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1500, 2000],
    stepSeconds: 8,
    only: ['a', 'b', 'c'],
    perf: true,
    repeat: 2, // a and b run alternately this many times each (a b a b ... c): the machine is noisy
    users: 100,
    hot: 0,
  };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    switch (a[i]) {
      case '--bank': o.bank = path.resolve(v); break;
      case '--rates': o.rates = v.split(',').map(Number); break;
      case '--step-seconds': o.stepSeconds = Number(v); break;
      case '--only': o.only = v.split(','); break;
      case '--perf': o.perf = v === '1'; break;
      case '--repeat': o.repeat = Math.max(1, Number(v)); break;
      case '--users': o.users = Number(v); break;
      case '--hot':
        o.hot = Number(v);
        if (!(o.hot >= 0 && o.hot <= 1)) {
          console.error(`--hot takes a share from 0 to 1, not "${v}"`);
          process.exit(2);
        }
        break;
      default:
        console.error('unknown option ' + a[i]);
        process.exit(2);
    }
  }
  return o;
}

function natsServerBin() {
  for (const p of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (p && fs.existsSync(p)) return p;
  }
  return 'nats-server';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Every process this benchmark started, so that the end (or a signal) kills them all.
const procs = new Set();
const dirs = new Set(); // temp dirs, deleted at the end or on a signal
let interrupted = false;

function track(proc, name) {
  proc.benchName = name;
  procs.add(proc);
  proc.exitedP = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  proc.exitedP.then(() => procs.delete(proc));
  return proc;
}

async function stop(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
  await proc.exitedP;
  clearTimeout(t);
}

async function stopAll() {
  // The API and the roles first, the nats servers last.
  const all = [...procs];
  await Promise.all(all.filter((p) => !/^nats/.test(p.benchName)).map(stop));
  await Promise.all(all.filter((p) => /^nats/.test(p.benchName)).map(stop));
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch (e) {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`${url} never answered 200`);
    await sleep(100);
  }
}

// Starts nats-server(s): n = 1 (single node) or 3 (a cluster on loopback). Returns the client URL
// and the processes.
async function startNats(dir, n) {
  const nodes = [];
  for (let i = 1; i <= n; i++) nodes.push({ name: `n${i}`, port: await freePort(), cluster: await freePort(), http: await freePort() });
  const routes = nodes.map((x) => `    nats-route://127.0.0.1:${x.cluster}`).join('\n');
  for (const x of nodes) {
    const conf = path.join(dir, `${x.name}.conf`);
    let text =
      `server_name: ${x.name}\nlisten: 127.0.0.1:${x.port}\nhttp: 127.0.0.1:${x.http}\nmax_payload: 8MB\n` +
      `jetstream { store_dir: "${path.join(dir, 'js-' + x.name)}"\n  max_memory_store: 256MB\n  max_file_store: 4GB }\n`;
    if (n > 1) text += `cluster {\n  name: bank\n  listen: 127.0.0.1:${x.cluster}\n  routes: [\n${routes}\n  ]\n}\n`;
    fs.writeFileSync(conf, text);
    x.proc = track(spawn(natsServerBin(), ['-c', conf], { stdio: 'ignore' }), `nats-${x.name}`);
  }
  for (const x of nodes) await waitHttp(`http://127.0.0.1:${x.http}/healthz`, 60000);
  if (n > 1) {
    // /healthz answers before the JetStream meta group has a leader: wait for one.
    const end = Date.now() + 60000;
    for (;;) {
      try {
        const j = await (await fetch(`http://127.0.0.1:${nodes[0].http}/jsz`)).json();
        if (j.meta_cluster && j.meta_cluster.leader) break;
      } catch (e) {
        /* not yet */
      }
      if (Date.now() > end) throw new Error('the nats cluster elected no meta leader');
      await sleep(200);
    }
  }
  return { url: 'nats://' + nodes.map((x) => `127.0.0.1:${x.port}`).join(','), nodes, varz: `http://127.0.0.1:${nodes[0].http}/varz` };
}

function roleEnv(data, replicas) {
  return {
    ...process.env,
    BANK_PWHASH_FAST: '1',
    // the load generator makes its users from one address, many at once
    BANK_LOGIN_ADDRESS_BURST: '0',
    BANK_LOGIN_ADDRESS_IN_PROGRESS: '0',
    BANK_NATS_INDEX_DIR: path.join(data, 'nats-index'),
    BANK_NATS_REPLICAS: String(replicas),
  };
}

// Starts `bank ROLE` and resolves once it runs (the API: once it listens and /healthz answers).
async function startRole(o, dir, role, natsUrl, replicas, name) {
  const data = fs.mkdtempSync(path.join(dir, name + '-'));
  const args = [role, '--bus', natsUrl, '--data', data];
  if (role !== 'api') args.push('--store', natsUrl);
  if (role === 'api') args.push('--listen', '127.0.0.1:0');
  const proc = track(spawn(o.bank, args, { env: roleEnv(data, replicas), stdio: ['ignore', 'pipe', 'pipe'] }), name);
  let output = '';
  let partial = '';
  const rounds = [];
  const ready = role === 'api' ? /http: listening on [^\s:]+:(\d+)/ : /bank: running/;
  const m = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bank ${role} did not start:\n${output}`)), 90000);
    const onData = (chunk) => {
      if (output.length < 65536) output += chunk;
      // The lease keeper's lines, kept past the cap (a flood of warnings can fill it first).
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const l of lines) if (/ partitions: /.test(l) && rounds.push(l) > 200) rounds.shift();
      const found = ready.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.exitedP.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`bank ${role} exited (${code} ${signal}) before it ran:\n${output}`));
    });
  });
  const r = { name, role, proc, pid: proc.pid, log: () => output, rounds: () => rounds };
  if (role === 'api') {
    r.url = `http://127.0.0.1:${m[1]}`;
    await waitHttp(r.url + '/healthz', 90000);
  }
  return r;
}

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

// Runs the load generator; resolves with its JSON summary (or null).
async function runLoad(o, api, pids, rates, stepSeconds, jsonFile, quiet) {
  const args = [
    path.join(__dirname, '..', 'bank', 'loadgen.js'),
    '--url', api.url,
    '--pids', pids.map((p) => `${p.name}=${p.pid}`).join(','),
    '--rates', rates.join(','),
    '--step-seconds', String(stepSeconds),
    '--users', String(o.users),
    '--json', jsonFile,
  ];
  if (o.varz && !quiet) args.push('--varz', o.varz);
  if (o.hot > 0) args.push('--hot', String(o.hot));
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] }), 'loadgen');
  const { code } = await child.exitedP;
  if (code !== 0) console.log(`(the load generator exited with status ${code})`);
  try {
    return JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch (e) {
    return null;
  }
}

// perf record -g on PID for `seconds`, while a fixed-rate load runs; prints the top symbols.
async function profile(o, dir, api, target, rate) {
  const data = path.join(dir, 'perf.data');
  console.log(`profile: perf record -g -p ${target.pid} (${target.name}) for 6 s at ${rate}/s`);
  const perf = track(
    spawn('perf', ['record', '-g', '-F', '499', '-o', data, '-p', String(target.pid), '--', 'sleep', '6'], { stdio: 'ignore' }),
    'perf',
  );
  // Context switches of all the threads of the process (voluntary and not).
  const ctx = () => {
    let n = 0;
    for (const t of fs.readdirSync(`/proc/${target.pid}/task`)) {
      try {
        const st = fs.readFileSync(`/proc/${target.pid}/task/${t}/status`, 'utf8');
        n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)[1]);
      } catch (e) {
        /* the thread ended */
      }
    }
    return n;
  };
  const threads = /^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${target.pid}/status`, 'utf8'))[1];
  const c0 = ctx();
  const t0 = Date.now();
  const load = runLoad(o, api, [target], [rate], 8, path.join(dir, 'perf-load.json'), true);
  await perf.exitedP;
  const c1 = ctx();
  const t1 = Date.now();
  const done = await load;
  if (done && done.steps[0]) {
    const s0 = done.steps[0];
    console.log(`during the profile: ${s0.deliveredRate.toFixed(0)}/s delivered, p99 ${s0.p99.toFixed(1)} ms, ${target.name} CPU ${s0.procs[0].cpu.toFixed(1)}%`);
  }
  console.log(`${target.name}: ${threads} threads, ${Math.round(((c1 - c0) * 1000) / (t1 - t0))} context switches/s during the profile`);
  const rep = spawnSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'symbol', '-g', 'none', '--percent-limit', '1'], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  const lines = (rep.stdout || '').split('\n').filter((l) => /^\s+\d+\.\d+%/.test(l));
  console.log('top symbols of ' + target.name + ' (self time, on-CPU samples):');
  for (const l of lines.slice(0, 8)) console.log('  ' + l.trim().replace(/\s+/g, ' '));
  const dso = spawnSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso', '-g', 'none', '--percent-limit', '2'], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  const dl = (dso.stdout || '').split('\n').filter((l) => /^\s+\d+\.\d+%/.test(l));
  console.log('by library:');
  for (const l of dl.slice(0, 6)) console.log('  ' + l.trim().replace(/\s+/g, ' '));
}

async function scenario(o, key, label, title, { nodes: natsNodes, handlers: commandHandlers, projectors = 1, apis = 1 }) {
  console.log(`\n=== ${label}) ${title} ===`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bank-nats-bench-${key}-`));
  dirs.add(dir);
  let result = null;
  try {
    const t0 = Date.now();
    const nats = await startNats(dir, natsNodes);
    const replicas = natsNodes > 1 ? 3 : 1;
    o.varz = natsNodes === 1 ? nats.varz : '';
    const sync = spawnSync(o.bank, ['sync', '--nats', nats.url], {
      env: { ...process.env, BANK_NATS_REPLICAS: String(replicas) },
      encoding: 'utf8',
      timeout: 120000,
    });
    if (sync.status !== 0) throw new Error(`bank sync failed (${sync.status}):\n${sync.stdout}${sync.stderr}`);
    const summary = (sync.stdout + sync.stderr).split('\n').filter((l) => /replica/.test(l));
    if (summary.length) console.log('sync: ' + summary[0].trim());
    const roles = [];
    for (let i = 1; i <= commandHandlers; i++) roles.push(await startRole(o, dir, 'commands', nats.url, replicas, `commands${commandHandlers > 1 ? i : ''}`));
    for (let i = 1; i <= projectors; i++) roles.push(await startRole(o, dir, 'projector', nats.url, replicas, `projector${projectors > 1 ? i : ''}`));
    const apiRoles = [];
    for (let i = 1; i <= apis; i++) apiRoles.push(await startRole(o, dir, 'api', nats.url, replicas, `api${apis > 1 ? i : ''}`));
    roles.push(...apiRoles);
    const api = { url: apiRoles.map((r) => r.url).join(',') }; // the load generator's --url
    const pids = [...roles, ...nats.nodes.map((x) => ({ name: natsNodes > 1 ? `nats-${x.name}` : 'nats', pid: x.proc.pid }))];
    console.log(`started in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${pids.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`);
    console.log(`load average before: ${loadavg()}`);
    result = await runLoad(o, api, pids, o.rates, o.stepSeconds, path.join(dir, 'load.json'), false);
    if (interrupted) return null;
    console.log(`load average after: ${loadavg()}`);
    for (const r of roles) {
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) console.log(`!! ${r.name} exited during the run:\n${r.log().slice(-2000)}`);
      const warn = r.log().split('\n').filter((l) => /\b(WARN|ERROR|warn|error)\b/.test(l));
      if (warn.length) console.log(`${r.name} logged ${warn.length} warnings/errors, e.g.:\n  ${warn.slice(0, 3).join('\n  ')}`);
      // The partition lease rounds of a command handler: the rounds that lost partitions, its summary
      // every 30 s and its slow renewals.
      const rounds = r.rounds().filter((l) => /lease rounds in the last|renewing \d+ partition leases took/.test(l));
      const losses = r.rounds().filter((l) => /, lost [1-9]/.test(l));
      if (rounds.length || losses.length) {
        const eg = losses.length ? `, e.g. ${losses[0].replace(/^.* partitions: /, '')}` : '';
        console.log(`${r.name} lease rounds: ${losses.length} that lost partitions${eg}` + rounds.slice(-4).map((l) => '\n  ' + l).join(''));
      }
    }
    if (o.perf && key === 'a' && !o.profiled && result) {
      o.profiled = true;
      const rate = Math.max(100, Math.round((result.sustained || 200) * 0.8));
      await profile(o, dir, api, roles[0], rate);
    }
  } catch (e) {
    console.log(`set-up ${key} failed: ${e.message}`);
  } finally {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  }
  return result;
}

// The CPU per transfer (all processes, nats-server included) of each step that was sustained.
function cpuAt(r) {
  const ok = (r.steps || []).filter((s) => s.errors + s.lost + s.busy + s.duplicates === 0 && s.p99 <= 1000 && Number.isFinite(s.cpuMsPerTransfer));
  return ok.length ? '; CPU per transfer ' + ok.map((s) => `${s.cpuMsPerTransfer.toFixed(2)} ms at ${s.rate}/s`).join(', ') : '';
}

// Exactly once to each subscriber, over every step: the credits received twice, and the transfers
// that did not reach every subscription (lost: answered or not, no credit on some subscription).
function onceEach(r) {
  const steps = r.steps || [];
  const n = (f) => steps.reduce((acc, s) => acc + (s[f] || 0), 0);
  return `; ${n('duplicates')} duplicate credits and ${n('lost')} missing over ${n('sent')} transfers`;
}

async function main() {
  const o = parseArgs();
  const cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || [])[1];
  const ver = spawnSync(natsServerBin(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`machine: ${os.cpus().length} cores, ${cpu}, load average ${loadavg()}`);
  console.log(`bank: ${o.bank}; ${ver}; rates ${o.rates.join(',')}/s, ${o.stepSeconds} s per step, ${o.users} users`);
  const set = {
    a: ['one nats-server; api + commands + projector', { nodes: 1, handlers: 1 }],
    b: ['one nats-server; api + 2 x commands + projector', { nodes: 1, handlers: 2 }],
    c: ['3-node nats cluster, R3 streams; api + commands + projector', { nodes: 3, handlers: 1 }],
    d: ['one nats-server; api + 4 x commands + projector', { nodes: 1, handlers: 4 }],
    e: ['one nats-server; 2 x api + commands + 2 x projector', { nodes: 1, handlers: 1, projectors: 2, apis: 2 }],
  };
  const plan = [];
  for (let r = 1; r <= o.repeat; r++) for (const k of ['a', 'b']) if (o.only.includes(k)) plan.push([k, r]);
  for (const k of ['c', 'd', 'e']) if (o.only.includes(k)) plan.push([k, 1]);
  const res = { a: [], b: [], c: [], d: [], e: [] };
  for (const [k, r] of plan) {
    const [title, shape] = set[k];
    const label = !'ab'.includes(k) || o.repeat === 1 ? k : `${k}${r}`;
    res[k].push(await scenario(o, k, label, title, shape));
  }
  console.log('\n=== summary ===');
  const sum = (xs, f) => xs.reduce((acc, x) => acc + (x ? f(x) : 0), 0);
  for (const k of Object.keys(set)) {
    res[k].forEach((r, i) => {
      const label = !'ab'.includes(k) || o.repeat === 1 ? k : `${k}${i + 1}`;
      console.log(
        `${label}) ${set[k][0]}: ` +
          (r ? `highest sustained ${r.sustained}/s (p99 <= 1 s, no errors), p99 < 100 ms up to ${r.fast}/s` + cpuAt(r) + (k === 'e' ? onceEach(r) : '') : 'no result'),
      );
    });
  }
  const sa = sum(res.a, (x) => x.sustained);
  const sb = sum(res.b, (x) => x.sustained);
  if (sa > 0 && res.b.length) {
    console.log(
      `scaling, 2 vs 1 command handlers: ${(sb / sa).toFixed(2)}x (highest sustained rates, sum of the b runs / sum of the a runs: ${sb}/s / ${sa}/s)`,
    );
  }
  console.log(`load average at the end: ${loadavg()}`);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    interrupted = true;
    await stopAll();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    process.exit(130);
  });
}

main()
  .catch((e) => console.log('scaleout: ' + (e.stack || e)))
  .finally(async () => {
    await stopAll();
  });
