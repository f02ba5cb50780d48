// graphql-transport-ws on /ws and /graphql with the graphql-ws client, plus raw frames for the
// protocol errors and a slow reader.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const WebSocket = require('ws');
const { createClient, CloseCode } = require('graphql-ws');
const { startServer, rssKiB, metric, sleep } = require('./helpers');

let srv;
before(async () => {
  // A small ASan quarantine, so freed queue memory is not counted as growth by the slow-reader test.
  const asan = (process.env.ASAN_OPTIONS || '') + ':quarantine_size_mb=1';
  srv = await startServer(
    ['--init-timeout-ms', '400', '--queue-bytes', '1048576', '--queue-messages', '2000'],
    { env: { ASAN_OPTIONS: asan } },
  );
});
after(async () => {
  await srv.stop();
});

const client = (p = '/ws') =>
  createClient({ url: srv.wsUrl + p, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });

async function collect(c, payload) {
  const out = [];
  for await (const r of c.iterate(payload)) out.push(r);
  return out;
}

test('subscribe streams every event then completes (on /ws and /graphql)', async () => {
  for (const p of ['/ws', '/graphql']) {
    const c = client(p);
    const got = await collect(c, { query: 'subscription { ticks(n: 3) }' });
    assert.deepStrictEqual(got, [1, 2, 3].map((n) => ({ data: { ticks: n } })));
    await c.dispose();
  }
});

test('queries and mutations over the socket', async () => {
  const c = client();
  assert.deepStrictEqual(await collect(c, { query: '{ hello }' }), [{ data: { hello: 'world' } }]);
  assert.deepStrictEqual(
    await collect(c, { query: 'mutation($a: Int) { add(a: $a, b: 2) }', variables: { a: 40 } }),
    [{ data: { add: 42 } }],
  );
  await c.dispose();
});

test('many subscriptions on one socket, each completed by the client', async () => {
  const c = client();
  const subs = [];
  const received = new Map();
  for (let i = 0; i < 20; i++) {
    received.set(i, []);
    subs.push(
      c.subscribe(
        { query: 'subscription { events }' },
        { next: (v) => received.get(i).push(v), error: (e) => assert.fail(e), complete: () => {} },
      ),
    );
  }
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 20; t++)
    await sleep(10);
  assert.strictEqual(await metric(srv.url, 'graphql_subscriptions_active'), 20);
  const r = await fetch(srv.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation { publish(text: "hi") }' }),
  });
  assert.ok((await r.json()).data.publish >= 20);
  for (let t = 0; t < 1000 && [...received.values()].some((v) => v.length === 0); t++) await sleep(10);
  for (const v of received.values()) assert.strictEqual(v[0].data.events.text, 'hi');
  for (const unsubscribe of subs) unsubscribe(); // sends `complete` for each
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 0; t++)
    await sleep(10);
  assert.strictEqual(await metric(srv.url, 'graphql_subscriptions_active'), 0);
  await c.dispose();
});

// The server frames its messages itself and writes a socket's messages of one loop turn in one
// write (docs/http.md, "Writes"): every length form of RFC 6455 (7-bit, 16-bit, 64-bit), a message
// larger than one write, and several at once arrive whole and in order.
test('messages of every frame length arrive whole and in order', async () => {
  const c = client();
  const got = [];
  const unsubscribe = c.subscribe(
    { query: 'subscription { events }' },
    { next: (v) => got.push(v.data.events.text), error: (e) => assert.fail(e), complete: () => {} },
  );
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 1; t++)
    await sleep(10);
  const texts = [10, 300, 70000, 300000, 5].map((n, i) => String(i).repeat(n));
  const publish = (text) =>
    fetch(srv.url + '/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation($t: String!) { publish(text: $t) }', variables: { t: text } }),
    }).then((r) => r.json());
  for (const t of texts) await publish(t); // in order, one by one
  await Promise.all(texts.map(publish)); // and at once: several in one turn of the loop
  for (let t = 0; t < 1000 && got.length < 2 * texts.length; t++) await sleep(10);
  assert.strictEqual(got.length, 2 * texts.length);
  assert.deepStrictEqual(got.slice(0, texts.length), texts);
  assert.deepStrictEqual([...got.slice(texts.length)].sort(), [...texts].sort());
  unsubscribe();
  await c.dispose();
});

test('errors: validation errors arrive as an `error` message', async () => {
  const c = client();
  await assert.rejects(collect(c, { query: '{ nope }' }), (errs) => {
    assert.match(errs[0].message, /Cannot query field "nope"/);
    return true;
  });
  await assert.rejects(collect(c, { query: 'subscription { failing }' }), (errs) => {
    assert.strictEqual(errs[0].message, 'This subscription fails');
    return true;
  });
  await c.dispose();
});

// ---- raw protocol ----

function raw(p = '/ws', protocols = 'graphql-transport-ws', headers = {}) {
  const ws = new WebSocket(srv.wsUrl + p, protocols, { headers });
  const msgs = [];
  const waiters = [];
  ws.on('message', (d) => {
    msgs.push(JSON.parse(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  const next = async () => {
    while (!msgs.length) await new Promise((r) => waiters.push(r));
    return msgs.shift();
  };
  return { ws, opened, closed, next, send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
}

test('the sub-protocol is negotiated; none or unknown is refused', async () => {
  const ok = raw();
  await ok.opened;
  assert.strictEqual(ok.ws.protocol, 'graphql-transport-ws');
  ok.ws.close();
  for (const protos of [[], 'mqtt']) {
    const bad = raw('/ws', protos);
    await assert.rejects(bad.opened);
  }
  const wrongPath = raw('/nope');
  await assert.rejects(wrongPath.opened);
});

test('ping gets pong; connection_init gets connection_ack', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init', payload: { token: 'x' } });
  assert.deepStrictEqual(await c.next(), { type: 'connection_ack' });
  c.send({ type: 'ping' });
  assert.deepStrictEqual(await c.next(), { type: 'pong' });
  c.ws.close();
});

test('subscribe before connection_ack closes with 4401', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'subscribe', id: '1', payload: { query: '{ hello }' } });
  assert.deepStrictEqual(await c.closed, { code: CloseCode.Unauthorized, reason: 'Unauthorized' });
});

test('no connection_init in time closes with 4408', async () => {
  const c = raw();
  await c.opened;
  const { code } = await c.closed;
  assert.strictEqual(code, CloseCode.ConnectionInitialisationTimeout);
});

test('a second connection_init closes with 4429', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ type: 'connection_init' });
  assert.strictEqual((await c.closed).code, CloseCode.TooManyInitialisationRequests);
});

test('a duplicate subscription id closes with 4409', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ type: 'subscribe', id: 'a', payload: { query: 'subscription { events }' } });
  c.send({ type: 'subscribe', id: 'a', payload: { query: 'subscription { events }' } });
  const { code, reason } = await c.closed;
  assert.strictEqual(code, CloseCode.SubscriberAlreadyExists);
  assert.strictEqual(reason, 'Subscriber for a already exists');
});

test('invalid messages close with 4400', async () => {
  for (const m of ['not json', '[]', { type: 'what' }, { type: 'subscribe', id: 'x' }]) {
    const c = raw();
    await c.opened;
    c.send({ type: 'connection_init' });
    await c.next();
    c.send(m);
    assert.strictEqual((await c.closed).code, CloseCode.BadRequest);
  }
});

test('a query answers next then complete with the same id', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ type: 'subscribe', id: 'q1', payload: { query: '{ hello }' } });
  assert.deepStrictEqual(await c.next(), { type: 'next', id: 'q1', payload: { data: { hello: 'world' } } });
  assert.deepStrictEqual(await c.next(), { type: 'complete', id: 'q1' });
  c.ws.close();
});

test('an upgrade from a refused Origin is rejected, an allowed one accepted', async () => {
  const bad = raw('/ws', 'graphql-transport-ws', { origin: 'http://evil.example' });
  await assert.rejects(bad.opened);
  const good = raw('/ws', 'graphql-transport-ws', { origin: 'http://localhost:4200' });
  await good.opened;
  good.ws.close();
});

test('a client that does not read is disconnected and server memory stays bounded', async () => {
  const before = rssKiB(srv.pid);
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.ws._socket.pause(); // stop reading: the kernel buffers fill, then the server's queue
  c.send({ type: 'subscribe', id: 'f', payload: { query: 'subscription { flood(n: 200000, size: 1000) }' } });
  let slow = 0;
  for (let t = 0; t < 1500 && slow < 1; t++) {
    await sleep(20);
    slow = await metric(srv.url, 'websocket_slow_reader_closed_total');
  }
  assert.strictEqual(slow, 1, 'the slow reader was not disconnected');
  const grown = rssKiB(srv.pid) - before;
  // 200 MB were offered; the queue bound is 1 MiB (plus socket buffers and allocator slack).
  assert.ok(grown < 64 * 1024, `server grew by ${grown} KiB`);
  c.ws._socket.resume();
  const { code } = await c.closed;
  assert.ok(code === 4413 || code === 1006, `close code ${code}`);
  assert.strictEqual(await metric(srv.url, 'graphql_subscriptions_active'), 0);
});

test('the upgrade request\'s Authorization header reaches the executor', async () => {
  const c = raw('/ws', 'graphql-transport-ws', { authorization: 'Bearer ws' });
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ type: 'subscribe', id: 'w', payload: { query: '{ whoami }' } });
  assert.deepStrictEqual(await c.next(), { type: 'next', id: 'w', payload: { data: { whoami: 'Bearer ws' } } });
  c.ws.close();
});

test('a message over the size limit closes with 1009, a binary frame with 4400', async () => {
  const big = raw();
  await big.opened;
  big.send({ type: 'connection_init' });
  await big.next();
  big.send({ type: 'ping', payload: { pad: 'x'.repeat(1100000) } }); // limit: 1 MiB (default)
  assert.strictEqual((await big.closed).code, 1009);
  const bin = raw();
  await bin.opened;
  bin.ws.send(Buffer.from('{"type":"connection_init"}'), { binary: true });
  assert.strictEqual((await bin.closed).code, 4400);
});
