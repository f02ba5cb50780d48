// The oracles against the transport with the project's GraphQL engine behind it
// (gql_test_server: src/http/gql_executor.c + test_schema.graphql): the graphql-http audit, the
// graphql-ws client, the subscriptions-transport-ws client and GraphiQL in Chromium.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const WebSocket = require('ws');
const { serverAudits } = require('graphql-http');
const { createClient } = require('graphql-ws');
const { SubscriptionClient } = require('subscriptions-transport-ws');
const { chromium } = require('playwright-core');
const { startServer, metric, sleep } = require('./helpers');

const BIN_DIR = process.env.BIN_DIR || path.join(__dirname, '../../../build/h-http/bin');
let srv;
before(async () => {
  srv = await startServer(['--ide', path.join(__dirname, '../../../web/ide')], {
    bin: path.join(BIN_DIR, 'gql_test_server'),
  });
});
after(async () => {
  await srv.stop();
});

for (const audit of serverAudits({ url: () => srv.url + '/graphql' })) {
  test(`audit ${audit.id} ${audit.name}`, async () => {
    const result = await audit.fn();
    if (result.status === 'error') assert.fail(`${audit.name}: ${result.reason}`);
    if (result.status !== 'ok') console.log(`# ${result.status}: ${audit.name}: ${result.reason}`);
  });
}

const gqlPost = async (query, variables) =>
  (await fetch(srv.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  })).json();

test('HTTP: an asynchronous resolver answers; a client leaving mid-way is cancelled cleanly', async () => {
  assert.deepStrictEqual(await gqlPost('{ later(ms: 20) hello }'), { data: { later: 'later', hello: 'world' } });
  const ac = new AbortController();
  const p = fetch(srv.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ later(ms: 1500) }' }),
    signal: ac.signal,
  }).catch(() => 'aborted');
  await sleep(30);
  ac.abort();
  assert.strictEqual(await p, 'aborted');
  await sleep(1550); // the resolver finishes after the cancel: the engine just frees it
  assert.deepStrictEqual(await gqlPost('{ hello }'), { data: { hello: 'world' } });
});

test('graphql-ws: subscriptions, queries, mutations and errors', async () => {
  const c = createClient({ url: srv.wsUrl + '/ws', webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const iterate = async (payload) => {
    const out = [];
    for await (const r of c.iterate(payload)) out.push(r);
    return out;
  };
  assert.deepStrictEqual(await iterate({ query: 'subscription { ticks(n: 3) }' }), [1, 2, 3].map((n) => ({ data: { ticks: n } })));
  assert.deepStrictEqual(await iterate({ query: 'query($m: String) { echo(msg: $m) }', variables: { m: 'x' } }), [{ data: { echo: 'x' } }]);
  assert.deepStrictEqual(await iterate({ query: 'mutation { add(a: 2, b: 3) }' }), [{ data: { add: 5 } }]);
  await assert.rejects(iterate({ query: '{ nope }' }), (e) => /Cannot query field "nope"/.test(e[0].message));
  await assert.rejects(iterate({ query: 'subscription { failing }' }), (e) => e[0].message === 'This subscription fails');
  await assert.rejects(iterate({ query: 'subscription($n: Int!) { ticks(n: $n) }', variables: {} }), (e) => /\$n/.test(e[0].message));

  // Fan-out: several subscriptions on one socket receive a published event, then complete.
  const got = [[], [], []];
  const stops = got.map((arr) => c.subscribe({ query: 'subscription { events { seq text } }' }, { next: (v) => arr.push(v), error: () => {}, complete: () => {} }));
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 3; t++) await sleep(10);
  const r = await gqlPost('mutation { publish(text: "hello") }');
  assert.strictEqual(r.data.publish, 3);
  for (let t = 0; t < 1000 && got.some((a) => !a.length); t++) await sleep(10);
  for (const a of got) assert.strictEqual(a[0].data.events.text, 'hello');
  stops.forEach((s) => s());
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 0; t++) await sleep(10);
  assert.strictEqual(await metric(srv.url, 'graphql_subscriptions_active'), 0);
  await c.dispose();
});

test('subscriptions-transport-ws (legacy graphql-ws): subscription and query', async () => {
  const sc = new SubscriptionClient(srv.wsUrl + '/ws', { reconnect: false }, WebSocket);
  const req = (op) =>
    new Promise((resolve, reject) => {
      const out = [];
      sc.request(op).subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
    });
  assert.deepStrictEqual(await req({ query: 'subscription { ticks(n: 2) }' }), [{ data: { ticks: 1 } }, { data: { ticks: 2 } }]);
  assert.deepStrictEqual(await req({ query: '{ hello }' }), [{ data: { hello: 'world' } }]);
  sc.close();
});

test('GraphiQL: loads the schema by introspection and runs a query', async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/ide?query=${encodeURIComponent('{ hello echo(msg: "ide") }')}`);
    await page.waitForSelector('.graphiql-container', { timeout: 30000 });
    // The documentation explorer lists the root types once introspection succeeded.
    await page.click('[aria-label="Show Documentation Explorer"]');
    await page.waitForFunction(() => document.body.textContent.includes('Subscription'), null, { timeout: 30000 });
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => (document.querySelector('.result-window') || {}).textContent?.includes('ide'), null, { timeout: 30000 });
    assert.match(await page.textContent('.result-window'), /"echo": "ide"/);
  } finally {
    await browser.close();
  }
});
