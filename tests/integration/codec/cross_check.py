#!/usr/bin/python3
"""Cross-check of our C Avro codec against python3-avro, an implementation written by others.

Run by ctest with Debian's /usr/bin/python3 (python3-avro is installed only there):
    cross_check.py --tool build/.../codec_tool --schemas schemas/

Checks:
  * CRC-64-AVRO written here from the spec matches the spec's vector, and for every schema file
    python's Parsing Canonical Form equals ours and its CRC equals our fingerprint;
  * our PCF of a few extra schemas (docs, aliases, defaults, nested namespaces, arrays, maps)
    equals python's;
  * every record type encoded by C (two variants) decodes in python and re-encodes to the same
    bytes, with a few values checked by hand;
  * random records encoded by python decode in C and re-encode to the same bytes;
  * a string over the C limit is refused; the seed's CreditMoneyCommand (schemas/history) written
    by python reads in C with token and username "";
  * QueryFailed/QuerySucceeded written by python with the QueryName before FindTransferQuery was
    appended (schemas/history) read in C like python's schema resolution reads them;
  * CommandFailed/QueryFailed written by python before the field `code` (schemas/history) read
    in C with code 0, as python's schema resolution reads them.

python3-avro 1.11 writes a named type used a second time in one schema (FindTransferQuery uses Id
twice) as its whole definition again in the canonical form; the specification says the full name.
spec_canonical_form() below corrects python's text before it is compared or fingerprinted.
Prints one line per check and closes with "N passed, N failed"; exits 1 on any failure.
"""
import argparse
import glob
import io
import json
import os
import random
import subprocess
import sys
import tempfile

import avro.io
import avro.schema

CRC64_EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (CRC64_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data: bytes) -> int:
    fp = CRC64_EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


NAMED_TYPES = ("record", "enum", "fixed")


def spec_canonical_form(schema) -> str:
    """python's Parsing Canonical Form with every named type after its first definition written as
    its full name, as the specification's [FULLNAMES] and "use only the name" rules say."""
    seen = set()

    def walk(node):
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") in NAMED_TYPES and "name" in node:
            if node["name"] in seen:
                return node["name"]
            seen.add(node["name"])
        # Keys keep python's (the specification's) order; field objects are walked the same way.
        return {k: walk(v) for k, v in node.items()}

    tree = json.loads(schema.canonical_form)
    return json.dumps(walk(tree), separators=(",", ":"), ensure_ascii=False)


def fingerprint(schema) -> int:
    return crc64_avro(spec_canonical_form(schema).encode("utf-8"))


def encode_body(schema, datum) -> bytes:
    out = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(out))
    return out.getvalue()


def frame(schema, datum) -> bytes:
    return b"\xc3\x01" + fingerprint(schema).to_bytes(8, "little") + encode_body(schema, datum)


def decode_framed(data: bytes, writer, reader=None):
    """Returns the datum; raises when the header is wrong or bytes are left over."""
    if data[:2] != b"\xc3\x01":
        raise ValueError("bad marker")
    fp = int.from_bytes(data[2:10], "little")
    if fp != fingerprint(writer):
        raise ValueError("fingerprint %016x is not the writer schema's" % fp)
    body = io.BytesIO(data[10:])
    datum = avro.io.DatumReader(writer, reader or writer).read(avro.io.BinaryDecoder(body))
    if body.tell() != len(data) - 10:
        raise ValueError("%d trailing bytes" % (len(data) - 10 - body.tell()))
    return datum


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok - %s" % name)
        else:
            self.failed += 1
            print("not ok - %s %s" % (name, detail))


# String limits of domain/messages.h, by Avro field name.
LIMITS = {"username": 64, "user_to_add": 64, "password": 160, "iban": 64, "from": 64, "to": 64,
          "from_to": 64, "token": 32, "description": 256, "reason": 256, "additional_info": 256,
          "query_result": 20000, "direction": 7, "descr_includes": 256, "transfer": 36,
          "word": 32, "message": 256, "AlertRule.iban": 34}
ARRAY_MAX = {"rules": 20}
ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_$€é中😀\"\\\n")


def random_string(rng, limit):
    target = rng.choice([0, 1, rng.randint(0, limit), limit])
    s, size = [], 0
    while True:
        c = rng.choice(ALPHABET)
        n = len(c.encode("utf-8"))
        if size + n > target:
            return "".join(s)
        s.append(c)
        size += n


def random_value(rng, field_name, schema, record=""):
    t = schema.type
    if t == "string":
        return random_string(rng, LIMITS.get(record + "." + field_name, LIMITS.get(field_name)))
    if t == "array":
        n = rng.choice([0, 1, rng.randint(0, ARRAY_MAX[field_name]), ARRAY_MAX[field_name]])
        return [random_value(rng, field_name, schema.items) for _ in range(n)]
    if t == "record":
        return random_record(rng, schema)
    if t == "long":
        return rng.choice([0, -1, 1, -(2 ** 63), 2 ** 63 - 1, rng.randint(-(2 ** 63), 2 ** 63 - 1),
                           rng.randint(-100000, 100000)])
    if t == "int":
        return rng.choice([0, -(2 ** 31), 2 ** 31 - 1, rng.randint(-(2 ** 31), 2 ** 31 - 1)])
    if t == "fixed":
        return bytes(rng.randrange(256) for _ in range(schema.size))
    if t == "enum":
        return rng.choice(schema.symbols)
    if t == "union":
        branch = rng.choice(schema.schemas)
        return None if branch.type == "null" else random_value(rng, field_name, branch)
    raise ValueError("no generator for %s" % t)


def random_record(rng, schema):
    return {f.name: random_value(rng, f.name, f.type, schema.name) for f in schema.fields}


def tool(args, *argv):
    return subprocess.run([args.tool, *argv], check=True, capture_output=True, text=True).stdout


def reencode(args, files):
    out = tool(args, "reencode", *files).splitlines()
    if len(out) != len(files):
        raise RuntimeError("codec_tool printed %d lines for %d files" % (len(out), len(files)))
    return out


EXTRA_SCHEMAS = [
    # primitives written as objects, doc, aliases, defaults, order: all dropped or normalised
    {"type": "record", "name": "Extra", "namespace": "x.y", "doc": "d", "aliases": ["E"],
     "fields": [{"name": "a", "type": {"type": "int"}, "default": 1, "doc": "x", "order": "descending"},
                {"name": "b", "type": {"type": "array", "items": "string"}},
                {"name": "c", "type": {"type": "map", "values": {"type": "long"}}},
                {"name": "d", "type": ["null", {"type": "enum", "name": "E2", "symbols": ["P", "Q"]}]},
                {"name": "e", "type": {"type": "fixed", "name": "F", "namespace": "other", "size": 3}},
                {"name": "f", "type": {"type": "record", "name": "Inner", "fields": [
                    {"name": "g", "type": "boolean"}, {"name": "h", "type": "double"},
                    {"name": "i", "type": "bytes"}, {"name": "j", "type": "float"}]}}]},
    "int",
    {"type": "string"},
    {"type": "enum", "name": "Z", "symbols": ["A"]},
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    r = Results()
    rng = random.Random(args.seed)

    r.check("crc64 of \"int\" is the spec vector 7275d51a3f395c8f",
            crc64_avro(b'"int"') == 0x7275D51A3F395C8F)

    # Every schema file against python's canonical form and a CRC written here.
    current = {}
    history = {}
    for path in sorted(glob.glob(os.path.join(args.schemas, "*.avsc")) +
                       glob.glob(os.path.join(args.schemas, "history", "*.avsc"))):
        rel = os.path.relpath(path, args.schemas)
        with open(path, encoding="utf-8") as f:
            schema = avro.schema.parse(f.read())
        (history if rel.startswith("history/") else current)[rel] = schema
    r.check("40 current schemas", len(current) == 40, str(len(current)))
    c_schemas = {}
    for line in tool(args, "schemas").splitlines():
        rel, name, is_current, fp, canonical = line.split("\t")
        c_schemas[rel] = (name, is_current == "1", int(fp, 16), canonical)
    r.check("C knows every schema file", set(c_schemas) == set(current) | set(history),
            str(set(c_schemas) ^ (set(current) | set(history))))
    for rel, schema in sorted({**current, **history}.items()):
        if rel not in c_schemas:
            continue
        name, is_current, fp, canonical = c_schemas[rel]
        py_form = spec_canonical_form(schema)
        corrected = py_form != schema.canonical_form
        r.check("%s: canonical form matches python%s" % (rel, " (corrected for a repeated named type)"
                                                         if corrected else ""),
                canonical == py_form, "\n  C:  %s\n  py: %s" % (canonical, py_form))
        r.check("%s: fingerprint %016x matches python's CRC" % (rel, fp), fp == fingerprint(schema),
                "%016x" % fingerprint(schema))
        r.check("%s: record nl.openweb.data.%s, named like its file" % (rel, name),
                schema.fullname == "nl.openweb.data." + name
                and os.path.basename(rel).split(".")[0] == name)

    with tempfile.TemporaryDirectory() as tmp:
        # PCF of schemas that exercise the rules our own schemas do not.
        for i, js in enumerate(EXTRA_SCHEMAS):
            path = os.path.join(tmp, "extra%d.avsc" % i)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(js, f)
            fp, canonical = tool(args, "pcf", path).rstrip("\n").split("\t", 1)
            py = avro.schema.parse(json.dumps(js))
            r.check("extra schema %d: canonical form matches python" % i,
                    canonical == py.canonical_form, "\n  C:  %s\n  py: %s" % (canonical, py.canonical_form))
            r.check("extra schema %d: fingerprint matches" % i, int(fp, 16) == fingerprint(py))

        # C -> python -> identical bytes.
        sample_dir = os.path.join(tmp, "samples")
        os.mkdir(sample_dir)
        tool(args, "samples", sample_dir)
        decoded = {}
        for path in sorted(glob.glob(os.path.join(sample_dir, "*.bin"))):
            base = os.path.basename(path)
            name = base.split(".")[0]
            schema = current[name + ".avsc"]
            with open(path, "rb") as f:
                data = f.read()
            try:
                datum = decode_framed(data, schema)
                again = frame(schema, datum)
                r.check("C-encoded %s decodes in python and re-encodes identically" % base,
                        again == data, "\n  C:  %s\n  py: %s" % (data.hex(), again.hex()))
                decoded[base] = datum
            except Exception as e:  # noqa: BLE001 - any failure is a failed check
                r.check("C-encoded %s decodes in python" % base, False, repr(e))
        ids = bytes(i * 0x11 for i in range(16))
        expect = [
            ("MoneyTransferCommand.0.bin", "id", ids),
            ("MoneyTransferCommand.0.bin", "amount", 12345),
            ("MoneyTransferCommand.0.bin", "description", "rent – März"),
            ("MoneyTransferCommand.1.bin", "amount", -(2 ** 63)),
            ("MoneyTransferCommand.1.bin", "username", "é" * 32),
            ("DebitMoneyCommand.1.bin", "amount", 2 ** 63 - 1),
            ("CommandSucceeded.0.bin", "command_name", "MoneyTransferCommand"),
            ("CommandSucceeded.0.bin", "additional_info", "NL66OPEN0000000001"),
            ("CommandSucceeded.1.bin", "additional_info", None),
            ("CommandSucceeded.1.bin", "command_name", "MarkTransferFailedCommand"),
            ("QueryFailed.0.bin", "query_name", "TransactionsByIbanQuery"),
            ("QueryFailed.1.bin", "query_name", "AlertsSinceQuery"),
            ("CommandFailed.1.bin", "command_name", "UpdateAlertsSettingsCommand"),
            ("QueryFailed.0.bin", "code", 100),
            ("QueryFailed.1.bin", "code", -(2 ** 31)),
            ("CommandFailed.0.bin", "code", 11),
            ("CommandFailed.1.bin", "code", 2 ** 31 - 1),
            ("FindTransferQuery.0.bin", "id", ids),
            ("FindTransferQuery.0.bin", "transfer", bytes(0xFF - i * 0x11 for i in range(16))),
            ("FindTransferQuery.1.bin", "transfer", ids),
            ("TransactionByIdQuery.1.bin", "transaction_id", 2 ** 31 - 1),
            ("TransactionsByIbanQuery.1.bin", "max_items", -(2 ** 31)),
            ("TransactionHappenedEvent.0.bin", "changed_by", -12345),
            ("TransactionHappenedEvent.0.bin", "at", 1764840600123),
            ("TransactionHappenedEvent.0.bin", "transfer", "00112233-4455-4677-8899-aabbccddeeff"),
            ("TransactionsByIbanQuery.0.bin", "min_amount", 1000),
            ("TransactionsByIbanQuery.0.bin", "max_amount", None),
            ("TransactionsByIbanQuery.0.bin", "direction", "CREDIT"),
            ("TransactionsByIbanQuery.0.bin", "descr_includes", "éclair"),
            ("TransactionsByIbanQuery.1.bin", "min_amount", None),
            ("TransactionsByIbanQuery.1.bin", "max_amount", -(2 ** 63)),
            ("CreditMoneyCommand.0.bin", "token", ""),
            ("TransactionsByIbanQuery.0.bin", "at", 1764840600123),
            ("TransactionsByIbanQuery.1.bin", "at", None),
            ("AccountHistoryQuery.0.bin", "before_order", 12345),
            ("AccountHistoryQuery.1.bin", "before_order", None),
            ("AccountAtQuery.1.bin", "at", 2 ** 63 - 1),
            ("AlertsSinceQuery.0.bin", "after_id", 17),
            ("AlertTriggeredEvent.0.bin", "kind", "DEBIT_ABOVE"),
            ("AlertTriggeredEvent.1.bin", "kind", "DESCRIPTION_CONTAINS"),
            ("AlertTriggeredEvent.0.bin", "changed_by", -60000),
            ("AlertsSettingsUpdatedEvent.0.bin", "rules", [
                {"kind": "DEBIT_ABOVE", "amount_cents": 50000, "iban": "NL66OPEN0000000000", "word": "rent"},
                {"kind": "BALANCE_BELOW", "amount_cents": 50001, "iban": "NL66OPEN0000000000", "word": "rent"},
                {"kind": "CREDIT_FROM", "amount_cents": 50002, "iban": "NL66OPEN0000000000", "word": "rent"}]),
        ]
        for base, field, value in expect:
            got = decoded.get(base, {}).get(field, "<missing>")
            r.check("%s: %s == %r" % (base, field, value if len(repr(value)) < 40 else "..."),
                    got == value, "got %r" % (got,))
        rules = decoded.get("UpdateAlertsSettingsCommand.1.bin", {}).get("rules", [])
        r.check("UpdateAlertsSettingsCommand.1.bin: 20 rules, every field at its limit",
                len(rules) == 20 and rules[3]["kind"] == "DESCRIPTION_CONTAINS"
                and rules[1]["amount_cents"] == -(2 ** 63) and rules[0]["word"] == "é" * 16
                and len(rules[0]["iban"].encode()) == 34, repr(rules[:2]))
        qr = decoded.get("QuerySucceeded.1.bin", {}).get("query_result", "")
        r.check("QuerySucceeded.1.bin: query_result is JSON of 60 items (%d bytes)" % len(qr.encode()),
                len(json.loads(qr or "[]")) == 60)

        # python -> C -> identical bytes.
        rand_dir = os.path.join(tmp, "random")
        os.mkdir(rand_dir)
        files, expected = [], []
        for rel, schema in sorted(current.items()):
            for k in range(25):
                datum = random_record(rng, schema)
                data = frame(schema, datum)
                path = os.path.join(rand_dir, "%s.%d.bin" % (rel[:-5], k))
                with open(path, "wb") as f:
                    f.write(data)
                files.append(path)
                expected.append(data)
        out = reencode(args, files)
        bad = [(os.path.basename(p), o) for p, o, e in zip(files, out, expected) if o != "OK " + e.hex()]
        r.check("%d random python-encoded records decode in C and re-encode identically" % len(files),
                not bad, "\n  ".join("%s: %s" % b for b in bad[:5]))

        # A string over the C struct's limit is refused with a message.
        schema = current["FindUserQuery.avsc"]
        path = os.path.join(tmp, "long.bin")
        with open(path, "wb") as f:
            f.write(frame(schema, {"id": ids, "username": "x" * 65}))
        out = reencode(args, [path])[0]
        r.check("username of 65 bytes is refused", out.startswith("ERR ") and "limit of 64" in out, out)

        # The seed's CreditMoneyCommand, written by python, reads in C with the new fields empty.
        old = history["history/CreditMoneyCommand.1.avsc"]
        new = current["CreditMoneyCommand.avsc"]
        datum = {"id": ids, "iban": "NL13OPEN0000000002", "amount": 4200}
        path = os.path.join(tmp, "seed.bin")
        with open(path, "wb") as f:
            f.write(frame(old, datum))
        out = reencode(args, [path])[0]
        ok = out.startswith("OK ")
        r.check("seed CreditMoneyCommand decodes in C", ok, out)
        if ok:
            c_bytes = bytes.fromhex(out[3:])
            got = decode_framed(c_bytes, new)
            py_resolved = decode_framed(frame(old, datum), old, new)
            r.check("...and reads as token '' and username '' like python's schema resolution",
                    got == py_resolved == dict(datum, token="", username=""), "%r / %r" % (got, py_resolved))

        # QueryName before FindTransferQuery was appended: python writes with the old schema, C
        # reads it (symbols map by name) and writes the current schema, which python reads back
        # with the same value as its own old -> new schema resolution.
        for rec, datum in (("QueryFailed", {"id": ids, "query_name": "TransactionsByIbanQuery",
                                             "reason": "iban does not exist"}),
                           ("QuerySucceeded", {"id": ids, "query_name": "AllLastTransactionsQuery",
                                               "query_result": "[]"})):
            old = history["history/%s.1.avsc" % rec]
            new = current["%s.avsc" % rec]
            old_syms = old.fields_dict["query_name"].type.symbols
            new_syms = new.fields_dict["query_name"].type.symbols
            r.check("history/%s.1.avsc lacks FindTransferQuery, %s.avsc has it appended" % (rec, rec),
                    "FindTransferQuery" not in old_syms and new_syms[:len(old_syms)] == old_syms
                    and new_syms[len(old_syms)] == "FindTransferQuery")
            path = os.path.join(tmp, "old-%s.bin" % rec)
            with open(path, "wb") as f:
                f.write(frame(old, datum))
            out = reencode(args, [path])[0]
            ok = out.startswith("OK ")
            r.check("%s with the old QueryName decodes in C" % rec, ok, out)
            if ok:
                got = decode_framed(bytes.fromhex(out[3:]), new)
                py_resolved = decode_framed(frame(old, datum), old, new)
                want = dict(datum, code=0) if rec == "QueryFailed" else datum
                r.check("...and reads as python's schema resolution reads it",
                        got == py_resolved == want, "%r / %r" % (got, py_resolved))

        # Feedback written before the reason code: C reads it with code 0 (none) and writes the
        # current schema, which python reads back as its own old -> new resolution does.
        for rec, old_file, datum in (
                ("CommandFailed", "history/CommandFailed.1.avsc",
                 {"id": ids, "command_name": "CreateBankAccountCommand", "reason": "iban already exist"}),
                ("QueryFailed", "history/QueryFailed.2.avsc",
                 {"id": ids, "query_name": "FindUserQuery", "reason": "username does not exist"})):
            old = history[old_file]
            new = current["%s.avsc" % rec]
            r.check("%s lacks code, %s.avsc has it last with default 0" % (old_file, rec),
                    "code" not in old.fields_dict and new.fields[-1].name == "code"
                    and new.fields[-1].default == 0)
            path = os.path.join(tmp, "uncoded-%s.bin" % rec)
            with open(path, "wb") as f:
                f.write(frame(old, datum))
            out = reencode(args, [path])[0]
            ok = out.startswith("OK ")
            r.check("%s without code decodes in C" % rec, ok, out)
            if ok:
                got = decode_framed(bytes.fromhex(out[3:]), new)
                py_resolved = decode_framed(frame(old, datum), old, new)
                r.check("...and reads with code 0 like python's schema resolution",
                        got == py_resolved == dict(datum, code=0), "%r / %r" % (got, py_resolved))

        # Issue 15 appended a symbol to CommandName and five to QueryName, and `at` to
        # TransactionsByIbanQuery: records of the versions before read in C as python resolves them.
        issue15 = (
            ("CommandFailed", "history/CommandFailed.1.avsc", "command_name", ["UpdateAlertsSettingsCommand"],
             {"id": ids, "command_name": "MarkTransferFailedCommand", "reason": "no"}),
            ("CommandSucceeded", "history/CommandSucceeded.1.avsc", "command_name", ["UpdateAlertsSettingsCommand"],
             {"id": ids, "command_name": "CreateBankAccountCommand", "additional_info": "042"}),
            ("QueryFailed", "history/QueryFailed.2.avsc", "query_name",
             ["AccountHistoryQuery", "TransferHistoryQuery", "AccountAtQuery", "FindAlertsSettingsQuery",
              "AlertsSinceQuery"], {"id": ids, "query_name": "FindTransferQuery", "reason": "no"}),
            ("QuerySucceeded", "history/QuerySucceeded.2.avsc", "query_name",
             ["AccountHistoryQuery", "TransferHistoryQuery", "AccountAtQuery", "FindAlertsSettingsQuery",
              "AlertsSinceQuery"], {"id": ids, "query_name": "FindTransferQuery", "query_result": "{}"}))
        for rec, old_file, field, appended, datum in issue15:
            old, new = history[old_file], current["%s.avsc" % rec]
            old_syms, new_syms = old.fields_dict[field].type.symbols, new.fields_dict[field].type.symbols
            r.check("%s: %s.avsc appends %s" % (old_file, rec, ", ".join(appended)),
                    new_syms == old_syms + appended)
            path = os.path.join(tmp, "issue15-%s.bin" % rec)
            with open(path, "wb") as f:
                f.write(frame(old, datum))
            out = reencode(args, [path])[0]
            ok = out.startswith("OK ")
            r.check("%s of %s decodes in C" % (rec, old_file), ok, out)
            if ok:
                got = decode_framed(bytes.fromhex(out[3:]), new)
                py_resolved = decode_framed(frame(old, datum), old, new)
                want = dict(datum, code=0) if rec.endswith("Failed") else datum  # and no code yet
                r.check("...and reads as python's schema resolution reads it",
                        got == py_resolved == want, "%r / %r" % (got, py_resolved))
        old, new = history["history/TransactionsByIbanQuery.2.avsc"], current["TransactionsByIbanQuery.avsc"]
        datum = {"id": ids, "iban": "NL66OPEN0000000000", "max_items": 10, "min_amount": 5, "max_amount": None,
                 "direction": "DEBIT", "descr_includes": "rent"}
        path = os.path.join(tmp, "issue15-tbi.bin")
        with open(path, "wb") as f:
            f.write(frame(old, datum))
        out = reencode(args, [path])[0]
        ok = out.startswith("OK ")
        r.check("TransactionsByIbanQuery with filters and without at decodes in C", ok, out)
        if ok:
            got = decode_framed(bytes.fromhex(out[3:]), new)
            py_resolved = decode_framed(frame(old, datum), old, new)
            r.check("...and reads with at null like python's resolution",
                    got == py_resolved == dict(datum, at=None), "%r / %r" % (got, py_resolved))

        # The seed's TransactionsByIbanQuery and TransactionHappenedEvent, written by python, read
        # in C with the fields added after the seed at their defaults, as python resolves them.
        for rec, datum, added in (
                ("TransactionsByIbanQuery", {"id": ids, "iban": "NL66OPEN0000000000", "max_items": 10},
                 {"min_amount": None, "max_amount": None, "direction": "", "descr_includes": "",
                  "at": None}),
                ("TransactionHappenedEvent", {"transaction_id": 3, "iban": "NL66OPEN0000000000",
                                              "new_balance": 500, "changed_by": -500,
                                              "from_to": "cash", "description": "éclair"},
                 {"at": 0, "transfer": ""})):
            old = history["history/%s.1.avsc" % rec]
            new = current["%s.avsc" % rec]
            path = os.path.join(tmp, "seed-%s.bin" % rec)
            with open(path, "wb") as f:
                f.write(frame(old, datum))
            out = reencode(args, [path])[0]
            ok = out.startswith("OK ")
            r.check("seed %s decodes in C" % rec, ok, out)
            if ok:
                got = decode_framed(bytes.fromhex(out[3:]), new)
                py_resolved = decode_framed(frame(old, datum), old, new)
                r.check("...and reads with the new fields at their defaults like python's resolution",
                        got == py_resolved == dict(datum, **added), "%r / %r" % (got, py_resolved))

    print("%d passed, %d failed" % (r.passed, r.failed))
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
