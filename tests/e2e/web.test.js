// End-to-end test of the web UI in Debian's Chromium (playwright-core), against a real server:
// `$BIN_DIR/bank run --data TMP --listen 127.0.0.1:PORT`, which serves the UI build and the API.
// Flows: new users log in, deposit, transfer to each other with the credit arriving live, an
// overdraft is refused with the bank's reason, the login survives a reload, logout, the employee
// view follows an account and sees new accounts appear, a phone-sized screen, and the connection
// banner when the server goes away and comes back.
//
// Env: BIN_DIR (the build's bin dir, required unless WEB_E2E_DEV=1), SOURCE_DIR (repo root,
// default ../..), UPDATE_SCREENSHOTS=1 writes docs/img/*.png, BANK_RUN_ARGS extra arguments for
// `bank run`. WEB_E2E_DEV=1 runs web/dev/server.mjs instead of `bank run`: that only checks this
// script and the UI against the development stand-in; it says nothing about the C server.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { chromium } = require('playwright-core');

const SOURCE_DIR = process.env.SOURCE_DIR || path.resolve(__dirname, '..', '..');
const DEV = process.env.WEB_E2E_DEV === '1';
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const WAIT = 20000;
const COMPANY = 'NL66OPEN0000000000';
const OVERDRAFT = 'insufficient funds would be below the limit of €-500,00';

let dataDir;
let port;
let base;
let server;
let serverLog = '';
let browser;

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

function startServer() {
  const listen = `127.0.0.1:${port}`;
  const extra = (process.env.BANK_RUN_ARGS || '').split(' ').filter(Boolean);
  const [cmd, args] = DEV
    ? [process.execPath, [path.join(SOURCE_DIR, 'web', 'dev', 'server.mjs'), 'run', '--data', dataDir, '--listen', listen, '--static', path.join(SOURCE_DIR, 'web', 'dist')]]
    : [path.join(process.env.BIN_DIR || '', 'bank'), ['run', '--data', dataDir, '--listen', listen, ...extra]];
  const child = spawn(cmd, args, { cwd: SOURCE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d) => {
    serverLog = (serverLog + d.toString()).slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return child;
}

async function waitHealthy() {
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}:\n${serverLog}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not healthy after 60 s:\n${serverLog}`);
}

function stopServer() {
  if (!server || server.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.kill('SIGKILL'), 10000);
    server.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    server.kill('SIGTERM');
  });
}

async function shot(page, name) {
  if (!SHOTS) return;
  await page.waitForTimeout(2200); // let the 2 s fade-in finish so the picture is crisp
  await page.screenshot({ path: path.join(SOURCE_DIR, 'docs', 'img', name), fullPage: true });
}

async function gql(query, variables = {}) {
  const r = await fetch(`${base}/api`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = await r.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const uniq = () => Math.random().toString(36).slice(2, 8);

async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
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

// No failed resource (font, icon, script) and no error logged by the UI.
function assertNoConsoleErrors(page) {
  assert.deepEqual(page.consoleErrors, [], 'errors in the browser console');
}

async function login(page, username, password) {
  await page.goto(`${base}/client`);
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.click('#login-button');
  await page.locator('#logged-in-as').filter({ hasText: username }).waitFor({ timeout: WAIT });
  const text = await page.locator('#middle-column .notification.is-success').first().innerText();
  const iban = /Showing transactions from (NL\d{2}OPEN\d{10})/.exec(text)?.[1];
  assert.ok(iban, `no IBAN in "${text}"`);
  return iban;
}

function box(page, text) {
  return page.locator('#transactions .box.will-fade-in', { hasText: text });
}

before(async () => {
  const build = spawnSync(path.join(SOURCE_DIR, 'scripts', 'build-web.sh'), { stdio: 'inherit' });
  assert.equal(build.status, 0, 'scripts/build-web.sh failed');
  if (!DEV) assert.ok(process.env.BIN_DIR, 'BIN_DIR must point at the directory holding `bank`');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-web-e2e-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = startServer();
  await waitHealthy();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  await stopServer();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const userA = `alice-${uniq()}`;
const userB = `bobbie-${uniq()}`;
const password = 'secret-pass-1';
let ibanA;
let ibanB;
let pageA;
let pageB;

test('home shows the company account live', async () => {
  const page = await newPage();
  await page.goto(`${base}/`);
  assert.equal(await page.title(), 'BKES Demo');
  await page.getByText('Showing transactions from the company account.').waitFor({ timeout: WAIT });
  await page.locator('#nav-bar').waitFor();
  assert.equal(await page.locator('#flex-main-menu .navbar-item').allInnerTexts().then((t) => t.join('|')), 'Bank-employee|Client');
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  for (const n of [5, 10, 25, 50, 100, 250]) await page.locator(`#max-items-${n}`).waitFor();
  assert.ok(await page.locator('#max-items-10').evaluate((e) => e.classList.contains('is-success')));
  for (const l of ['own account', 'new balance', 'debit/credit', 'other account', 'amount changed', 'description']) {
    await page.locator(`[id="show-argument-${l}"]`).waitFor();
  }
  await shot(page, 'home.png');
  // A field toggle takes the field out of the list, and back.
  await page.click('[id="show-argument-description"]');
  await page.locator('#transactions .descr').first().waitFor({ state: 'detached', timeout: WAIT });
  await page.click('[id="show-argument-description"]');
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a new user logs in with the keyboard alone and deposits', async () => {
  pageA = await newPage();
  await pageA.goto(`${base}/client`);
  await pageA.getByText('Login to create/access your account').waitFor({ timeout: WAIT });
  await shot(pageA, 'client.png');
  // Seven characters are not enough.
  await pageA.fill('#login-username', 'sevench');
  await pageA.fill('#login-password', password);
  assert.equal(await pageA.isDisabled('#login-button'), true);
  await pageA.fill('#login-username', '');
  await pageA.fill('#login-password', '');
  // Tab from the top of the page to the username field, then type, Tab, type, Enter.
  await pageA.locator('body').focus();
  for (let i = 0; i < 40; i++) {
    await pageA.keyboard.press('Tab');
    if (await pageA.evaluate(() => document.activeElement?.id === 'login-username')) break;
  }
  assert.equal(await pageA.evaluate(() => document.activeElement?.id), 'login-username', 'Tab never reached the username field');
  await pageA.keyboard.type(userA);
  await pageA.keyboard.press('Tab');
  await pageA.keyboard.type(password);
  await pageA.keyboard.press('Enter');
  await pageA.locator('#logged-in-as').filter({ hasText: userA }).waitFor({ timeout: WAIT });
  ibanA = /NL\d{2}OPEN\d{10}/.exec(await pageA.locator('#middle-column .notification.is-success').first().innerText())?.[0];
  assert.ok(ibanA);
  await pageA.locator('#balance', { hasText: '€0,00' }).waitFor({ timeout: WAIT });
  for (const c of [1000, 2000, 5000, 10000, 20000, 50000]) {
    assert.equal(await pageA.locator(`#deposit-${c}`).innerText(), `deposit ${c / 100} euro`);
  }
  // Two clicks on the same button are two deposits (a fresh uuid each time).
  await pageA.click('#deposit-10000');
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: 'Deposit of €100,00 completed.' }).first().waitFor({ timeout: WAIT });
  await pageA.click('#deposit-10000');
  await pageA.locator('#transfer-outcomes [data-state="completed"]').nth(1).waitFor({ timeout: WAIT });
  await pageA.locator('#balance', { hasText: '€200,00' }).waitFor({ timeout: WAIT });
  assert.equal(await box(pageA, 'deposit by re-graph').count(), 2);
});

test('a transfer reaches the second user live, with exact cents', async () => {
  pageB = await newPage();
  ibanB = await login(pageB, userB, password);
  assert.notEqual(ibanA, ibanB);
  await pageA.fill('#transfer-amount', '12.34');
  await pageA.fill('#transfer-to', ibanB);
  assert.equal(await pageA.isDisabled('#transfer-button'), true, 'the description is still empty');
  await pageA.fill('#transfer-descr', 'e2e rent');
  await pageA.click('#transfer-button');
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: `Transfer of €12,34 to ${ibanB} completed.` }).waitFor({ timeout: WAIT });
  const debit = box(pageA, 'e2e rent');
  await debit.waitFor({ timeout: WAIT });
  assert.match(await debit.innerText(), /€12,34/);
  await pageA.locator('#balance', { hasText: '€187,66' }).waitFor({ timeout: WAIT });
  // B never reloads: the credit arrives over the subscription.
  const credit = box(pageB, 'e2e rent');
  await credit.waitFor({ timeout: WAIT });
  assert.match(await credit.innerText(), /€12,34/);
  assert.match(await credit.innerText(), new RegExp(ibanA));
  await pageB.locator('#balance', { hasText: '€12,34' }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.inputValue('#transfer-amount'), '', 'the form is cleared after a submit');
});

test('an overdraft is refused with the bank reason', async () => {
  await pageA.fill('#transfer-amount', '1000');
  await pageA.fill('#transfer-to', ibanB);
  await pageA.fill('#transfer-descr', 'too much');
  await pageA.click('#transfer-button');
  const failed = pageA.locator('#transfer-outcomes [data-state="failed"]', { hasText: OVERDRAFT });
  await failed.waitFor({ timeout: WAIT });
  assert.ok(await failed.evaluate((e) => e.classList.contains('is-warning')));
  await pageA.locator('#balance', { hasText: '€187,66' }).waitFor({ timeout: WAIT });
  assert.equal(await box(pageA, 'too much').count(), 0);
  // More than 2 decimals is refused before anything is sent.
  await pageA.fill('#transfer-amount', '1.234');
  await pageA.fill('#transfer-to', ibanB);
  await pageA.fill('#transfer-descr', 'three decimals');
  await pageA.locator('#transfer-amount-help', { hasText: 'At most 2 decimals' }).waitFor();
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  // A valid but unknown IBAN: debited, then returned, and the reason is shown.
  await pageA.fill('#transfer-amount', '1,5');
  await pageA.locator('#transfer-amount-help', { hasText: '€1,50' }).waitFor();
  await pageA.fill('#transfer-to', 'NL61OPEN0305797828');
  await pageA.fill('#transfer-descr', 'to nobody');
  await pageA.click('#transfer-button');
  await pageA.locator('#transfer-outcomes [data-state="failed"]', { hasText: 'Transfer of €1,50 to NL61OPEN0305797828 failed: iban not known' }).waitFor({ timeout: WAIT });
  await box(pageA, 'because iban not known').waitFor({ timeout: WAIT });
  assert.match(await box(pageA, 'to nobody').innerText(), /€1,50/);
  await pageA.locator('#balance', { hasText: '€187,66' }).waitFor({ timeout: WAIT });
  await shot(pageA, 'client-logged-in.png');
});

test('the login survives a reload, and logout clears it', async () => {
  await pageA.reload();
  await pageA.locator('#logged-in-as').filter({ hasText: userA }).waitFor({ timeout: WAIT });
  await box(pageA, 'e2e rent').waitFor({ timeout: WAIT });
  await pageA.click('#logout-button');
  await pageA.locator('#login-form').waitFor({ timeout: WAIT });
  await pageA.getByText('After login transactions will show here.').waitFor();
  assert.equal(await pageA.locator('#transactions').count(), 0);
  await pageA.reload();
  await pageA.locator('#login-form').waitFor({ timeout: WAIT });
  // A wrong password shows the bank's reason.
  await pageA.fill('#login-username', userA);
  await pageA.fill('#login-password', 'wrong-password');
  await pageA.click('#login-button');
  await pageA.locator('#login-form .notification.is-warning', { hasText: 'invalid password' }).waitFor({ timeout: WAIT });
  assertNoConsoleErrors(pageA);
  assertNoConsoleErrors(pageB);
});

test('the employee view follows an account and sees new accounts live', async () => {
  const page = await newPage();
  await page.goto(`${base}/employee`);
  await page.getByText('Select an account from the first column to follow the transactions.').waitFor({ timeout: WAIT });
  for (const iban of [COMPANY, ibanA, ibanB]) await page.locator('#accounts button', { hasText: iban }).waitFor({ timeout: WAIT });
  await page.locator('#accounts button', { hasText: ibanB }).click();
  await page.getByText(`You currently follow ${ibanB}`).waitFor({ timeout: WAIT });
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  assert.ok(await page.locator('#accounts button', { hasText: ibanB }).evaluate((e) => e.classList.contains('is-info')));
  // A brand-new account shows up in the list without a reload.
  const account = async (u) => (await gql('mutation ($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', { u, p: password })).get_account;
  const userC = `carol-${uniq()}`;
  const c = await account(userC);
  assert.equal(c.reason, null);
  // A cash deposit names its depositor: an owner of the account and its token.
  const dep = (u, acc, cents, descr) =>
    gql('mutation ($a: Int!, $u: String!, $t: String!, $to: String!, $d: String!, $id: String!) { money_transfer(amount: $a, username: $u, descr: $d, from: "cash", token: $t, to: $to, uuid: $id) { success reason } }', {
      a: cents,
      u,
      t: acc.token,
      to: acc.iban,
      d: descr,
      id: crypto.randomUUID(),
    }).then((d) => assert.deepEqual(d.money_transfer, { success: true, reason: null }));
  await dep(userC, c, 700, 'e2e live');
  await page.locator('#accounts button', { hasText: c.iban }).waitFor({ timeout: WAIT });
  // The followed account's stream: a deposit to B appears live.
  const b = await account(userB);
  await dep(userB, b, 700, 'e2e live');
  await box(page, 'e2e live').waitFor({ timeout: WAIT });
  // Filters. Each check sends a transaction the filter must drop, then one it must let through:
  // the stream is ordered, so once the second is shown the first would have been shown already.
  await page.selectOption('#filter-direction', 'DEBIT');
  await page.click('#filter-apply');
  await box(page, 'e2e rent').waitFor({ state: 'detached', timeout: WAIT });
  assert.equal(await box(page, 'e2e live').count(), 0);
  await dep(userB, b, 500, 'e2e credit hidden');
  const back = await gql('mutation ($u: String!, $t: String!, $f: String!, $to: String!, $id: String!) { money_transfer(amount: 100, username: $u, token: $t, from: $f, to: $to, descr: "e2e back", uuid: $id) { success reason } }', {
    u: userB,
    t: b.token,
    f: b.iban,
    to: ibanA,
    id: crypto.randomUUID(),
  });
  assert.deepEqual(back.money_transfer, { success: true, reason: null });
  await box(page, 'e2e back').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e credit hidden').count(), 0);
  await page.click('#filter-clear');
  await page.fill('#filter-min', '10');
  await page.click('#filter-apply');
  await box(page, 'e2e live').waitFor({ state: 'detached', timeout: WAIT });
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e back').count(), 0, 'a debit is a negative change, below a minimum of €10');
  await dep(userB, b, 999, 'e2e small');
  await dep(userB, b, 1000, 'e2e big');
  await box(page, 'e2e big').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e small').count(), 0);
  await page.click('#filter-clear');
  await page.fill('#filter-descr', 'RENT');
  await page.click('#filter-apply');
  await box(page, 'e2e big').waitFor({ state: 'detached', timeout: WAIT });
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  await dep(userB, b, 100, 'e2e other');
  await dep(userB, b, 100, 'e2e CURRENT month');
  await box(page, 'e2e CURRENT month').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e other').count(), 0);
  await page.click('#filter-clear');
  await box(page, 'e2e other').waitFor({ timeout: WAIT });
  await page.click('[id="max-items-5"]');
  await page.waitForFunction(() => document.querySelectorAll('#transactions .box.will-fade-in').length === 5, null, { timeout: WAIT });
  await shot(page, 'employee.png');
  await page.locator('#middle-column .notification.is-success .delete').click();
  await page.getByText('Select an account from the first column to follow the transactions.').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#transactions').count(), 0);
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a phone-sized screen gets the burger menu and stacked columns', async () => {
  const page = await newPage({ width: 390, height: 844 });
  await page.goto(`${base}/client`);
  await page.locator('#login-form').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#main-menu').isVisible(), false);
  await page.click('.navbar-burger');
  await page.locator('#main-menu a', { hasText: 'Bank-employee' }).waitFor({ state: 'visible' });
  await page.click('.navbar-burger');
  await login(page, userB, password);
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page scrolls sideways (${width}px wide)`);
  // The arrow button hides the first column (the deposit buttons) to save space.
  await page.locator('#deposit-1000').waitFor();
  await page.click('#nav-bar button[aria-label="Hide the first column"]');
  await page.locator('#deposit-1000').waitFor({ state: 'detached' });
  await page.click('#nav-bar button[aria-label="Show the first column"]');
  await page.locator('#deposit-1000').waitFor();
  await shot(page, 'phone.png');
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('the banner says when the connection is lost and when it is back', async () => {
  const page = await newPage();
  await page.goto(`${base}/`);
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  await stopServer();
  await page.getByText('Connection to the server lost, reconnecting…').waitFor({ timeout: WAIT });
  // "Connected again" shows for a few seconds from the moment the socket is back, which may be
  // before /healthz answers: watch for it from the start.
  const restored = page.getByText('Connected again').waitFor({ timeout: 60000 });
  server = startServer();
  await waitHealthy();
  await restored;
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  await page.context().close();
});
