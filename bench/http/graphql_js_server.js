// The comparison server: graphql-js behind graphql-http's node handler, the same SDL as our test
// server and a trivial root value. Prints "LISTENING <port>".
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const http = require('node:http');
const nm = path.join(__dirname, '../../tests/node_modules');
const { buildSchema } = require(path.join(nm, 'graphql'));
const { createHandler } = require(path.join(nm, 'graphql-http/lib/use/http'));

const sdl = fs.readFileSync(path.join(__dirname, '../../tests/integration/http/test_schema.graphql'), 'utf8');
const schema = buildSchema(sdl);
const handler = createHandler({ schema, rootValue: { hello: 'world', echo: ({ msg }) => msg } });
const server = http.createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
