// graphql-js as the oracle: same SDL, same documents, same root value (default resolvers).
// Compared: data, and for errors the set of (message, locations, path); graphql-js's
// "Did you mean ...?" suggestions are left out of the comparison.
const test = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { buildSchema, graphqlSync } = require('graphql');

const bin = path.join(process.env.BIN_DIR || path.join(__dirname, '../../../build/h-graphql/bin'), 'gql_run');
const source = process.env.SOURCE_DIR || path.join(__dirname, '../../..');
const files = {
  bank: path.join(source, 'graphql/bank.graphql'),
  kinds: path.join(source, 'tests/unit/graphql/kinds.graphql'),
};
const sdl = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, fs.readFileSync(f, 'utf8')]));
const built = Object.fromEntries(Object.entries(sdl).map(([k, s]) => [k, buildSchema(s)]));

const people = [
  { id: '1', name: 'Ann', age: 30, tags: ['a'], friends: [{ id: '2', name: 'Bob', tags: [] }], pet: { __typename: 'Dog', id: 'd', name: 'Rex', barks: true }, score: 1.5 },
  { id: '2', name: 'Bob', age: null, tags: [], friends: [], pet: { __typename: 'Cat', id: 'c', name: 'Tom', lives: 9 } },
];
const kindsRoot = {
  people, pets: [people[0].pet, people[1].pet, null], color: 'GREEN', echo: 'hi', now: '2024-01-01',
  strict: null, strictList: [people[0], null], count: 7, big: 12.25,
  node: { __typename: 'Person', ...people[0] }, add: people[1], rename: people[0],
};
const bankRoot = {
  transaction_by_id: { id: 1, iban: 'NL01', new_balance: '€1,00', changed_by: '€1,00', from_to: 'cash', descr: 'd', direction: 'CREDIT' },
  transactions_by_iban: [{ id: 1, direction: 'DEBIT' }, { id: 2, direction: 'CREDIT' }],
  all_last_transactions: [{ id: 3, iban: 'NL02' }, { id: null }],
  account: { iban: 'NL01', balance: '€0,00', balance_cents: 0, owners: ['ann'] },
  transfer: { uuid: 'u', state: 'BOGUS' },
  get_account: { iban: 'NL03', token: 't', reason: null },
};

const cases = [
  // valid documents
  ['kinds', '{ people { id name age tags friends { name } pet { __typename ... on Dog { barks } ... on Cat { lives } } } }'],
  ['kinds', 'query Q($f: Filter) { people(filter: $f, first: 3) { name } }', { f: { name: 'x', colors: ['RED'] } }],
  ['kinds', '{ a: count b: count c: big ...F } fragment F on Root { color now }'],
  ['kinds', '{ pets { ... on Named { name } ... on Dog { id } } }'],
  ['kinds', '{ node(id: 1) { id ... on Person { age } } }'],
  ['kinds', 'query ($yes: Boolean!, $no: Boolean = false) { count @include(if: $yes) big @skip(if: $yes) color @include(if: $no) now @skip(if: $no) }', { yes: true }],
  ['kinds', '{ ... @include(if: false) { count } ... on Root @skip(if: false) { big } }'],
  ['kinds', '{ strict { id } count }'],
  ['kinds', '{ strictList { id name } }'],
  ['kinds', 'mutation { first: add(name: "x") { id } second: rename(id: 1, name: "y") { name } }'],
  ['kinds', 'query A { count } query B { big }'],
  ['kinds', '{ echo(s: "x", i: 1, f: 1, b: true, id: 4, d: {any: [1]}, list: 1, filter: {nested: {flag: true, deep: 1}}, c: RED) }'],
  ['kinds', 'query ($i: Int = 5, $l: [Int!] = [1, 2]) { echo(i: $i, list: $l) }'],
  ['kinds', '{ __typename people { __typename } }'],
  ['bank', '{ transaction_by_id(id: 1) { id iban new_balance changed_by from_to descr direction } }'],
  ['bank', '{ transactions_by_iban(iban: "NL01", max_items: 2) { id direction } all_last_transactions { id iban } }'],
  ['bank', '{ transfer(uuid: "u") { uuid state } }'],
  ['bank', 'query ($iban: String!, $token: String!) { account(iban: $iban, token: $token) { iban balance balance_cents owners } }', { iban: 'NL01', token: 't' }],
  ['bank', 'mutation { get_account(username: "a", password: "b") { iban token reason } }'],
  // variable coercion errors (request errors)
  ['kinds', 'query ($i: Int!) { echo(i: $i) }', {}],
  ['kinds', 'query ($i: Int!) { echo(i: $i) }', { i: null }],
  ['kinds', 'query ($i: Int) { echo(i: $i) }', { i: 'abc' }],
  ['kinds', 'query ($i: Int) { echo(i: $i) }', { i: 3000000000 }],
  ['kinds', 'query ($c: Color) { echo(c: $c) }', { c: 'PURPLE' }],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { id } }', { f: { bogus: 1 } }],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { id } }', { f: { nested: {} } }],
  ['kinds', 'query ($s: String) { echo(s: $s) }', { s: 5 }],
  // syntax errors
  ['kinds', '{ count'],
  ['kinds', '{ count(i: ) }'],
  ['kinds', 'query { echo(s: "abc) }'],
  ['kinds', '{ echo(i: 01) }'],
  ['kinds', '{ echo(s: "\\x") }'],
  ['kinds', '{ echo(i: 1.) }'],
  ['kinds', 'fragment on on Root { count }'],
  ['kinds', '{ ...  }'],
  ['kinds', '   '],
  ['kinds', '{ count } %'],
  ['kinds', 'query Q($a: Int = $b) { count }'],
  // validation errors
  ['kinds', '{ nope }'],
  ['kinds', '{ people { nope } }'],
  ['kinds', '{ count { x } }'],
  ['kinds', '{ people }'],
  ['kinds', '{ node { id } }'],
  ['kinds', '{ echo(zzz: 1) }'],
  ['kinds', '{ echo(s: 1, i: "x", f: "y", b: 2, id: 1.5, c: "RED", list: ["a"]) }'],
  ['kinds', '{ echo(c: PURPLE) }'],
  ['kinds', '{ echo(i: 3000000000) }'],
  ['kinds', '{ echo(filter: {nested: {deep: 1}}) }'],
  ['kinds', '{ echo(filter: {bogus: 1}) }'],
  ['kinds', '{ echo(s: "a", s: "b") }'],
  ['kinds', '{ ...Missing }'],
  ['kinds', '{ count } fragment Unused on Root { count }'],
  ['kinds', '{ ...A } fragment A on Root { count } fragment A on Root { big }'],
  ['kinds', '{ ...A } fragment A on Root { ...B } fragment B on Root { ...A }'],
  ['kinds', '{ ...A } fragment A on Root { count ...A }'],
  ['kinds', '{ pets { ... on Person { id } } }'],
  ['kinds', '{ people { ...D } } fragment D on Dog { barks }'],
  ['kinds', '{ ... on Nope { count } }'],
  ['kinds', '{ ...S } fragment S on String { x }'],
  ['kinds', '{ count @nope }'],
  ['kinds', '{ count @skip(if: true) @skip(if: false) }'],
  ['kinds', 'query @skip(if: true) { count }'],
  ['kinds', '{ count @skip }'],
  ['kinds', 'query Q { count } query Q { big }'],
  ['kinds', '{ count } query B { big }'],
  ['kinds', 'query ($a: Int) { count }'],
  ['kinds', 'query Named($a: Int) { count }'],
  ['kinds', 'query { echo(i: $nope) }'],
  ['kinds', 'query Q { echo(i: $nope) }'],
  ['kinds', 'query ($a: Int, $a: Int) { echo(i: $a) }'],
  ['kinds', 'query ($p: Person) { count }'],
  ['kinds', 'query ($a: Nope) { count }'],
  ['kinds', 'query ($s: String) { node(id: $s) { id } }'],
  ['kinds', 'query ($i: Int) { add: people(first: $i) { id } }'],
  ['kinds', 'query ($i: Int) { node(id: $i) { id } }'],
  ['kinds', 'query ($l: [Int]) { echo(list: $l) }'],
  ['kinds', 'query ($i: Int = 3) { echo(list: [$i]) }'],
  ['kinds', 'mutation { add { id } }'],
  ['kinds', 'subscription { ticks count: ticks }'],
  ['kinds', 'subscription S { ticks count: ticks }'],
  ['kinds', '{ a: count a: big }'],
  ['kinds', '{ color(c: RED) color(c: BLUE) }'],
  ['kinds', '{ people { id: name } people { id } }'],
  ['kinds', 'type Foo { a: Int } { count }'],
  ['bank', '{ transaction_by_id { id } }'],
  ['bank', 'mutation { money_transfer(uuid: "u") { success } }'],
  ['bank', 'subscription { stream_transactions(direction: UP) { id } }'],
  ['bank', '{ account(iban: "x", token: 1) { iban } }'],
  // field errors and null propagation
  ['kinds', '{ strict { id } }'],
  ['kinds', '{ count strict { name } }'],
  ['kinds', '{ strictList { id } }'],
  ['kinds', '{ people { tags } pets { ... on Dog { name } } }'],
  ['bank', '{ all_last_transactions { id iban } }'],
  ['bank', '{ transfer(uuid: "u") { uuid state } }'],
  ['bank', '{ transaction_by_id(id: 1) { id } transfer(uuid: "x") { state } }'],
  // operation selection
  ['kinds', 'query A { count } query B { big }', undefined, 'B'],
  ['kinds', 'query A { count } query B { big }', undefined, 'C'],
  // more syntax errors (the parser table's documents, checked against graphql-js's messages)
  ['kinds', '{ echo(s: "\u00e9\uD83D\uDE00") }'],
  ['kinds', '{ echo(s: "\\u00e9\\uD83D\\uDE00\\n\\t\\"\\\\\\/\\b\\f\\r") }'],
  ['kinds', '{ echo(s: """\n    block\n      string \\"""\n  """) }'],
  ['kinds', '{ echo(s: "\\uD800") }'],
  ['kinds', '{ echo(s: "\\uDC00") }'],
  ['kinds', '{ echo(s: "\\u12") }'],
  ['kinds', '{ echo(s: "\u0001") }'],
  ['kinds', '{ echo(s: "a\nb") }'],
  ['kinds', '{ echo(s: """never closed'],
  ['kinds', '{ echo(i: 1e) }'],
  ['kinds', '{ echo(i: 1a) }'],
  ['kinds', '{ echo(i: -) }'],
  ['kinds', '{ echo(i: 1.5.5) }'],
  ['kinds', "{ echo(s: 'x') }"],
  ['kinds', '{ ..a }'],
  ['kinds', 'fragment F Root { count }'],
  ['kinds', 'notakeyword { count }'],
  ['kinds', '{}'],
  ['kinds', '{ echo(list: [1, 2 }'],
  ['kinds', 'query ($a: [Int) { count }'],
  ['kinds', '{ count @ }'],
  ['kinds', '"desc" { count }'],
  ['kinds', 'query {\r\n  echo(\r\n}'],
  ['kinds', '{ echo(s: "\u00e9\u00e9") ! }'],
  ['kinds', '\uFEFF{ count }'],
  ['kinds', '{ count } # trailing comment'],
  // more validation
  ['kinds', '{ pets { ... on Named { name } ... on Node { id } ... on Dog { barks } } }'],
  ['kinds', '{ node(id: 1) { ... on Pet { __typename } } }'],
  ['kinds', '{ node(id: 1) { ... on Dog { barks } ... on Named { name } } }'],
  ['kinds', '{ pets { ... on Dog { name: barks } ... on Cat { name } } }'],
  ['kinds', '{ pets { ... on Dog { x: barks } ... on Cat { x: lives } } }'],
  ['kinds', '{ people { name } people { name: age } }'],
  ['kinds', '{ color(c: RED) ... on Root { color(c: RED) } }'],
  ['kinds', '{ ...F ...G } fragment F on Root { echo(i: 1) } fragment G on Root { echo(i: 2) }'],
  ['kinds', 'query ($v: Boolean!) { count @include(if: $v) @skip(if: $v) }', { v: false }],
  ['kinds', 'query ($v: Boolean) { count @include(if: $v) }', { v: true }],
  ['kinds', 'query ($v: Int @deprecated) { count }'],
  ['kinds', 'query ($f: Filter = {minAge: "x"}) { people(filter: $f) { id } }'],
  ['kinds', 'query ($f: Filter = {colors: [RED, "GREEN"]}) { people(filter: $f) { id } }'],
  ['kinds', 'query ($i: Int! = null) { echo(i: $i) }'],
  ['kinds', 'query ($i: Int = null) { echo(list: [$i]) }'],
  ['kinds', 'query ($b: Boolean = true) { count @skip(if: $b) big }'],
  ['kinds', '{ echo(filter: {nested: {flag: true, flag: false}}) }'],
  ['kinds', '{ echo(filter: {nested: {flag: null}}) }'],
  ['kinds', '{ echo(list: [1, null]) }'],
  // Deliberate difference: graphql-js accepts 1e400 as Float (Infinity); JSON cannot carry it,
  // so we refuse it ("Float cannot represent non numeric value: 1e400"); see test_graphql_exec.
  ['kinds', '{ echo(d: $undefinedVar) }'],
  ['kinds', 'fragment F on Root { count } { ...F ...F }'],
  ['kinds', '{ ... on Root { ... on Root { count } } }'],
  ['kinds', '{ people { pet { ... on Person { id } } } }'],
  ['kinds', 'query { __schema { queryType { name } } __type(name: "Root") { name } }'],
  ['kinds', '{ people { __schema { queryType { name } } } }'],
  ['kinds', 'subscription { __typename }'],
  ['kinds', 'scalar X { count }'],
  ['kinds', 'extend type Root { x: Int } { count }'],
  ['kinds', 'schema { query: Root } { count }'],
  // more execution
  ['kinds', '{ people { name score born tags friends { id } } }'],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { name } }', { f: { nested: { flag: true, deep: [[1, null], null] } } }],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { name } }', { f: { nested: { flag: true, deep: [['x']] } } }],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { name } }', { f: { colors: 'RED' } }],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { name } }', { f: { colors: [null] } }],
  ['kinds', 'query ($f: Filter) { people(filter: $f) { name } }', { f: 'x' }],
  ['kinds', 'query ($l: [Int!]) { echo(list: $l) }', { l: [1, 2.5] }],
  ['kinds', 'query ($i: ID) { echo(id: $i) }', { i: 1.5 }],
  ['kinds', 'query ($i: ID, $b: Boolean, $f: Float) { echo(id: $i, b: $b, f: $f) }', { i: 7, b: true, f: 1 }],
  ['kinds', 'query ($b: Boolean) { echo(b: $b) }', { b: 'true' }],
  ['kinds', 'query ($f: Float) { echo(f: $f) }', { f: '1.5' }],
  ['kinds', 'query ($d: Date) { echo(d: $d) }', { d: { any: ['thing'] } }],
  ['kinds', '{ node(id: 1) { __typename id ... on Named { name } } }'],
  ['kinds', 'mutation { add(name: "z") { __typename name pet { __typename } } }'],
];

function run(schemaName, query, variables, opName, asyncMode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gql-'));
  const qfile = path.join(dir, 'q.graphql');
  fs.writeFileSync(qfile, query);
  const root = schemaName === 'kinds' ? kindsRoot : bankRoot;
  try {
    const out = execFileSync(bin, [files[schemaName], qfile, variables ? JSON.stringify(variables) : '',
      JSON.stringify(root), opName || ''], {
      encoding: 'utf8', env: { ...process.env, GQL_ASYNC: asyncMode ? '1' : '0' },
    });
    return JSON.parse(out);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

function normErrors(errors) {
  return (errors || []).map((e) => JSON.stringify({
    message: e.message.replace(/ Did you mean .*\?$/, ''),
    locations: (e.locations || []).map((l) => `${l.line}:${l.column}`).sort(),
    path: e.path,
  })).sort();
}

// Each document runs twice: with plain values, and with every field answering through a pending
// handle resolved in last-in first-out order (the asynchronous path must give the same response).
for (const asyncMode of [false, true]) {
  for (const [schemaName, query, variables, opName] of cases) {
    const name = `${asyncMode ? 'async ' : ''}${schemaName}: ${query}${variables ? ' ' + JSON.stringify(variables) : ''}${opName ? ' op ' + opName : ''}`;
    test(name, () => {
      const ourResult = run(schemaName, query, variables, opName, asyncMode);
      const expected = JSON.parse(JSON.stringify(graphqlSync({
        schema: built[schemaName], source: query, rootValue: schemaName === 'kinds' ? kindsRoot : bankRoot,
        variableValues: variables, operationName: opName,
      })));
      assert.deepStrictEqual(normErrors(ourResult.errors), normErrors(expected.errors));
      assert.deepStrictEqual(ourResult.data, expected.data);
      // key order matters to clients reading the response: it follows the query
      assert.strictEqual(JSON.stringify(ourResult.data), JSON.stringify(expected.data));
    });
  }
}

// Subscriptions: each event becomes the subscription field's value (graphql-js: the event is the
// root value, so it is wrapped as { field: event }); every response must match, in order.
const { subscribe, parse, validate } = require('graphql');

const txEvents = [
  { id: 1, iban: 'NL01', new_balance: '€1,00', changed_by: '€1,00', from_to: 'cash', descr: 'd', direction: 'CREDIT' },
  { id: null, iban: 'NL02' },
  { id: 3, direction: 'SIDEWAYS' },
  { id: 2147483648 },
  { id: 4, iban: 5, descr: true },
];
const subscriptionCases = [
  ['subscription { stream_transactions { id iban new_balance changed_by from_to descr direction } }'],
  ['subscription S($iban: String, $d: dtype) { t: stream_transactions(iban: $iban, direction: $d) { __typename ...F } } fragment F on Transaction { id direction }', { iban: 'NL01', d: 'DEBIT' }],
  ['subscription ($min: Int!) { stream_transactions(min_amount: $min) { id } }', {}],
  ['subscription { stream_transactions { id } other: stream_transactions { iban } }'],
  ['subscription { stream_transactions { id @skip(if: true) iban } }'],
  ['subscription ($i: String) { stream_transactions(iban: $i, min_amount: 1, direction: DEBIT) { id iban direction } }'],
];

async function jsSubscription(query, variables) {
  const schema = built.bank;
  const document = parse(query);
  const errors = validate(schema, document);
  if (errors.length) return [JSON.parse(JSON.stringify({ errors }))];
  const rootValue = {
    stream_transactions: async function* events() {
      for (const e of txEvents) yield { stream_transactions: e };
    },
  };
  const result = await subscribe({ schema, document, rootValue, variableValues: variables });
  if (!result[Symbol.asyncIterator]) return [JSON.parse(JSON.stringify(result))];
  const out = [];
  for await (const r of result) out.push(JSON.parse(JSON.stringify(r)));
  return out;
}

for (const asyncMode of [false, true]) {
  for (const [query, variables] of subscriptionCases) {
    test(`${asyncMode ? 'async ' : ''}subscription: ${query}`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gql-'));
      const qfile = path.join(dir, 'q.graphql');
      fs.writeFileSync(qfile, query);
      let lines;
      try {
        lines = execFileSync(bin, [files.bank, qfile, variables ? JSON.stringify(variables) : ''], {
          encoding: 'utf8',
          env: { ...process.env, GQL_ASYNC: asyncMode ? '1' : '0', GQL_EVENTS: JSON.stringify(txEvents) },
        }).trim().split('\n').map((l) => JSON.parse(l));
      } finally {
        fs.rmSync(dir, { recursive: true });
      }
      const expected = await jsSubscription(query, variables);
      assert.strictEqual(lines.length, expected.length);
      for (let i = 0; i < lines.length; i++) {
        assert.deepStrictEqual(normErrors(lines[i].errors), normErrors(expected[i].errors), `response ${i}`);
        assert.deepStrictEqual(lines[i].data, expected[i].data, `response ${i}`);
      }
    });
  }
}
