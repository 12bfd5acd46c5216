//! The ledger file as `verify` reads it: through redb's integrity check (every page checksum of
//! the committed trees, so a file damaged outside redb is refused with an error, where a plain
//! open may panic), and without ever writing to it. The check ends with a commit (and, after a
//! crash, a repair); this backend keeps those writes in memory, over the untouched file.
//!
//! Locks: the overlay takes none (redb then runs lock-free, as on a platform without file
//! locks). A second handle, [`LockOnly`], takes on the real file exactly the locks of a redb
//! read-only handle, so writers wait for `verify` as for any reader, while the content redb
//! reads through it is an empty database in memory: it never interprets the file.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::ops::Bound;
use std::sync::Mutex;

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

const PAGE: u64 = 4096;

#[derive(Debug)]
pub(super) struct Overlay {
    file: FileBackend,
    file_len: u64,
    /// Pages written since the open (copy-on-write) and the length redb set.
    written: Mutex<(HashMap<u64, Vec<u8>>, u64)>,
}

impl Overlay {
    pub(super) fn new(file: File) -> std::io::Result<Overlay> {
        let file_len = file.metadata()?.len();
        Ok(Overlay {
            file: FileBackend::new(file),
            file_len,
            written: Mutex::new((HashMap::new(), file_len)),
        })
    }

    /// Reads `out.len()` bytes of the file itself at `offset`; zeros past its end.
    fn read_file(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        out.fill(0);
        let available = self.file_len.saturating_sub(offset).min(out.len() as u64);
        if available > 0 {
            self.file.read(offset, &mut out[..available as usize])?;
        }
        Ok(())
    }
}

impl StorageBackend for Overlay {
    fn len(&self) -> Result<u64, BackendError> {
        Ok(self.written.lock().expect("not poisoned").1)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        let written = self.written.lock().expect("not poisoned");
        if offset + out.len() as u64 > written.1 {
            return Err(BackendError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        self.read_file(offset, out)?;
        for page in offset / PAGE..(offset + out.len() as u64).div_ceil(PAGE) {
            if let Some(bytes) = written.0.get(&page) {
                let (start, end) = (page * PAGE, page * PAGE + PAGE);
                let (from, to) = (start.max(offset), end.min(offset + out.len() as u64));
                out[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        let mut written = self.written.lock().expect("not poisoned");
        written.1 = len;
        Ok(())
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut written = self.written.lock().expect("not poisoned");
        let end = offset + data.len() as u64;
        for page in offset / PAGE..end.div_ceil(PAGE) {
            let start = page * PAGE;
            let bytes = match written.0.entry(page) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let mut bytes = vec![0; PAGE as usize];
                    self.read_file(start, &mut bytes)?;
                    e.insert(bytes)
                }
            };
            let (from, to) = (start.max(offset), (start + PAGE).min(end));
            bytes[(from - start) as usize..(to - start) as usize]
                .copy_from_slice(&data[(from - offset) as usize..(to - offset) as usize]);
        }
        written.1 = written.1.max(end);
        Ok(())
    }

    fn close(&self) -> Result<(), BackendError> {
        self.file.close()
    }
}

/// An in-memory file (also the disk of the sync-point crash tests).
#[derive(Clone, Debug, Default)]
pub(crate) struct Memory(std::sync::Arc<Mutex<Vec<u8>>>);

/// Writes `data` at `offset` of `file`, growing it with zeros as a file grows.
pub(crate) fn write_at(file: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if file.len() < end {
        file.resize(end, 0);
    }
    file[offset as usize..end].copy_from_slice(data);
}

impl StorageBackend for Memory {
    fn len(&self) -> Result<u64, BackendError> {
        Ok(self.0.lock().expect("not poisoned").len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        let bytes = self.0.lock().expect("not poisoned");
        let range = offset as usize..offset as usize + out.len();
        let data = bytes
            .get(range)
            .ok_or_else(|| BackendError::Io(std::io::ErrorKind::UnexpectedEof.into()))?;
        out.copy_from_slice(data);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        self.0.lock().expect("not poisoned").resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        write_at(&mut self.0.lock().expect("not poisoned"), offset, data);
        Ok(())
    }
}

/// The real file's locks, an empty database's content (see the module comment).
#[derive(Debug)]
pub(super) struct LockOnly {
    file: FileBackend,
    empty: Memory,
}

impl LockOnly {
    pub(super) fn new(file: File) -> std::io::Result<LockOnly> {
        let empty = Memory::default();
        let commit = || -> Result<(), redb::Error> {
            let db = redb::Database::builder().create_with_backend(empty.clone())?;
            Ok(db.begin_write()?.commit()?)
        };
        commit().map_err(std::io::Error::other)?;
        Ok(LockOnly {
            file: FileBackend::new(file),
            empty,
        })
    }
}

impl StorageBackend for LockOnly {
    fn len(&self) -> Result<u64, BackendError> {
        self.empty.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        self.empty.read(offset, out)
    }

    fn set_len(&self, _: u64) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn write(&self, _: u64, _: &[u8]) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }

    fn close(&self) -> Result<(), BackendError> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}
