// Shared by the bkes integration tests: start our real `bkes` binary on a free loopback port in a
// temp dir, and a real gRPC client (@grpc/grpc-js) with proto/bkes.proto loaded at run time.
'use strict';
const { spawn } = require('node:child_process');
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

// A client with its own connection (no subchannel sharing between clients).
function client(address) {
  return new api.Bkes(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 80 << 20,
  });
}

// Promise form of a unary call.
function call(c, method, request, deadlineMs = 20000) {
  return new Promise((resolve, reject) => {
    c[method](request, { deadline: Date.now() + deadlineMs }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

// A unary call with raw request bytes; resolves with the raw reply bytes.
function rawCall(c, methodPath, bytes, deadlineMs = 20000) {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(methodPath, (b) => b, (b) => b, bytes, new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

const b = (s) => Buffer.from(s);

module.exports = { api, service, grpc, startBkes, client, call, rawCall, tempDir, b, BIN_DIR };
