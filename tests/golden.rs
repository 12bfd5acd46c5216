//! Golden vectors: each kind's example record, encoded by the crate, must equal the bytes a
//! second encoder builds from ledger-format.md §3–§4 (the schema table below is that document's
//! field tables), and both must equal the frozen vectors in `tests/golden/records.txt`.
//! Regenerate the file from the spec encoder (never from the crate) with PROVLEDGER_BLESS=1.

use provledger::hash::{Hash, leaf_hash, sha256};
use provledger::{Body, Kind, Record, TreeHead, examples, record};
use serde_json::Value;

/// A field type of ledger-format.md §3.
enum T {
    Str,
    U64,
    F64,
    Bool,
    Digest,
    Ref,
    Opt(&'static T),
    List(&'static T),
    Struct(&'static [(&'static str, T)]),
    Enum(&'static [&'static str]),
}

const SOURCE: T = T::Struct(&[
    ("source_kind", T::Str),
    ("uri", T::Str),
    ("digest", T::Digest),
]);
const COMPARATOR: T = T::Enum(&["<=", "<", ">=", ">", "=="]);
const GATE: T = T::Struct(&[
    ("name", T::Str),
    ("metric", T::Str),
    ("comparator", COMPARATOR),
    ("threshold", T::F64),
    ("artifact_kinds", T::List(&T::Str)),
    ("providers", T::List(&T::Str)),
]);
const COMPONENT: T = T::Struct(&[
    ("artifact", T::Ref),
    ("digest", T::Digest),
    ("name", T::Str),
    ("provider", T::Str),
    ("artifact_kind", T::Str),
]);
const OVERRIDE: T = T::Struct(&[("reason", T::Str), ("unmet", T::List(&T::Str))]);

fn schema(kind: Kind) -> &'static [(&'static str, T)] {
    match kind {
        Kind::Artifact => &[
            ("name", T::Str),
            ("provider", T::Str),
            ("artifact_kind", T::Str),
            ("digests", T::List(&T::Digest)),
            ("size", T::U64),
            ("file_count", T::U64),
            ("uri", T::Opt(&T::Str)),
            ("sources", T::List(&SOURCE)),
            ("parents", T::List(&T::Digest)),
            ("config_digest", T::Opt(&T::Digest)),
        ],
        Kind::LaneResult => &[
            ("lane", T::Str),
            ("commit", T::Opt(&T::Str)),
            ("subjects", T::List(&T::Digest)),
            ("outcome", T::Enum(&["passed", "failed", "error"])),
            ("tests", T::U64),
            ("failures", T::U64),
            ("errors", T::U64),
            ("skipped", T::U64),
            ("duration_ms", T::U64),
            ("report_digest", T::Opt(&T::Digest)),
        ],
        Kind::Policy => &[
            ("name", T::Str),
            ("gates", T::List(&GATE)),
            ("required_lanes", T::List(&T::Str)),
        ],
        Kind::GateDecision => &[
            ("gate", T::Str),
            ("candidate", T::Digest),
            ("metric", T::Str),
            ("observed", T::Opt(&T::F64)),
            ("comparator", COMPARATOR),
            ("threshold", T::F64),
            ("outcome", T::Enum(&["passed", "failed"])),
            ("policy", T::Digest),
            ("evidence", T::List(&T::Str)),
        ],
        Kind::FusedManifest => &[
            ("release_id", T::Str),
            ("commit", T::Opt(&T::Str)),
            ("components", T::List(&COMPONENT)),
            ("decisions", T::List(&T::Ref)),
            ("lane_results", T::List(&T::Ref)),
            ("policy", T::Ref),
            ("policy_digest", T::Digest),
            ("override_", T::Opt(&OVERRIDE)),
        ],
        Kind::Promotion => &[
            ("channel", T::Str),
            ("release_id", T::Str),
            ("release", T::Ref),
            ("replaces", T::Opt(&T::Str)),
        ],
        Kind::Rollback => &[
            ("channel", T::Str),
            ("release_id", T::Str),
            ("release", T::Ref),
            ("replaces", T::Str),
            ("reason", T::Str),
            ("overridden", T::Bool),
        ],
        Kind::KeyEvent => &[
            ("old_vkey", T::Str),
            ("new_vkey", T::Str),
            ("signature", T::Str),
        ],
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put(out: &mut Vec<u8>, t: &T, v: &Value) {
    match t {
        T::Str => put_str(out, v.as_str().unwrap()),
        T::U64 => out.extend(v.as_u64().unwrap().to_le_bytes()),
        T::F64 => out.extend(v.as_f64().unwrap().to_le_bytes()),
        T::Bool => out.push(u8::from(v.as_bool().unwrap())),
        T::Digest => {
            let (alg, hex_part) = v.as_str().unwrap().split_once(':').unwrap();
            out.push(match alg {
                "blake3" => 1,
                "sha256" => 2,
                other => panic!("algorithm {other}"),
            });
            out.extend(hex::decode(hex_part).unwrap());
        }
        T::Ref => {
            out.extend(v["index"].as_u64().unwrap().to_le_bytes());
            out.extend(hex::decode(v["leaf_hash"].as_str().unwrap()).unwrap());
        }
        T::Opt(inner) => {
            if v.is_null() {
                out.push(0);
            } else {
                out.push(1);
                put(out, inner, v);
            }
        }
        T::List(inner) => {
            let items = v.as_array().unwrap();
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                put(out, inner, item);
            }
        }
        T::Struct(fields) => {
            for (name, ft) in *fields {
                put(out, ft, &v[*name]);
            }
        }
        T::Enum(names) => {
            let n = names.iter().position(|x| Some(*x) == v.as_str()).unwrap();
            out.extend((n as u32).to_le_bytes());
        }
    }
}

const TIME_US: i64 = 1_764_806_400_000_000; // 2025-12-04T00:00:00Z
const ACTOR: &str = "ci@example.com";

fn prev() -> TreeHead {
    TreeHead {
        size: 7,
        root: sha256(b"seven"),
    }
}

/// The record bytes ledger-format.md prescribes for `kind`'s example body.
fn spec_bytes(kind: Kind) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend(TIME_US.to_le_bytes());
    put_str(&mut out, ACTOR);
    out.extend(prev().size.to_le_bytes());
    out.extend(prev().root.0);
    out.extend(u32::from(kind.code()).to_le_bytes());
    put(&mut out, &T::Struct(schema(kind)), &examples::example(kind));
    out
}

fn crate_record(kind: Kind) -> Record {
    Record {
        version: 1,
        time_us: TIME_US,
        actor: ACTOR.into(),
        prev: prev(),
        body: Body::from_json(kind, examples::example(kind)).unwrap(),
    }
}

const GOLDEN: &str = "tests/golden/records.txt";

#[test]
fn each_kind_encodes_exactly_as_ledger_format_md_says() {
    for kind in Kind::ALL {
        let ours = record::encode(&crate_record(kind)).unwrap();
        assert_eq!(
            hex::encode(&ours),
            hex::encode(spec_bytes(kind)),
            "kind {kind}"
        );
    }
}

#[test]
fn golden_vectors_are_frozen() {
    let lines: Vec<String> = Kind::ALL
        .iter()
        .map(|&k| {
            let bytes = spec_bytes(k);
            format!(
                "{} {} {}",
                k.name(),
                leaf_hash(&bytes).to_hex(),
                hex::encode(&bytes)
            )
        })
        .collect();
    let expected = lines.join("\n") + "\n";
    if std::env::var_os("PROVLEDGER_BLESS").is_some() {
        std::fs::write(GOLDEN, &expected).unwrap();
    }
    let frozen = std::fs::read_to_string(GOLDEN).unwrap();
    assert_eq!(
        frozen, expected,
        "the format changed: that needs a version bump"
    );
    for line in frozen.lines() {
        let mut parts = line.split(' ');
        let (name, leaf, bytes) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let bytes = hex::decode(bytes).unwrap();
        assert_eq!(leaf_hash(&bytes), Hash::from_hex(leaf).unwrap());
        let decoded = record::decode(&bytes).unwrap();
        assert_eq!(decoded, crate_record(Kind::parse(name).unwrap()));
        assert_eq!(record::encode(&decoded).unwrap(), bytes);
    }
}

#[test]
fn decoding_is_strict() {
    let good = spec_bytes(Kind::Promotion);
    let mut trailing = good.clone();
    trailing.push(0);
    let mut version = good.clone();
    version[0] = 2;
    let mut kind = good.clone();
    kind[1 + 8 + 8 + ACTOR.len() + 40] = 8; // kind code 8 does not exist
    let mut long_actor = good.clone();
    long_actor[9] = 0xff; // actor length runs past the end
    let mut bad_option = good.clone();
    *bad_option.last_mut().unwrap() = 2; // `replaces` option tag
    let mut bad_utf8 = good.clone();
    bad_utf8[17] = 0xff; // first byte of the actor
    let cases = [
        (vec![], "empty"),
        (good[..good.len() - 1].to_vec(), "truncated"),
        (trailing, "trailing byte"),
        (version, "unknown version"),
        (kind, "unknown kind"),
        (long_actor, "over-long length"),
        (bad_option, "bad option tag"),
        (bad_utf8, "invalid UTF-8"),
    ];
    for (bytes, what) in cases {
        assert!(
            record::decode(&bytes).is_err(),
            "accepted a record with {what}"
        );
    }
    let mut nan = crate_record(Kind::GateDecision);
    if let Body::GateDecision(g) = &mut nan.body {
        g.threshold = f64::NAN;
    }
    let nan_bytes = bincode_like_encode_bypassing_validation(&nan);
    assert!(
        record::decode(&nan_bytes).is_err(),
        "accepted a NaN threshold"
    );
}

/// Encodes without the crate's validation, to build a record with a NaN inside.
fn bincode_like_encode_bypassing_validation(record: &Record) -> Vec<u8> {
    let mut good = record.clone();
    if let Body::GateDecision(g) = &mut good.body {
        g.threshold = 0.5;
    }
    let bytes = record::encode(&good).unwrap();
    let needle = 0.5f64.to_le_bytes();
    let at = bytes.windows(8).position(|w| w == needle).unwrap();
    let mut out = bytes.clone();
    out[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    out
}
