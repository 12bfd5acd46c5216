//! The ledger's signing key on disk, and the key history that checkpoints are verified
//! against (ledger-format.md §7).
//!
//! `.provledger/key` holds the private-key text (mode 0600, never printed);
//! `.provledger/key.pub` the verifier key. A rotation first writes the new key to `key.next`,
//! commits the key-event record, then renames `key.next` to `key`; an open that finds
//! `key.next` finishes or discards that step, so a crash never leaves the ledger unsignable.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Error, Result, invalid};
use crate::kinds::KeyEvent;
use crate::note::{Signer, Verifier};
use crate::record::TreeHead;

/// The private key file in the ledger directory.
pub const KEY_FILE: &str = "key";
/// The verifier key file in the ledger directory.
pub const VKEY_FILE: &str = "key.pub";
/// A rotation's new key, before its key event commits.
pub const NEXT_KEY_FILE: &str = "key.next";

fn io(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.display().to_string();
    let what = what.to_string();
    move |e| Error::Io(format!("{what} {path}: {e}"))
}

/// Writes a private key file with mode 0600 (created so, never widened), atomically.
///
/// # Errors
/// I/O errors.
pub fn write_private(path: &Path, signer: &Signer) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io(&tmp, "creating"))?;
    file.write_all(format!("{}\n", signer.to_private_text()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(&tmp, "writing"))?;
    std::fs::rename(&tmp, path).map_err(io(path, "installing"))
}

/// Reads a private key file.
///
/// # Errors
/// [`Error::Invalid`] when missing or malformed (without echoing key material).
pub fn read_private(path: &Path) -> Result<Signer> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "cannot read the signing key {}: {e}",
            path.display()
        ))
    })?;
    Signer::from_private_text(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// Writes the verifier key file.
///
/// # Errors
/// I/O errors.
pub fn write_public(path: &Path, verifier: &Verifier) -> Result<()> {
    std::fs::write(path, format!("{}\n", verifier.to_text())).map_err(io(path, "writing"))
}

/// Reads a verifier key given as the key text itself or as a file holding it.
///
/// # Errors
/// [`Error::Invalid`] naming the problem.
pub fn read_vkey(text_or_path: &str) -> Result<Verifier> {
    if let Ok(v) = Verifier::parse(text_or_path) {
        return Ok(v);
    }
    let path = PathBuf::from(text_or_path);
    if path.is_file() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        return Verifier::parse(&text).map_err(|e| invalid(format!("{}: {e}", path.display())));
    }
    Verifier::parse(text_or_path)
}

/// The statement a retiring key signs to hand over to the next one.
pub fn rotation_statement(origin: &str, prev: &TreeHead, new_vkey: &str) -> String {
    format!(
        "provledger/key-rotation/v1\n{origin}\n{}\n{}\n{new_vkey}\n",
        prev.size,
        B64.encode(prev.root.0)
    )
}

/// Checks a key event: `old_vkey` is `current`, the new key parses, and the old key signed the
/// rotation statement for the head the record extends. Returns the new verifier.
///
/// # Errors
/// [`Error::Failed`] naming what does not hold.
pub fn check_rotation(
    origin: &str,
    prev: &TreeHead,
    event: &KeyEvent,
    current: &Verifier,
) -> Result<Verifier> {
    let fail = |why: String| Error::Failed(format!("key event: {why}"));
    if event.old_vkey != current.to_text() {
        return Err(fail(format!(
            "it retires {} but the key in force is {}",
            event.old_vkey,
            current.to_text()
        )));
    }
    let new = Verifier::parse(&event.new_vkey).map_err(|e| fail(e.to_string()))?;
    if new.name() != origin {
        return Err(fail(format!(
            "the new key is named '{}', not the origin '{origin}'",
            new.name()
        )));
    }
    let sig: [u8; 64] = B64
        .decode(&event.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| fail("the signature is not base64 of 64 bytes".into()))?;
    let statement = rotation_statement(origin, prev, &event.new_vkey);
    if !current.verifies(statement.as_bytes(), &sig) {
        return Err(fail("the retiring key's signature does not verify".into()));
    }
    Ok(new)
}

/// Signs the rotation statement with the retiring key: the key-event body.
pub fn rotation_event(origin: &str, prev: &TreeHead, old: &Signer, new: &Verifier) -> KeyEvent {
    let statement = rotation_statement(origin, prev, &new.to_text());
    KeyEvent {
        old_vkey: old.verifier().to_text(),
        new_vkey: new.to_text(),
        signature: B64.encode(old.sign_raw(statement.as_bytes())),
    }
}

/// When each key came into force: `(first tree size it signs, verifier)`, oldest first.
pub type KeyHistory = Vec<(u64, Verifier)>;

/// The key in force at tree size `size`.
pub fn key_at(history: &KeyHistory, size: u64) -> &Verifier {
    &history
        .iter()
        .rev()
        .find(|(from, _)| *from <= size)
        .unwrap_or(&history[0])
        .1
}

impl crate::Ledger {
    /// The key history as the records state it (genesis key, then each key event's new key
    /// from the size after it). `verify` checks the events' signatures.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a key that does not parse.
    pub fn key_history(&self) -> Result<KeyHistory> {
        let snap = self.store.read()?;
        let genesis = Verifier::parse(&snap.genesis_vkey()?)
            .map_err(|e| Error::Corrupt(format!("the genesis key: {e}")))?;
        let mut history = vec![(0, genesis)];
        let filter = crate::ledger::Filter {
            kind: Some(crate::Kind::KeyEvent),
            ..Default::default()
        };
        self.for_each(&filter, |e| {
            if let crate::Body::KeyEvent(k) = &e.record.body {
                let v = Verifier::parse(&k.new_vkey)
                    .map_err(|err| Error::Corrupt(format!("record {}: {err}", e.index)))?;
                history.push((e.index + 1, v));
            }
            Ok(())
        })?;
        Ok(history)
    }

    /// The key that signs checkpoints from now on.
    ///
    /// # Errors
    /// As [`crate::Ledger::key_history`].
    pub fn current_key(&self) -> Result<Verifier> {
        Ok(self.key_history()?.pop().expect("the genesis key").1)
    }

    /// Rotates the signing key: appends a key event signed by the old key naming `new` (or a
    /// fresh key), whose checkpoint both keys sign; later checkpoints are signed by `new`.
    ///
    /// # Errors
    /// [`Error::Invalid`] without a signing key or for a key not named after the origin;
    /// storage and I/O errors.
    pub fn rotate_key(&mut self, actor: &str, new: Option<Signer>) -> Result<crate::Appended> {
        let old = self.signer()?.clone();
        let new = match new {
            Some(k) => k,
            None => Signer::generate(&self.origin)?,
        };
        if new.name() != self.origin {
            return Err(invalid(format!(
                "the new key is named '{}', not the origin '{}'",
                new.name(),
                self.origin
            )));
        }
        if new.verifier() == old.verifier() {
            return Err(invalid("the new key is the key in force"));
        }
        let next = self.dir.join(NEXT_KEY_FILE);
        write_private(&next, &new)?;
        let prev = self.head_at(None)?;
        let event = rotation_event(&self.origin, &prev, &old, &new.verifier());
        let items = vec![(actor.to_string(), crate::Body::KeyEvent(event))];
        let appended = self.append_signed(items, &[&old, &new]);
        let appended = match appended {
            Ok(mut a) => a.pop().expect("one record"),
            Err(e) => {
                let _ = std::fs::remove_file(&next);
                return Err(e);
            }
        };
        self.finish_rotation()?;
        self.signer = Some(new);
        Ok(appended)
    }

    /// Completes or discards a rotation interrupted between its commit and its key file.
    pub(crate) fn finish_rotation(&self) -> Result<()> {
        let next = self.dir.join(NEXT_KEY_FILE);
        if !next.exists() {
            return Ok(());
        }
        let new = read_private(&next)?;
        if self.current_key()? == new.verifier() {
            write_public(&self.dir.join(VKEY_FILE), &new.verifier())?;
            std::fs::rename(&next, self.dir.join(KEY_FILE)).map_err(io(&next, "installing"))
        } else {
            std::fs::remove_file(&next).map_err(io(&next, "removing"))
        }
    }

    /// The stored checkpoint at `size` (default: the latest): `(size, note)`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when no commit ended at that size.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<(u64, String)> {
        let snap = self.store.read()?;
        let (latest, note) = snap.latest_checkpoint()?;
        match size {
            None => Ok((latest, note)),
            Some(s) if s == latest => Ok((latest, note)),
            Some(s) => snap.checkpoint(s)?.map(|n| (s, n)).ok_or_else(|| {
                invalid(format!(
                    "no checkpoint at size {s}: checkpoints exist at the sizes where a commit \
                     ended (the latest is {latest})"
                ))
            }),
        }
    }
}
