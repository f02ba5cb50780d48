// The legacy graphql-ws protocol (subscriptions-transport-ws), as the seed's frontend spoke it:
// the real client, plus raw frames for ka, errors, stop and connection_terminate.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const WebSocket = require('ws');
const { SubscriptionClient } = require('subscriptions-transport-ws');
const { startServer, metric, sleep } = require('./helpers');

let srv;
before(async () => {
  srv = await startServer(['--ka-ms', '200']);
});
after(async () => {
  await srv.stop();
});

function request(sc, op) {
  const out = [];
  return new Promise((resolve, reject) =>
    sc.request(op).subscribe({
      next: (v) => out.push(v),
      error: reject,
      complete: () => resolve(out),
    }),
  );
}

test('subscriptions-transport-ws client: subscription, query and mutation', async () => {
  const sc = new SubscriptionClient(srv.wsUrl + '/ws', { reconnect: false }, WebSocket);
  assert.deepStrictEqual(await request(sc, { query: 'subscription { ticks(n: 3) }' }), [
    { data: { ticks: 1 } },
    { data: { ticks: 2 } },
    { data: { ticks: 3 } },
  ]);
  assert.deepStrictEqual(await request(sc, { query: '{ hello }' }), [{ data: { hello: 'world' } }]);
  assert.deepStrictEqual(
    await request(sc, { query: 'mutation M($b: Int) { add(a: 1, b: $b) }', variables: { b: 2 }, operationName: 'M' }),
    [{ data: { add: 3 } }],
  );
  sc.close();
});

test('subscriptions-transport-ws client: unsubscribe sends stop', async () => {
  const sc = new SubscriptionClient(srv.wsUrl + '/ws', { reconnect: false }, WebSocket);
  const sub = sc.request({ query: 'subscription { events }' }).subscribe({ next: () => {} });
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 1; t++) await sleep(10);
  assert.strictEqual(await metric(srv.url, 'graphql_subscriptions_active'), 1);
  sub.unsubscribe();
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) !== 0; t++) await sleep(10);
  assert.strictEqual(await metric(srv.url, 'graphql_subscriptions_active'), 0);
  sc.close();
});

function raw() {
  const ws = new WebSocket(srv.wsUrl + '/ws', 'graphql-ws');
  const msgs = [];
  const waiters = [];
  ws.on('message', (d) => {
    msgs.push(JSON.parse(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  const next = async (skipKa = true) => {
    for (;;) {
      while (!msgs.length) await new Promise((r) => waiters.push(r));
      const m = msgs.shift();
      if (!(skipKa && m.type === 'ka')) return m;
    }
  };
  return { ws, opened, closed, next, send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
}

test('connection_init gets connection_ack, then ka at the configured interval', async () => {
  const c = raw();
  await c.opened;
  assert.strictEqual(c.ws.protocol, 'graphql-ws');
  c.send({ type: 'connection_init', payload: {} });
  assert.deepStrictEqual(await c.next(false), { type: 'connection_ack' });
  assert.deepStrictEqual(await c.next(false), { type: 'ka' });
  assert.deepStrictEqual(await c.next(false), { type: 'ka' }); // the periodic one (200 ms here)
  c.ws.close();
});

test('an unknown type gets "Unrecognized message type."', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ id: '7', type: 'bogus' });
  assert.deepStrictEqual(await c.next(), {
    type: 'error',
    id: '7',
    payload: { message: 'Unrecognized message type.', type: 'bogus' },
  });
  c.ws.close();
});

test('malformed JSON gets connection_error', async () => {
  const c = raw();
  await c.opened;
  c.send('{not json');
  const m = await c.next();
  assert.strictEqual(m.type, 'connection_error');
  assert.match(m.payload.message, /JSON/);
  c.ws.close();
});

test('start answers data then complete; a query error gives error; a duplicate id is ignored', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ id: '1', type: 'start', payload: { query: '{ hello }' } });
  assert.deepStrictEqual(await c.next(), { type: 'data', id: '1', payload: { data: { hello: 'world' } } });
  assert.deepStrictEqual(await c.next(), { type: 'complete', id: '1' });
  c.send({ id: '2', type: 'start', payload: { query: '{ nope }' } });
  const e = await c.next();
  assert.strictEqual(e.type, 'error');
  assert.strictEqual(e.id, '2');
  assert.match(e.payload.message, /Cannot query field "nope"/);
  c.send({ id: '3', type: 'start', payload: { query: 'subscription { events }' } });
  c.send({ id: '3', type: 'start', payload: { query: '{ hello }' } }); // ignored
  for (let t = 0; t < 1000 && (await metric(srv.url, 'graphql_subscriptions_active')) < 1; t++)
    await sleep(10);
  await fetch(srv.url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation { publish(text: "x") }' }),
  });
  const d = await c.next();
  assert.strictEqual(d.type, 'data');
  assert.strictEqual(d.id, '3');
  assert.strictEqual(d.payload.data.events.text, 'x');
  c.send({ id: '3', type: 'stop' });
  c.send({ type: 'connection_terminate' });
  assert.strictEqual(await c.closed, 1000);
});

test('a stream that ends sends complete', async () => {
  const c = raw();
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.next();
  c.send({ id: 's', type: 'start', payload: { query: 'subscription { ticks(n: 2) }' } });
  assert.strictEqual((await c.next()).type, 'data');
  assert.strictEqual((await c.next()).type, 'data');
  assert.deepStrictEqual(await c.next(), { type: 'complete', id: 's' });
  c.ws.close();
});
