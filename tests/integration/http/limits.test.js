// The transport's budgets under attack, scaled down (issue 11): slow senders of headers and bodies,
// too many connections from a few addresses, idle and uninitialised WebSockets on both protocols,
// subscription floods, long operation ids. Each attack comes from other loopback addresses
// (127.0.0.2, ...) while the legitimate client on 127.0.0.1 must still be answered; each refusal
// must be clear and counted in /metrics.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');
const { startServer, metric, metricLabel, rawClient, until, sleep } = require('./helpers');

const HEADER_MS = 800;
const BODY_MS = 800;
const IDLE_MS = 1500;
let srv;
// The connection budget's tests hold silent connections while they open more: on a server whose
// header deadline outlasts them (on `srv` a place freed after 800 ms while a slow machine is still
// opening the flood would take a connection that should have been refused).
let roomy;
before(async () => {
  roomy = await startServer([
    '--max-connections', '120',
    '--max-connections-per-address', '30',
    '--reserved-connections', '20',
    '--header-timeout-ms', '60000',
  ]);
  srv = await startServer([
    '--max-connections', '120',
    '--max-connections-per-address', '30',
    '--reserved-connections', '20',
    '--header-timeout-ms', String(HEADER_MS),
    '--body-timeout-ms', String(BODY_MS),
    '--idle-timeout-ms', String(IDLE_MS),
    '--init-timeout-ms', '800',
    '--ws-max-operations', '10',
    '--ws-max-id-bytes', '64',
  ]);
});
after(async () => {
  await srv.stop();
  await roomy.stop();
});

const post = (query, headers = {}, server = srv) =>
  fetch(server.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });

// The legitimate client is still served: /healthz and a GraphQL request.
async function stillServed(server = srv) {
  const h = await fetch(server.url + '/healthz');
  assert.strictEqual(h.status, 200);
  assert.strictEqual(await h.text(), 'ok\n');
  const r = await post('{ hello }', {}, server);
  assert.deepStrictEqual(await r.json(), { data: { hello: 'world' } });
}

// Opens `n` raw connections from `address`; resolves once each is connected or closed.
async function openMany(n, address, port = srv.port) {
  const clients = [];
  for (let i = 0; i < n; i++) clients.push(rawClient(port, address));
  await Promise.all(clients.map((c) => Promise.race([c.connected, c.closed])));
  return clients;
}

test('slow headers (slowloris): the sender gets a 408 and is closed; others are served meanwhile', async () => {
  const before408 = (await metricLabel(srv.url, 'http_connection_timeouts_total', 'phase="headers"')) || 0;
  const attackers = await openMany(20, '127.0.0.2');
  // One header byte at a time, far slower than the deadline allows for the whole head.
  const head = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  let i = 0;
  const drip = setInterval(() => {
    for (const a of attackers) if (!a.socket.destroyed) a.socket.write(head[i % head.length]);
    i++;
  }, 100);
  await sleep(200);
  await stillServed();
  const answers = await Promise.all(attackers.map((a) => a.closed));
  clearInterval(drip);
  for (const text of answers) {
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /the request headers did not arrive in time/);
  }
  const after408 = await metricLabel(srv.url, 'http_connection_timeouts_total', 'phase="headers"');
  assert.strictEqual(after408 - before408, 20);
  await stillServed();
});

test('a connection that never sends anything is closed at the header deadline', async () => {
  const [idle] = await openMany(1, '127.0.0.2');
  assert.match(await idle.closed, /^HTTP\/1\.1 408 /);
});

test('a slow body: 408 at the body deadline, counted', async () => {
  const before = (await metricLabel(srv.url, 'http_connection_timeouts_total', 'phase="body"')) || 0;
  const [c] = await openMany(1, '127.0.0.3');
  c.socket.write('POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
  const drip = setInterval(() => !c.socket.destroyed && c.socket.write(' '), 100);
  await stillServed();
  const text = await c.closed;
  clearInterval(drip);
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /the request body did not arrive in time/);
  assert.strictEqual(await metricLabel(srv.url, 'http_connection_timeouts_total', 'phase="body"'), before + 1);
});

test('an idle kept-alive connection is closed quietly after the idle deadline', async () => {
  const before = (await metricLabel(srv.url, 'http_connection_timeouts_total', 'phase="idle"')) || 0;
  const [c] = await openMany(1, '127.0.0.3');
  c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await c.closed;
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(text, /408/);
  // (the test's own kept-alive fetch connections may expire too)
  assert.ok((await metricLabel(srv.url, 'http_connection_timeouts_total', 'phase="idle"')) >= before + 1);
});

test('connections per address: over the share, a 503 at once; other addresses unaffected', async () => {
  const before = (await metricLabel(roomy.url, 'http_connections_refused_total', 'reason="address"')) || 0;
  const clients = await openMany(40, '127.0.0.4', roomy.port);
  try {
    for (const c of clients) c.closed.then(() => (c.gone = true));
    await until(async () => (await metricLabel(roomy.url, 'http_connections_refused_total', 'reason="address"')) === before + 10);
    await stillServed(roomy);
    // Long before the header deadline: exactly the refused ones are closed.
    const refused = await until(() => {
      const gone = clients.filter((c) => c.gone);
      return gone.length >= 10 && gone;
    });
    assert.strictEqual(refused.length, 10);
    for (const c of refused) {
      const text = c.data();
      // The answer may be lost to a reset (the client had written nothing yet); when it arrives:
      if (text) assert.match(text, /^HTTP\/1\.1 503 [\s\S]*too many connections from your address: the limit is 30/);
    }
  } finally {
    for (const c of clients) c.socket.destroy();
  }
  await until(async () => (await metric(roomy.url, 'http_connections_open')) <= 2);
});

test('a full server keeps its reserved places for new clients: /healthz still answers', async () => {
  const before = (await metricLabel(roomy.url, 'http_connections_refused_total', 'reason="total"')) || 0;
  // 5 addresses x 30 = 150 > 120, one address after the other: the first three and 10 of the
  // fourth fill the 100 unreserved places, and the fourth's other 20 are refused; the fifth,
  // holding none, may take reserved places while it holds fewer than 4 (RESERVE_LIGHT), so 4 are
  // taken and 26 refused: 46 in all. `until` waits for them: the server refuses as it accepts.
  const all = [];
  try {
    for (let a = 5; a <= 9; a++) all.push(...(await openMany(30, `127.0.0.${a}`, roomy.port)));
    const refused = async () => (await metricLabel(roomy.url, 'http_connections_refused_total', 'reason="total"')) - before;
    // (One more per connection this client still keeps alive from 127.0.0.1: it takes a place.)
    await until(async () => (await refused()) >= 46);
    assert.ok((await metric(roomy.url, 'http_connections_open')) <= 120);
    await stillServed(roomy); // 127.0.0.1 holds one kept-alive connection at most: under the 4 of the reserve
  } finally {
    for (const c of all) c.socket.destroy();
  }
  await until(async () => (await metric(roomy.url, 'http_connections_open')) <= 2);
});

// ---- WebSocket ----

function ws(protocol, address = '127.0.0.2') {
  const sock = new WebSocket(srv.wsUrl + '/ws', protocol, { localAddress: address });
  const msgs = [];
  const waiters = [];
  sock.on('message', (d) => {
    msgs.push(JSON.parse(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  sock.on('error', () => {});
  const opened = new Promise((resolve, reject) => {
    sock.once('open', resolve);
    sock.once('close', () => reject(new Error('closed before it opened')));
  });
  const closed = new Promise((resolve) => sock.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const next = async () => {
    while (!msgs.length) await new Promise((r) => waiters.push(r));
    return msgs.shift();
  };
  return { sock, opened, closed, next, msgs, send: (m) => sock.send(JSON.stringify(m)) };
}

test('idle WebSockets on both protocols are closed 4408 at the connection_init deadline', async () => {
  const before = (await metricLabel(srv.url, 'websocket_refused_total', 'reason="init_timeout"')) || 0;
  const socks = [];
  for (let i = 0; i < 10; i++) socks.push(ws(i % 2 ? 'graphql-ws' : 'graphql-transport-ws'));
  await Promise.all(socks.map((s) => s.opened));
  await stillServed();
  for (const s of socks) assert.deepStrictEqual(await s.closed, { code: 4408, reason: 'Connection initialisation timeout' });
  assert.strictEqual(await metricLabel(srv.url, 'websocket_refused_total', 'reason="init_timeout"'), before + 10);
});

test('legacy protocol: no operation before connection_init (4401), one init only (4429)', async () => {
  const a = ws('graphql-ws');
  await a.opened;
  a.send({ id: '1', type: 'start', payload: { query: '{ hello }' } });
  assert.deepStrictEqual(await a.closed, { code: 4401, reason: 'Unauthorized' });
  assert.strictEqual(a.msgs.length, 0); // the operation did not run
  const b = ws('graphql-ws');
  await b.opened;
  b.send({ type: 'connection_init' });
  b.send({ type: 'connection_init' });
  b.send({ type: 'connection_init' });
  assert.deepStrictEqual(await b.closed, { code: 4429, reason: 'Too many initialisation requests' });
  assert.deepStrictEqual(b.msgs, [{ type: 'connection_ack' }, { type: 'ka' }]); // answered once
  assert.ok((await metricLabel(srv.url, 'websocket_refused_total', 'reason="not_initialised"')) >= 1);
  assert.ok((await metricLabel(srv.url, 'websocket_refused_total', 'reason="init_twice"')) >= 1);
});

test('subscriptions per socket are capped: the extra ones get an error, the rest keep working', async () => {
  const s = ws('graphql-transport-ws');
  await s.opened;
  s.send({ type: 'connection_init' });
  assert.strictEqual((await s.next()).type, 'connection_ack');
  for (let i = 0; i < 15; i++) s.send({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { events }' } });
  const errors = [];
  for (let i = 0; i < 5; i++) errors.push(await s.next());
  for (const e of errors) {
    assert.strictEqual(e.type, 'error');
    assert.deepStrictEqual(e.payload, [{ message: 'too many operations on this connection: the limit is 10' }]);
  }
  assert.deepStrictEqual(errors.map((e) => e.id), ['s10', 's11', 's12', 's13', 's14']);
  await until(async () => (await metric(srv.url, 'graphql_subscriptions_active')) >= 10);
  // Another client's socket is not affected by this one's cap.
  const c = createClient({ url: srv.wsUrl + '/ws', webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const got = [];
  for await (const r of c.iterate({ query: 'subscription { ticks(n: 2) }' })) got.push(r);
  assert.deepStrictEqual(got, [{ data: { ticks: 1 } }, { data: { ticks: 2 } }]);
  await c.dispose();
  // Completing one frees a place.
  s.send({ id: 's0', type: 'complete' });
  s.send({ id: 'again', type: 'subscribe', payload: { query: '{ hello }' } });
  assert.deepStrictEqual(await s.next(), { id: 'again', type: 'next', payload: { data: { hello: 'world' } } });
  assert.ok((await metricLabel(srv.url, 'websocket_refused_total', 'reason="operations"')) >= 5);
  s.sock.close();
  await s.closed;
});

test('an operation id over the limit closes the socket 4400 (both protocols), never echoed', async () => {
  for (const protocol of ['graphql-transport-ws', 'graphql-ws']) {
    const s = ws(protocol);
    await s.opened;
    s.send({ type: 'connection_init' });
    await s.next();
    s.send({ id: 'x'.repeat(65), type: protocol === 'graphql-ws' ? 'start' : 'subscribe', payload: { query: '{ hello }' } });
    assert.deepStrictEqual(await s.closed, { code: 4400, reason: 'Invalid message received: the id is longer than 64 bytes' });
  }
  assert.ok((await metricLabel(srv.url, 'websocket_refused_total', 'reason="id_bytes"')) >= 2);
});

// A frame as a client must not send it: without a mask (RFC 6455 5.1).
function unmaskedFrame(opcode, text) {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

test('an unmasked client frame closes the socket 1002 (data and control frames)', async () => {
  const before = (await metricLabel(srv.url, 'websocket_refused_total', 'reason="unmasked"')) || 0;
  for (const [opcode, text] of [
    [1, JSON.stringify({ type: 'ping' })],
    [9, 'hi'],
  ]) {
    const s = ws('graphql-transport-ws');
    await s.opened;
    s.send({ type: 'connection_init' });
    assert.strictEqual((await s.next()).type, 'connection_ack');
    s.send({ type: 'ping' }); // masked, by the ws library: answered
    assert.deepStrictEqual(await s.next(), { type: 'pong' });
    s.sock._socket.write(unmaskedFrame(opcode, text));
    assert.deepStrictEqual(await s.closed, { code: 1002, reason: 'Client frames must be masked' });
  }
  assert.strictEqual(await metricLabel(srv.url, 'websocket_refused_total', 'reason="unmasked"'), before + 2);
});

test('every refusal family is in /metrics', async () => {
  const text = await (await fetch(srv.url + '/metrics')).text();
  for (const name of [
    'http_connections_open ',
    'http_connections_refused_total{reason="total"} ',
    'http_connections_refused_total{reason="address"} ',
    'http_connection_timeouts_total{phase="headers"} ',
    'http_connection_timeouts_total{phase="body"} ',
    'http_connection_timeouts_total{phase="idle"} ',
    'graphql_responses_too_large_total ',
    'http_not_ready_total ',
    'websocket_refused_total{reason="unmasked"} ',
  ])
    assert.ok(text.includes('\n' + name), name);
});
