// Reads that could be amplified (issue 11), against the transport with the real engine
// (gql_test_server): a list asked under many aliases is refused by its estimated cost before it
// runs, an answer over the response size limit becomes an error (HTTP and WebSocket), and strings
// holding U+0000 are refused. Each refusal is counted in /metrics; a compliant request still runs.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');
const { startServer, metric, metricLabel } = require('./helpers');

const BIN = path.join(process.env.BIN_DIR || path.join(__dirname, '../../../build/h-http/bin'), 'gql_test_server');
let srv;
before(async () => {
  srv = await startServer(['--max-cost', '5000', '--max-response-bytes', '100000'], { bin: BIN });
});
after(async () => {
  await srv.stop();
});

async function post(query, variables, accept) {
  const res = await fetch(srv.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

// A 1 KB request asking for the same list under many aliases.
const aliased = (n, size) =>
  '{ ' + Array.from({ length: n }, (_, i) => `a${i}: items(max_items: ${size}) { id text }`).join(' ') + ' }';

test('many aliases of a big list: refused by the estimated cost, before running', async () => {
  const before = (await metricLabel(srv.url, 'graphql_requests_refused_total', 'limit="cost"')) || 0;
  // 40 aliases x 1,000,000,000 items, counted at most 1000 each: 40 x 1000 x 3.
  let r = await post(aliased(40, 1000000000));
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(r.body, { errors: [{ message: 'the query is too costly: estimated 120000, the limit is 5000' }] });
  r = await post(aliased(40, 1000000000), undefined, 'application/graphql-response+json');
  assert.strictEqual(r.status, 400);
  // Through a variable too: 3 x 1000 x 2 is over, 2 x 1000 x 2 is not.
  const q = (n) => 'query ($n: Int!) { ' + Array.from({ length: n }, (_, i) => `a${i}: items(max_items: $n) { id }`).join(' ') + ' }';
  r = await post(q(3), { n: 2000 });
  assert.deepStrictEqual(r.body, { errors: [{ message: 'the query is too costly: estimated 6000, the limit is 5000' }] });
  r = await post(q(2), { n: 2000 });
  assert.strictEqual(r.body.data.a1.length, 2000);
  // Its bound (3 x 1000 x 2, whatever $n) is over the limit, so the exact cost decides: 3 x 10 x 2.
  r = await post(q(3), { n: 10 });
  assert.strictEqual(r.body.data.a2.length, 10);
  assert.strictEqual(await metricLabel(srv.url, 'graphql_requests_refused_total', 'limit="cost"'), before + 3);
  // A compliant request under the limit runs.
  r = await post(aliased(2, 10));
  assert.strictEqual(r.body.data.a1.length, 10);
});

test('an answer over the response size limit is an error, counted (HTTP)', async () => {
  const before = (await metric(srv.url, 'graphql_responses_too_large_total')) || 0;
  // 200 items x 1000 characters: cost 600, answer about 200 KB.
  let r = await post('{ items(max_items: 200, pad: 1000) { id text } }');
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(r.body, { errors: [{ message: 'the response is larger than the limit of 100000 bytes' }] });
  r = await post('{ items(max_items: 200, pad: 1000) { id text } }', undefined, 'application/graphql-response+json');
  assert.strictEqual(r.status, 400);
  assert.strictEqual(await metric(srv.url, 'graphql_responses_too_large_total'), before + 2);
  r = await post('{ items(max_items: 20, pad: 1000) { id } }');
  assert.strictEqual(r.body.data.items.length, 20);
});

test('the same limits over the WebSocket', async () => {
  const c = createClient({ url: srv.wsUrl + '/ws', webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const run = async (query) => {
    const out = [];
    try {
      for await (const r of c.iterate({ query })) out.push(r);
    } catch (errors) {
      return { error: errors };
    }
    return out;
  };
  assert.deepStrictEqual(await run(aliased(40, 1000000000)), {
    error: [{ message: 'the query is too costly: estimated 120000, the limit is 5000' }],
  });
  assert.deepStrictEqual(await run('{ items(max_items: 200, pad: 1000) { id text } }'), [
    { errors: [{ message: 'the response is larger than the limit of 100000 bytes' }] },
  ]);
  assert.deepStrictEqual(await run('{ hello }'), [{ data: { hello: 'world' } }]);
  await c.dispose();
});

test('U+0000 in a GraphQL string is refused, never cut short', async () => {
  let r = await post('{ echo(msg: "alice\\u0000anything") }');
  assert.deepStrictEqual(r.body.errors[0].message, 'Syntax Error: U+0000 (NUL) is not allowed in a string.');
  assert.strictEqual(r.body.data, undefined);
  r = await post('{ echo(msg: "alice") }');
  assert.deepStrictEqual(r.body, { data: { echo: 'alice' } });
});
