// GraphiQL at /ide in a real browser (Debian's chromium driven by playwright-core): the page loads
// from local files only and runs a query against /api.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startServer } = require('./helpers');

const IDE = path.join(__dirname, '../../../web/ide');
const SERVER_BIN = process.env.HTTP_IDE_SERVER; // the engine-backed server when given
let srv, browser;
before(async () => {
  srv = await startServer(['--ide', IDE], SERVER_BIN ? { bin: SERVER_BIN } : {});
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  if (browser) await browser.close();
  await srv.stop();
});

test('the IDE files are served', async () => {
  for (const [p, type] of [
    ['/ide', /text\/html/],
    ['/ide/', /text\/html/],
    ['/ide/ide.js', /javascript/],
    ['/ide/vendor/graphiql.min.js', /javascript/],
    ['/ide/vendor/graphiql.min.css', /text\/css/],
  ]) {
    const res = await fetch(srv.url + p);
    assert.strictEqual(res.status, 200, p);
    assert.match(res.headers.get('content-type'), type, p);
  }
  assert.strictEqual((await fetch(srv.url + '/ide/missing.js')).status, 404);
});

// Records Content-Security-Policy violations (the server sends a strict policy with every page).
async function watchCsp(page) {
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && /Content Security Policy/i.test(m.text()) && errors.push(m.text()));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return async () => [...errors, ...(await page.evaluate(() => window.__csp))];
}

test('GraphiQL loads without any outside request and runs a query', async () => {
  const page = await browser.newPage();
  const violations = await watchCsp(page);
  const outside = [];
  const apiBodies = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(srv.url)) outside.push(r.url());
    if (r.url().endsWith('/api')) apiBodies.push(r.postData());
  });
  const q = encodeURIComponent('{ hello }');
  await page.goto(`${srv.url}/ide?query=${q}`);
  await page.waitForSelector('.graphiql-container', { timeout: 30000 });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => (document.querySelector('.result-window') || {}).textContent?.includes('world'),
    null,
    { timeout: 30000 },
  );
  const text = await page.textContent('.result-window');
  assert.match(text, /"hello": "world"/);
  assert.deepStrictEqual(outside, []);
  assert.ok(apiBodies.some((b) => b && b.includes('hello')));
  assert.deepStrictEqual(await violations(), [], 'no Content-Security-Policy violation');
  await page.screenshot({ path: path.join(require('node:os').tmpdir(), 'ide.png') });
  await page.close();
});

test('GraphiQL runs a subscription over /ws (graphql-ws) from the browser', async () => {
  const page = await browser.newPage();
  const violations = await watchCsp(page);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`${srv.url}/ide?query=${encodeURIComponent('subscription { ticks(n: 3) }')}`);
  await page.waitForSelector('.graphiql-container', { timeout: 30000 });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => /"ticks": 3/.test((document.querySelector('.result-window') || {}).textContent || ''),
    null,
    { timeout: 30000 },
  );
  assert.ok(sockets.includes(`${srv.wsUrl}/ws`), `sockets: ${sockets}`);
  assert.deepStrictEqual(await violations(), [], 'no Content-Security-Policy violation');
  await page.close();
});
