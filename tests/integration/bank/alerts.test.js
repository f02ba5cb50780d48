// Issue 15, alerts, through the GraphQL API only: set_alerts (every bad input refused with a clear
// error, changing nothing), alerts, stream_alerts and alerts_since: one alert per transaction and
// rule, the same in the live stream and in alerts_since, with per-account ids 1, 2, ...; across a
// kill -9 and a restart no alert is delivered twice and none is lost; with two projectors on NATS
// each alert reaches a subscriber once. Runs on `bank run` and on the split roles over NATS.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./helpers');

const NATS = process.env.BANK_E2E_TOPOLOGY === 'nats';
const RULE = 'kind amount_cents iban word';
const SET = `mutation($i: String!, $t: String!, $r: [AlertRuleInput!]!) { set_alerts(iban: $i, token: $t, rules: $r) { ${RULE} } }`;
const RULES = `query($i: String!, $t: String!) { alerts(iban: $i, token: $t) { ${RULE} } }`;
const ALERT = 'id kind message transaction { id iban changed_by direction descr from_to new_balance transfer }';
const SINCE = `query($i: String!, $t: String!, $a: Int!) { alerts_since(iban: $i, token: $t, after_id: $a) { ${ALERT} } }`;

let bank;
before(async () => {
  bank = await h.startBank();
});
after(async () => {
  await bank.stop();
});

function errorOf(r) {
  assert.ok(r.errors && r.errors.length, 'expected an error, got ' + JSON.stringify(r.data));
  return r.errors[0].message;
}

async function setRules(url, u, rules) {
  return h.post(url, SET, { i: u.iban, t: u.token, r: rules });
}

async function since(url, u, after = 0) {
  return (await h.gql(url, SINCE, { i: u.iban, t: u.token, a: after })).alerts_since;
}

// Subscribes to stream_alerts; resolves once the server registered the subscription (unless
// `registered` is false: a refused one never is).
async function streamAlerts(b, client, u, { registered = true } = {}) {
  const before = await h.metric(b.url, 'graphql_subscriptions_active');
  const sub = { items: [], errors: [], done: false };
  sub.unsubscribe = client.subscribe(
    { query: `subscription($i: String!, $t: String!) { stream_alerts(iban: $i, token: $t) { ${ALERT} } }`, variables: { i: u.iban, t: u.token } },
    {
      next: (v) => (v.errors ? sub.errors.push(v.errors) : sub.items.push(v.data.stream_alerts)),
      error: (e) => sub.errors.push(e),
      complete: () => (sub.done = true),
    },
  );
  if (registered) await h.waitFor(async () => (await h.metric(b.url, 'graphql_subscriptions_active')) > before, 'the subscription to register');
  return sub;
}

async function pay(url, from, to, amount, descr) {
  const r = await h.transfer(url, { username: from.username, token: from.token, amount, from: from.iban, to: to.iban, descr });
  assert.equal(r.success, true, r.reason);
}

test('set_alerts: every bad input is a clear error and changes nothing', async () => {
  const u = await h.newUserProjected(bank.url, 'alert-bad');
  const other = await h.newUserProjected(bank.url, 'alert-other');
  const good = [{ kind: 'DEBIT_ABOVE', amount_cents: 500 }];
  assert.equal((await setRules(bank.url, u, good)).errors, undefined);
  const cases = [
    [Array.from({ length: 21 }, (_, i) => ({ kind: 'DEBIT_ABOVE', amount_cents: i })), 'too many alert rules: at most 20'],
    [[{ kind: 'DEBIT_ABOVE' }], 'alert rule 1: DEBIT_ABOVE needs amount_cents'],
    [[{ kind: 'BALANCE_BELOW', amount_cents: 0 }, { kind: 'CREDIT_FROM' }], 'alert rule 2: CREDIT_FROM needs iban'],
    [[{ kind: 'DESCRIPTION_CONTAINS' }], 'alert rule 1: DESCRIPTION_CONTAINS needs word'],
    [[{ kind: 'DESCRIPTION_CONTAINS', word: '' }], 'alert rule 1: word should have 1 to 32 bytes'],
    [[{ kind: 'DESCRIPTION_CONTAINS', word: 'x'.repeat(33) }], 'alert rule 1: word should have 1 to 32 bytes'],
    [[{ kind: 'DEBIT_ABOVE', amount_cents: 12.5 }], 'alert rule 1: amount_cents should be a whole number'],
    [[{ kind: 'DEBIT_ABOVE', amount_cents: -1 }], 'alert rule 1: amount_cents should be 0 to 1000000000000000'],
    [[{ kind: 'DEBIT_ABOVE', amount_cents: 1e300 }], 'alert rule 1: amount_cents should be 0 to 1000000000000000'],
    [[{ kind: 'BALANCE_BELOW', amount_cents: -1e16 }], 'alert rule 1: amount_cents should be -1000000000000000 to 1000000000000000'],
    [[{ kind: 'CREDIT_FROM', iban: 'NL66OPEN0000000001' }], 'alert rule 1: iban is not a valid IBAN: the check digits do not match'],
    [[{ kind: 'CREDIT_FROM', iban: 'x'.repeat(100) }], 'alert rule 1: iban is not a valid IBAN: there are no IBANs for country code XX'],
    [[{ kind: 'CREDIT_FROM', iban: 'cash', word: 'x' }], 'alert rule 1: CREDIT_FROM takes iban only'],
    [[{ kind: 'DEBIT_ABOVE', amount_cents: 1 }, { kind: 'DEBIT_ABOVE', amount_cents: 1 }], 'alert rule 2: the same as rule 1'],
  ];
  for (const [rules, reason] of cases) assert.equal(errorOf(await setRules(bank.url, u, rules)), reason, JSON.stringify(rules).slice(0, 80));
  assert.equal(errorOf(await setRules(bank.url, { iban: u.iban, token: other.token }, good)), 'token is not valid');
  assert.equal(errorOf(await setRules(bank.url, { iban: 'NL61OPEN0305797828', token: u.token }, good)), 'iban not known');
  assert.match(errorOf(await h.post(bank.url, SET, { i: u.iban, t: u.token, r: [{ kind: 'NOPE' }] })), /NOPE/);
  // reads refuse a wrong token too
  assert.equal(errorOf(await h.post(bank.url, RULES, { i: u.iban, t: other.token })), 'token is not valid');
  assert.equal(errorOf(await h.post(bank.url, SINCE, { i: u.iban, t: other.token, a: 0 })), 'token is not valid');
  assert.equal(errorOf(await h.post(bank.url, SINCE, { i: u.iban, t: u.token, a: -1 })), 'after_id should not be negative');
  // nothing changed
  assert.deepEqual((await h.gql(bank.url, RULES, { i: u.iban, t: u.token })).alerts, [{ kind: 'DEBIT_ABOVE', amount_cents: 500, iban: null, word: null }]);
  // normalised as stored; an empty list removes them
  const set = (await h.gql(bank.url, SET, { i: u.iban, t: u.token, r: [{ kind: 'CREDIT_FROM', iban: 'nl66 open 0000 0000 00' }, { kind: 'CREDIT_FROM', iban: 'cash' }] })).set_alerts;
  assert.deepEqual(set, [{ kind: 'CREDIT_FROM', amount_cents: null, iban: 'NL66OPEN0000000000', word: null }, { kind: 'CREDIT_FROM', amount_cents: null, iban: 'cash', word: null }]);
  assert.deepEqual((await h.gql(bank.url, RULES, { i: u.iban, t: u.token })).alerts, set);
  assert.deepEqual((await h.gql(bank.url, SET, { i: u.iban, t: u.token, r: [] })).set_alerts, []);
  assert.deepEqual((await h.gql(bank.url, RULES, { i: u.iban, t: u.token })).alerts, []);
  // the settings are events of the account
  const hist = (await h.gql(bank.url, 'query($i: String!, $t: String!) { account_history(iban: $i, token: $t) { type summary } }', { i: u.iban, t: u.token })).account_history;
  assert.deepEqual(hist.slice(0, 3).map((e) => e.summary), [`${u.username} removed the alert rules`, `${u.username} set 2 alert rules`, `${u.username} set 1 alert rule`]);
});

test('each rule triggers once per transaction; the stream and alerts_since agree', async (t) => {
  const u = await h.newUserProjected(bank.url, 'alert');
  const v = await h.newUserProjected(bank.url, 'alert-v');
  const rules = [
    { kind: 'DEBIT_ABOVE', amount_cents: 1000 },
    { kind: 'BALANCE_BELOW', amount_cents: 0 },
    { kind: 'CREDIT_FROM', iban: v.iban },
    { kind: 'DESCRIPTION_CONTAINS', word: 'RENT' },
  ];
  assert.equal((await setRules(bank.url, u, rules)).errors, undefined);
  const client = h.wsClient(bank);
  t.after(() => client.dispose());
  const wrong = await streamAlerts(bank, client, { iban: u.iban, token: v.token }, { registered: false });
  await h.waitFor(async () => wrong.errors.length > 0, 'the wrong token refused');
  assert.match(JSON.stringify(wrong.errors), /token is not valid/);
  const sub = await streamAlerts(bank, client, u);

  assert.equal((await h.deposit(bank.url, u, 5000, 'salary')).success, true); // no rule
  assert.equal((await h.deposit(bank.url, v, 10000)).success, true);
  await pay(bank.url, v, u, 500, 'Rent share'); // CREDIT_FROM + DESCRIPTION_CONTAINS
  await pay(bank.url, u, v, 6000, 'groceries'); // DEBIT_ABOVE + BALANCE_BELOW (€55 -> €-5)
  await pay(bank.url, u, v, 100, 'rent'); // DESCRIPTION_CONTAINS (still below: no BALANCE_BELOW)

  await h.waitFor(async () => sub.items.length >= 5, 'five alerts streamed');
  assert.deepEqual(sub.errors, []);
  const want = [
    [1, 'CREDIT_FROM', `a credit of €5,00 from ${v.iban}`],
    [2, 'DESCRIPTION_CONTAINS', 'a credit of €5,00 with "RENT" in its description: Rent share'],
    [3, 'DEBIT_ABOVE', 'a debit of €60,00 is above €10,00'],
    [4, 'BALANCE_BELOW', 'the balance fell to €-5,00, below €0,00'],
    [5, 'DESCRIPTION_CONTAINS', 'a debit of €1,00 with "RENT" in its description: rent'],
  ];
  assert.deepEqual(sub.items.map((a) => [a.id, a.kind, a.message]), want);
  assert.equal(sub.items[0].transaction.id, sub.items[1].transaction.id);
  assert.equal(sub.items[2].transaction.id, sub.items[3].transaction.id);
  assert.deepEqual(
    sub.items.map((a) => [a.transaction.iban, a.transaction.direction, a.transaction.changed_by, a.transaction.descr]),
    [
      [u.iban, 'CREDIT', '€5,00', 'Rent share'],
      [u.iban, 'CREDIT', '€5,00', 'Rent share'],
      [u.iban, 'DEBIT', '€60,00', 'groceries'],
      [u.iban, 'DEBIT', '€60,00', 'groceries'],
      [u.iban, 'DEBIT', '€1,00', 'rent'],
    ],
  );
  // what a client that was not listening asks for afterwards: the same alerts
  assert.deepEqual(await since(bank.url, u), sub.items);
  assert.deepEqual((await since(bank.url, u, 3)).map((a) => a.id), [4, 5]);
  assert.deepEqual(await since(bank.url, u, 5), []);
  // v has no rules: no alerts; the wrong token's stream got nothing
  assert.deepEqual(await since(bank.url, v), []);
  assert.deepEqual(wrong.items, []);
  // each alert once: a last one, streamed after any copy of the first five would have been
  await pay(bank.url, u, v, 1100, 'last'); // DEBIT_ABOVE only (the balance was below already)
  await h.waitFor(async () => sub.items.some((a) => a.id === 6), 'the last alert');
  assert.deepEqual(sub.items.map((a) => [a.id, a.kind, a.message]), [...want, [6, 'DEBIT_ABOVE', 'a debit of €11,00 is above €10,00']]);
  assert.deepEqual(await since(bank.url, u, 5), sub.items.slice(5));
  sub.unsubscribe();
});

test('alerts across a kill -9 and a restart: none twice, none lost', { skip: NATS && 'kill -9 of the one-process bank' }, async (t) => {
  const dataDir = h.tempDir();
  let b = await h.startBank({ dataDir });
  let client;
  t.after(async () => {
    if (client) await client.dispose();
    await b.stop();
  });
  const u = await h.newUserProjected(b.url, 'alert-crash');
  const v = await h.newUserProjected(b.url, 'alert-crash-v');
  assert.equal((await setRules(b.url, u, [{ kind: 'DEBIT_ABOVE', amount_cents: 0 }])).errors, undefined);
  assert.equal((await h.deposit(b.url, u, 100000)).success, true);
  client = h.wsClient(b, { onNonLazyError: () => {} }); // its socket breaks with the kill -9
  const sub = await streamAlerts(b, client, u);
  for (let i = 1; i <= 3; i++) await pay(b.url, u, v, i, `before ${i}`);
  await h.waitFor(async () => sub.items.length >= 3, 'three alerts streamed');
  // five more debits, and the bank killed as soon as they are stored (some perhaps not projected)
  await Promise.all([4, 5, 6, 7, 8].map((i) => pay(b.url, u, v, i, `during ${i}`)));
  await b.kill9();
  await client.dispose().catch(() => {});
  client = null;

  b = await h.startBank({ dataDir });
  client = h.wsClient(b);
  const after = await streamAlerts(b, client, u);
  const all = await h.waitFor(async () => {
    const l = await since(b.url, u);
    return l.length >= 8 ? l : null;
  }, 'eight alerts after the restart');
  assert.deepEqual(all.map((a) => a.id), [1, 2, 3, 4, 5, 6, 7, 8]);
  // what was streamed before the kill (the first three, perhaps more) is the same alerts
  assert.ok(sub.items.length >= 3);
  assert.deepEqual(all.slice(0, sub.items.length), sub.items, 'the alerts streamed before are the same ones');
  const amounts = all.map((a) => a.transaction.changed_by).sort();
  assert.deepEqual(amounts, ['€0,01', '€0,02', '€0,03', '€0,04', '€0,05', '€0,06', '€0,07', '€0,08']);
  assert.equal(new Set(all.map((a) => a.transaction.id)).size, 8, 'one alert per transaction');
  // nothing is replayed to a subscriber after the restart (a replay would come before the new
  // alerts); new transactions' alerts are streamed, each once
  await pay(b.url, u, v, 9, 'after');
  await pay(b.url, u, v, 10, 'after');
  await h.waitFor(async () => after.items.some((a) => a.id === 10), 'the new alerts');
  assert.deepEqual(after.errors, []);
  assert.deepEqual(after.items.map((a) => [a.id, a.transaction.changed_by]), [[9, '€0,09'], [10, '€0,10']]);
  assert.deepEqual((await since(b.url, u)).map((a) => a.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  after.unsubscribe();
});

// The split roles with two projectors: each publishes every alert; the API sends each once.
async function startTwoProjectors() {
  const dir = h.tempDir();
  const port = await h.freePort();
  const nats = `nats://127.0.0.1:${port}`;
  const server = await h.startNatsServer(['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(dir, 'js')], port);
  let synced;
  for (let i = 0; i < 100; i++) {
    synced = spawnSync(path.join(h.BIN_DIR, 'bank'), ['sync', '--nats', nats], { encoding: 'utf8' });
    if (synced.status === 0) break;
    await h.sleep(100);
  }
  assert.equal(synced.status, 0, 'bank sync: ' + synced.stderr);
  const roles = [await h.startRole(dir, 'commands', nats), await h.startRole(dir, 'projector', nats), await h.startRole(dir, 'projector', nats)];
  const api = await h.startRole(dir, 'api', nats);
  roles.unshift(api);
  return {
    url: api.url,
    wsUrl: api.wsUrl,
    stop: async () => {
      for (const r of roles) await r.stop();
      server.kill('SIGTERM');
    },
  };
}

test('two projectors on NATS: every alert reaches a subscriber once', { skip: !NATS && 'the split roles only' }, async (t) => {
  const b = await startTwoProjectors();
  let client;
  t.after(async () => {
    if (client) await client.dispose(); // before the API stops: no abnormal close
    await b.stop();
  });
  const u = await h.newUserProjected(b.url, 'alert-two');
  const v = await h.newUserProjected(b.url, 'alert-two-v');
  assert.equal((await setRules(b.url, u, [{ kind: 'DEBIT_ABOVE', amount_cents: 0 }, { kind: 'DESCRIPTION_CONTAINS', word: 'x' }])).errors, undefined);
  assert.equal((await h.deposit(b.url, u, 100000)).success, true);
  client = h.wsClient(b);
  const sub = await streamAlerts(b, client, u);
  for (let i = 1; i <= 4; i++) await pay(b.url, u, v, i, i % 2 ? 'x' : 'y');
  // a last alert: a copy of an earlier one received before it shows below (a later copy is below
  // the last id sent, which is what the API checks)
  await pay(b.url, u, v, 5, 'y');
  await h.waitFor(async () => sub.items.some((a) => a.id === 7), 'seven alerts');
  assert.deepEqual(sub.items.map((a) => a.id), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(sub.items.map((a) => a.kind), ['DEBIT_ABOVE', 'DESCRIPTION_CONTAINS', 'DEBIT_ABOVE', 'DEBIT_ABOVE', 'DESCRIPTION_CONTAINS', 'DEBIT_ABOVE', 'DEBIT_ABOVE']);
  assert.deepEqual(await since(b.url, u), sub.items);
  sub.unsubscribe();
});
