// Starts the transport's test server (built by CMake into $BIN_DIR) on a free loopback port and
// stops it again; the exit status is checked, so a leak found by LeakSanitizer fails the test.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const BIN_DIR = process.env.BIN_DIR || path.join(__dirname, '../../../build/h-http/bin');

function startServer(args = [], opts = {}) {
  const bin = opts.bin || path.join(BIN_DIR, 'http_test_server');
  const child = spawn(bin, ['--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(opts.env || {}) },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + stderr)), 20000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${code}): ${stderr}`));
    });
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /LISTENING (\d+)(?: ADMIN (-?\d+))?/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const port = Number(m[1]);
      const admin = m[2] && Number(m[2]) > 0 ? Number(m[2]) : undefined;
      resolve({
        port,
        pid: child.pid,
        url: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}`,
        adminUrl: admin ? `http://127.0.0.1:${admin}` : undefined,
        stderr: () => stderr,
        stop: () =>
          new Promise((res, rej) => {
            if (child.exitCode !== null) return res(child.exitCode);
            child.on('exit', (code, signal) => {
              if (code === 0) res(0);
              else rej(new Error(`server exit ${code} ${signal || ''}: ${stderr}`));
            });
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

// Resident memory of a process in KiB (Linux).
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

// One metric value from the Prometheus text of /metrics.
async function metric(url, name) {
  const text = await (await fetch(url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : undefined;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A raw TCP client from `localAddress` (another loopback address plays another client: Linux
// routes all of 127/8 on lo). Collects what the server sends; `closed` resolves with it.
function rawClient(port, localAddress = '127.0.0.1') {
  const net = require('node:net');
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  let data = '';
  s.on('data', (d) => {
    data += d.toString('latin1');
  });
  s.on('error', () => {}); // a reset is one of the answers we expect
  const connected = new Promise((resolve) => s.once('connect', resolve));
  const closed = new Promise((resolve) => s.once('close', () => resolve(data)));
  return { socket: s, connected, closed, data: () => data };
}

// The value of a labelled metric, e.g. metricLabel(url, 'x_total', 'reason="total"').
async function metricLabel(url, name, labels) {
  const text = await (await fetch(url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ').pop()) : undefined;
}

// Polls `fn` until it returns a truthy value (no time limit: the ctest timeout is the guard).
// Every 10 s it says on stderr what it still waits for, so that a hang names its condition.
async function until(fn, pauseMs = 20) {
  const start = Date.now();
  let said = start;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - said >= 10000) {
      said = Date.now();
      const what = fn.toString().replace(/\s+/g, ' ').slice(0, 300);
      console.error(`until: still waiting after ${Math.round((said - start) / 1000)} s for ${what}`);
    }
    await sleep(pauseMs);
  }
}

module.exports = { startServer, rssKiB, metric, metricLabel, sleep, rawClient, until };
