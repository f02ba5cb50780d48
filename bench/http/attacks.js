#!/usr/bin/env node
// The attacks of issue 11 against `bank run`, each for a while, with what a legitimate user sees
// meanwhile: /healthz latency (every 50 ms), a login (get_account of an existing user, every
// 1.1 s), transfers by another user (money_transfer, 10/s: p50/p99/max), the bank's peak RSS,
// and what the server refused (the /metrics counters that moved). Figures only: never fails on
// them. Attackers connect from other loopback addresses (127.0.x.y, x >= 10) than the legitimate
// clients: the health checker (127.0.0.1), alice who logs in (127.0.0.2), bob who pays
// (127.0.0.3), as different machines would.
//
// usage: attacks.js BANK_BINARY [attack ...]      (default: all, in the order below; each attack
//        runs in a child process, `attacks.js --attack NAME PORT VICTIM_IBAN`)
// env:   ATTACK_SCALE (default 1: the issue's sizes; 0.1 for a quick run), ATTACK_SECONDS (per
//        attack, default 20), BANK_ARGS (extra `bank run` flags, space separated),
//        ATTACK_FIREWALL=RATE,BURST (e.g. 20/second,100; needs root and iptables): during the
//        run, the per-address SYN rate limit of docs/http.md on the bank's port
// attacks: baseline, slowloris, idle-ws, init-flood, subscription-flood, long-ids, amplify
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const SOURCE_DIR = process.env.SOURCE_DIR || path.join(__dirname, '../..');
const WebSocket = require(path.join(SOURCE_DIR, 'tests/node_modules/ws'));

const SCALE = Number(process.env.ATTACK_SCALE || 1);
const SECONDS = Number(process.env.ATTACK_SECONDS || 20);
const n = (full) => Math.max(1, Math.round(full * SCALE));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the bank ----

async function startBank(bin) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-attacks-'));
  const extra = (process.env.BANK_ARGS || '').split(' ').filter(Boolean);
  // Its own session (setsid), so its own scheduling group (autogroup) as a service has, apart
  // from the attackers: its background workers (nice +10) yield to its HTTP loop, not to them.
  const proc = spawn(bin, ['run', '--data', data, '--listen', '127.0.0.1:0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  process.on('exit', () => proc.exitCode === null && proc.kill('SIGKILL'));
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const onData = (d) => {
      log += d;
      const m = /http: listening on [^\s:]+:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`bank exited (${code}):\n${log}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      if ((await fetch(url + '/healthz')).status === 200) break;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  return {
    url,
    port,
    pid: proc.pid,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}

// The legitimate clients of the probes, each from its own address with its own kept-alive
// connections, as a health checker and two users would be (the attackers use 127.0.x.y, x >= 1).
const HEALTH_CHECKER = '127.0.0.1';
const ALICE = '127.0.0.2';
const BOB = '127.0.0.3';
const agents = new Map();
function request(url, { method = 'GET', body, from = HEALTH_CHECKER } = {}) {
  if (!agents.has(from)) agents.set(from, new http.Agent({ keepAlive: true, localAddress: from }));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: agents.get(from) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.setHeader('content-type', 'application/json');
    req.end(body);
  });
}

async function gql(url, query, variables, from) {
  const body = JSON.stringify({ query, variables });
  const j = JSON.parse((await request(url + '/api', { method: 'POST', body, from })).text);
  if (j.errors) throw new Error(JSON.stringify(j.errors));
  return j.data;
}

const LOGIN = 'mutation ($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }';
const TRANSFER =
  'mutation ($amount: Int!, $uuid: String!, $username: String!, $from: String!, $to: String!, $token: String!) { money_transfer(amount: $amount, uuid: $uuid, username: $username, from: $from, to: $to, token: $token, descr: "bench") { success reason } }';

async function account(url, user) {
  const a = (await gql(url, LOGIN, { u: user, p: 'secret-' + user })).get_account;
  return { user, iban: a.iban, token: a.token };
}

async function deposit(url, acc, amount) {
  const r = await gql(url, TRANSFER, { amount, uuid: crypto.randomUUID(), username: acc.user, from: 'cash', to: acc.iban, token: acc.token });
  if (!r.money_transfer.success) throw new Error('deposit failed: ' + r.money_transfer.reason);
}

// ---- what a user sees ----

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

async function metrics(url) {
  const out = {};
  try {
    const text = await (await fetch(url + '/metrics')).text();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
  } catch {
    /* refused: counted as such by the probes */
  }
  return out;
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// Runs the probes for `ms`; resolves with their figures.
async function probe(bank, users, ms) {
  const end = now() + ms;
  const health = [];
  const logins = [];
  const transfers = [];
  let failures = 0;
  const start = now();
  const why = new Map(); // "probe: failure message" -> { n, first, last } (seconds into the attack)
  let rss = 0;
  const loop = async (name, every, fn) => {
    while (now() < end) {
      const t = now();
      try {
        await fn();
      } catch (e) {
        failures++;
        const m = String((e && e.cause && e.cause.code) || (e && e.message) || e).slice(0, 80);
        const at = Math.round((now() - start) / 100) / 10;
        const w = why.get(`${name}: ${m}`) || { n: 0, first: at };
        why.set(`${name}: ${m}`, { n: w.n + 1, first: w.first, last: at });
      }
      const left = every - (now() - t);
      if (left > 0) await sleep(left);
    }
  };
  await Promise.all([
    loop('healthz', 50, async () => {
      const t = now();
      const r = await request(bank.url + '/healthz');
      if (r.status !== 200) throw new Error('healthz ' + r.status);
      health.push(now() - t);
    }),
    // Once every 1.1 s: the login limit per address is 60 at once, then 60 a minute.
    loop('login', 1100, async () => {
      const t = now();
      const r = await gql(bank.url, LOGIN, { u: users.alice.user, p: 'secret-alice' }, ALICE);
      if (r.get_account.reason) throw new Error('login refused: ' + r.get_account.reason);
      logins.push(now() - t);
    }),
    loop('transfer', 100, async () => {
      const t = now();
      const r = await gql(bank.url, TRANSFER, {
        amount: 1,
        uuid: crypto.randomUUID(),
        username: users.bob.user,
        from: users.bob.iban,
        to: users.carol.iban,
        token: users.bob.token,
      }, BOB);
      if (!r.money_transfer.success) throw new Error(r.money_transfer.reason);
      transfers.push(now() - t);
    }),
    loop('rss', 100, async () => {
      rss = Math.max(rss, rssMiB(bank.pid));
    }),
  ]);
  return { health, logins, transfers, failures, why, rss };
}

// ---- attackers ----

// Keeps `count` connections open from addresses 127.0.<net>.1.., `perAddress` each, each set up
// by `open(address)` (resolves with a closed promise); reopens what the server closes or refuses
// a second later (a client's back-off: without one this is a connection-rate flood, which a
// firewall's rate limit stops, not a budget).
function keepOpen(count, perAddress, netByte, open) {
  let stopped = false;
  let opened = 0;
  const sockets = new Set();
  const one = async (i) => {
    const address = `127.0.${netByte}.${1 + Math.floor(i / perAddress)}`;
    while (!stopped) {
      try {
        const s = await open(address);
        opened++;
        sockets.add(s);
        await s.closed;
        sockets.delete(s);
      } catch {
        /* refused at once */
      }
      await sleep(1000);
    }
  };
  for (let i = 0; i < count; i++) one(i);
  return {
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

function slowSocket(port) {
  return (address) =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: address });
      const head = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(4000) + '\r\n\r\n';
      let i = 0;
      let timer;
      const closed = new Promise((r) => s.once('close', () => (clearInterval(timer), r())));
      s.on('error', () => {});
      s.once('connect', () => {
        timer = setInterval(() => s.write(head[i++ % head.length]), 1000);
        resolve({ closed, destroy: () => s.destroy() });
      });
      s.once('close', () => reject(new Error('refused')));
    });
}

function idleWs(port, protocol) {
  return (address) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocol, { localAddress: address });
      const closed = new Promise((r) => ws.once('close', r));
      ws.on('error', () => {});
      ws.once('open', () => resolve({ closed, destroy: () => ws.terminate() }));
      ws.once('close', () => reject(new Error('refused')));
    });
}

const attacks = {
  async baseline() {
    return { stop: () => {}, note: () => 'no attack' };
  },
  // 1,500 sockets sending one header byte per second (10 addresses of 150).
  async slowloris(bank) {
    const k = keepOpen(n(1500), 150, 10, slowSocket(bank.port));
    return { stop: k.stop, note: () => `${n(1500)} slow sockets, ${k.opened()} connections made` };
  },
  // 20,200 idle legacy-protocol WebSockets that never send connection_init (101 addresses of 200).
  async 'idle-ws'(bank) {
    const k = keepOpen(n(20200), 200, 20, idleWs(bank.port, 'graphql-ws'));
    return { stop: k.stop, note: () => `${n(20200)} idle sockets, ${k.opened()} upgrades made` };
  },
  // 20,000 connection_init on one legacy socket, again and again.
  async 'init-flood'(bank) {
    let stopped = false;
    let sent = 0;
    (async () => {
      while (!stopped) {
        const ws = new WebSocket(`ws://127.0.0.1:${bank.port}/ws`, 'graphql-ws', { localAddress: '127.0.30.1' });
        ws.on('error', () => {});
        await new Promise((r) => {
          ws.once('open', () => {
            for (let i = 0; i < n(20000); i++) ws.send('{"type":"connection_init"}'), sent++;
          });
          ws.once('close', r);
        });
      }
    })();
    return { stop: () => (stopped = true), note: () => `${sent} inits sent` };
  },
  // Three sockets asking for 20,000 subscriptions each.
  async 'subscription-flood'(bank) {
    const socks = [];
    for (let s = 0; s < 3; s++) {
      const ws = new WebSocket(`ws://127.0.0.1:${bank.port}/ws`, 'graphql-transport-ws', { localAddress: `127.0.40.${s + 1}` });
      ws.on('error', () => {});
      await new Promise((r) => ws.once('open', r));
      ws.send('{"type":"connection_init"}');
      for (let i = 0; i < n(20000); i++)
        ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { stream_transactions { id iban } }' } }));
      socks.push(ws);
    }
    return { stop: () => socks.forEach((w) => w.terminate()), note: () => `3 x ${n(20000)} subscribe messages` };
  },
  // 1,000 subscriptions with 900 KB ids, on a socket opened again whenever closed.
  async 'long-ids'(bank) {
    let stopped = false;
    let sent = 0;
    const id = 'x'.repeat(900 * 1024);
    (async () => {
      while (!stopped) {
        const ws = new WebSocket(`ws://127.0.0.1:${bank.port}/ws`, 'graphql-transport-ws', { localAddress: '127.0.50.1' });
        ws.on('error', () => {});
        await new Promise((r) => {
          ws.once('open', () => {
            ws.send('{"type":"connection_init"}');
            for (let i = 0; i < n(1000); i++)
              ws.send(JSON.stringify({ id: id + i, type: 'subscribe', payload: { query: 'subscription { stream_transactions { id } }' } })), sent++;
          });
          ws.once('close', r);
        });
        await sleep(50);
      }
    })();
    return { stop: () => (stopped = true), note: () => `${sent} subscribe messages of 900 KB` };
  },
  // transactions_by_iban(max_items: 1000000000) under 40 aliases (1.35 KB) and under 400 (13.6 KB),
  // on an account with 6,000 transactions, from 4 clients in a loop.
  async amplify(bank, users) {
    const q = (aliases) =>
      '{ ' + Array.from({ length: aliases }, (_, i) => `a${i}: transactions_by_iban(iban: "${users.victim.iban}", max_items: 1000000000) { id iban new_balance changed_by from_to descr }`).join(' ') + ' }';
    const small = q(40);
    const big = q(400);
    let stopped = false;
    let sent = 0;
    let bytes = 0;
    const client = async (body) => {
      while (!stopped) {
        try {
          const r = await fetch(bank.url + '/api', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: body }) });
          bytes += (await r.arrayBuffer()).byteLength;
          sent++;
        } catch {
          await sleep(50);
        }
      }
    };
    for (const body of [small, small, big, big]) client(body);
    return {
      stop: () => (stopped = true),
      note: () => `${sent} requests of ${Math.round(small.length / 100) / 10} KB / ${Math.round(big.length / 100) / 10} KB, ${Math.round(bytes / sent || 0)} bytes per answer`,
    };
  },
};

// ---- the attacker process ----

// `attacks.js --attack NAME PORT VICTIM_IBAN`: runs one attack until SIGTERM, in a process of its
// own (the probes' event loop must not wait on the attacker's), prints READY then, at the end,
// NOTE <what it did>.
async function attacker(name, port, victim) {
  const bank = { port, url: `http://127.0.0.1:${port}` };
  const a = await attacks[name](bank, { victim: { iban: victim } });
  console.log('READY');
  const alive = setInterval(() => {}, 1000); // until SIGTERM, whatever the attack keeps open
  process.on('SIGTERM', () => {
    clearInterval(alive);
    a.stop();
    console.log('NOTE ' + a.note());
    process.exit(0);
  });
}

function startAttacker(name, bank, users) {
  const child = spawn(process.execPath, [__filename, '--attack', name, String(bank.port), users.victim.iban], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise((r) => child.on('exit', r));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('READY')) resolve();
    });
    exited.then((code) => reject(new Error(`attacker ${name} exited (${code})`)));
  });
  return {
    ready,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      return (/NOTE (.*)/.exec(out) || [])[1] || '';
    },
  };
}

// ---- main ----

// The operator's answer to a connection-rate flood (docs/http.md): new connections per source
// address limited in the kernel, on the bank's port only. Off unless ATTACK_FIREWALL is set.
function firewallRule(port) {
  const spec = process.env.ATTACK_FIREWALL;
  if (!spec) return { remove() {} };
  const [rate, burst] = spec.split(',');
  const rule = ['INPUT', '-p', 'tcp', '--dport', String(port), '--syn', '-m', 'hashlimit',
    '--hashlimit-name', `bank${port}`, '--hashlimit-mode', 'srcip', '--hashlimit-above', rate,
    '--hashlimit-burst', burst || '100', '-j', 'DROP'];
  execFileSync('iptables', ['-I', ...rule]);
  console.log(`firewall: new connections per address above ${rate} (burst ${burst || 100}) dropped`);
  let removed = false;
  const remove = () => {
    if (!removed) execFileSync('iptables', ['-D', ...rule]);
    removed = true;
  };
  process.on('exit', remove);
  return { remove };
}

function fmt(x) {
  return Number.isFinite(x) ? x.toFixed(x < 10 ? 1 : 0) : '-';
}

async function main() {
  const bin = process.argv[2];
  if (!bin) {
    console.error('usage: attacks.js BANK_BINARY [attack ...]');
    process.exit(2);
  }
  const chosen = process.argv.slice(3).length ? process.argv.slice(3) : Object.keys(attacks);
  const bank = await startBank(bin);
  const firewall = firewallRule(bank.port);
  try {
    const users = {};
    for (const u of ['alice', 'bob', 'carol', 'victim']) users[u] = await account(bank.url, u);
    await deposit(bank.url, users.bob, 100000000);
    // The amplification target: an account with many transactions (6,000 at full size).
    const txs = n(6000);
    for (let i = 0; i < txs; i += 50) await Promise.all(Array.from({ length: Math.min(50, txs - i) }, () => deposit(bank.url, users.victim, 1)));
    // Those 50 parallel connections made the users' address heavy for the connection budget
    // (docs/http.md: it may not take the reserved places for 10 s after): wait that out, since
    // what the probes measure is a user who did not just do that.
    await sleep(10500);
    console.log(`bank pid ${bank.pid}, scale ${SCALE}, ${SECONDS} s per attack, victim account with ${txs} transactions`);
    console.log('attack              | healthz p50 / p99 / max ms | login max ms | transfer p50 / p99 / max ms | failures | RSS max MiB | refused (counters that moved)');
    for (const name of chosen) {
      const before = await metrics(bank.url);
      const a = startAttacker(name, bank, users);
      await a.ready;
      await sleep(Math.min(3000, SECONDS * 200)); // let it build up
      const p = await probe(bank, users, SECONDS * 1000);
      const note = await a.stop();
      await sleep(1500);
      const after = await metrics(bank.url);
      const moved = Object.keys(after)
        .filter((k) => /refused|timeouts|too_large|slow_reader|not_ready/.test(k) && after[k] - (before[k] || 0) > 0)
        .map((k) => `${k.replace(/_total/, '')}: ${after[k] - (before[k] || 0)}`);
      console.log(
        `${name.padEnd(19)} | ${fmt(pct(p.health, 50))} / ${fmt(pct(p.health, 99))} / ${fmt(Math.max(...p.health))} | ${fmt(Math.max(...p.logins))} | ${fmt(pct(p.transfers, 50))} / ${fmt(pct(p.transfers, 99))} / ${fmt(Math.max(...p.transfers))} | ${p.failures} | ${fmt(p.rss)} | ${moved.join(', ') || '-'}`,
      );
      console.log(`${''.padEnd(19)}   (${note}; ${p.health.length} healthz, ${p.logins.length} logins, ${p.transfers.length} transfers)`);
      if (p.failures)
        console.log(`${''.padEnd(19)}   failures: ${[...p.why].map(([m, w]) => `${w.n} x ${m} (${w.first}-${w.last} s)`).join('; ')}`);
    }
  } finally {
    firewall.remove();
    await bank.stop();
  }
}

(process.argv[2] === '--attack' ? attacker(process.argv[3], Number(process.argv[4]), process.argv[5]) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
