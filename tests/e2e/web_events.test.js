// End-to-end test of what event sourcing gives a bank's users in the web UI (issue 15), in Debian's
// Chromium (playwright-core) against a real `bank run`: the History view of an account (its events
// with what changed and their transfer, paged, the stored record) and a transfer's events reached
// from a transaction; time travel ("as of" a past moment on the client's and the employee's view,
// kept in the address, refused in the future, live again when left); alert rules set in a form,
// triggered alerts shown in the page and as browser notifications (permission granted, observed by
// wrapping window.Notification), once each, also those that triggered while the page was closed;
// several accounts (opening one, switching, listed again at login); owners listed, added and
// removed, a shared account used by its second owner.
//
// Every test here needs the server part of issue 15 (account_history, transfer_history, account(at),
// transactions_by_iban(at), alerts, set_alerts, alerts_since, stream_alerts, accounts,
// open_account, add_owner, remove_owner); until it is merged those fields answer null and these
// tests fail. WEB_E2E_DEV=1 runs them against web/dev/server.mjs, which implements the contract.
//
// Env: see e2e/web/harness.js; UPDATE_SCREENSHOTS=1 writes docs/img/*.png.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { SOURCE_DIR, WAIT, BankServer, buildUi, launchBrowser, newPage: openPage, assertNoConsoleErrors, uniq } = require('./web/harness');

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
// The browser's time zone in these tests: the "as of" control takes local time. Not UTC, and
// without summer time: in the hour that clocks go back a local time names two instants.
const TZ = 'Asia/Kolkata';
const password = 'secret-pass-1';

const server = new BankServer();
let browser;

async function shot(page, name) {
  if (!SHOTS) return;
  await page.waitForTimeout(2200); // let the 2 s fade-in finish so the picture is crisp
  await page.screenshot({ path: path.join(SOURCE_DIR, 'docs', 'img', name), fullPage: true });
}

const newPage = (options = {}) => openPage(browser, { width: 1280, height: 900 }, { timezoneId: TZ, ...options });
const gql = (query, variables) => server.gql(query, variables);

before(async () => {
  buildUi();
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server.close();
});

async function login(page, username) {
  await page.goto(`${server.base}/client`);
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.click('#login-button');
  await page.locator('#logged-in-as').filter({ hasText: username }).waitFor({ timeout: WAIT });
  const text = await page.locator('#account-summary').innerText();
  const iban = /Showing transactions from (NL\d{2}OPEN\d{10})/.exec(text)?.[1];
  assert.ok(iban, `no IBAN in "${text}"`);
  return iban;
}

const box = (page, text) => page.locator('#transactions .box.will-fade-in', { hasText: text });

const account = async (u) => (await gql('mutation ($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', { u, p: password })).get_account;

const dep = (u, acc, cents, descr) =>
  gql('mutation ($a: Int!, $u: String!, $t: String!, $to: String!, $d: String!, $id: String!) { money_transfer(amount: $a, username: $u, descr: $d, from: "cash", token: $t, to: $to, uuid: $id) { success reason } }', {
    a: cents,
    u,
    t: acc.token,
    to: acc.iban,
    d: descr,
    id: crypto.randomUUID(),
  }).then((d) => assert.deepEqual(d.money_transfer, { success: true, reason: null }));

const send = (u, acc, to, cents, descr) =>
  gql('mutation ($a: Int!, $u: String!, $t: String!, $f: String!, $to: String!, $d: String!, $id: String!) { money_transfer(amount: $a, username: $u, token: $t, from: $f, to: $to, descr: $d, uuid: $id) { success reason } }', {
    a: cents,
    u,
    t: acc.token,
    f: acc.iban,
    to,
    d: descr,
    id: crypto.randomUUID(),
  }).then((d) => assert.deepEqual(d.money_transfer, { success: true, reason: null }));

/** The `datetime-local` text of an instant in the test browser's time zone, to the second. */
/** A datetime-local value with its seconds, as localInput writes it ("...T12:11" -> "...T12:11:00"). */
function withSeconds(value) {
  return /T\d{2}:\d{2}$/.test(value) ? value + ':00' : value;
}

function localInput(ms) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(ms));
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const eventTypes = (page, list) => page.locator(`${list} .history-event`).evaluateAll((es) => es.map((e) => e.dataset.type));

test('the History view shows the account’s events, what changed and their transfer; a transaction leads to its transfer’s events', async () => {
  const page = await newPage();
  const user = `hist-${uniq()}`;
  const iban = await login(page, user);
  const other = await account(`other-${uniq()}`);
  await page.click('#deposit-10000');
  await page.locator('#balance', { hasText: '€100,00' }).waitFor({ timeout: WAIT });
  await page.fill('#transfer-amount', '12,50');
  await page.fill('#transfer-to', other.iban);
  await page.fill('#transfer-descr', 'e2e history rent');
  await page.click('#transfer-button');
  await page.locator('#transfer-outcomes [data-state="completed"]', { hasText: 'Transfer of €12,50' }).waitFor({ timeout: WAIT });

  await page.click('#tab-history');
  assert.equal(new URL(page.url()).pathname, '/client/history');
  await page.waitForFunction(() => document.title === 'Account history · Client · BKES bank', null, { timeout: WAIT });
  await page.locator('#history-events .history-event').nth(2).waitFor({ timeout: WAIT });
  // Newest first: the transfer's debit, the deposit's credit, and at the bottom the account's creation.
  const types = await eventTypes(page, '#history-events');
  assert.equal(types[0], 'MoneyDebitedEvent', types.join());
  assert.ok(types.includes('MoneyCreditedEvent'), types.join());
  assert.equal(types[types.length - 1], 'BankAccountCreatedEvent', types.join());
  const debit = page.locator('#history-events .history-event').first();
  assert.match(await debit.locator('.event-type').innerText(), /^Money debited$/);
  assert.match(await debit.locator('.event-summary').innerText(), /12,50/);
  assert.match(await debit.locator('time.event-at').getAttribute('datetime'), ISO_TIME);
  // The record as stored: JSON with the schema's field names.
  await debit.locator('.event-data summary').click();
  const record = JSON.parse(await debit.locator('.event-data pre').innerText());
  assert.equal(record.iban, iban);
  assert.equal(Number(record.amount), 1250);
  await shot(page, 'client-history.png');

  // The debit's transfer: its own page with its events, oldest first.
  await debit.locator('.event-transfer').click();
  await page.locator('#transfer-view').waitFor({ timeout: WAIT });
  const uuid = new URL(page.url()).pathname.slice('/transfer/'.length);
  assert.match(uuid, /^[0-9a-f-]{36}$/);
  await page.locator('#transfer-state', { hasText: 'completed' }).waitFor({ timeout: WAIT });
  await page.locator('#transfer-events-list .history-event').first().waitFor({ timeout: WAIT });
  const transferTypes = await eventTypes(page, '#transfer-events-list');
  assert.ok(transferTypes.indexOf('TransferStartedEvent') >= 0, transferTypes.join());
  assert.ok(transferTypes.indexOf('TransferCompletedEvent') > transferTypes.indexOf('TransferStartedEvent'), transferTypes.join());
  await shot(page, 'transfer-events.png');

  // From the transaction list: the transaction's link leads to the same transfer and its events.
  await page.goto(`${server.base}/client`);
  const tx = box(page, 'e2e history rent');
  await tx.waitFor({ timeout: WAIT });
  await tx.locator('.transfer-link').click();
  await page.locator('#transfer-events-list .history-event').first().waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).pathname, `/transfer/${uuid}`);

  // Paging: 25 events a page, older ones on request, down to the account's creation.
  const acc = { iban, token: await page.evaluate(() => JSON.parse(sessionStorage.getItem('bank.login')).token) };
  for (let i = 0; i < 26; i++) await dep(user, acc, 100, `e2e page ${i}`);
  await page.goto(`${server.base}/client/history`);
  await page.locator('#history-events .history-event').nth(24).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#history-events .history-event').count(), 25);
  await page.click('#history-older');
  await page.locator('#history-events .history-event[data-type="BankAccountCreatedEvent"]').waitFor({ timeout: WAIT });
  const orders = await page.locator('#history-events .event-order').allInnerTexts();
  const numbers = orders.map((o) => Number(o.slice(1)));
  assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), 'newest first, no event twice');
  assert.equal(new Set(numbers).size, numbers.length);
  assert.equal(await page.locator('#history-older').count(), 0);
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('time travel: the client and the employee see an account as it was; leaving the control shows it live again', async () => {
  const user = `then-${uniq()}`;
  const acc = await account(user);
  const created = Date.now();
  await sleep(1100);
  await dep(user, acc, 1100, 'e2e then');
  // A moment after the first deposit and before the second, to the second (the control's step).
  const then = Math.ceil((Date.now() + 1) / 1000) * 1000;
  while (Date.now() < then + 300) await sleep(50);
  await dep(user, acc, 2200, 'e2e later');

  const page = await newPage();
  await login(page, user);
  await page.locator('#balance', { hasText: '€33,00' }).waitFor({ timeout: WAIT });
  await box(page, 'e2e later').waitFor({ timeout: WAIT });
  await page.fill('#as-of', localInput(then));
  await page.click('#as-of-apply');
  await page.locator('#balance[data-past="true"]', { hasText: '€11,00' }).waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).searchParams.get('at'), new Date(then).toISOString());
  await box(page, 'e2e then').waitFor({ timeout: WAIT });
  await page.locator('#transactions[data-past="true"]').waitFor();
  assert.equal(await box(page, 'e2e later').count(), 0);
  assert.equal(await page.locator('#as-of-time').getAttribute('datetime'), new Date(then).toISOString());
  // Nothing is sent from the past.
  assert.equal(await page.locator('#transfer-form').count(), 0);
  assert.equal(await page.isDisabled('#deposit-1000'), true);
  await shot(page, 'client-as-of.png');
  // A reload (or a shared link) shows the same moment; what happens now does not show there.
  await page.reload();
  await page.locator('#balance[data-past="true"]', { hasText: '€11,00' }).waitFor({ timeout: WAIT });
  // The browser leaves the seconds out of the control's value when they are :00.
  assert.equal(withSeconds(await page.inputValue('#as-of')), localInput(then));
  await dep(user, acc, 4400, 'e2e now');
  await sleep(1000);
  assert.equal(await box(page, 'e2e now').count(), 0);
  // Back to live: everything, and new transactions arrive again.
  await page.click('#as-of-live');
  await page.locator('#balance[data-past="false"]', { hasText: '€77,00' }).waitFor({ timeout: WAIT });
  await box(page, 'e2e now').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).search, '');
  await dep(user, acc, 100, 'e2e live again');
  await box(page, 'e2e live again').waitFor({ timeout: WAIT });
  // Emptying the control is leaving the past too.
  await page.fill('#as-of', localInput(then));
  await page.click('#as-of-apply');
  await page.locator('#balance[data-past="true"]').waitFor({ timeout: WAIT });
  await page.fill('#as-of', '');
  await page.locator('#balance[data-past="false"]', { hasText: '€78,00' }).waitFor({ timeout: WAIT });
  await page.locator('#transfer-form').waitFor();
  // The future is refused before asking; a moment before the account existed gets the bank's error.
  await page.fill('#as-of', localInput(Date.now() + 3600_000));
  await page.click('#as-of-apply');
  await page.locator('#as-of-help.is-danger', { hasText: 'That moment is in the future' }).waitFor();
  assert.equal(new URL(page.url()).search, '');
  await page.fill('#as-of', localInput(created - 3600_000));
  await page.click('#as-of-apply');
  await page.locator('#transactions .notification.is-warning', { hasText: 'Could not load the transactions:' }).waitFor({ timeout: WAIT });
  await page.locator('#balance', { hasText: 'unknown' }).waitFor({ timeout: WAIT });
  assert.notEqual(await page.locator('#balance-error').innerText(), '');
  await page.click('#as-of-live');
  await page.locator('#balance[data-past="false"]', { hasText: '€78,00' }).waitFor({ timeout: WAIT });
  assertNoConsoleErrors(page);

  // The employee: the same control on a followed account, with the filters, in the address.
  const emp = await newPage();
  await emp.goto(`${server.base}/employee?follow=${acc.iban}`);
  await box(emp, 'e2e live again').waitFor({ timeout: WAIT });
  await emp.fill('#as-of', localInput(then));
  await emp.click('#as-of-apply');
  await emp.locator('#transactions[data-past="true"]').waitFor({ timeout: WAIT });
  await box(emp, 'e2e then').waitFor({ timeout: WAIT });
  assert.equal(await box(emp, 'e2e later').count(), 0);
  const url = new URL(emp.url());
  assert.equal(url.searchParams.get('follow'), acc.iban);
  assert.equal(url.searchParams.get('at'), new Date(then).toISOString());
  await emp.locator('#filter-summary', { hasText: 'As it was then' }).waitFor();
  await emp.click('#as-of-live');
  await box(emp, 'e2e later').waitFor({ timeout: WAIT });
  assert.equal(new URL(emp.url()).searchParams.get('at'), null);
  assertNoConsoleErrors(emp);
  await page.context().close();
  await emp.context().close();
});

/** Records every notification the page creates (the real one is still shown). */
async function recordNotifications(page) {
  await page.addInitScript(() => {
    window.notified = [];
    const Real = window.Notification;
    class Recorded extends Real {
      constructor(title, options) {
        super(title, options);
        window.notified.push({ title, body: options?.body ?? '', tag: options?.tag ?? '' });
      }
    }
    window.Notification = Recorded;
  });
}

const notified = (page) => page.evaluate(() => window.notified);

test('alert rules set in a form; a triggered alert shows in the page and as a browser notification, once', async () => {
  const page = await newPage({ permissions: ['notifications'] });
  await recordNotifications(page);
  const user = `alert-${uniq()}`;
  const iban = await login(page, user);
  const acc = { iban, token: await page.evaluate(() => JSON.parse(sessionStorage.getItem('bank.login')).token) };
  const other = await account(`payee-${uniq()}`);
  await dep(user, acc, 20000, 'e2e funds');

  await page.click('#tab-alerts');
  await page.waitForFunction(() => document.title === 'Alerts · Client · BKES bank', null, { timeout: WAIT });
  await page.locator('#alerts-none').waitFor({ timeout: WAIT });
  await page.locator('#notifications-state[data-state="granted"]').waitFor();
  // A debit above €50, a description containing "rent", and a credit from a mistyped IBAN.
  await page.click('#alert-add');
  await page.fill('#alert-value-0', '50');
  await page.locator('#alert-help-0', { hasText: 'A single debit above €50,00' }).waitFor();
  await page.click('#alert-add');
  await page.selectOption('#alert-kind-1', 'DESCRIPTION_CONTAINS');
  await page.fill('#alert-value-1', 'rent');
  await page.click('#alert-add');
  await page.selectOption('#alert-kind-2', 'CREDIT_FROM');
  await page.fill('#alert-value-2', `${other.iban.slice(0, 17)}x`);
  await page.click('#alerts-save');
  await page.locator('#alerts-invalid').waitFor();
  await page.locator('#alert-help-2.is-danger').waitFor();
  await page.click('#alert-remove-2');
  await page.click('#alerts-save');
  await page.locator('#alerts-outcome[data-ok="true"]', { hasText: 'Saved: 2 alert rules.' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await page.locator('#alerts-saved li').allInnerTexts(), ['A single debit above €50,00', 'A description containing "rent"']);
  // The rules are the bank's: a reload reads them back.
  await page.reload();
  await page.locator('#alert-value-1').waitFor({ timeout: WAIT });
  assert.equal(await page.inputValue('#alert-value-0'), '50,00');
  assert.equal(await page.inputValue('#alert-kind-1'), 'DESCRIPTION_CONTAINS');
  assert.equal(await page.inputValue('#alert-value-1'), 'rent');

  // A debit of €60: one alert, in the page and as a notification.
  await send(user, acc, other.iban, 6000, 'e2e groceries');
  const first = page.locator('#alerts-feed .alert-item').first();
  await first.waitFor({ timeout: WAIT });
  assert.equal(await first.getAttribute('data-kind'), 'DEBIT_ABOVE');
  const message = await first.locator('.alert-message').innerText();
  assert.match(message, /€60,00/);
  assert.match(await first.innerText(), /e2e groceries/);
  await page.waitForFunction(() => window.notified.length === 1, null, { timeout: WAIT });
  assert.equal((await notified(page))[0].body, message);
  assert.match((await notified(page))[0].title, new RegExp(iban));
  await shot(page, 'client-alerts.png');
  // €5 of rent: the description rule; €5 of coffee: nothing; then €70: the debit rule again.
  await send(user, acc, other.iban, 500, 'e2e monthly RENT');
  await send(user, acc, other.iban, 500, 'e2e coffee');
  await send(user, acc, other.iban, 7000, 'e2e big one');
  await page.waitForFunction(() => window.notified.length === 3, null, { timeout: WAIT });
  const kinds = await page.locator('#alerts-feed .alert-item').evaluateAll((es) => es.map((e) => e.dataset.kind));
  assert.deepEqual(kinds, ['DEBIT_ABOVE', 'DESCRIPTION_CONTAINS', 'DEBIT_ABOVE']);
  assert.ok(!(await notified(page)).some((n) => /coffee/.test(n.body)));
  // Exactly once: a reload shows no alert again.
  await page.reload();
  await page.locator('#alerts-form').waitFor({ timeout: WAIT });
  await sleep(1500);
  assert.deepEqual(await notified(page), []);
  assert.equal(await page.locator('#alerts-feed .alert-item').count(), 0);
  // One that triggers while the page is closed shows when it opens again, as a notification too.
  await page.goto('about:blank');
  await send(user, acc, other.iban, 8000, 'e2e while away');
  await page.goto(`${server.base}/client`);
  const away = page.locator('#alerts-feed .alert-item', { hasText: 'While you were away' });
  await away.waitFor({ timeout: WAIT });
  assert.match(await away.innerText(), /e2e while away/);
  await page.waitForFunction(() => window.notified.length === 1, null, { timeout: WAIT });
  // Dismissed, it is gone.
  await away.locator('.delete').click();
  await away.waitFor({ state: 'detached' });
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a user with several accounts opens one and switches between them; they are listed again at the next login', async () => {
  const page = await newPage();
  const user = `multi-${uniq()}`;
  const first = await login(page, user);
  await page.click('#deposit-1000');
  await page.locator('#balance', { hasText: '€10,00' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#account-switcher').count(), 0, 'one account: no switcher');
  // Opening needs the password again; a wrong one is refused.
  await page.click('#open-account');
  await page.fill('#open-account-password', 'wrong-password');
  await page.click('#open-account-button');
  await page.locator('#open-account-reason').waitFor({ timeout: WAIT });
  await page.fill('#open-account-password', password);
  await page.click('#open-account-button');
  await page.locator('#account-opened').waitFor({ timeout: WAIT });
  const second = /NL\d{2}OPEN\d{10}/.exec(await page.locator('#account-opened').innerText())[0];
  assert.notEqual(second, first);
  await page.locator('#account-summary', { hasText: `Showing transactions from ${second}` }).waitFor();
  await page.locator('#balance', { hasText: '€0,00' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await page.locator('#account-switcher option').allInnerTexts(), [first, second]);
  await page.click('#deposit-2000');
  await page.locator('#balance', { hasText: '€20,00' }).waitFor({ timeout: WAIT });
  await shot(page, 'client-accounts.png');
  // Switching shows the other account's balance and transactions.
  await page.selectOption('#account-switcher', first);
  await page.locator('#account-summary', { hasText: `Showing transactions from ${first}` }).waitFor();
  await page.locator('#balance', { hasText: '€10,00' }).waitFor({ timeout: WAIT });
  await box(page, 'deposit by re-graph').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'deposit by re-graph').count(), 1);
  await page.reload();
  await page.locator('#balance', { hasText: '€10,00' }).waitFor({ timeout: WAIT });
  // A new login lists both (accounts(username, password)).
  await page.click('#logout-button');
  await login(page, user);
  await page.locator('#account-switcher').waitFor({ timeout: WAIT });
  assert.deepEqual((await page.locator('#account-switcher option').allInnerTexts()).sort(), [first, second].sort());
  await page.selectOption('#account-switcher', second);
  await page.locator('#balance', { hasText: '€20,00' }).waitFor({ timeout: WAIT });
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('owners are listed and managed on the account; an added owner sees it and sends money from it', async () => {
  const owner = await newPage();
  const userG = `owner-${uniq()}`;
  const iban = await login(owner, userG);
  await owner.click('#deposit-5000');
  await owner.locator('#balance', { hasText: '€50,00' }).waitFor({ timeout: WAIT });
  await owner.click('#tab-owners');
  await owner.waitForFunction(() => document.title === 'Owners · Client · BKES bank', null, { timeout: WAIT });
  await owner.locator(`#owners-list [data-owner="${userG}"]`).waitFor({ timeout: WAIT });
  assert.equal(await owner.locator('#owners-list .owner').count(), 1);
  // A username the bank does not know: the bank's reason.
  await owner.fill('#add-owner-username', `nobody-${uniq()}`);
  await owner.click('#add-owner-button');
  await owner.locator('#owners-outcome[data-ok="false"]', { hasText: 'Not added: ' }).waitFor({ timeout: WAIT });
  const userH = `second-${uniq()}`;
  const own = await account(userH);
  await owner.fill('#add-owner-username', userH);
  await owner.click('#add-owner-button');
  await owner.locator('#owners-outcome[data-ok="true"]', { hasText: `${userH} is now an owner of ${iban}` }).waitFor({ timeout: WAIT });
  await owner.locator(`#owners-list [data-owner="${userH}"]`).waitFor({ timeout: WAIT });
  assert.equal(await owner.inputValue('#add-owner-username'), '');
  await shot(owner, 'client-owners.png');

  // The second owner logs in: both accounts to switch between, and money leaves the shared one.
  const second = await newPage();
  await login(second, userH);
  await second.locator('#account-switcher').waitFor({ timeout: WAIT });
  assert.deepEqual((await second.locator('#account-switcher option').allInnerTexts()).sort(), [own.iban, iban].sort());
  await second.selectOption('#account-switcher', iban);
  await second.locator('#balance', { hasText: '€50,00' }).waitFor({ timeout: WAIT });
  await second.fill('#transfer-amount', '7');
  await second.fill('#transfer-to', own.iban);
  await second.fill('#transfer-descr', 'e2e from the shared account');
  await second.click('#transfer-button');
  await second.locator('#transfer-outcomes [data-state="completed"]', { hasText: 'Transfer of €7,00' }).waitFor({ timeout: WAIT });
  await owner.locator('#tab-transactions').click();
  await owner.locator('#balance', { hasText: '€43,00' }).waitFor({ timeout: WAIT });
  await box(owner, 'e2e from the shared account').waitFor({ timeout: WAIT });

  // Each owner takes only themselves off: the second owner leaves, and sees only their own account.
  await second.click('#tab-owners');
  await second.locator(`#owners-list [data-owner="${userG}"]`).waitFor({ timeout: WAIT });
  assert.equal(await second.locator(`#owners-list [data-owner="${userG}"] button`).count(), 0, 'no button to remove another owner');
  await second.click('#owners-leave');
  await second.locator('#owners-leave-note').waitFor();
  await second.click('#owners-leave');
  await second.locator('#owners-outcome[data-ok="true"]', { hasText: `You are no longer an owner of ${iban}` }).waitFor({ timeout: WAIT });
  await second.locator('#account-summary', { hasText: `Showing transactions from ${own.iban}` }).waitFor({ timeout: WAIT });
  assert.equal(await second.locator('#account-switcher').count(), 0);
  await owner.click('#tab-owners');
  await owner.locator(`#owners-list [data-owner="${userH}"]`).waitFor({ state: 'detached', timeout: WAIT });
  // The last owner cannot leave: the bank's reason.
  await owner.click('#owners-leave');
  await owner.click('#owners-leave');
  await owner.locator('#owners-outcome[data-ok="false"]', { hasText: 'Not removed: ' }).waitFor({ timeout: WAIT });
  await owner.locator(`#owners-list [data-owner="${userG}"]`).waitFor();
  assertNoConsoleErrors(owner);
  assertNoConsoleErrors(second);
  await owner.context().close();
  await second.context().close();
});

test('the employee sees an account’s history with the account’s token', async () => {
  const user = `emphist-${uniq()}`;
  const acc = await account(user);
  await dep(user, acc, 300, 'e2e for the employee');
  const page = await newPage();
  await page.goto(`${server.base}/employee?follow=${acc.iban}`);
  await box(page, 'e2e for the employee').waitFor({ timeout: WAIT });
  await page.click('#tab-history');
  assert.equal(new URL(page.url()).pathname, '/employee/history');
  assert.equal(new URL(page.url()).searchParams.get('follow'), acc.iban);
  await page.waitForFunction(() => document.title === 'Account history · Bank employee · BKES bank', null, { timeout: WAIT });
  await page.locator('#history-needs-token').waitFor({ timeout: WAIT });
  // A wrong token: the bank's refusal; the right one: the events.
  await page.fill('#history-token', '00000000000000000000');
  await page.click('#history-token-use');
  await page.locator('#history-error', { hasText: 'Could not load the history:' }).waitFor({ timeout: WAIT });
  await page.fill('#history-token', acc.token);
  await page.click('#history-token-use');
  await page.locator('#history-events .history-event[data-type="MoneyCreditedEvent"]').waitFor({ timeout: WAIT });
  await page.locator('#history-events .history-event[data-type="BankAccountCreatedEvent"]').waitFor({ timeout: WAIT });
  assert.ok(!page.url().includes(acc.token), 'the token is not in the address');
  await shot(page, 'employee-history.png');
  // "The account at this moment" of an event: the transactions as of that event.
  await page.locator('#history-events .history-event[data-type="MoneyCreditedEvent"] .event-as-of').click();
  await page.locator('#transactions[data-past="true"]').waitFor({ timeout: WAIT });
  await box(page, 'e2e for the employee').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).pathname, '/employee');
  assert.match(new URL(page.url()).searchParams.get('at'), ISO_TIME);
  assertNoConsoleErrors(page, /Failed to load resource/);
  await page.context().close();
});
