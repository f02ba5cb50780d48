// GraphQL over HTTP beyond the audit: the seed's 400 texts, GET rules, body limit, CORS,
// /healthz, /metrics, static files with the index.html fallback.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { startServer } = require('./helpers');

let srv, dir;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-static-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>bank ui</title>');
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log("app")');
  fs.writeFileSync(path.join(dir, 'style.css'), 'body{}');
  srv = await startServer(['--static', dir, '--body-limit', '4096']);
});
after(async () => {
  await srv.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const post = (body, headers = { 'content-type': 'application/json' }, p = '/api') =>
  fetch(srv.url + p, { method: 'POST', headers, body });

test('POST /api runs a query and answers application/json', async () => {
  const res = await post(JSON.stringify({ query: '{ hello }' }));
  assert.strictEqual(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.deepStrictEqual(await res.json(), { data: { hello: 'world' } });
});

test('variables and operationName reach the executor', async () => {
  const res = await post(
    JSON.stringify({ query: 'query Q($x: Int) { echo }', variables: { x: 5 }, operationName: 'Q' }),
  );
  assert.deepStrictEqual(await res.json(), { data: { echo: { x: 5 } } });
});

test('a non-JSON POST gets 400 "Must be application/json"', async () => {
  const res = await post('query=1', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.strictEqual(res.status, 400);
  assert.deepStrictEqual(await res.json(), { errors: [{ message: 'Must be application/json' }] });
});

test('a blank query gets 400 "JSON \'query\' key is missing or blank"', async () => {
  for (const body of [{ query: '  ' }, { query: null }, {}]) {
    const res = await post(JSON.stringify(body));
    assert.strictEqual(res.status, 400);
    assert.deepStrictEqual(await res.json(), {
      errors: [{ message: "JSON 'query' key is missing or blank" }],
    });
  }
});

test('graphql-response+json: validation errors are 400 without data', async () => {
  const res = await post(JSON.stringify({ query: '{ nope }' }), {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json',
  });
  assert.strictEqual(res.status, 400);
  assert.match(res.headers.get('content-type'), /application\/graphql-response\+json/);
  const body = await res.json();
  assert.strictEqual(body.data, undefined);
  assert.match(body.errors[0].message, /Cannot query field "nope"/);
});

test('an Accept the server cannot produce gets 406', async () => {
  const res = await post(JSON.stringify({ query: '{ hello }' }), {
    'content-type': 'application/json',
    accept: 'text/html',
  });
  assert.strictEqual(res.status, 406);
});

test('GET runs queries and refuses mutations with 405', async () => {
  const q = new URLSearchParams({ query: 'query($v: String) { echo }', variables: '{"v":"a&b+c"}' });
  let res = await fetch(`${srv.url}/graphql?${q}`);
  assert.strictEqual(res.status, 200);
  assert.deepStrictEqual(await res.json(), { data: { echo: { v: 'a&b+c' } } });
  res = await fetch(`${srv.url}/graphql?${new URLSearchParams({ query: 'mutation { add(a: 1, b: 2) }' })}`);
  assert.strictEqual(res.status, 405);
  assert.strictEqual(res.headers.get('allow'), 'POST');
  res = await post(JSON.stringify({ query: 'mutation { add(a: 1, b: 2) }' }));
  assert.deepStrictEqual(await res.json(), { data: { add: 3 } });
});

test('subscriptions over HTTP are refused', async () => {
  const res = await post(JSON.stringify({ query: 'subscription { ticks }' }));
  assert.strictEqual(res.status, 400);
  assert.match((await res.json()).errors[0].message, /WebSocket/);
});

test('an asynchronous (threaded) resolver answers through the job queue', async () => {
  const res = await post(JSON.stringify({ query: '{ slow(ms: 30) hello }' }));
  assert.deepStrictEqual(await res.json(), { data: { slow: 'slow', hello: 'world' } });
});

test('a client that leaves during a slow query does not hurt the server', async () => {
  const ac = new AbortController();
  const p = fetch(srv.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ slow(ms: 200) }' }),
    signal: ac.signal,
  }).catch(() => 'aborted');
  setTimeout(() => ac.abort(), 10);
  // Close the socket under the request with a raw client as well.
  await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => {
      const body = JSON.stringify({ query: '{ slow(ms: 200) }' });
      s.write(`POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      setTimeout(() => { s.destroy(); resolve(); }, 20);
    });
  });
  await p;
  const res = await post(JSON.stringify({ query: '{ hello }' }));
  assert.strictEqual(res.status, 200);
});

test('a body over the limit gets 413 and the connection stays usable', async () => {
  const big = JSON.stringify({ query: '{ hello }', variables: { pad: 'x'.repeat(8000) } });
  const res = await post(big);
  assert.strictEqual(res.status, 413);
  const huge = await post(JSON.stringify({ query: '{ hello }', pad: 'y'.repeat(200000) })).catch(
    (e) => e,
  );
  // Far over the limit the server answers 413 at once and closes; the client may see either.
  if (!(huge instanceof Error)) assert.strictEqual(huge.status, 413);
  const ok = await post(JSON.stringify({ query: '{ hello }' }));
  assert.strictEqual(ok.status, 200);
});

test('CORS: allowed origins get the header, others are refused, preflight works', async () => {
  let res = await post(JSON.stringify({ query: '{ hello }' }), {
    'content-type': 'application/json',
    origin: 'http://localhost:4200',
  });
  assert.strictEqual(res.status, 200);
  assert.strictEqual(res.headers.get('access-control-allow-origin'), 'http://localhost:4200');
  res = await post(JSON.stringify({ query: '{ hello }' }), {
    'content-type': 'application/json',
    origin: 'http://evil.example',
  });
  assert.strictEqual(res.status, 403);
  assert.strictEqual(res.headers.get('access-control-allow-origin'), null);
  res = await fetch(srv.url + '/api', {
    method: 'OPTIONS',
    headers: {
      origin: 'http://localhost:8181',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
  assert.strictEqual(res.status, 204);
  assert.strictEqual(res.headers.get('access-control-allow-origin'), 'http://localhost:8181');
  assert.match(res.headers.get('access-control-allow-methods'), /POST/);
  assert.match(res.headers.get('access-control-allow-headers'), /content-type/);
  res = await fetch(srv.url + '/api', {
    method: 'OPTIONS',
    headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.strictEqual(res.status, 403);
  // Same origin is always allowed.
  res = await post(JSON.stringify({ query: '{ hello }' }), {
    'content-type': 'application/json',
    origin: srv.url,
  });
  assert.strictEqual(res.status, 200);
});

test('/healthz answers 200 when ready', async () => {
  const res = await fetch(srv.url + '/healthz');
  assert.strictEqual(res.status, 200);
});

test('/healthz answers 503 until ready', async () => {
  const s2 = await startServer(['--not-ready']);
  try {
    assert.strictEqual((await fetch(s2.url + '/healthz')).status, 503);
  } finally {
    await s2.stop();
  }
});

test('/metrics is Prometheus text with the transport metrics', async () => {
  const res = await fetch(srv.url + '/metrics');
  assert.strictEqual(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const name of [
    'http_requests_total{kind="graphql"}',
    'http_responses_errors_total{class="4xx"}',
    'http_request_duration_seconds_bucket{le="+Inf"}',
    'http_request_duration_seconds_count',
    'websocket_connections_open',
    'graphql_subscriptions_active',
    'websocket_slow_reader_closed_total',
  ])
    assert.ok(text.includes(name + ' '), `missing ${name}`);
  // Every sample line is NAME{labels} VALUE, each metric has HELP and TYPE.
  for (const line of text.trim().split('\n')) {
    if (line.startsWith('#')) assert.match(line, /^# (HELP|TYPE) [a-z_]+ .+/);
    else assert.match(line, /^[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+$/);
  }
  const graphql = Number(/http_requests_total\{kind="graphql"\} (\d+)/.exec(text)[1]);
  assert.ok(graphql > 0);
  const count = Number(/http_request_duration_seconds_count (\d+)/.exec(text)[1]);
  const inf = Number(/http_request_duration_seconds_bucket\{le="\+Inf"\} (\d+)/.exec(text)[1]);
  assert.strictEqual(count, inf);
});

test('static files, index.html for UI routes, 404 for missing files', async () => {
  let res = await fetch(srv.url + '/');
  assert.strictEqual(res.status, 200);
  assert.match(await res.text(), /bank ui/);
  res = await fetch(srv.url + '/assets/app.js');
  assert.strictEqual(res.status, 200);
  assert.match(res.headers.get('content-type'), /javascript/);
  res = await fetch(srv.url + '/style.css');
  assert.match(res.headers.get('content-type'), /text\/css/);
  res = await fetch(srv.url + '/client');
  assert.strictEqual(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(await res.text(), /bank ui/);
  res = await fetch(srv.url + '/employee/accounts');
  assert.match(await res.text(), /bank ui/);
  res = await fetch(srv.url + '/missing.js');
  assert.strictEqual(res.status, 404);
});

test('paths that try to leave the static root are refused', async () => {
  for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fetc/passwd']) {
    const body = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let d = '';
      s.on('data', (x) => (d += x));
      s.on('end', () => resolve(d));
      s.on('error', () => resolve(d));
    });
    assert.ok(!body.includes('root:'), `${p} leaked a file`);
  }
});

test('a chunked request body gets 411 Length Required', async () => {
  const reply = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => {
      const body = JSON.stringify({ query: '{ hello }' });
      s.write(
        'POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      );
    });
    let d = '';
    s.on('data', (x) => (d += x));
    s.on('end', () => resolve(d));
    s.on('error', () => resolve(d));
  });
  assert.match(reply, /^HTTP\/1\.1 411 /);
});

test('the Authorization header reaches the executor', async () => {
  const res = await post(JSON.stringify({ query: '{ whoami }' }), {
    'content-type': 'application/json',
    authorization: 'Bearer abc',
  });
  assert.deepStrictEqual(await res.json(), { data: { whoami: 'Bearer abc' } });
  const anon = await post(JSON.stringify({ query: '{ whoami }' }));
  assert.deepStrictEqual(await anon.json(), { data: { whoami: null } });
});
