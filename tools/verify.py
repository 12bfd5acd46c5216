#!/usr/bin/env python3
"""An independent verifier for provledger checkpoints, proof files, release bundles and exports.

Written from ledger-format.md and the C2SP specs (signed-note, tlog-checkpoint, tlog-proof),
not from the Rust code, with the standard library and the `cryptography` package for Ed25519.

    python3 tools/verify.py checkpoint FILE --vkey VKEY
    python3 tools/verify.py proof FILE --vkey VKEY [--record FILE]
    python3 tools/verify.py bundle FILE --vkey VKEY
    python3 tools/verify.py export DIR --vkey VKEY

VKEY is the verifier key text (name+hex8+base64) or a file holding it; repeat --vkey for a
rotated key history. Exit 0 when valid, 1 when invalid, 2 for usage errors.
"""

import argparse
import base64
import binascii
import hashlib
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_SIGNATURES = 100
MAX_PROOF = 64


class Invalid(Exception):
    """The input is well formed enough to check, and the check failed."""


def b64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"not base64: {text[:40]!r}")
    if base64.b64encode(raw).decode() != text:
        raise Invalid(f"not canonical base64: {text[:40]!r}")
    return raw


def decimal(text):
    if not text.isdigit() or str(int(text)) != text:
        raise Invalid(f"not a canonical decimal: {text!r}")
    return int(text)


# --- signed notes (C2SP signed-note) ---------------------------------------------------------


class Vkey:
    def __init__(self, text):
        text = text.strip()
        parts = text.split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise Invalid(f"bad verifier key {text!r}")
        self.name, hex_id, key_b64 = parts
        if not self.name or any(c.isspace() for c in self.name):
            raise Invalid("bad key name")
        raw = b64(key_b64)
        if len(raw) != 33 or raw[0] != 0x01:
            raise Invalid("not an Ed25519 verifier key")
        self.public = raw[1:]
        self.key_id = int(hex_id, 16)
        digest = hashlib.sha256(self.name.encode() + b"\n\x01" + self.public).digest()
        if int.from_bytes(digest[:4], "big") != self.key_id or hex_id != hex_id.lower():
            raise Invalid("the key ID does not match the key")
        self.key = Ed25519PublicKey.from_public_bytes(self.public)


def read_vkey(arg):
    if os.path.isfile(arg):
        with open(arg, encoding="utf-8") as f:
            arg = f.read()
    return Vkey(arg)


def open_note(note, vkeys):
    """Returns the signed text and the names of the keys that verified it."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Invalid("note contains control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise Invalid("note has no signature block")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs or not sigs.endswith("\n"):
        raise Invalid("malformed signature block")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Invalid("too many signatures")
    verified = []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise Invalid("signature line without the em dash")
        name, _, sig_b64 = line[2:].partition(" ")
        raw = b64(sig_b64)
        if len(raw) < 4:
            raise Invalid("short signature")
        key_id = int.from_bytes(raw[:4], "big")
        for v in vkeys:
            if v.name == name and v.key_id == key_id:
                try:
                    v.key.verify(raw[4:], text.encode())
                except InvalidSignature:
                    raise Invalid(f"bad signature by {name}")
                verified.append(v.name)
    if not verified:
        raise Invalid("no signature by a trusted key")
    return text, verified


def parse_checkpoint(text):
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Invalid("a checkpoint needs origin, size and root lines")
    root = b64(lines[2])
    if len(root) != 32:
        raise Invalid("the root is not 32 bytes")
    return lines[0], decimal(lines[1]), root


def open_checkpoint(note, vkeys):
    text, verified = open_note(note, vkeys)
    origin, size, root = parse_checkpoint(text)
    if origin not in verified:
        raise Invalid(f"origin {origin!r} is not the name of a key that signed it")
    return origin, size, root


# --- RFC 9162 proofs -------------------------------------------------------------------------


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, path, root):
    if index >= size or len(path) > MAX_PROOF:
        raise Invalid("index out of range")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Invalid("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Invalid("inclusion proof does not lead to the root")


def verify_consistency(first, second, first_root, second_root, proof):
    if first == 0:
        if proof or first_root != EMPTY_ROOT:
            raise Invalid("from the empty tree the proof must be empty")
        return
    if first > second or len(proof) > MAX_PROOF:
        raise Invalid("bad sizes")
    if first == second:
        if proof or first_root != second_root:
            raise Invalid("different roots at the same size")
        return
    if not proof:
        raise Invalid("empty consistency proof")
    path = ([first_root] if first & (first - 1) == 0 else []) + list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Invalid("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise Invalid("consistency proof does not match the roots")


def parse_proof_file(text):
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Invalid("no blank line before the checkpoint")
    lines = head.split("\n")
    fields, hashes = {}, []
    header = lines[0]
    if header == "c2sp.org/tlog-proof@v1":
        names = ["extra", "index"]
    elif header == "provledger/consistency-proof@v1":
        names = ["old", "old-root"]
    else:
        raise Invalid(f"unknown proof header {header!r}")
    rest = lines[1:]
    for name in names:
        if rest and rest[0].startswith(name + " "):
            fields[name] = rest.pop(0)[len(name) + 1 :]
        elif name != "extra":
            raise Invalid(f"missing {name!r} line")
    for line in rest:
        h = b64(line)
        if len(h) != 32:
            raise Invalid("a proof hash is not 32 bytes")
        hashes.append(h)
    return header, fields, hashes, note


def check_proof(text, vkeys, record):
    header, fields, hashes, note = parse_proof_file(text)
    origin, size, root = open_checkpoint(note, vkeys)
    if header == "c2sp.org/tlog-proof@v1":
        index = decimal(fields["index"])
        extra = b64(fields["extra"]) if "extra" in fields else None
        if record is not None and extra is not None and record != extra:
            raise Invalid("the record given is not the record in the proof")
        entry = record if record is not None else extra
        if entry is None:
            raise Invalid("no record to check")
        verify_inclusion(index, size, leaf_hash(entry), hashes, root)
        return f"record {index} is in {origin} at size {size}"
    old = decimal(fields["old"])
    old_root = b64(fields["old-root"])
    if len(old_root) != 32:
        raise Invalid("old root is not 32 bytes")
    verify_consistency(old, size, old_root, root, hashes)
    return f"{origin} at size {size} extends size {old}"


# --- record bytes (ledger-format.md sections 3 and 4) ------------------------------------------

STR, U64, F64, BOOL, DIGEST, REF = "str", "u64", "f64", "bool", "digest", "ref"


def opt(t):
    return ("opt", t)


def lst(t):
    return ("list", t)


def enum(*names):
    return ("enum", names)


SOURCE = [("source_kind", STR), ("uri", STR), ("digest", DIGEST)]
COMPARATOR = enum("<=", "<", ">=", ">", "==")
GATE = [("name", STR), ("metric", STR), ("comparator", COMPARATOR), ("threshold", F64),
        ("artifact_kinds", lst(STR)), ("providers", lst(STR))]
COMPONENT = [("artifact", REF), ("digest", DIGEST), ("name", STR), ("provider", STR),
             ("artifact_kind", STR)]
OVERRIDE = [("reason", STR), ("unmet", lst(STR))]
KINDS = [
    ("artifact", [("name", STR), ("provider", STR), ("artifact_kind", STR), ("digests", lst(DIGEST)),
                  ("size", U64), ("file_count", U64), ("uri", opt(STR)), ("sources", lst(SOURCE)),
                  ("parents", lst(DIGEST)), ("config_digest", opt(DIGEST))]),
    ("lane-result", [("lane", STR), ("commit", opt(STR)), ("subjects", lst(DIGEST)),
                     ("outcome", enum("passed", "failed", "error")), ("tests", U64), ("failures", U64),
                     ("errors", U64), ("skipped", U64), ("duration_ms", U64),
                     ("report_digest", opt(DIGEST))]),
    ("policy", [("name", STR), ("gates", lst(GATE)), ("required_lanes", lst(STR))]),
    ("gate-decision", [("gate", STR), ("candidate", DIGEST), ("metric", STR), ("observed", opt(F64)),
                       ("comparator", COMPARATOR), ("threshold", F64),
                       ("outcome", enum("passed", "failed")), ("policy", DIGEST),
                       ("evidence", lst(STR))]),
    ("fused-manifest", [("release_id", STR), ("commit", opt(STR)), ("components", lst(COMPONENT)),
                        ("decisions", lst(REF)), ("lane_results", lst(REF)), ("policy", REF),
                        ("policy_digest", DIGEST), ("override_", opt(OVERRIDE))]),
    ("promotion", [("channel", STR), ("release_id", STR), ("release", REF), ("replaces", opt(STR))]),
    ("rollback", [("channel", STR), ("release_id", STR), ("release", REF), ("replaces", STR),
                  ("reason", STR), ("overridden", BOOL)]),
    ("key-event", [("old_vkey", STR), ("new_vkey", STR), ("signature", STR)]),
]


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise Invalid("record ends early")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u(self, n):
        return int.from_bytes(self.take(n), "little")

    def value(self, t):
        if t == STR:
            try:
                return self.take(self.u(8)).decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("invalid UTF-8 in a record")
        if t == U64:
            return self.u(8)
        if t == F64:
            import struct
            v = struct.unpack("<d", self.take(8))[0]
            if v != v or v in (float("inf"), float("-inf")):
                raise Invalid("non-finite number in a record")
            return v
        if t == BOOL:
            b = self.u(1)
            if b > 1:
                raise Invalid("bad bool in a record")
            return b == 1
        if t == DIGEST:
            alg = {1: "blake3", 2: "sha256"}.get(self.u(1))
            if alg is None:
                raise Invalid("unknown digest algorithm in a record")
            return f"{alg}:{self.take(32).hex()}"
        if t == REF:
            return {"index": self.u(8), "leaf_hash": self.take(32).hex()}
        if isinstance(t, list):
            return {name: self.value(ft) for name, ft in t}
        kind, inner = t
        if kind == "opt":
            tag = self.u(1)
            if tag > 1:
                raise Invalid("bad option tag in a record")
            return self.value(inner) if tag else None
        if kind == "list":
            return [self.value(inner) for _ in range(self.u(8))]
        n = self.u(4)
        if n >= len(inner):
            raise Invalid("unknown enum value in a record")
        return inner[n]


def decode_record(data):
    r = Reader(data)
    if not data or data[0] != 1:
        raise Invalid("unknown record format version")
    r.take(1)
    record = {"time_us": int.from_bytes(r.take(8), "little", signed=True), "actor": r.value(STR),
              "prev": {"size": r.u(8), "root": r.take(32).hex()}}
    code = r.u(4)
    if code >= len(KINDS):
        raise Invalid("unknown record kind")
    record["kind"], schema = KINDS[code]
    record["body"] = r.value(schema)
    if r.at != len(data):
        raise Invalid("trailing bytes after a record")
    return record


def check_bundle(text, vkeys):
    import json
    b = json.loads(text)
    if b.get("format") != "provledger/release-bundle/v1":
        raise Invalid("not a provledger release bundle")
    origin, size, root = open_checkpoint(b["checkpoint"], vkeys)
    records = {}
    for r in b["records"]:
        data = b64(r["bytes"])
        path = [b64(h) for h in r["path"]]
        if any(len(h) != 32 for h in path):
            raise Invalid("a path hash is not 32 bytes")
        leaf = leaf_hash(data)
        verify_inclusion(r["index"], size, leaf, path, root)
        if r["index"] in records:
            raise Invalid(f"record {r['index']} appears twice")
        records[r["index"]] = (leaf.hex(), data, decode_record(data))

    def ref(rf, what):
        got = records.get(rf["index"])
        if got is None:
            raise Invalid(f"incomplete: {what} (record {rf['index']}) is missing")
        if got[0] != rf["leaf_hash"]:
            raise Invalid(f"{what}: record {rf['index']} is not the one referenced")
        return got

    manifests = [r for r in records.values()
                 if r[2]["kind"] == "fused-manifest" and r[2]["body"]["release_id"] == b["release"]]
    if not manifests:
        raise Invalid("incomplete: the fused manifest is missing")
    m = manifests[0][2]["body"]
    policy = ref(m["policy"], "the policy")
    policy_digest = "sha256:" + hashlib.sha256(policy[1]).hexdigest()
    if policy_digest != m["policy_digest"]:
        raise Invalid("the manifest's policy digest is not the bundled policy's")
    artifacts = [r[2]["body"] for r in records.values() if r[2]["kind"] == "artifact"]
    for c in m["components"]:
        a = ref(c["artifact"], f"artifact {c['name']}")[2]
        if a["kind"] != "artifact" or c["digest"] not in a["body"]["digests"]:
            raise Invalid(f"component {c['name']} does not match its artifact")
        todo, seen = list(a["body"]["parents"]), set()
        while todo:
            d = todo.pop()
            if d in seen or d in b["external_parents"]:
                continue
            seen.add(d)
            parent = [p for p in artifacts if d in p["digests"]]
            if not parent:
                raise Invalid(f"incomplete: parent {d} of {c['name']} is missing")
            todo.extend(parent[0]["parents"])
    for rf in m["decisions"]:
        d = ref(rf, "a gate decision")[2]
        if d["kind"] != "gate-decision" or d["body"]["policy"] != policy_digest:
            raise Invalid(f"record {rf['index']} is not a decision under the bundled policy")
    for rf in m["lane_results"]:
        if ref(rf, "a lane result")[2]["kind"] != "lane-result":
            raise Invalid(f"record {rf['index']} is not a lane result")
    return f"release {b['release']} of {origin}: {len(records)} records at size {size}"


def right_nodes(lo, hi):
    out, pos = [], lo
    while pos < hi:
        h = 63 if pos == 0 else (pos & -pos).bit_length() - 1
        while (1 << h) > hi - pos:
            h -= 1
        out.append(h)
        pos += 1 << h
    return out


class Range:
    """The compact range [0, size): peaks largest first (ledger-format.md section 12)."""

    def __init__(self, size, peaks):
        if len(peaks) != bin(size).count("1"):
            raise Invalid("wrong number of left peaks")
        self.size, self.peaks = size, list(peaks)

    def push(self, level, h):
        if self.size % (1 << level):
            raise Invalid("a subtree does not fit")
        right, l = h, level
        while self.size & (1 << l):
            right = node_hash(self.peaks.pop(), right)
            l += 1
        self.peaks.append(right)
        self.size += 1 << level

    def root(self):
        if not self.peaks:
            return EMPTY_ROOT
        r = self.peaks[-1]
        for p in reversed(self.peaks[:-1]):
            r = node_hash(p, r)
        return r


def check_export(directory, vkeys):
    import json, os
    def read(name):
        with open(os.path.join(directory, name), "rb") as f:
            return f.read()
    m = json.loads(read("manifest.json"))
    if m.get("format") != "provledger/export/v1":
        raise Invalid("not a provledger export")
    origin, size, root = open_checkpoint(m["checkpoint"], vkeys)
    _, start_size, start_root = open_checkpoint(m["start_checkpoint"], vkeys)
    verify_consistency(start_size, size, start_root, root, [b64(h) for h in m["start_consistency"]])
    first, end = m["first"], m["end"]
    if start_size > first or end > size:
        raise Invalid("the covered records are not between the checkpoints")
    raw = [base64.b64decode(l) for l in read("raw-records.b64").decode().splitlines()]
    if len(raw) != end - first:
        raise Invalid("raw-records.b64 does not cover the range")
    rng = Range(first, [b64(h) for h in m["left"]])
    for data in raw:
        rng.push(0, leaf_hash(data))
    levels = right_nodes(end, size)
    if len(levels) != len(m["right"]):
        raise Invalid("wrong number of right subtrees")
    for level, h in zip(levels, m["right"]):
        rng.push(level, b64(h))
    if rng.size != size or rng.root() != root:
        raise Invalid("the covered records do not lead to the checkpoint's root")
    q = m["query"]
    expected = []
    for n, data in enumerate(raw):
        index = first + n
        r = decode_record(data)
        t = r["time_us"]
        if n == 0 and first > 0 and t >= q["since_us"] and index + 1 != end:
            raise Invalid("the export starts after the period does")
        if index + 1 == end and end < size and t < q["until_us"]:
            raise Invalid("the export stops before the period does")
        body = r["body"]
        channel = body.get("channel") if r["kind"] in ("promotion", "rollback") else None
        if ((not q["kinds"] or r["kind"] in q["kinds"]) and (q["channel"] is None or channel == q["channel"])
                and q["since_us"] <= t < q["until_us"]):
            expected.append((index, leaf_hash(data).hex(), r))
    if q["format"] == "intoto":
        types = {"artifact": "https://slsa.dev/provenance/v1",
                 "lane-result": "https://in-toto.io/attestation/test-result/v0.1",
                 "gate-decision": "https://slsa.dev/verification_summary/v1",
                 "fused-manifest": "https://in-toto.io/attestation/release/v0.1"}
        rows = [json.loads(l) for l in read("statements.jsonl").decode().splitlines()]
        if len(rows) != len(expected):
            raise Invalid(f"{len(rows)} statements where the ledger has {len(expected)}")
        for row, (index, leaf, r) in zip(rows, expected):
            where = row.get("provledger_record", {})
            want = types.get(r["kind"])
            if (row.get("_type") != "https://in-toto.io/Statement/v1" or where.get("index") != index
                    or where.get("leaf_hash") != leaf or where.get("actor") != r["actor"]
                    or (want is not None and row.get("predicateType") != want)):
                raise Invalid(f"statement for record {where.get('index')} is not the recorded record")
            if r["kind"] == "artifact":
                digests = {d.split(":")[0]: d.split(":")[1] for d in r["body"]["digests"]}
                if row["subject"][0]["digest"] != digests:
                    raise Invalid(f"statement {index}: the subject is not the artifact")
    elif q["format"] == "jsonl":
        rows = [json.loads(l) for l in read("records.jsonl").decode().splitlines()]
        if len(rows) != len(expected):
            raise Invalid(f"{len(rows)} rows where the ledger has {len(expected)}")
        for row, (index, leaf, r) in zip(rows, expected):
            same = (row["index"] == index and row["leaf_hash"] == leaf and row["kind"] == r["kind"]
                    and row["actor"] == r["actor"] and row["time_us"] == r["time_us"]
                    and row["prev"] == r["prev"] and row["body"] == r["body"])
            if not same:
                raise Invalid(f"row for record {row.get('index')} is not the recorded record")
    else:
        import csv, io
        rows = list(csv.reader(io.StringIO(read("records.csv").decode())))
        if rows[0] != ["index", "leaf_hash", "time", "time_us", "actor", "kind", "prev_size",
                       "prev_root", "release_id", "channel", "body"]:
            raise Invalid("unexpected CSV columns")
        rows = rows[1:]
        if len(rows) != len(expected):
            raise Invalid(f"{len(rows)} rows where the ledger has {len(expected)}")
        for row, (index, leaf, r) in zip(rows, expected):
            same = (row[0] == str(index) and row[1] == leaf and row[3] == str(r["time_us"])
                    and row[4] == r["actor"] and row[5] == r["kind"] and json.loads(row[10]) == r["body"])
            if not same:
                raise Invalid(f"row for record {row[0]} is not the recorded record")
    return f"{len(expected)} rows of {origin} prove against the checkpoint at size {size}"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["checkpoint", "proof", "bundle", "export"])
    parser.add_argument("file")
    parser.add_argument("--vkey", action="append", required=True)
    parser.add_argument("--record")
    args = parser.parse_args(argv)
    try:
        vkeys = [read_vkey(v) for v in args.vkey]
        if args.what == "export":
            print(f"valid: {check_export(args.file, vkeys)}")
            return 0
        with open(args.file, "rb") as f:
            text = f.read().decode("utf-8")
        record = None
        if args.record:
            with open(args.record, "rb") as f:
                record = f.read()
        if args.what == "checkpoint":
            origin, size, root = open_checkpoint(text, vkeys)
            message = f"checkpoint of {origin} at size {size}, root {root.hex()}"
        elif args.what == "bundle":
            message = check_bundle(text, vkeys)
        else:
            message = check_proof(text, vkeys, record)
    except (Invalid, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        print(f"verify.py: invalid: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"verify.py: {e}", file=sys.stderr)
        return 2
    print(f"valid: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
