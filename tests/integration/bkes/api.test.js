// The seed's bkes API (spec 1.2-1.6, 1.9, checklist items that still apply) and our extensions,
// driven by @grpc/grpc-js against a real bkes.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { service, grpc, startBkes, client, call, rawCall, b } = require('./bkes_helpers');

let srv;
let c;
before(async () => {
  srv = await startBkes();
  c = client(srv.address);
});
after(async () => {
  c.close();
  const { code } = await srv.stop('SIGTERM');
  assert.equal(code, 0, 'bkes exits 0 after SIGTERM (no leak, no crash)\n' + srv.log());
});

function assertUser(reply, text) {
  assert.equal(reply.reply, 'error', JSON.stringify(reply));
  assert.deepEqual(reply.error, { type: 0 /* USER */, error: text, cause: '' });
}

test('1,2,9: Start then Add then Retrieve: records in order with partition 0, offset = position, timestamps now', async () => {
  const t0 = Date.now();
  const s = await call(c, 'Start', { key: b('alice'), value: b('e0') });
  const t1 = Date.now();
  assert.equal(s.reply, 'success');
  assert.equal(s.success.partition, 0);
  assert.ok(Number(s.success.offset) >= 1);
  assert.ok(Number(s.success.timestamp) >= t0 - 5 && Number(s.success.timestamp) <= t1 + 5);
  const r1 = await call(c, 'Retrieve', { key: b('alice') });
  assert.equal(r1.reply, 'success');
  assert.equal(r1.success.records.length, 1);
  assert.deepEqual(r1.success.records[0].value, b('e0'));
  assert.equal(r1.success.records[0].offset, s.success.offset, 'stored at once: offset is real, never -1');
  assert.equal(r1.success.records[0].timestamp, s.success.timestamp);
  const a = await call(c, 'Add', { key: b('alice'), value: b('e1'), order: 1 });
  assert.equal(a.reply, 'success');
  assert.ok(BigInt(a.success.offset) > BigInt(s.success.offset));
  const r2 = await call(c, 'Retrieve', { key: b('alice') });
  assert.deepEqual(r2.success.records.map((r) => r.value.toString()), ['e0', 'e1']);
  assert.ok(r2.success.records.every((r) => r.partition === 0));
});

test('3: Start on a key with one record: USER Already a verified record', async () => {
  await call(c, 'Start', { key: b('bob'), value: b('x') });
  assertUser(await call(c, 'Start', { key: b('bob'), value: b('y') }),
    "Already a verified record for this key, can't start aggregate");
});

test('4: Start on a key with 3 records: USER Already 3 records ... cant start', async () => {
  await call(c, 'Start', { key: b('carol'), value: b('x') });
  await call(c, 'Add', { key: b('carol'), value: b('x'), order: 1 });
  await call(c, 'Add', { key: b('carol'), value: b('x'), order: 2 });
  assertUser(await call(c, 'Start', { key: b('carol'), value: b('y') }),
    'Already 3 records for this key, cant start aggregate');
});

test('7: Add to a missing key (any order, 0 included): USER No aggregate was created', async () => {
  for (const order of [0, 1, 5]) {
    assertUser(await call(c, 'Add', { key: b('nobody'), value: b('x'), order }),
      "No aggregate was created with key: 'nobody', so can't add");
  }
  assert.equal((await call(c, 'Count', { key: b('nobody') })).count, 0, 'Add never creates the aggregate');
});

test('8 (INTENDED F20): Add with a stale order: CONCURRENCY with the seed text', async () => {
  await call(c, 'Start', { key: b('dave'), value: b('x') });
  await call(c, 'Add', { key: b('dave'), value: b('x'), order: 1 });
  for (const order of [0, 1, 3]) {
    const r = await call(c, 'Add', { key: b('dave'), value: b('y'), order });
    assert.equal(r.reply, 'error');
    assert.deepEqual(r.error, {
      type: 1 /* CONCURRENCY */,
      error: `Could not add records because there are currently 2 records instead of ${order} for key: 'dave'`,
      cause: '',
    });
  }
});

test('10: Retrieve of a missing key: USER No records where found', async () => {
  assertUser(await call(c, 'Retrieve', { key: b('ghost') }), "No records where found with key: 'ghost'");
});

test('keys in texts are lossy UTF-8: invalid bytes become U+FFFD', async () => {
  const key = Buffer.from([0x6b, 0xff, 0x6c, 0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98, 0x80]);
  assertUser(await call(c, 'Retrieve', { key }), "No records where found with key: 'k\uFFFDl\uFFFDA\u{1F600}'");
  assertUser(await call(c, 'Add', { key, value: b('x'), order: 1 }),
    "No aggregate was created with key: 'k\uFFFDl\uFFFDA\u{1F600}', so can't add");
});

test('values are opaque bytes (NUL, high bytes, empty) and come back unchanged', async () => {
  const v = Buffer.from([0, 1, 2, 255, 0, 128]);
  await call(c, 'Start', { key: Buffer.from([0, 0xff]), value: v });
  await call(c, 'Add', { key: Buffer.from([0, 0xff]), value: Buffer.alloc(0), order: 1 });
  const r = await call(c, 'Retrieve', { key: Buffer.from([0, 0xff]) });
  assert.deepEqual(r.success.records.map((x) => x.value), [v, Buffer.alloc(0)]);
});

test('limits: empty key, key over 1024 bytes, value over 1 MiB get USER errors; the limits themselves pass', async () => {
  assertUser(await call(c, 'Start', { key: Buffer.alloc(0), value: b('x') }), 'Key must not be empty');
  assertUser(await call(c, 'Retrieve', { key: Buffer.alloc(0) }), 'Key must not be empty');
  assertUser(await call(c, 'Start', { key: Buffer.alloc(1025, 0x61), value: b('x') }),
    'Key is 1025 bytes, the limit is 1024 bytes');
  assertUser(await call(c, 'Start', { key: b('big'), value: Buffer.alloc((1 << 20) + 1, 7) }),
    'Value is 1048577 bytes, the limit is 1048576 bytes');
  const ok = await call(c, 'Start', { key: Buffer.alloc(1024, 0x61), value: Buffer.alloc(1 << 20, 7) });
  assert.equal(ok.reply, 'success');
  const r = await call(c, 'Retrieve', { key: Buffer.alloc(1024, 0x61) });
  assert.equal(r.success.records[0].value.length, 1 << 20);
});

test('a request over 4 MiB is refused by gRPC (RESOURCE_EXHAUSTED) and bkes keeps serving', async () => {
  await assert.rejects(call(c, 'Start', { key: b('huge'), value: Buffer.alloc(5 << 20, 1) }),
    (e) => e.code === grpc.status.RESOURCE_EXHAUSTED);
  assert.equal((await call(c, 'Head', {})).reply, 'position');
});

test('garbage protobuf bytes get a USER error reply with status OK', async () => {
  for (const [method, type] of [['Start', 'StartRequest'], ['Add', 'AddRequest'], ['Retrieve', 'RetrieveRequest'],
    ['AddBatch', 'AddBatchRequest'], ['RetrieveFrom', 'RetrieveFromRequest']]) {
    const m = service[method];
    const raw = await rawCall(c, m.path, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const reply = m.responseDeserialize(raw);
    assertUser(reply, `Request could not be decoded as ${type}`);
  }
  const raw = await rawCall(c, service.Start.path, Buffer.from([0xff, 0xff, 0xff]));
  assertUser(service.Start.responseDeserialize(raw), 'Request could not be decoded as StartRequest');
});

test('an unknown method gives UNIMPLEMENTED', async () => {
  await assert.rejects(rawCall(c, '/tech.gklijs.bkes.api.Bkes/Delete', Buffer.alloc(0)),
    (e) => e.code === grpc.status.UNIMPLEMENTED);
  await assert.rejects(rawCall(c, '/other.Service/Start', Buffer.alloc(0)),
    (e) => e.code === grpc.status.UNIMPLEMENTED);
});

test('raw garbage on the TCP port does not hurt the server', async () => {
  await new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => {
      sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      sock.write(Buffer.alloc(4096, 0xa5));
      setTimeout(() => { sock.destroy(); resolve(); }, 200);
    });
    sock.on('error', () => resolve());
  });
  assert.equal((await call(c, 'Count', { key: b('alice') })).count, 2);
});

test('extension AddBatch: order 0 creates, appends atomically, mismatch is CONCURRENCY, bad batches are USER', async () => {
  const r = await call(c, 'AddBatch', { key: b('batch'), order: 0, values: [b('a'), b('b'), b('c')] });
  assert.equal(r.reply, 'success');
  const r2 = await call(c, 'AddBatch', { key: b('batch'), order: 3, values: [b('d')] });
  assert.equal(BigInt(r2.success.offset), BigInt(r.success.offset) + 3n);
  const bad = await call(c, 'AddBatch', { key: b('batch'), order: 1, values: [b('x'), b('y')] });
  assert.deepEqual(bad.error, { type: 1 /* CONCURRENCY */, cause: '',
    error: "Could not add records because there are currently 4 records instead of 1 for key: 'batch'" });
  assertUser(await call(c, 'AddBatch', { key: b('batch'), order: 4, values: [] }), 'A batch holds 1 to 1024 values, not 0');
  assertUser(await call(c, 'AddBatch', { key: b('batch'), order: 4, values: [b('ok'), Buffer.alloc((1 << 20) + 1)] }),
    'Value is 1048577 bytes, the limit is 1048576 bytes');
  assert.equal((await call(c, 'Count', { key: b('batch') })).count, 4, 'a refused batch stores nothing');
  const all = await call(c, 'Retrieve', { key: b('batch') });
  assert.deepEqual(all.success.records.map((x) => x.value.toString()), ['a', 'b', 'c', 'd']);
});

test('extension RetrieveFrom: events from an order with key, order and position; pages with `more`', async () => {
  const r = await call(c, 'RetrieveFrom', { key: b('batch'), from_order: 2 });
  assert.equal(r.reply, 'success');
  assert.deepEqual(r.success.events.map((e) => [e.key.toString(), e.order, e.value.toString()]), [['batch', 2, 'c'], ['batch', 3, 'd']]);
  assert.equal(r.success.more, false);
  const none = await call(c, 'RetrieveFrom', { key: b('nothing'), from_order: 0 });
  assert.deepEqual(none.success.events, [], 'a key without events is an empty page, not an error');
  // 3 values of 1 MiB: the first page stops at 2 MiB, the second holds the rest.
  const mib = (n) => Buffer.alloc(1 << 20, n);
  await call(c, 'AddBatch', { key: b('pages'), order: 0, values: [mib(1), mib(2), mib(3)] });
  const p1 = await call(c, 'RetrieveFrom', { key: b('pages'), from_order: 0 });
  assert.equal(p1.success.more, true);
  assert.deepEqual(p1.success.events.map((e) => e.order), [0, 1]);
  const p2 = await call(c, 'RetrieveFrom', { key: b('pages'), from_order: 2 });
  assert.equal(p2.success.more, false);
  assert.deepEqual(p2.success.events.map((e) => e.value[0]), [3]);
});

test('extensions Count and Head', async () => {
  assert.deepEqual(await call(c, 'Count', { key: b('alice') }), { count: 2, reply: 'count' });
  const h1 = await call(c, 'Head', {});
  const s = await call(c, 'Start', { key: b('headcheck'), value: b('x') });
  const h2 = await call(c, 'Head', {});
  assert.equal(h2.position, s.success.offset);
  assert.ok(BigInt(h2.position) > BigInt(h1.position));
});

test('extension Subscribe: backlog from a position, then live events, in position order', async () => {
  const head = BigInt((await call(c, 'Head', {})).position);
  const from = head - 2n; // the last 3 stored events, then new ones
  const got = [];
  const stream = c.Subscribe({ from_position: String(from) });
  const done = new Promise((resolve, reject) => {
    stream.on('data', (m) => {
      assert.equal(m.reply, 'event');
      got.push(m.event);
      if (got.length === 5) resolve();
    });
    stream.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
  });
  await new Promise((r) => setTimeout(r, 100));
  await call(c, 'Start', { key: b('live'), value: b('l0') });
  await call(c, 'Add', { key: b('live'), value: b('l1'), order: 1 });
  await done;
  stream.cancel();
  assert.deepEqual(got.map((e) => BigInt(e.position)), [from, from + 1n, from + 2n, from + 3n, from + 4n]);
  assert.deepEqual(got.slice(3).map((e) => [e.key.toString(), e.order, e.value.toString()]), [['live', 0, 'l0'], ['live', 1, 'l1']]);
});

test('a slow Subscribe reader gets every event in order (flow control, bounded buffering)', async () => {
  const key = b('flow');
  const values = Array.from({ length: 600 }, (_, i) => Buffer.alloc(2000, i % 256));
  const first = await call(c, 'AddBatch', { key, order: 0, values: values.slice(0, 300) });
  await call(c, 'AddBatch', { key, order: 300, values: values.slice(300) });
  const start = BigInt(first.success.offset);
  const stream = c.Subscribe({ from_position: String(start) });
  let n = 0;
  await new Promise((resolve, reject) => {
    stream.on('data', (m) => {
      assert.equal(BigInt(m.event.position), start + BigInt(n));
      assert.equal(m.event.order, n);
      n++;
      if (n % 100 === 0) { stream.pause(); setTimeout(() => stream.resume(), 50); }
      if (n === 600) resolve();
    });
    stream.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
  });
  stream.cancel();
});

test('extension AddMany: independent appends in one call, applied in order, one reply each', async () => {
  const r = await call(c, 'AddMany', { appends: [
    { key: b('many-a'), order: 0, values: [b('a0')] },
    { key: b('many-a'), order: 1, values: [b('a1'), b('a2')] }, // after the first: same call, in order
    { key: b('many-b'), order: 3, values: [b('b?')] },           // mismatch
    { key: Buffer.alloc(0), order: 0, values: [b('x')] },        // invalid
    { key: b('many-b'), order: 0, values: [b('b0')] },
  ] });
  assert.equal(r.replies.length, 5);
  assert.deepEqual(r.replies.map((x) => x.reply), ['success', 'success', 'error', 'error', 'success']);
  assert.equal(BigInt(r.replies[1].success.offset), BigInt(r.replies[0].success.offset) + 1n);
  assert.deepEqual(r.replies[2].error, { type: 1, cause: '',
    error: "Could not add records because there are currently 0 records instead of 3 for key: 'many-b'" });
  assert.deepEqual(r.replies[3].error, { type: 0, error: 'Key must not be empty', cause: '' });
  const a = await call(c, 'Retrieve', { key: b('many-a') });
  assert.deepEqual(a.success.records.map((x) => x.value.toString()), ['a0', 'a1', 'a2']);
  const empty = await call(c, 'AddMany', { appends: [] });
  assert.deepEqual(empty.error, { type: 0, error: 'AddMany holds 1 to 1024 appends, not 0', cause: '' });
  const raw = await rawCall(c, service.AddMany.path, Buffer.from([0x0a, 0x05, 0x01]));
  assert.deepEqual(service.AddMany.responseDeserialize(raw).error, { type: 0, error: 'Request could not be decoded as AddManyRequest', cause: '' });
});

test('random request bytes on every unary rpc: always an answer with status OK, never a crash', async () => {
  const crypto = require('node:crypto');
  const unary = Object.entries(service).filter(([, m]) => !m.responseStream);
  assert.ok(unary.length >= 8);
  for (const [name, m] of unary) {
    for (let i = 0; i < 40; i++) {
      const bytes = crypto.randomBytes(1 + (i * 37) % 300);
      const raw = await rawCall(c, m.path, bytes);
      const reply = m.responseDeserialize(raw);
      if (reply.error) assert.ok([0, 1, 2].includes(reply.error.type), `${name}: ${JSON.stringify(reply.error)}`);
    }
  }
  assert.equal((await call(c, 'Count', { key: b('alice') })).count, 2, 'still serving');
});

test('a store failure is a SERVER error with a cause: the 65th Subscribe hits the store limit of 64', async () => {
  const streams = [];
  const firsts = [];
  for (let i = 0; i < 64; i++) {
    const s = c.Subscribe({ from_position: '1' });
    streams.push(s);
    firsts.push(new Promise((resolve, reject) => {
      s.once('data', resolve);
      s.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
    }));
  }
  await Promise.all(firsts); // all 64 are subscribed and delivering
  const extra = c.Subscribe({ from_position: '1' });
  const msg = await new Promise((resolve, reject) => {
    extra.once('data', resolve);
    extra.on('error', reject);
  });
  assert.equal(msg.reply, 'error');
  assert.equal(msg.error.type, 2 /* SERVER */);
  assert.equal(msg.error.error, 'Could not subscribe');
  assert.match(msg.error.cause, /^limit exceeded: .*64 subscriptions/);
  const end = await new Promise((resolve) => { extra.on('end', () => resolve('end')); extra.on('error', (e) => resolve(e.code)); });
  assert.equal(end, 'end', 'the stream then ends with status OK');
  streams.forEach((s) => s.cancel());
  // Cancelled streams free their store subscriptions: a new one works (once the cancels landed).
  let first;
  for (let attempt = 0; attempt < 100; attempt++) {
    const again = c.Subscribe({ from_position: '1' });
    first = await new Promise((resolve, reject) => { again.once('data', resolve); again.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); }); });
    again.cancel();
    if (first.reply === 'event') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(first.reply, 'event');
});

test('RetrieveFrom pages stay bounded for many empty values under a long key', async () => {
  const key = Buffer.alloc(1024, 0x6d);
  const empties = Array.from({ length: 1024 }, () => Buffer.alloc(0));
  await call(c, 'AddBatch', { key, order: 0, values: empties });
  await call(c, 'AddBatch', { key, order: 1024, values: empties });
  let from = 0;
  let pages = 0;
  for (;;) {
    const r = await call(c, 'RetrieveFrom', { key, from_order: from });
    assert.ok(r.success.events.length > 0);
    assert.equal(r.success.events[0].order, from);
    from += r.success.events.length;
    pages++;
    if (!r.success.more) break;
  }
  assert.equal(from, 2048);
  assert.ok(pages >= 2, 'the reply was cut into pages');
});
