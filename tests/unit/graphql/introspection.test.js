// Our introspection, read by graphql-js: buildClientSchema must accept it and print the same
// schema as graphql-js's own buildSchema of the same SDL; the raw introspection results must
// also match graphql-js's (types compared by name).
const test = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  buildSchema, buildClientSchema, printSchema, lexicographicSortSchema, getIntrospectionQuery,
  graphqlSync,
} = require('graphql');

const bin = path.join(process.env.BIN_DIR || path.join(__dirname, '../../../build/h-graphql/bin'), 'gql_run');
const source = process.env.SOURCE_DIR || path.join(__dirname, '../../..');
const schemas = {
  bank: path.join(source, 'graphql/bank.graphql'),
  kinds: path.join(source, 'tests/unit/graphql/kinds.graphql'),
};

function ours(schemaFile, query) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gql-'));
  const qfile = path.join(dir, 'q.graphql');
  fs.writeFileSync(qfile, query);
  try {
    return JSON.parse(execFileSync(bin, [schemaFile, qfile], { encoding: 'utf8' }));
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

const query = getIntrospectionQuery({
  descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true,
  inputValueDeprecation: true, oneOf: true,
});

function byName(list) {
  return [...list].sort((a, b) => a.name.localeCompare(b.name));
}

for (const [name, file] of Object.entries(schemas)) {
  test(`buildClientSchema accepts our introspection of ${name}`, () => {
    const result = ours(file, query);
    assert.strictEqual(result.errors, undefined, JSON.stringify(result.errors));
    const client = buildClientSchema(result.data);
    const expected = buildSchema(fs.readFileSync(file, 'utf8'));
    assert.strictEqual(printSchema(lexicographicSortSchema(client)),
      printSchema(lexicographicSortSchema(expected)));
  });

  test(`our introspection of ${name} equals graphql-js's`, () => {
    const result = ours(file, query);
    const expected = graphqlSync({ schema: buildSchema(fs.readFileSync(file, 'utf8')), source: query });
    const a = result.data.__schema;
    const b = JSON.parse(JSON.stringify(expected.data.__schema));
    assert.deepStrictEqual(byName(a.types).map((t) => t.name), byName(b.types).map((t) => t.name));
    for (const [x, y] of byName(a.types).map((t, i) => [t, byName(b.types)[i]])) {
      assert.deepStrictEqual(x, y, `type ${x.name}`);
    }
    assert.deepStrictEqual(byName(a.directives), byName(b.directives));
    assert.deepStrictEqual(a.queryType, b.queryType);
    assert.deepStrictEqual(a.mutationType, b.mutationType);
    assert.deepStrictEqual(a.subscriptionType, b.subscriptionType);
    assert.deepStrictEqual(a.description, b.description);
  });
}

test('__type and __typename answer like graphql-js', () => {
  const q = '{ __typename t: __type(name: "Pet") { kind name possibleTypes { name } } n: __type(name: "Nope") { name } }';
  const result = ours(schemas.kinds, q);
  const expected = graphqlSync({ schema: buildSchema(fs.readFileSync(schemas.kinds, 'utf8')), source: q });
  assert.deepStrictEqual(result, JSON.parse(JSON.stringify(expected)));
});
