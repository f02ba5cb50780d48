// Shared set-up of the browser tests of the web UI (web.test.js, web_axe.test.js,
// web_weight.test.js): builds web/dist, starts a real `bank run` on a temp data dir and a free
// loopback port, launches Debian's Chromium through playwright-core, and offers small helpers.
//
// Env: BIN_DIR (the build's bin dir, required unless WEB_E2E_DEV=1), SOURCE_DIR (repo root,
// default ../..), BANK_RUN_ARGS extra arguments for `bank run`. WEB_E2E_DEV=1 runs
// web/dev/server.mjs instead of `bank run`: that only checks the test scripts and the UI against
// the development stand-in; it says nothing about the C server.
'use strict';
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const SOURCE_DIR = process.env.SOURCE_DIR || path.resolve(__dirname, '..', '..', '..');
const DEV = process.env.WEB_E2E_DEV === '1';
const WAIT = 20000;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * One `bank run` (or the dev stand-in) on a temp data dir; `stop()` and `start()` keep the data.
 * `args` are more flags for both, e.g. `['--private', '--employee-key-hash', HEX]`.
 */
class BankServer {
  constructor(args = []) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-web-e2e-'));
    this.log = '';
    this.child = null;
    this.args = args;
  }

  async start() {
    // A restart keeps the port (the open pages point at it): should something hold it for a
    // moment (a client's connection given that local port), the bank exits and starts on it
    // again. A first start takes a port found free, which another test may take before the bank
    // binds it: then it starts on another port.
    const restart = Boolean(this.port);
    for (let attempt = 1; ; attempt++) {
      if (!restart) {
        this.port = await freePort();
        this.base = `http://127.0.0.1:${this.port}`;
      }
      try {
        return await this.launch();
      } catch (e) {
        if (attempt === (restart ? 10 : 3) || this.child.exitCode === null) throw e;
        if (restart) await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async launch() {
    const listen = `127.0.0.1:${this.port}`;
    const extra = (process.env.BANK_RUN_ARGS || '').split(' ').filter(Boolean);
    const [cmd, args] = DEV
      ? [process.execPath, [path.join(SOURCE_DIR, 'web', 'dev', 'server.mjs'), 'run', '--data', this.dataDir, '--listen', listen, '--static', path.join(SOURCE_DIR, 'web', 'dist'), ...this.args]]
      : [path.resolve(process.env.BIN_DIR || '', 'bank'), ['run', '--data', this.dataDir, '--listen', listen, ...extra, ...this.args]];
    this.child = spawn(cmd, args, { cwd: SOURCE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    this.launchLog = ''; // this launch's output only: the test of "listening on" below
    const keep = (d) => {
      this.log = (this.log + d.toString()).slice(-20000);
      this.launchLog = (this.launchLog + d.toString()).slice(-20000);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    await this.waitHealthy();
  }

  async waitHealthy() {
    // The bank's own log must say that it listens on the port: /healthz alone could be answered
    // by another test's server on it.
    const mine = `listening on 127.0.0.1:${this.port}`;
    for (let i = 0; i < 600; i++) {
      if (this.child.exitCode !== null) throw new Error(`server exited with ${this.child.exitCode}:\n${this.log}`);
      if (!DEV && !this.launchLog.includes(mine)) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      try {
        const r = await fetch(`${this.base}/healthz`);
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server not healthy after 60 s:\n${this.log}`);
  }

  stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  async close() {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A GraphQL request over HTTP; fails the test on GraphQL errors. `headers` are added. */
  async gql(query, variables = {}, headers = {}) {
    const body = await this.gqlRaw(query, variables, headers);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  }

  /** A GraphQL request over HTTP; the whole answer, errors included. */
  async gqlRaw(query, variables = {}, headers = {}) {
    const r = await fetch(`${this.base}/api`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
    return r.json();
  }
}

/** Builds web/dist (scripts/build-web.sh) and checks BIN_DIR; call once in `before`. */
function buildUi() {
  const build = spawnSync(path.join(SOURCE_DIR, 'scripts', 'build-web.sh'), { stdio: 'inherit' });
  assert.equal(build.status, 0, 'scripts/build-web.sh failed');
  if (!DEV) assert.ok(process.env.BIN_DIR, 'BIN_DIR must point at the directory holding `bank`');
}

function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // A test that rewrites a response (route.fulfill) gives the page no address; Chromium's local
    // network access checks would then block its WebSocket to 127.0.0.1.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-features=LocalNetworkAccessChecks'],
  });
}

/**
 * A page in a fresh context; any page error fails the test, console errors are collected for
 * `assertNoConsoleErrors`. `options` go to browser.newContext.
 */
async function newPage(browser, viewport = { width: 1280, height: 800 }, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw new Error(`page error: ${e.message}`);
  });
  page.consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.consoleErrors.push(m.text());
  });
  return page;
}

// No failed resource (font, icon, script) and no error logged by the UI. Requests a test aborts on
// purpose, or makes while the server is stopped, are expected failures: pass `allow` for them.
function assertNoConsoleErrors(page, allow = null) {
  const errors = page.consoleErrors.filter((e) => !(allow && allow.test(e)));
  assert.deepEqual(errors, [], 'errors in the browser console');
}

const uniq = () => Math.random().toString(36).slice(2, 8);

/**
 * A new employee key and the hash the bank is given (`bank employee-key`; the dev stand-in takes
 * the same SHA-256 of the key's text).
 */
function employeeKey() {
  if (DEV) {
    const key = crypto.randomBytes(32).toString('hex');
    return { key, hash: crypto.createHash('sha256').update(key).digest('hex') };
  }
  const out = spawnSync(path.resolve(process.env.BIN_DIR || '', 'bank'), ['employee-key'], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const key = /key:\s+(\S+)/.exec(out.stdout)?.[1];
  const hash = /hash:\s+(\S+)/.exec(out.stdout)?.[1];
  assert.ok(key && hash, `bank employee-key printed ${out.stdout}`);
  return { key, hash };
}

module.exports = { SOURCE_DIR, DEV, WAIT, BankServer, buildUi, launchBrowser, newPage, assertNoConsoleErrors, uniq, employeeKey };
