#!/usr/bin/env python3
"""Writes the bad-input corpus into tests/data/bad/ and its case list, cases.txt.

Each line of cases.txt is `<file> <command with {} for the file>`; tests/bad_input.rs runs
every case against a prepared ledger and requires exit 1 or 2, one error line, no panic and an
unchanged ledger file. Run by hand after changing the corpus: python3 tools/make-bad-corpus.py
"""

import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "bad")
CASES = []

LANE = {"lane": "fast", "commit": "9fceb02", "subjects": [], "outcome": "passed", "tests": 3,
        "failures": 0, "errors": 0, "skipped": 0, "duration_ms": 10, "report_digest": None}
B3 = "blake3:" + "ab" * 32


def put(name, data, command):
    path = os.path.join(ROOT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    CASES.append(f"{name}\t{command}")


def common(prefix, command):
    """Inputs every text format must refuse."""
    put(f"{prefix}/empty", b"", command)
    put(f"{prefix}/whitespace", b"  \n\t\n", command)
    put(f"{prefix}/not-utf8", b"\xff\xfe\x00\x01garbage", command)
    put(f"{prefix}/binary", bytes(range(256)), command)
    put(f"{prefix}/nul-bytes", b"\x00" * 64, command)


def records():
    cmd = "append --kind lane-result --json {}"
    common("record", cmd)
    text = json.dumps(LANE)
    put("record/truncated.json", text[: len(text) // 2], cmd)
    put("record/deep-nesting.json", "[" * 100000 + "]" * 100000, cmd)
    put("record/duplicate-key.json", text.replace('{"lane": "fast"', '{"lane": "fast", "lane": "slow"'), cmd)
    for field, value in [("tests", -1), ("tests", "3"), ("tests", 1.5), ("tests", 1e400),
                         ("tests", 2 ** 64), ("lane", 7), ("lane", ""), ("lane", "a\u0007b"),
                         ("outcome", "great"), ("outcome", None), ("subjects", "blake3:00"),
                         ("subjects", ["md5:" + "00" * 16]), ("subjects", [B3.upper()]),
                         ("commit", 42), ("report_digest", "sha256:xyz"), ("duration_ms", -5)]:
        body = dict(LANE)
        body[field] = value
        put(f"record/{field}-{str(value)[:12].replace('/', '_').replace(' ', '_')}.json",
            json.dumps(body), cmd)
    for field in [f for f in LANE if LANE[f] is not None and f != "commit"]:  # optional ones may be omitted
        body = dict(LANE)
        del body[field]
        put(f"record/missing-{field}.json", json.dumps(body), cmd)
    put("record/unknown-field.json", json.dumps(dict(LANE, colour="red")), cmd)
    put("record/nan.json", text.replace('"tests": 3', '"tests": NaN'), cmd)
    put("record/infinity.json", text.replace('"tests": 3', '"tests": Infinity'), cmd)
    put("record/null.json", "null", cmd)
    put("record/string.json", '"lane-result"', cmd)
    put("record/empty-array.json", "[]", cmd)
    put("record/array-of-numbers.json", "[1, 2, 3]", cmd)
    put("record/jsonl-one-bad.json", text + "\n" + text.replace("passed", "maybe") + "\n", cmd)
    put("record/too-large.json", json.dumps(dict(LANE, lane="x" * 70000)), cmd)
    put("record/trailing-garbage.json", text + " }", cmd)
    put("record/bom.json", b"\xef\xbb\xbf" + text.encode(), cmd)
    for kind in ["gate-decision", "fused-manifest", "promotion", "rollback", "key-event"]:
        put(f"record/back-door-{kind}.json", "{}", f"append --kind {kind} --json {{}}")
    put("record/unknown-kind.json", text, "append --kind lane --json {}")


def junit():
    cmd = "lane record --lane fast --junit {}"
    common("junit", cmd)
    good = '<?xml version="1.0"?><testsuites><testsuite tests="1" failures="0" errors="0"><testcase name="a"/></testsuite></testsuites>'
    put("junit/truncated.xml", good[:60], cmd)
    put("junit/not-xml.xml", "tests passed!", cmd)
    put("junit/html.xml", "<html><body>report</body></html>", cmd)
    put("junit/unclosed-suite.xml", "<testsuites><testsuite><testcase/>", cmd)
    put("junit/bad-count.xml", good.replace('tests="1"', 'tests="one"').replace("<testcase name=\"a\"/>", ""), cmd)
    put("junit/negative-count.xml", good.replace('failures="0"', 'failures="-1"').replace("<testcase name=\"a\"/>", ""), cmd)
    put("junit/bad-time.xml", good.replace("<testsuite ", '<testsuite time="soon" '), cmd)
    put("junit/nan-time.xml", good.replace("<testsuite ", '<testsuite time="NaN" '), cmd)
    put("junit/bad-entity.xml", good.replace('name="a"', 'name="&bogus;"'), cmd)
    put("junit/mismatched-tags.xml", "<testsuites><testsuite></testcase></testsuites>", cmd)
    put("junit/deep-nesting.xml", "<testsuites>" + "<testsuite>" * 20000 + "</testsuite>" * 20000 + "</testsuites>", cmd)
    put("junit/no-tests.xml", '<testsuites><testsuite tests="0"/></testsuites>', cmd + " --commit c1 --subject md5:00")


def policy():
    cmd = "policy set {}"
    common("policy", cmd)
    good = 'name = "p"\nrequired_lanes = ["fast"]\n[[gates]]\nname = "q"\nmetric = "acc"\ncomparator = ">="\nthreshold = 0.9\n'
    for name, text in [
        ("bad-comparator", good.replace('">="', '"=>"')),
        ("duplicate-gate", good + '[[gates]]\nname = "q"\nmetric = "b"\ncomparator = "<"\nthreshold = 1\n'),
        ("string-threshold", good.replace("0.9", '"high"')),
        ("nan-threshold", good.replace("0.9", "nan")),
        ("inf-threshold", good.replace("0.9", "inf")),
        ("missing-name", good.replace('name = "p"\n', "")),
        ("empty-name", good.replace('name = "p"', 'name = ""')),
        ("unknown-key", good + "colour = 1\n"),
        ("gate-unknown-key", good.replace('metric = "acc"', 'metric = "acc"\nweight = 2')),
        ("lanes-not-array", good.replace('["fast"]', '"fast"')),
        ("syntax", good.replace("[[gates]]", "[[gates]")),
        ("duplicate-table-key", good.replace('metric = "acc"', 'metric = "acc"\nmetric = "b"')),
        ("missing-threshold", good.replace("threshold = 0.9\n", "")),
        ("control-char-name", good.replace('name = "q"', 'name = "q\\u0007"')),
        ("empty-lane", good.replace('["fast"]', '[""]')),
        ("json-not-toml", json.dumps({"name": "p"})),
    ]:
        put(f"policy/{name}.toml", text, cmd)


def metrics():
    cmd = "gate evaluate --candidate " + "{candidate}" + " --metrics {}"
    common("metrics", cmd)
    for name, text in [("array", "[0.9]"), ("string", '"0.9"'), ("nan", '{"acc": NaN}'),
                       ("truncated", '{"acc": 0.'), ("trailing", '{"acc": 0.9} x'),
                       ("null", "null"), ("number", "0.9")]:
        put(f"metrics/{name}.json", text, cmd)


def manifests():
    cmd = "release fuse --id v1 --from {}"
    common("provider-manifest", cmd)
    for name, value in [("no-artifacts", {"provider": "gcp"}), ("artifacts-not-array", {"artifacts": B3}),
                        ("artifact-not-string", {"artifacts": [1]}), ("bad-digest", {"artifacts": ["blake3:zz"]}),
                        ("array", [B3])]:
        put(f"provider-manifest/{name}.json", json.dumps(value), cmd)
    put("provider-manifest/truncated.json", '{"artifacts": ["', cmd)


def checkpoints():
    cmd = "checkpoint accept {} --trusted state.txt --vkey {vkey}"
    common("checkpoint", cmd)
    for name, text in [
        ("no-signature", "example.com/log\n1\n" + "A" * 43 + "=\n"),
        ("garbage", "this is not a checkpoint\n"),
        ("leading-zero-size", "{origin}\n01\n{root}\n\n{sig}"),
        ("signed-size", "{origin}\n+1\n{root}\n\n{sig}"),
        ("short-root", "{origin}\n1\nAAAA\n\n{sig}"),
        ("no-final-newline", "{origin}\n1\n{root}\n\n{sig_no_nl}"),
        ("control-char", "{origin}\n1\r\n{root}\n\n{sig}"),
        ("many-signatures", "{origin}\n1\n{root}\n\n" + "{sig}" * 101),
        ("unknown-key-only", "{origin}\n1\n{root}\n\n\u2014 other.example/x AAAAAAAA\n"),
        ("bad-signature-base64", "{origin}\n1\n{root}\n\n\u2014 {origin} !!!!\n"),
    ]:
        put(f"checkpoint/{name}.txt", text, cmd)


def proofs():
    cmd = "verify-proof {} --vkey {vkey}"
    common("proof", cmd)
    for name, text in [
        ("wrong-header", "c2sp.org/tlog-proof@v2\nindex 0\n\n{checkpoint}"),
        ("bad-index", "c2sp.org/tlog-proof@v1\nindex -1\n\n{checkpoint}"),
        ("leading-zero-index", "c2sp.org/tlog-proof@v1\nindex 00\n\n{checkpoint}"),
        ("bad-hash", "c2sp.org/tlog-proof@v1\nindex 0\n!!!!\n\n{checkpoint}"),
        ("short-hash", "c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n{checkpoint}"),
        ("too-many-hashes", "c2sp.org/tlog-proof@v1\nindex 0\n" + ("A" * 43 + "=\n") * 65 + "\n{checkpoint}"),
        ("no-blank-line", "c2sp.org/tlog-proof@v1\nindex 0\n"),
        ("bad-extra", "c2sp.org/tlog-proof@v1\nextra ***\nindex 0\n\n{checkpoint}"),
        ("no-record", "c2sp.org/tlog-proof@v1\nindex 0\n\n{checkpoint}"),
        ("consistency-bad-old", "provledger/consistency-proof@v1\nold x\nold-root {root}\n\n{checkpoint}"),
        ("consistency-no-root", "provledger/consistency-proof@v1\nold 1\n\n{checkpoint}"),
        ("json-without-root", '{"type": "inclusion"}'),
    ]:
        put(f"proof/{name}.txt", text, cmd)


def bundles():
    cmd = "verify --bundle {} --vkey {vkey}"
    common("bundle", cmd)
    for name, value in [
        ("wrong-format", {"format": "x", "release": "v1", "checkpoint": "", "records": [], "external_parents": []}),
        ("missing-records", {"format": "provledger/release-bundle/v1", "release": "v1", "checkpoint": "", "external_parents": []}),
        ("unknown-field", {"format": "provledger/release-bundle/v1", "release": "v1", "checkpoint": "", "records": [], "external_parents": [], "x": 1}),
        ("records-not-array", {"format": "provledger/release-bundle/v1", "release": "v1", "checkpoint": "", "records": {}, "external_parents": []}),
        ("array", []),
    ]:
        put(f"bundle/{name}.json", json.dumps(value), cmd)
    put("bundle/truncated.json", '{"format": "provledger/release-bundle/v1", "rec', cmd)


def keys():
    for name, text in [("garbage", "not a key"), ("public-key", "example.com/log+00000000+AQ=="),
                       ("wrong-prefix", "PRIVATE+KEYS+x+00000000+AQ=="),
                       ("bad-base64", "PRIVATE+KEY+x+00000000+***"),
                       ("short-seed", "PRIVATE+KEY+x+00000000+AQID"),
                       ("wrong-id", "PRIVATE+KEY+PeterNeumann+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"),
                       ("uppercase-id", "PRIVATE+KEY+PeterNeumann+C74F20A3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"),
                       ("space-in-name", "PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")]:
        put(f"key/{name}.txt", text, "key import {}")
    common("key", "key import {}")
    for name, text in [("garbage", "vkey"), ("short", "x+00000000+AQ=="), ("no-id", "x++AQ=="),
                       ("bad-id", "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")]:
        put(f"vkey/{name}.txt", text, "verify-proof good.proof --vkey {}")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for make in [records, junit, policy, metrics, manifests, checkpoints, proofs, bundles, keys]:
        make()
    with open(os.path.join(ROOT, "cases.txt"), "w") as f:
        f.write("\n".join(CASES) + "\n")
    print(f"{len(CASES)} bad inputs in {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
