// GraphQL over HTTP beyond the audit: the seed's 400 texts, GET rules, body limit, CORS,
// /healthz, /metrics, static files with the index.html fallback.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const zlib = require('node:zlib');
const { startServer, metric, until } = require('./helpers');

let srv, dir;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-static-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>bank ui</title>');
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log("app")');
  // A content-hashed asset as Vite names them, with precompressed siblings (as the UI build
  // writes them; the contents only tell which file was sent).
  fs.writeFileSync(path.join(dir, 'assets', 'index-BdHx3k_M.js'), 'plain');
  fs.writeFileSync(path.join(dir, 'assets', 'index-BdHx3k_M.js.br'), 'brotli');
  fs.writeFileSync(path.join(dir, 'assets', 'index-BdHx3k_M.js.gz'), 'gzip');
  fs.writeFileSync(path.join(dir, 'index.html.gz'), zlib.gzipSync('<!doctype html><title>bank ui (gz)</title>'));
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

test('until ready: /healthz and GraphQL (HTTP and WebSocket) answer 503, static files are served', async () => {
  const s2 = await startServer(['--not-ready', '--static', dir]);
  const starting = { errors: [{ message: 'the server is starting: its data is catching up; try again in a moment' }] };
  try {
    assert.strictEqual((await fetch(s2.url + '/healthz')).status, 503);
    let res = await fetch(s2.url + '/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    assert.strictEqual(res.status, 503);
    assert.deepStrictEqual(await res.json(), starting);
    res = await fetch(`${s2.url}/graphql?query=${encodeURIComponent('{ hello }')}`);
    assert.strictEqual(res.status, 503);
    assert.deepStrictEqual(await res.json(), starting);
    const upgrade = await new Promise((resolve) => {
      const ws = new (require('ws'))(s2.wsUrl + '/ws', 'graphql-transport-ws');
      ws.on('unexpected-response', async (req, r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode, body: JSON.parse(body) }));
      });
      ws.on('open', () => resolve({ status: 101 }));
      ws.on('error', () => {});
    });
    assert.deepStrictEqual(upgrade, { status: 503, body: starting });
    res = await fetch(s2.url + '/');
    assert.strictEqual(res.status, 200);
    assert.strictEqual((await fetch(s2.url + '/metrics')).status, 200);
    assert.ok((await metric(s2.url, 'http_not_ready_total')) >= 3);
  } finally {
    await s2.stop();
  }
});

test('once ready (the bank: its read model caught up), GraphQL is served', async () => {
  const s2 = await startServer(['--not-ready', '--ready-after-ms', '300']);
  try {
    await until(async () => (await fetch(s2.url + '/healthz')).status === 200);
    const res = await fetch(s2.url + '/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    assert.deepStrictEqual(await res.json(), { data: { hello: 'world' } });
  } finally {
    await s2.stop();
  }
});

test('operator switches: /metrics and /ide off the public listener, or moved to an admin listener', async () => {
  const hidden = await startServer(['--hide-metrics', '--hide-ide', '--ide', dir]);
  try {
    assert.strictEqual((await fetch(hidden.url + '/metrics')).status, 404);
    assert.strictEqual((await fetch(hidden.url + '/ide/')).status, 404);
    assert.strictEqual((await fetch(hidden.url + '/healthz')).status, 200);
  } finally {
    await hidden.stop();
  }
  const s2 = await startServer(['--admin-listen', '127.0.0.1:0', '--ide', dir, '--max-connections-per-address', '2']);
  try {
    assert.ok(s2.adminUrl);
    assert.strictEqual((await fetch(s2.url + '/metrics')).status, 404);
    assert.strictEqual((await fetch(s2.url + '/ide/')).status, 404);
    let res = await fetch(s2.adminUrl + '/metrics');
    assert.strictEqual(res.status, 200);
    assert.match(await res.text(), /http_connections_open /);
    assert.strictEqual((await fetch(s2.adminUrl + '/ide/')).status, 200);
    // GraphiQL there talks to /api on the same listener.
    res = await fetch(s2.adminUrl + '/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    assert.deepStrictEqual(await res.json(), { data: { hello: 'world' } });
    // The admin listener is outside the connection budget.
    const held = [];
    for (let i = 0; i < 4; i++) {
      const c = net.connect(Number(new URL(s2.adminUrl).port), '127.0.0.1');
      await new Promise((r) => c.once('connect', r));
      held.push(c);
    }
    assert.strictEqual((await fetch(s2.adminUrl + '/healthz')).status, 200);
    held.forEach((c) => c.destroy());
  } finally {
    await s2.stop();
  }
});

test('every answer carries the security headers', async () => {
  const answers = [
    await fetch(srv.url + '/'),
    await fetch(srv.url + '/assets/app.js'),
    await fetch(srv.url + '/healthz'),
    await fetch(srv.url + '/missing.js'),
    await post(JSON.stringify({ query: '{ hello }' })),
    await fetch(srv.url + '/api', { method: 'OPTIONS', headers: { origin: 'http://localhost:4200', 'access-control-request-method': 'POST' } }),
  ];
  for (const res of answers) {
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/, res.url);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.strictEqual(res.headers.get('x-frame-options'), 'DENY');
    assert.strictEqual(res.headers.get('x-content-type-options'), 'nosniff');
    assert.strictEqual(res.headers.get('referrer-policy'), 'no-referrer');
  }
});

// Raw GET (fetch would decode a Content-Encoding itself): status line and headers, and the body.
function rawGet(p, headers = {}) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`);
    });
    const chunks = [];
    s.on('data', (x) => chunks.push(x));
    s.on('end', () => {
      const d = Buffer.concat(chunks);
      const at = d.indexOf('\r\n\r\n');
      const head = d.subarray(0, at).toString('latin1');
      const body = d.subarray(at + 4);
      const h = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(head.split(' ')[1]), headers: h, body: body.toString('latin1'), raw: body });
    });
  });
}

test('precompressed siblings are sent when Accept-Encoding takes them, with Vary', async () => {
  let r = await rawGet('/assets/index-BdHx3k_M.js', { 'accept-encoding': 'gzip, deflate, br' });
  assert.strictEqual(r.body, 'brotli');
  assert.strictEqual(r.headers['content-encoding'], 'br');
  assert.match(r.headers['content-type'], /javascript/);
  assert.strictEqual(r.headers.vary, 'Accept-Encoding');
  r = await rawGet('/assets/index-BdHx3k_M.js', { 'accept-encoding': 'gzip' });
  assert.strictEqual(r.body, 'gzip');
  assert.strictEqual(r.headers['content-encoding'], 'gzip');
  r = await rawGet('/assets/index-BdHx3k_M.js', { 'accept-encoding': 'br;q=0, gzip;q=0' });
  assert.strictEqual(r.body, 'plain');
  assert.strictEqual(r.headers['content-encoding'], undefined);
  r = await rawGet('/assets/index-BdHx3k_M.js');
  assert.strictEqual(r.body, 'plain');
  r = await rawGet('/client', { 'accept-encoding': 'gzip' }); // a UI route gets index.html(.gz)
  assert.strictEqual(zlib.gunzipSync(r.raw).toString(), '<!doctype html><title>bank ui (gz)</title>');
  assert.match(r.headers['content-type'], /text\/html/);
});

test('content-hashed assets are cached for a year, everything else is revalidated', async () => {
  let r = await rawGet('/assets/index-BdHx3k_M.js');
  assert.strictEqual(r.headers['cache-control'], 'public, max-age=31536000, immutable');
  for (const p of ['/', '/index.html', '/client', '/assets/app.js', '/style.css']) {
    r = await rawGet(p);
    assert.strictEqual(r.status, 200, p);
    assert.strictEqual(r.headers['cache-control'], 'no-cache', p);
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
  // The loop's lag is sampled every 10 ms while the server runs: more samples a moment later,
  // every one in the +Inf bucket, the buckets cumulative.
  const lag = (t) => Number(/http_loop_lag_seconds_count (\d+)/.exec(t)[1]);
  let later = text;
  for (let tries = 0; tries < 100 && lag(later) < lag(text) + 5; tries++) {
    await new Promise((r) => setTimeout(r, 100));
    later = await (await fetch(srv.url + '/metrics')).text();
  }
  assert.ok(lag(later) >= lag(text) + 5, `loop lag samples ${lag(text)} -> ${lag(later)}`);
  const buckets = [...later.matchAll(/http_loop_lag_seconds_bucket\{le="[^"]+"\} (\d+)/g)].map((x) => Number(x[1]));
  assert.strictEqual(buckets.length, 13);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1]);
  assert.strictEqual(buckets[buckets.length - 1], lag(later));
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
