// The graphql-http package's GraphQL-over-HTTP server audit against our transport: every audit is
// a test; a MUST that fails fails the test, SHOULD/MAY findings are printed as warnings.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { serverAudits } = require('graphql-http');
const { startServer } = require('./helpers');

const SERVER_BIN = process.env.HTTP_AUDIT_SERVER; // the engine-backed server when given
let srv;
before(async () => {
  srv = await startServer([], SERVER_BIN ? { bin: SERVER_BIN } : {});
});
after(async () => {
  await srv.stop();
});

for (const endpoint of ['/graphql', '/api']) {
  for (const audit of serverAudits({ url: () => srv.url + endpoint })) {
    test(`${endpoint} ${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status === 'error') assert.fail(`${audit.name}: ${result.reason}`);
      if (result.status !== 'ok') console.log(`# ${result.status}: ${audit.name}: ${result.reason}`);
    });
  }
}
