//! Signed notes and checkpoints against the published C2SP and sumdb/note vectors
//! (SPEC-NOTES §8), and strict parsing.

use provledger::TreeHead;
use provledger::checkpoint::Checkpoint;
use provledger::hash::sha256;
use provledger::note::{self, Signer, Verifier, key_id};

const C2SP_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const C2SP_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const PN_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PN_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PN_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PN_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn the_c2sp_example_note_verifies_with_its_key() {
    let v = Verifier::parse(C2SP_VKEY).unwrap();
    assert_eq!(v.id(), 0x530d903a);
    let opened = note::open(C2SP_NOTE, &[v]).unwrap();
    assert_eq!(opened.text, "This is an example message.\n");
    assert_eq!(opened.verified_by, vec!["example.com/foo+530d903a"]);
}

#[test]
fn the_sumdb_signing_vector_reproduces_byte_for_byte() {
    let signer = Signer::from_private_text(PN_SKEY).unwrap();
    assert_eq!(signer.verifier().to_text(), PN_VKEY);
    assert_eq!(signer.to_private_text(), PN_SKEY);
    let signed = note::sign(PN_TEXT, &[&signer]).unwrap();
    assert_eq!(signed, format!("{PN_TEXT}\n{PN_LINE}"));
    let v = Verifier::parse(PN_VKEY).unwrap();
    assert_eq!(v.id(), 0xc74f20a3);
    note::open(&signed, &[v]).unwrap();
}

#[test]
fn key_ids_follow_the_formula() {
    // SHA-256("PeterNeumann" || 0x0A || 0x01 || pub)[0..4], computed here from the parts.
    let v = Verifier::parse(PN_VKEY).unwrap();
    let text = v.to_text();
    let public = base64_decode(text.rsplit('+').next().unwrap());
    let mut input = b"PeterNeumann\n\x01".to_vec();
    input.extend_from_slice(&public[1..]);
    let h = sha256(&input).0;
    assert_eq!(
        key_id("PeterNeumann", 1, &public[1..]),
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    );
    assert_eq!(key_id("PeterNeumann", 1, &public[1..]), 0xc74f20a3);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn keys_whose_base64_holds_a_plus_round_trip() {
    // Regression: key texts were split on every '+', and base64 may contain '+'.
    let signer = (0u8..=255)
        .map(|b| Signer::from_seed("example.com/log", [b; 32]).unwrap())
        .find(|s| s.verifier().to_text().split('+').count() > 3)
        .expect("some seed gives a '+' in the base64");
    let text = signer.verifier().to_text();
    assert_eq!(Verifier::parse(&text).unwrap(), signer.verifier());
    let again = Signer::from_private_text(&signer.to_private_text()).unwrap();
    assert_eq!(again.verifier(), signer.verifier());
}

fn signer() -> Signer {
    Signer::from_seed("example.com/log", [7; 32]).unwrap()
}

fn sample_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "example.com/log".into(),
        head: TreeHead {
            size: 42,
            root: sha256(b"root"),
        },
        extensions: vec![],
    }
}

#[test]
fn checkpoints_round_trip_and_match_the_c2sp_layout() {
    let cp = sample_checkpoint();
    let text = cp.format();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "example.com/log");
    assert_eq!(lines[1], "42");
    assert_eq!(base64_decode(lines[2]), sha256(b"root").0.to_vec());
    assert!(text.ends_with('\n'));
    assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
    let mut ext = cp.clone();
    ext.extensions = vec!["extension line".into()];
    assert_eq!(Checkpoint::parse(&ext.format()).unwrap(), ext);
}

#[test]
fn malformed_checkpoints_are_refused() {
    let good = sample_checkpoint().format();
    let root_line = good.lines().nth(2).unwrap().to_string();
    let short_root = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([1u8; 31])
    };
    let bad = [
        good.replace("\n42\n", "\n042\n"),
        good.replace("\n42\n", "\n+42\n"),
        good.replace("\n42\n", "\n-42\n"),
        good.replace("\n42\n", "\n 42\n"),
        good.replace("\n42\n", "\nforty-two\n"),
        good.replace(&root_line, &short_root),
        good.replace(&root_line, "not base64!"),
        good.trim_end().to_string(),
        good.replace("example.com/log\n", "\n"),
        format!("{good}\n"),
        "example.com/log\n42\n".to_string(),
    ];
    for text in bad {
        assert!(Checkpoint::parse(&text).is_err(), "accepted: {text:?}");
    }
}

#[test]
fn malformed_or_badly_signed_notes_are_refused() {
    let s = signer();
    let v = vec![s.verifier()];
    let text = sample_checkpoint().format();
    let signed = note::sign(&text, &[&s]).unwrap();
    assert!(note::open(&signed, &v).is_ok());

    // Control characters, a missing final newline, no blank line.
    assert!(
        note::open(
            &signed.replace("example.com/log\n42", "example.com/log\r\n42"),
            &v
        )
        .is_err()
    );
    assert!(note::open(signed.trim_end(), &v).is_err());
    assert!(note::open(&signed.replacen("\n\n", "\n", 1), &v).is_err());
    // A changed text: the known key's signature no longer verifies.
    let changed = signed.replace("\n42\n", "\n43\n");
    assert!(matches!(
        note::open(&changed, &v),
        Err(provledger::Error::Failed(_))
    ));
    // Only unknown keys.
    let other = Signer::from_seed("example.com/other", [9; 32]).unwrap();
    let by_other = note::sign(&text, &[&other]).unwrap();
    assert!(matches!(
        note::open(&by_other, &v),
        Err(provledger::Error::Failed(_))
    ));
    // An unknown key next to a valid one is ignored; a bad known one rejects the whole note.
    let both = note::sign(&text, &[&other, &s]).unwrap();
    assert_eq!(note::open(&both, &v).unwrap().verified_by.len(), 1);
    let same_name_wrong_key = Signer::from_seed("example.com/log", [8; 32]).unwrap();
    assert!(note::open(&note::sign(&text, &[&same_name_wrong_key]).unwrap(), &v).is_err());
    // More than 100 signature lines.
    let line = signed.split("\n\n").nth(1).unwrap();
    let many = format!("{text}\n{}", line.repeat(101));
    assert!(note::open(&many, &v).is_err());
    let hundred = format!("{text}\n{}", line.repeat(100));
    assert!(note::open(&hundred, &v).is_ok());
}

#[test]
fn verifier_keys_are_parsed_strictly() {
    let good = signer().verifier().to_text();
    let (name, rest) = good.split_once('+').unwrap();
    let (id, key) = rest.split_once('+').unwrap();
    let bad = [
        format!("{name}+{}+{key}", id.to_uppercase()),
        format!("{name}+{}+{key}", &id[..7]),
        format!("{name}+00000000+{key}"),
        format!("{name}+{id}+{}", &key[..key.len() - 4]),
        format!("+{id}+{key}"),
        format!("{name} x+{id}+{key}"),
        name.to_string(),
    ];
    for text in bad {
        assert!(Verifier::parse(&text).is_err(), "accepted {text}");
    }
}
