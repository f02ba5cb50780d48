// graphql-js as the oracle for schema (SDL) errors: an SDL that graphql-js's buildSchema refuses
// must be refused by gql_schema_parse (through gql_run) with the same message, and an SDL it
// accepts must be accepted.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { buildSchema, parse } = require('graphql');
const { validateSDL } = require('graphql/validation/validate');

const bin = path.join(process.env.BIN_DIR || path.join(__dirname, '../../../build/h-graphql/bin'), 'gql_run');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gql-sdl-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

// Our error for an SDL: undefined when accepted, else { message, line, column }.
function ours(sdl) {
  const schema = path.join(dir, 'schema.graphql');
  const query = path.join(dir, 'query.graphql');
  fs.writeFileSync(schema, sdl);
  fs.writeFileSync(query, '{ __typename }');
  const r = spawnSync(bin, [schema, query], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const m = /^schema: schema: (?:(\d+):(\d+): )?(.*)$/m.exec(r.stderr);
  assert.ok(m, 'unexpected gql_run output: ' + r.stderr);
  return { message: m[3], line: Number(m[1]), column: Number(m[2]) };
}

// graphql-js's first error for an SDL, undefined when accepted: the SDL rules' error with its
// location, else buildSchema's message (then the location is not compared).
function theirs(sdl) {
  const sdlErrors = validateSDL(parse(sdl));
  if (sdlErrors.length) {
    const { line, column } = sdlErrors[0].locations[0];
    return { message: sdlErrors[0].message, line, column };
  }
  try {
    buildSchema(sdl);
    return undefined;
  } catch (e) {
    return { message: e.message.split('\n\n')[0] };
  }
}

const cases = [
  // accepted
  'type Query { a: Int @deprecated(reason: "old") }',
  'directive @tag(name: String) repeatable on FIELD_DEFINITION | OBJECT\ntype Query @tag(name: "q") @tag(name: "r") { a: Int @tag }',
  'type Query { a(x: Int @deprecated): Int }\ninput I { f: Int @deprecated }\nenum E { A @deprecated B }',
  'scalar Url @specifiedBy(url: "https://example.com")\ntype Query { u: Url }',
  'type Query { a: Int @late }\ndirective @late on FIELD_DEFINITION',
  'schema @onSchema { query: Query }\ndirective @onSchema on SCHEMA\ntype Query { a: Int }',
  // undeclared directives, anywhere
  'type Query { a: Int @nope }',
  'type Query @nope { a: Int }',
  'type Query { a(x: Int @nope): Int }',
  'type Query { a: Int }\nenum E { A @nope }',
  'type Query { a: Int }\ninput I { f: Int @nope }',
  'type Query { a: Int }\nscalar S @nope',
  'type Query { a: Int }\nunion U @nope = Query',
  'type Query { a: Int }\ninterface I @nope { a: Int }',
  'schema @nope { query: Query }\ntype Query { a: Int }',
  'type Query { a: Int }\nextend type Query @nope',
  'type Query { a: Int }\ndirective @d(x: Int @nope) on FIELD',
  // directives in the wrong place
  'type Query @deprecated { a: Int }',
  'type Query { a: Int @specifiedBy(url: "x") }',
  'type Query { a: Int }\nscalar S @deprecated',
  'type Query { a: Int @include(if: true) }',
  'directive @onField on FIELD\ntype Query { a: Int @onField }',
  'type Query { a: Int }\ninput I @oneOf { f: Int }\nenum E @oneOf { A }',
  // used twice where it is not repeatable
  'type Query { a: Int @deprecated @deprecated }',
];

for (const sdl of cases) {
  test(sdl.replace(/\n/g, ' | '), () => {
    const want = theirs(sdl);
    const got = ours(sdl);
    if (want && got && want.line === undefined) delete got.line, delete got.column;
    assert.deepStrictEqual(got, want);
  });
}
