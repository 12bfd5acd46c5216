//! Hashing artifacts: a file, or a model directory hashed file by file (ledger-format.md §10.1).
//!
//! BLAKE3 always (large files memory-mapped and hashed on all cores); SHA-256 on request, for
//! naming artifacts the way OCI, Hugging Face and OpenSSF model-signing do. A directory becomes
//! a manifest of its regular files sorted by relative path (`/`-separated, UTF-8, `.git`
//! skipped, symbolic links refused unless followed on request) with one root digest:
//!
//! - BLAKE3 root: BLAKE3 over `"provledger/dir-manifest/v1\n"` then, per file in order,
//!   `u64_le(len(path)) || path || u64_le(size) || blake3(file)`;
//! - SHA-256 root (model-signing "files" method): SHA-256 over the per-file SHA-256 digests
//!   concatenated in path order.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Error, Result, invalid};

/// The domain prefix of the BLAKE3 directory root.
pub const DIR_MANIFEST_PREFIX: &[u8] = b"provledger/dir-manifest/v1\n";

/// One hashed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileDigest {
    /// Relative path, `/`-separated (the file name for a single file).
    pub path: String,
    pub size: u64,
    pub blake3: Digest,
    pub sha256: Option<Digest>,
}

/// The digests of a file or directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hashed {
    pub directory: bool,
    pub files: Vec<FileDigest>,
    pub size: u64,
    pub blake3: Digest,
    pub sha256: Option<Digest>,
}

/// How to hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub sha256: bool,
    pub follow_symlinks: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| invalid(format!("cannot read {}: {e}", path.display()))
}

fn hash_file(path: &Path, rel: String, opts: Options) -> Result<FileDigest> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path).map_err(io(path))?;
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    let sha256 = if opts.sha256 {
        let mut file = std::fs::File::open(path).map_err(io(path))?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(io(path))?;
            if n == 0 {
                break;
            }
            sha2::Digest::update(&mut h, &buf[..n]);
        }
        Some(Digest {
            algorithm: crate::digest::Algorithm::Sha256,
            value: sha2::Digest::finalize(h).into(),
        })
    } else {
        None
    };
    Ok(FileDigest {
        path: rel,
        size,
        blake3: Digest {
            algorithm: crate::digest::Algorithm::Blake3,
            value: *hasher.finalize().as_bytes(),
        },
        sha256,
    })
}

use sha2::Digest as _;

/// Every regular file under `root`, relative, sorted by path bytes.
fn walk(root: &Path, opts: Options) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
            let meta = if meta.file_type().is_symlink() {
                if !opts.follow_symlinks {
                    return Err(invalid(format!(
                        "{} is a symbolic link (pass --follow-symlinks to hash its target)",
                        path.display()
                    )));
                }
                std::fs::metadata(&path).map_err(io(&path))?
            } else {
                meta
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .to_str()
                    .ok_or_else(|| invalid(format!("{} is not a UTF-8 path", path.display())))?
                    .replace(std::path::MAIN_SEPARATOR, "/");
                out.push((path, rel));
            } else {
                return Err(invalid(format!("{} is not a regular file", path.display())));
            }
        }
    }
    out.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
    Ok(out)
}

/// Hashes a file or a directory.
///
/// # Errors
/// [`Error::Invalid`] for a missing or unreadable path, a symbolic link (unless followed), a
/// non-UTF-8 path, or an empty directory.
pub fn hash_path(path: &Path, opts: Options) -> Result<Hashed> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if !meta.is_dir() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let f = hash_file(path, name, opts)?;
        return Ok(Hashed {
            directory: false,
            size: f.size,
            blake3: f.blake3,
            sha256: f.sha256,
            files: vec![f],
        });
    }
    let listing = walk(path, opts)?;
    if listing.is_empty() {
        return Err(invalid(format!("{} holds no files", path.display())));
    }
    let files: Vec<FileDigest> = listing
        .into_par_iter()
        .map(|(full, rel)| hash_file(&full, rel, opts))
        .collect::<Result<_>>()?;
    Ok(Hashed {
        directory: true,
        size: files.iter().map(|f| f.size).sum(),
        blake3: blake3_root(&files),
        sha256: opts.sha256.then(|| sha256_root(&files)),
        files,
    })
}

/// The BLAKE3 root of a directory manifest.
pub fn blake3_root(files: &[FileDigest]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(DIR_MANIFEST_PREFIX);
    for f in files {
        h.update(&(f.path.len() as u64).to_le_bytes());
        h.update(f.path.as_bytes());
        h.update(&f.size.to_le_bytes());
        h.update(&f.blake3.value);
    }
    Digest {
        algorithm: crate::digest::Algorithm::Blake3,
        value: *h.finalize().as_bytes(),
    }
}

/// The SHA-256 root of a directory: model-signing's "files" method.
pub fn sha256_root(files: &[FileDigest]) -> Digest {
    let mut h = sha2::Sha256::new();
    for f in files {
        h.update(f.sha256.expect("computed when the root is asked for").value);
    }
    Digest {
        algorithm: crate::digest::Algorithm::Sha256,
        value: h.finalize().into(),
    }
}
