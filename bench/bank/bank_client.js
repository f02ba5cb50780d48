// What the bank's benchmark clients (loadgen.js, probe.js) share: the `ws` package from tests/,
// GraphQL over HTTP, the transfer mutation and the bank's busy reason.
'use strict';
const path = require('node:path');

const SOURCE_DIR = process.env.SOURCE_DIR || path.join(__dirname, '../..');
const WebSocket = require(path.join(SOURCE_DIR, 'tests/node_modules/ws'));

// What the bank answers when it refuses a transfer at the door because it is at capacity.
const BUSY_REASON = 'the bank is busy, try again';

const MUTATION =
  'mutation($uuid: String!, $username: String!, $token: String!, $amount: Int!, $from: String!, $to: String!, $descr: String!) ' +
  '{ money_transfer(uuid: $uuid, username: $username, token: $token, amount: $amount, from: $from, to: $to, descr: $descr) { success reason } }';

// A GraphQL request over HTTP POST; its data, or throws with its errors.
async function post(url, query, variables) {
  const res = await fetch(url + '/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const j = await res.json();
  if (j.errors) throw new Error(JSON.stringify(j.errors));
  return j.data;
}

module.exports = { WebSocket, BUSY_REASON, MUTATION, post };
