// Shared by the bkes integration tests: start our real `bkes` binary on a free loopback port in a
// temp dir, and a real gRPC client (@grpc/grpc-js) with proto/bkes.proto loaded at run time.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const BIN_DIR = process.env.BIN_DIR || path.join(__dirname, '../../../build/bin');
const SOURCE_DIR = process.env.SOURCE_DIR || path.join(__dirname, '../../..');
const PROTO = path.join(SOURCE_DIR, 'proto/bkes.proto');

const definition = loader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true, oneofs: true });
const api = grpc.loadPackageDefinition(definition).tech.gklijs.bkes.api;
const service = definition['tech.gklijs.bkes.api.Bkes'];

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bkes-test-'));
}

// Starts bkes; resolves with { proc, port, address, dataDir, log(), stop(signal) } once it logs
// that it listens. `opts.args` replaces the default flags; `opts.env` adds variables.
function startBkes(opts = {}) {
  const dataDir = opts.dataDir || tempDir();
  const args = opts.args || ['--listen', '127.0.0.1:' + (opts.port || 0), '--data', dataDir];
  const proc = spawn(path.join(BIN_DIR, 'bkes'), args, {
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bkes did not start:\n' + output)), 20000);
    const onData = (chunk) => {
      output += chunk;
      const m = /listening on \S+ \(port (\d+)\)/.exec(output);
      if (m) {
        clearTimeout(timer);
        const port = Number(m[1]);
        resolve({
          proc, port, dataDir, exited,
          address: '127.0.0.1:' + port,
          log: () => output,
          stop: async (signal = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`bkes exited (${code}) before listening:\n${output}`)); });
  });
}

// A client with its own connection (no subchannel sharing between clients). `opts.tls`:
// { ca, key, cert } (PEM buffers; key/cert for a client certificate) for TLS; `opts.token`: a
// bearer token sent as `authorization: Bearer TOKEN` metadata with every call.
function client(address, opts = {}) {
  let creds = opts.tls ? grpc.credentials.createSsl(opts.tls.ca, opts.tls.key || null, opts.tls.cert || null) : grpc.credentials.createInsecure();
  const options = { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 80 << 20 };
  if (opts.token) {
    // Call credentials only go over TLS in grpc-js; over plaintext (loopback) add the metadata
    // with an interceptor, as any client may.
    const token = opts.token;
    options.interceptors = [
      (o, next) =>
        new grpc.InterceptingCall(next(o), {
          start: (metadata, listener, nextStart) => {
            metadata.set('authorization', 'Bearer ' + token);
            nextStart(metadata, listener);
          },
        }),
    ];
  }
  return new api.Bkes(address, creds, options);
}

// Promise form of a unary call.
function call(c, method, request, deadlineMs = 20000) {
  return new Promise((resolve, reject) => {
    c[method](request, { deadline: Date.now() + deadlineMs }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

// Test certificates made now with the openssl command in `dir` (nothing is committed): a CA,
// a server certificate for 127.0.0.1 and localhost, and a client certificate per name in
// `clients` (its CN), plus `other-ca.pem` and a client certificate `rogue` signed by that other CA.
// Returns the paths and the PEM contents.
function makeCerts(dir, clients = []) {
  const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const sign = (name, caName, ext) => {
    fs.writeFileSync(path.join(dir, name + '.ext'), ext);
    ossl('req', ...key, '-keyout', name + '.key', '-out', name + '.csr', '-subj', '/CN=' + name);
    ossl('x509', '-req', '-in', name + '.csr', '-CA', caName + '.pem', '-CAkey', caName + '.key', '-CAcreateserial',
      '-out', name + '.pem', '-days', '2', '-extfile', name + '.ext');
  };
  ossl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bkes-test-ca');
  ossl('req', '-x509', ...key, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=other-ca');
  sign('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  for (const c of clients) sign(c, 'ca', 'extendedKeyUsage=clientAuth\n');
  sign('rogue', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (n) => fs.readFileSync(path.join(dir, n));
  const out = { dir, ca: read('ca.pem'), caFile: path.join(dir, 'ca.pem'), serverCert: path.join(dir, 'server.pem'), serverKey: path.join(dir, 'server.key') };
  out.tls = (name) => (name ? { ca: out.ca, cert: read(name + '.pem'), key: read(name + '.key') } : { ca: out.ca });
  return out;
}

// Runs `bkes token NAME RIGHTS`; returns { token, line } (the clients-file line).
function newToken(name, rights) {
  const out = execFileSync(path.join(BIN_DIR, 'bkes'), ['token', name, rights], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [token, line] = out.trim().split('\n');
  return { token, line };
}

// A unary call with raw request bytes; resolves with the raw reply bytes.
function rawCall(c, methodPath, bytes, deadlineMs = 20000) {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(methodPath, (b) => b, (b) => b, bytes, new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

// Every directory under `dir` (itself included) is 0700 and every file 0600.
function assertPrivate(dir) {
  const assert = require('node:assert/strict');
  const seen = [];
  const walk = (p) => {
    const st = fs.statSync(p);
    seen.push(p);
    if (st.isDirectory()) {
      assert.equal(st.mode & 0o777, 0o700, `${p} is ${(st.mode & 0o777).toString(8)}`);
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else {
      assert.equal(st.mode & 0o777, 0o600, `${p} is ${(st.mode & 0o777).toString(8)}`);
    }
  };
  walk(dir);
  return seen;
}

const b = (s) => Buffer.from(s);

module.exports = { api, service, grpc, startBkes, client, call, rawCall, tempDir, b, BIN_DIR, makeCerts, newToken, assertPrivate };
