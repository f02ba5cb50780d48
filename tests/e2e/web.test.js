// End-to-end test of the web UI in Debian's Chromium (playwright-core), against a real server:
// `$BIN_DIR/bank run --data TMP --listen 127.0.0.1:PORT`, which serves the UI build and the API.
// Flows: new users log in (told when an account was created), deposit, transfer to each other with
// the credit arriving live; the transfer form checks IBANs as they are typed, takes amounts as the
// page shows them, counts the description, keeps its values when a transfer fails or never reaches
// the bank; transactions show their time, a minus sign for debits and a link to their transfer;
// notices can be dismissed; the login survives a reload; focus moves after login and logout; the
// employee view's account list (sorted, searchable, steady), filters with one meaning, N matching
// transactions, state kept in the address; empty states; an unknown path; a phone-sized screen;
// sending is off while the server is away; the UI under a strict Content-Security-Policy.
//
// Env: see e2e/web/harness.js; UPDATE_SCREENSHOTS=1 writes docs/img/*.png.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { SOURCE_DIR, DEV, WAIT, BankServer, buildUi, launchBrowser, newPage: openPage, assertNoConsoleErrors, uniq } = require('./web/harness');

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const COMPANY = 'NL66OPEN0000000000';
const OVERDRAFT = 'insufficient funds would be below the limit of €-500,00';
const UNKNOWN_IBAN = 'NL61OPEN0305797828'; // valid check digits, no such account
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const server = new BankServer();
let browser;

async function shot(page, name) {
  if (!SHOTS) return;
  await page.waitForTimeout(2200); // let the 2 s fade-in finish so the picture is crisp
  await page.screenshot({ path: path.join(SOURCE_DIR, 'docs', 'img', name), fullPage: true });
}

const newPage = (viewport, options) => openPage(browser, viewport, options);
const gql = (query, variables) => server.gql(query, variables);

async function login(page, username, password) {
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

function box(page, text) {
  return page.locator('#transactions .box.will-fade-in', { hasText: text });
}

const focused = (page) => page.evaluate(() => document.activeElement?.id ?? '');

const account = async (u) => (await gql('mutation ($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }', { u, p: password })).get_account;

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

before(async () => {
  buildUi();
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server.close();
});

const userA = `alice-${uniq()}`;
const userB = `bobbie-${uniq()}`;
const password = 'secret-pass-1';
let ibanA;
let ibanB;
let pageA;
let pageB;

test('home shows the company account live and describes this system', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/`);
  await page.getByText('Showing transactions from the company account.').waitFor({ timeout: WAIT });
  assert.equal(await page.title(), 'Home · BKES bank');
  const intro = await page.locator('#left-column').innerText();
  assert.match(intro, /event-sourced bank/);
  assert.match(intro, /written in C/);
  assert.doesNotMatch(intro, /kafka|clojure/i);
  await page.locator('#nav-bar').waitFor();
  assert.equal(await page.locator('#flex-main-menu .navbar-item').allInnerTexts().then((t) => t.join('|')), 'Bank-employee|Client');
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  assert.match(await box(page, 'initial funds').innerText(), /#1\b/);
  for (const n of [5, 10, 25, 50, 100, 250]) await page.locator(`#max-items-${n}`).waitFor();
  assert.ok(await page.locator('#max-items-10').evaluate((e) => e.classList.contains('is-success')));
  for (const l of ['own account', 'new balance', 'debit/credit', 'other account', 'amount changed', 'description']) {
    await page.locator(`[id="show-argument-${l}"]`).waitFor();
  }
  // Icons are inline SVG: no icon font is loaded.
  assert.ok((await page.locator('#nav-bar svg').count()) >= 4);
  await shot(page, 'home.png');
  // A field toggle takes the field out of the list, and back; the choice survives a reload.
  await page.click('[id="show-argument-description"]');
  await page.locator('#transactions .descr').first().waitFor({ state: 'detached', timeout: WAIT });
  await page.reload();
  await box(page, 'cash').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#transactions .descr').count(), 0);
  assert.equal(await page.getAttribute('[id="show-argument-description"]', 'aria-pressed'), 'false');
  await page.click('[id="show-argument-description"]');
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('each view has its own title, and an unknown path offers the way home', async () => {
  const page = await newPage();
  for (const [p, title] of [
    ['/employee', 'Bank employee · BKES bank'],
    ['/client', 'Client · BKES bank'],
    ['/no/such/page', 'Page not found · BKES bank'],
  ]) {
    await page.goto(`${server.base}${p}`);
    await page.waitForFunction((t) => document.title === t, title, { timeout: WAIT });
  }
  await page.getByText('There is no page at /no/such/page.').waitFor();
  assert.equal(await page.locator('#left-column').innerText(), '');
  await shot(page, 'not-found.png');
  await page.click('#not-found-home');
  await page.getByText('Showing transactions from the company account.').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.title(), 'Home · BKES bank');
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a new user logs in with the keyboard alone, lands on the account, and deposits', async () => {
  pageA = await newPage();
  await pageA.goto(`${server.base}/client`);
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
    if ((await focused(pageA)) === 'login-username') break;
  }
  assert.equal(await focused(pageA), 'login-username', 'Tab never reached the username field');
  await pageA.keyboard.type(userA);
  await pageA.keyboard.press('Tab');
  await pageA.keyboard.type(password);
  await pageA.keyboard.press('Enter');
  await pageA.locator('#logged-in-as').filter({ hasText: userA }).waitFor({ timeout: WAIT });
  // The focus moves to the account the user just opened, not back to the top of the page.
  await pageA.waitForFunction(() => document.activeElement?.id === 'account-summary', null, { timeout: WAIT });
  ibanA = /NL\d{2}OPEN\d{10}/.exec(await pageA.locator('#account-summary').innerText())?.[0];
  assert.ok(ibanA);
  await pageA.locator('#balance', { hasText: '€0,00' }).waitFor({ timeout: WAIT });
  // An empty account says so instead of showing a blank area.
  await pageA.locator('#transactions-empty', { hasText: 'No transactions yet.' }).waitFor({ timeout: WAIT });
  for (const c of [1000, 2000, 5000, 10000, 20000, 50000]) {
    assert.equal(await pageA.locator(`#deposit-${c}`).innerText(), `deposit ${c / 100} euro`);
  }
  // Two clicks on the same button are two deposits (a fresh uuid each time).
  await pageA.click('#deposit-10000');
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: 'Deposit of €100,00 completed.' }).first().waitFor({ timeout: WAIT });
  await pageA.click('#deposit-10000');
  await pageA.locator('#transfer-outcomes [data-state="completed"]').nth(1).waitFor({ timeout: WAIT });
  await pageA.locator('#balance', { hasText: '€200,00' }).waitFor({ timeout: WAIT });
  // The balance and the list are two subscriptions: wait for the list's second row too.
  await box(pageA, 'deposit by re-graph').nth(1).waitFor({ timeout: WAIT });
  assert.equal(await box(pageA, 'deposit by re-graph').count(), 2);
  assert.equal(await pageA.locator('#transactions-empty').count(), 0);
});

test('a username seen for the first time is told that a new account was created', async () => {
  // Needs AccountResult.created from the server.
  const page = await newPage();
  const user = `newbie-${uniq()}`;
  const iban = await login(page, user, password);
  const notice = page.locator('#account-created');
  await notice.waitFor({ timeout: WAIT });
  assert.match(await notice.innerText(), new RegExp(`this username was new, so the bank created it with a new account, ${iban}`));
  await notice.locator('.delete').click();
  await notice.waitFor({ state: 'detached' });
  // Logging in again with the same username opens the same account, without the notice.
  await page.click('#logout-button');
  assert.equal(await login(page, user, password), iban);
  await page.locator('#balance', { hasText: '€0,00' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#account-created').count(), 0);
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('the transfer form checks the IBAN as it is typed, takes amounts as the page shows them, and counts the description', async () => {
  pageB = await newPage();
  ibanB = await login(pageB, userB, password);
  assert.notEqual(ibanA, ibanB);
  const help = (field) => pageA.locator(`#transfer-${field}-help`);
  const spaced = ibanB.replace(/(.{4})/g, '$1 ').toLowerCase();
  await pageA.fill('#transfer-amount', '12,34');
  await pageA.fill('#transfer-descr', 'e2e rent');
  // Typing: how many characters are still missing, without calling it an error.
  await pageA.fill('#transfer-to', spaced.slice(0, 9));
  await help('to').filter({ hasText: 'NL IBANs have 18 characters: 10 more to type' }).waitFor();
  assert.equal(await help('to').evaluate((e) => e.classList.contains('is-danger')), false);
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  // One wrong digit: the check digits catch it.
  const wrong = ibanB.slice(0, 17) + String((Number(ibanB[17]) + 1) % 10);
  await pageA.fill('#transfer-to', wrong);
  await help('to').filter({ hasText: 'The check digits do not match: a character is mistyped' }).waitFor();
  assert.equal(await help('to').evaluate((e) => e.classList.contains('is-danger')), true);
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  await pageA.fill('#transfer-to', `${ibanB}7`);
  await help('to').filter({ hasText: 'NL IBANs have 18 characters, this has 19' }).waitFor();
  await pageA.fill('#transfer-to', ibanA);
  await help('to').filter({ hasText: 'That is your own account' }).waitFor();
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  // Spaces and lower case are fine.
  await pageA.fill('#transfer-to', spaced);
  await help('to').filter({ hasText: `Valid IBAN: ${ibanB.replace(/(.{4})(?=.)/g, '$1 ')}` }).waitFor();
  assert.equal(await pageA.isDisabled('#transfer-button'), false);
  // Amounts: Dutch thousands as the page shows them; an ambiguous 1.234 says how to write it.
  await pageA.fill('#transfer-amount', '1.000,00');
  await help('amount').filter({ hasText: '€1.000,00' }).waitFor();
  await pageA.fill('#transfer-amount', '€ 1.234,56');
  await help('amount').filter({ hasText: '€1.234,56' }).waitFor();
  await pageA.fill('#transfer-amount', '1.234');
  await help('amount').filter({ hasText: 'At most 2 decimals (whole cents). For thousands write 1.234,00' }).waitFor();
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  // The description: a counter against the server's limit of 256 bytes.
  await help('descr').filter({ hasText: '8/256 characters' }).waitFor();
  await pageA.fill('#transfer-descr', 'Éclair');
  await help('descr').filter({ hasText: '7/256 (an accented letter counts as 2)' }).waitFor();
  await pageA.fill('#transfer-descr', 'x'.repeat(257));
  await help('descr').filter({ hasText: '257/256 — too long: the bank takes at most 256' }).waitFor();
  await pageA.fill('#transfer-amount', '12,34');
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  await pageA.fill('#transfer-descr', 'e2e rent');
  assert.equal(await pageA.isDisabled('#transfer-button'), false);
  assertNoConsoleErrors(pageA);
});

test('a transfer reaches the second user live, with exact cents; debits show a minus sign', async () => {
  // The form still holds 12,34 to B's IBAN typed in lower case with spaces, "e2e rent".
  await pageA.click('#transfer-button');
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: `Transfer of €12,34 to ${ibanB} completed.` }).waitFor({ timeout: WAIT });
  const debit = box(pageA, 'e2e rent');
  await debit.waitFor({ timeout: WAIT });
  assert.equal(await debit.locator('.changed-by').innerText(), '€-12,34');
  await pageA.locator('#balance', { hasText: '€187,66' }).waitFor({ timeout: WAIT });
  // B never reloads: the credit arrives over the subscription, without a sign.
  const credit = box(pageB, 'e2e rent');
  await credit.waitFor({ timeout: WAIT });
  assert.equal(await credit.locator('.changed-by').innerText(), '€12,34');
  assert.match(await credit.innerText(), new RegExp(ibanA));
  await pageB.locator('#balance', { hasText: '€12,34' }).waitFor({ timeout: WAIT });
  // A completed transfer clears the form for the next one.
  for (const f of ['amount', 'to', 'descr']) assert.equal(await pageA.inputValue(`#transfer-${f}`), '', `#transfer-${f} is cleared`);
});

test('transactions show their time and link to their transfer', async () => {
  // Needs Transaction.at and Transaction.transfer from the server.
  const debit = box(pageA, 'e2e rent');
  const time = debit.locator('time.transaction-at');
  await time.waitFor({ timeout: WAIT });
  const at = await time.getAttribute('datetime');
  assert.match(at, ISO_TIME);
  assert.ok(Math.abs(Date.now() - Date.parse(at)) < 10 * 60 * 1000, `the time ${at} is not now`);
  // "4 Dec 2026, 10:30:05": CLDR shortens September to "Sept", so three or four letters.
  const shown = await time.innerText();
  assert.match(shown, /^\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2}:\d{2}$/);
  const expected = await pageA.evaluate((iso) => new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso)), at);
  assert.equal(shown, expected, 'the transaction\'s own time, in the browser\'s zone');
  await debit.locator('.transfer-link').click();
  await pageA.locator('#transfer-view').waitFor({ timeout: WAIT });
  assert.match(new URL(pageA.url()).pathname, /^\/transfer\/[0-9a-f-]{36}$/);
  assert.match(await pageA.title(), /^Transfer [0-9a-f]{8} · BKES bank$/);
  await pageA.locator('#transfer-state', { hasText: 'completed' }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.locator('#transfer-amount-value').innerText(), '€12,34');
  assert.equal(await pageA.locator('#transfer-from').innerText(), ibanA);
  assert.equal(await pageA.locator('#transfer-to-value').innerText(), ibanB);
  assert.equal(await pageA.locator('#transfer-descr-value').innerText(), 'e2e rent');
  await shot(pageA, 'transfer.png');
  await pageA.goBack();
  await box(pageA, 'e2e rent').waitFor({ timeout: WAIT });
  assertNoConsoleErrors(pageA);
});

test('the transfer page of an unknown uuid says the bank does not know it', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/transfer/${crypto.randomUUID()}`);
  await page.locator('#transfer-unknown', { hasText: 'The bank does not know a transfer with this uuid.' }).waitFor({ timeout: WAIT });
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a failed transfer keeps the form; notices can be dismissed and leave the list in view', async () => {
  const fill = async (amount, to, descr) => {
    await pageA.fill('#transfer-amount', amount);
    await pageA.fill('#transfer-to', to);
    await pageA.fill('#transfer-descr', descr);
  };
  await fill('1.000,00', ibanB, 'too much');
  await pageA.click('#transfer-button');
  const failed = pageA.locator('#transfer-outcomes [data-state="failed"]', { hasText: OVERDRAFT });
  await failed.waitFor({ timeout: WAIT });
  assert.ok(await failed.evaluate((e) => e.classList.contains('is-warning')));
  assert.equal(await pageA.inputValue('#transfer-amount'), '1.000,00');
  assert.equal(await pageA.inputValue('#transfer-to'), ibanB);
  assert.equal(await pageA.inputValue('#transfer-descr'), 'too much');
  await pageA.locator('#balance', { hasText: '€187,66' }).waitFor({ timeout: WAIT });
  assert.equal(await box(pageA, 'too much').count(), 0);
  // A valid but unknown IBAN: debited, then returned, and the reason is shown.
  await fill('1,5', UNKNOWN_IBAN, 'to nobody');
  await pageA.locator('#transfer-amount-help', { hasText: '€1,50' }).waitFor();
  await pageA.click('#transfer-button');
  await pageA.locator('#transfer-outcomes [data-state="failed"]', { hasText: `Transfer of €1,50 to ${UNKNOWN_IBAN} failed: iban not known` }).waitFor({ timeout: WAIT });
  await box(pageA, 'because iban not known').waitFor({ timeout: WAIT });
  assert.equal(await box(pageA, 'to nobody').locator('.changed-by').innerText(), '€-1,50');
  await pageA.locator('#balance', { hasText: '€187,66' }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.inputValue('#transfer-descr'), 'to nobody');
  // Many outcomes: at most 3 notices, and the list stays on the screen.
  for (const balance of ['€197,66', '€207,66', '€217,66']) {
    await pageA.click('#deposit-1000');
    await pageA.locator('#balance', { hasText: balance }).waitFor({ timeout: WAIT });
  }
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: 'Deposit of €10,00 completed.' }).nth(2).waitFor({ timeout: WAIT });
  assert.equal(await pageA.locator('#transfer-outcomes .notification').count(), 3);
  const top = await pageA.locator('#transactions').evaluate((e) => e.getBoundingClientRect().top + window.scrollY);
  assert.ok(top < 740, `the list starts ${top}px down the page: little of it shows on an 800px screen`);
  await shot(pageA, 'client-logged-in.png');
  // Each notice can be dismissed.
  const first = pageA.locator('#transfer-outcomes .notification').first();
  const id = await first.getAttribute('id');
  await first.locator('.delete').click();
  await pageA.locator(`[id="${id}"]`).waitFor({ state: 'detached' });
  assert.equal(await pageA.locator('#transfer-outcomes .notification').count(), 2);
  await fill('', '', '');
  assertNoConsoleErrors(pageA);
});

test('a transfer that never reached the bank says so plainly and keeps the form', async () => {
  // The browser loses the money_transfer request on its way; the UI then asks transfer(uuid),
  // which the bank answers with null: it never received it.
  const lose = (route) => (/money_transfer/.test(route.request().postData() ?? '') ? route.abort('connectionreset') : route.continue());
  await pageA.route('**/api', lose);
  await pageA.fill('#transfer-amount', '2');
  await pageA.fill('#transfer-to', ibanB);
  await pageA.fill('#transfer-descr', 'e2e lost');
  await pageA.click('#transfer-button');
  const pending = pageA.locator('#transfer-outcomes [data-state="pending"]', { hasText: 'Transfer of €2,00' });
  await pending.waitFor({ timeout: WAIT });
  assert.equal(await pageA.isDisabled('#transfer-amount'), true, 'the form waits for the answer');
  const lost = pageA.locator('#transfer-outcomes [data-state="not-received"]', { hasText: `Transfer of €2,00 to ${ibanB} never reached the bank: nothing was done, you can send it again.` });
  await lost.waitFor({ timeout: 30000 });
  assert.ok(await lost.evaluate((e) => e.classList.contains('is-warning')));
  assert.equal(await pageA.inputValue('#transfer-amount'), '2');
  assert.equal(await pageA.inputValue('#transfer-descr'), 'e2e lost');
  assert.equal(await box(pageA, 'e2e lost').count(), 0);
  await pageA.locator('#balance', { hasText: '€217,66' }).waitFor();
  // Sending it again works, once.
  await pageA.unroute('**/api', lose);
  await pageA.click('#transfer-button');
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: `Transfer of €2,00 to ${ibanB} completed.` }).waitFor({ timeout: WAIT });
  await pageA.locator('#balance', { hasText: '€215,66' }).waitFor({ timeout: WAIT });
  await box(pageA, 'e2e lost').first().waitFor({ timeout: WAIT });
  assert.equal(await box(pageA, 'e2e lost').count(), 1);
  assertNoConsoleErrors(pageA, /Failed to load resource|ERR_CONNECTION_RESET/);
  pageA.consoleErrors.length = 0;
});

test('the login survives a reload; logout and a wrong password put the focus where it helps', async () => {
  await pageA.reload();
  await pageA.locator('#logged-in-as').filter({ hasText: userA }).waitFor({ timeout: WAIT });
  await box(pageA, 'e2e rent').waitFor({ timeout: WAIT });
  await pageA.click('#logout-button');
  await pageA.locator('#login-form').waitFor({ timeout: WAIT });
  await pageA.getByText('After login transactions will show here.').waitFor();
  assert.equal(await pageA.locator('#transactions').count(), 0);
  await pageA.waitForFunction(() => document.activeElement?.id === 'login-username', null, { timeout: WAIT });
  await pageA.reload();
  await pageA.locator('#login-form').waitFor({ timeout: WAIT });
  // A wrong password shows the bank's reason, keeps the username and asks for the password again.
  await pageA.fill('#login-username', userA);
  await pageA.fill('#login-password', 'wrong-password');
  await pageA.click('#login-button');
  await pageA.locator('#login-form .notification.is-warning', { hasText: 'invalid password' }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.inputValue('#login-username'), userA);
  assert.equal(await pageA.inputValue('#login-password'), '');
  assert.equal(await focused(pageA), 'login-password');
  await pageA.keyboard.type(password);
  await pageA.keyboard.press('Enter');
  await pageA.locator('#logged-in-as').filter({ hasText: userA }).waitFor({ timeout: WAIT });
  assertNoConsoleErrors(pageA);
  assertNoConsoleErrors(pageB);
});

test('the employee account list is sorted by account number, searchable, and keeps its place', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/employee`);
  await page.getByText('Select an account from the first column to follow the transactions.').waitFor({ timeout: WAIT });
  for (const iban of [COMPANY, ibanA, ibanB]) await page.locator('#accounts button', { hasText: iban }).waitFor({ timeout: WAIT });
  const listed = () => page.locator('#accounts-listed button').allInnerTexts();
  const before = await listed();
  assert.equal(before[0], COMPANY, 'the company account (number 0000000000) comes first');
  const numbers = before.map((i) => i.slice(8));
  assert.deepEqual(numbers, [...numbers].sort(), 'sorted by account number');
  await page.locator('#accounts-count', { hasText: 'by account number' }).waitFor();
  // Search by part of the number, with spaces as printed.
  await page.fill('#account-search', ibanB.slice(8, 12) + ' ' + ibanB.slice(12, 16));
  assert.deepEqual(await listed(), [ibanB]);
  await page.fill('#account-search', 'NL00NOSUCH');
  await page.locator('#accounts-no-match').waitFor();
  await page.fill('#account-search', '');
  // A new account appears at the top; the sorted list does not move.
  const userC = `carl-${uniq()}`;
  const c2 = await account(userC);
  await dep(userC, c2, 700, 'e2e live');
  await page.locator('#accounts-arrived button', { hasText: c2.iban }).waitFor({ timeout: WAIT });
  assert.deepEqual(await listed(), before);
  // Following from the arrivals works like any other.
  await page.locator('#accounts-arrived button', { hasText: c2.iban }).click();
  await page.getByText(`You currently follow ${c2.iban}`).waitFor({ timeout: WAIT });
  await box(page, 'e2e live').waitFor({ timeout: WAIT });
  // A filter nothing matches: the list says so.
  await page.fill('#filter-descr', 'no such words');
  await page.click('#filter-apply');
  await page.locator('#transactions-empty', { hasText: 'No transactions match these filters.' }).waitFor({ timeout: WAIT });
  // After a reload the arrival has its place in the sorted list.
  await page.reload();
  await page.locator('#accounts-listed button', { hasText: c2.iban }).waitFor({ timeout: WAIT });
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('the employee follows an account with filters that mean the amount moved, kept across a reload', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/employee`);
  await page.locator('#accounts button', { hasText: ibanB }).click();
  await page.getByText(`You currently follow ${ibanB}`).waitFor({ timeout: WAIT });
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  assert.ok(await page.locator('#accounts button', { hasText: ibanB }).evaluate((e) => e.classList.contains('is-info')));
  assert.equal(new URL(page.url()).searchParams.get('follow'), ibanB);
  const b = await account(userB);
  await dep(userB, b, 700, 'e2e live');
  await box(page, 'e2e live').waitFor({ timeout: WAIT });
  // Each check sends a transaction the filter must drop, then one it must let through: the
  // stream is ordered, so once the second is shown the first would have been shown already.
  await page.selectOption('#filter-direction', 'DEBIT');
  await page.click('#filter-apply');
  await box(page, 'e2e rent').waitFor({ state: 'detached', timeout: WAIT });
  assert.equal(await box(page, 'e2e live').count(), 0);
  await dep(userB, b, 500, 'e2e credit hidden');
  await send(userB, b, ibanA, 100, 'e2e back');
  await box(page, 'e2e back').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e credit hidden').count(), 0);
  await page.click('#filter-clear');
  // At least €10 moved: a debit of €15 passes (it moved 15), a debit of €1 and a credit of €7 do not.
  await send(userB, b, ibanA, 1500, 'e2e big debit');
  await page.fill('#filter-min', '10');
  await page.click('#filter-apply');
  await box(page, 'e2e live').waitFor({ state: 'detached', timeout: WAIT });
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  await box(page, 'e2e big debit').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e big debit').locator('.changed-by').innerText(), '€-15,00');
  assert.equal(await box(page, 'e2e back').count(), 0, 'a debit of €1,00 moved less than €10');
  await send(userB, b, ibanA, 999, 'e2e small debit');
  await send(userB, b, ibanA, 1000, 'e2e ten debit');
  await box(page, 'e2e ten debit').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e small debit').count(), 0);
  // At most €10 moved, and the reload keeps the followed account and the filters.
  await page.fill('#filter-min', '');
  await page.fill('#filter-max', '10');
  await page.click('#filter-apply');
  await box(page, 'e2e rent').waitFor({ state: 'detached', timeout: WAIT });
  await box(page, 'e2e small debit').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).searchParams.get('max'), '1000');
  await page.reload();
  await page.getByText(`You currently follow ${ibanB}`).waitFor({ timeout: WAIT });
  await box(page, 'e2e small debit').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e rent').count(), 0);
  assert.equal(await page.inputValue('#filter-max'), '10,00');
  // The description, ignoring case.
  await page.click('#filter-clear');
  await page.fill('#filter-descr', 'RENT');
  await page.click('#filter-apply');
  await box(page, 'e2e small debit').waitFor({ state: 'detached', timeout: WAIT });
  await box(page, 'e2e rent').waitFor({ timeout: WAIT });
  await dep(userB, b, 100, 'e2e other');
  await dep(userB, b, 100, 'e2e CURRENT month');
  await box(page, 'e2e CURRENT month').waitFor({ timeout: WAIT });
  assert.equal(await box(page, 'e2e other').count(), 0);
  await page.click('#filter-clear');
  await box(page, 'e2e other').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).search, `?follow=${ibanB}`);
  await page.click('[id="max-items-5"]');
  await page.waitForFunction(() => document.querySelectorAll('#transactions .box.will-fade-in').length === 5, null, { timeout: WAIT });
  await shot(page, 'employee.png');
  await page.click('[id="max-items-10"]');
  await page.locator('#middle-column .notification.is-success .delete').click();
  await page.getByText('Select an account from the first column to follow the transactions.').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#transactions').count(), 0);
  assert.equal(new URL(page.url()).search, '');
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a filtered list shows the N newest matching transactions, not the matches among the last N', async () => {
  // Needs transactions_by_iban to filter on the server.
  const userD = `dora-${uniq()}`;
  const d = await account(userD);
  for (let i = 1; i <= 6; i++) await dep(userD, d, 100 * i, `e2e éclair ${i}`);
  for (let i = 1; i <= 6; i++) await dep(userD, d, 100, `e2e plain ${i}`);
  const page = await newPage();
  await page.goto(`${server.base}/employee?follow=${d.iban}&descr=%C3%89CLAIR`);
  await page.getByText(`You currently follow ${d.iban}`).waitFor({ timeout: WAIT });
  await page.click('[id="max-items-5"]');
  await page.waitForFunction(() => document.querySelectorAll('#transactions .box.will-fade-in').length === 5, null, { timeout: WAIT });
  const texts = await page.locator('#transactions .box.will-fade-in .descr').allInnerTexts();
  assert.deepEqual(texts, ['e2e éclair 6', 'e2e éclair 5', 'e2e éclair 4', 'e2e éclair 3', 'e2e éclair 2']);
  // Amount bounds on the server too: at least €3, at most €5 moved.
  await page.goto(`${server.base}/employee?follow=${d.iban}&min=300&max=500`);
  await page.waitForFunction(() => document.querySelectorAll('#transactions .box.will-fade-in').length === 3, null, { timeout: WAIT });
  assert.deepEqual(await page.locator('#transactions .box.will-fade-in .descr').allInnerTexts(), ['e2e éclair 5', 'e2e éclair 4', 'e2e éclair 3']);
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('a phone-sized screen gets the burger menu and stacked columns', async () => {
  const page = await newPage({ width: 390, height: 844 });
  await page.goto(`${server.base}/client`);
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

test('the UI keeps working under a strict Content-Security-Policy', async () => {
  // The policy a server can send with the UI: no inline scripts or styles, nothing but 'self'.
  const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  const page = await newPage();
  await page.route('**/*', async (route) => {
    if (route.request().resourceType() !== 'document') return route.continue();
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': CSP } });
  });
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sample}`));
  });
  await page.goto(`${server.base}/`);
  await box(page, 'initial funds').waitFor({ timeout: WAIT });
  await login(page, userB, password);
  await box(page, 'e2e').first().waitFor({ timeout: WAIT });
  await page.fill('#transfer-amount', '1');
  await page.fill('#transfer-to', 'nl');
  await page.goto(`${server.base}/employee?follow=${ibanA}`);
  await box(page, 'e2e').first().waitFor({ timeout: WAIT });
  await page.goto(`${server.base}/nowhere`);
  await page.locator('#not-found').waitFor();
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  assert.ok(await page.evaluate(() => document.fonts.check('16px Raleway')), 'the Raleway font loaded');
  assertNoConsoleErrors(page);
  await page.context().close();
});

test('with the server down, sending is off and says why; the banner comes and goes', async () => {
  await pageA.goto(`${server.base}/client`);
  await box(pageA, 'e2e').first().waitFor({ timeout: WAIT });
  await pageA.fill('#transfer-amount', '3');
  await pageA.fill('#transfer-to', ibanB);
  await pageA.fill('#transfer-descr', 'e2e offline');
  // Sending is on once the page's socket is up and the form checks out (not at once after load).
  await pageA.locator('#transfer-button:enabled').waitFor({ timeout: WAIT });
  await server.stop();
  await pageA.getByText('Connection to the server lost, reconnecting…').waitFor({ timeout: WAIT });
  await pageA.locator('#transfer-offline', { hasText: 'No connection to the bank: sending is off until it is back.' }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.isDisabled('#transfer-button'), true);
  assert.equal(await pageA.isDisabled('#deposit-1000'), true);
  assert.equal(await pageA.inputValue('#transfer-descr'), 'e2e offline', 'the form keeps its values');
  // "Connected again" shows for a few seconds from the moment the socket is back, which may be
  // before /healthz answers: watch for it from the start.
  const restored = pageA.getByText('Connected again').waitFor({ timeout: 60000 });
  await server.start();
  await restored;
  await pageA.locator('#transfer-offline').waitFor({ state: 'detached', timeout: WAIT });
  assert.equal(await pageA.isDisabled('#deposit-1000'), false);
  // (The development stand-in forgets every account when it restarts; `bank run` keeps them.)
  if (DEV) return;
  await pageA.click('#transfer-button');
  await pageA.locator('#transfer-outcomes [data-state="completed"]', { hasText: `Transfer of €3,00 to ${ibanB} completed.` }).waitFor({ timeout: WAIT });
  await box(pageA, 'e2e offline').waitFor({ timeout: WAIT });
  assertNoConsoleErrors(pageA, /Failed to load resource|ERR_CONNECTION_REFUSED|WebSocket connection/);
});
