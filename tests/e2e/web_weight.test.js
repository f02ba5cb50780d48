// Page weight of the web UI: what Debian's Chromium really transfers from a real `bank run`,
// measured with the Chrome DevTools Protocol (Network.loadingFinished's encodedDataLength: the
// bytes on the wire, headers included; WebSocket frames counted too), on a first visit of `/` with
// an empty cache and on a repeat visit in the same browser profile. Budgets (issue 12): first
// visit under 200 KB, repeat visit under 20 KB. Every resource is printed with its status,
// Content-Encoding, Cache-Control and size, so a failure says where the bytes go.
//
// The first test checks the build alone (web/dist): content-hashed names, .br/.gz siblings, and
// the size a first visit needs when those are sent. The browser tests also need the server to send
// the precompressed siblings and to let the browser cache hashed files.
//
// Env: see e2e/web/harness.js.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { SOURCE_DIR, WAIT, BankServer, buildUi, launchBrowser } = require('./web/harness');

const FIRST_VISIT_BUDGET = 200 * 1024;
const REPEAT_VISIT_BUDGET = 20 * 1024;
const YEAR = 365 * 24 * 3600;
const DIST = path.join(SOURCE_DIR, 'web', 'dist');
const COMPRESSIBLE = /\.(html|js|css|svg|json|map|txt)$/;
const HASHED = /-[A-Za-z0-9_-]{8}\.[a-z0-9]+$/;

const server = new BankServer();
let browser;
let context;
const figures = [];

before(async () => {
  buildUi();
  await server.start();
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  await server.close();
  console.log('page weight of / (budgets: first visit < 200 KB, repeat visit < 20 KB):');
  for (const f of figures) console.log(`  ${f}`);
});

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

function walk(dir) {
  return fs.readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return fs.statSync(p).isDirectory() ? walk(p) : [p];
  });
}

test('the build has content-hashed names, .br and .gz siblings, and no icon font', (t) => {
  const files = walk(DIST).filter((f) => !/\.(br|gz)$/.test(f));
  let total = 0;
  for (const f of files) {
    const rel = path.relative(DIST, f);
    if (f.endsWith('.map')) continue;
    if (rel !== 'index.html') assert.match(rel, /^assets\//, `${rel}: every file but index.html is an asset with a hashed name`);
    if (rel !== 'index.html') assert.match(rel, HASHED, `${rel} has no content hash in its name`);
    if (COMPRESSIBLE.test(f)) {
      assert.ok(fs.existsSync(`${f}.br`), `${rel}.br is missing`);
      assert.ok(fs.existsSync(`${f}.gz`), `${rel}.gz is missing`);
    }
    const raw = fs.statSync(f).size;
    const br = fs.existsSync(`${f}.br`) ? fs.statSync(`${f}.br`).size : raw;
    total += br;
    t.diagnostic(`${rel.padEnd(48)} ${kb(raw).padStart(9)} raw ${kb(br).padStart(9)} as sent (brotli when smaller)`);
    assert.doesNotMatch(rel, /materialdesignicons|webfont/, 'an icon font is shipped');
  }
  figures.push(`build: every file of web/dist but source maps, brotli-compressed: ${kb(total)}`);
  // Everything in the build, compressed, must fit the first-visit budget with room for the API.
  assert.ok(total < FIRST_VISIT_BUDGET - 20 * 1024, `the build alone is ${kb(total)}`);
});

/**
 * Visits `/` in a new page of the shared context and returns every network exchange: url, status,
 * content-encoding, cache-control, bytes on the wire (0 when served from the cache).
 */
async function visit() {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const rows = new Map();
  let inFlight = 0;
  let lastActivity = Date.now();
  const row = (id) => {
    if (!rows.has(id)) rows.set(id, { url: '', status: 0, encoding: '', cache: '', bytes: 0, cached: false, done: false, acceptEncoding: '' });
    return rows.get(id);
  };
  cdp.on('Network.requestWillBeSent', (e) => {
    const r = row(e.requestId);
    r.url = e.request.url;
    r.acceptEncoding ??= '';
    inFlight += 1;
    lastActivity = Date.now();
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    const h = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v]));
    if (h['accept-encoding']) row(e.requestId).acceptEncoding = h['accept-encoding'];
  });
  cdp.on('Network.requestServedFromCache', (e) => {
    row(e.requestId).cached = true;
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = row(e.requestId);
    const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    r.status = e.response.status;
    r.encoding = h['content-encoding'] ?? '';
    r.cache = h['cache-control'] ?? '';
    r.cached ||= Boolean(e.response.fromDiskCache || e.response.fromPrefetchCache);
  });
  const finish = (e, bytes) => {
    const r = row(e.requestId);
    if (!r.done) inFlight -= 1;
    r.done = true;
    r.bytes = bytes;
    lastActivity = Date.now();
  };
  cdp.on('Network.loadingFinished', (e) => finish(e, e.encodedDataLength));
  cdp.on('Network.loadingFailed', (e) => finish(e, 0));
  let ws = 0;
  cdp.on('Network.webSocketFrameReceived', (e) => {
    ws += Buffer.byteLength(e.response.payloadData);
  });
  cdp.on('Network.webSocketFrameSent', (e) => {
    ws += Buffer.byteLength(e.response.payloadData);
  });
  await page.goto(`${server.base}/`);
  await page.locator('#transactions .box').first().waitFor({ timeout: WAIT });
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  // Quiet for a second: everything the visit needs has arrived.
  while (inFlight > 0 || Date.now() - lastActivity < 1000) await page.waitForTimeout(100);
  await page.close();
  return { rows: [...rows.values()].filter((r) => r.url && !r.url.startsWith('data:')), ws };
}

function report(t, name, { rows, ws }) {
  let total = ws;
  for (const r of rows) {
    total += r.bytes;
    const p = new URL(r.url).pathname;
    t.diagnostic(
      `${p.slice(0, 50).padEnd(50)} ${String(r.status).padStart(3)} ${(r.encoding || '-').padEnd(4)} ${r.cached ? 'from cache' : (r.cache || '-').slice(0, 36).padEnd(36)} ${kb(r.bytes).padStart(9)}`,
    );
  }
  t.diagnostic(`WebSocket frames ${kb(ws)}`);
  t.diagnostic(`${name}: ${rows.length} requests, ${kb(total)} transferred (Accept-Encoding sent: ${rows[0]?.acceptEncoding || 'unknown'})`);
  figures.push(`${name}: ${kb(total)} in ${rows.length} requests (+ WebSocket ${kb(ws)})`);
  return total;
}

let first;

test('a first visit transfers less than 200 KB, compressed, with hashed files cacheable for a year', async (t) => {
  first = await visit();
  const total = report(t, 'first visit', first);
  const assets = first.rows.filter((r) => /\/assets\//.test(r.url));
  assert.ok(assets.length >= 4, 'the page loads its script, style, fonts and logo from /assets/');
  const problems = [];
  for (const r of first.rows) {
    const p = new URL(r.url).pathname;
    if (COMPRESSIBLE.test(p) || p === '/') {
      if (!/^(br|gzip)$/.test(r.encoding)) problems.push(`${p} is sent without compression`);
    }
    if (/\/assets\//.test(p)) {
      const maxAge = Number(/max-age=(\d+)/.exec(r.cache)?.[1] ?? 0);
      if (maxAge < YEAR || /no-store|no-cache/.test(r.cache)) problems.push(`${p} has cache-control "${r.cache}", not a year`);
    }
  }
  assert.ok(total < FIRST_VISIT_BUDGET, `the first visit transferred ${kb(total)}, over the budget of ${kb(FIRST_VISIT_BUDGET)}:\n${problems.join('\n')}`);
  assert.deepEqual(problems, []);
});

test('a repeat visit transfers less than 20 KB: hashed files come from the cache', async (t) => {
  assert.ok(first, 'needs the first visit');
  const again = await visit();
  const total = report(t, 'repeat visit', again);
  const refetched = again.rows.filter((r) => /\/assets\//.test(r.url) && !r.cached && r.bytes > 0).map((r) => new URL(r.url).pathname);
  assert.ok(total < REPEAT_VISIT_BUDGET, `the repeat visit transferred ${kb(total)}, over the budget of ${kb(REPEAT_VISIT_BUDGET)}; fetched again: ${refetched.join(', ') || 'none'}`);
  assert.deepEqual(refetched, [], 'hashed files were fetched again');
});
