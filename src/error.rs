//! The one error type at the library boundary, typed by what the caller can do about it.

/// Everything that can go wrong in provledger.
///
/// The CLI maps [`Error::Failed`] and [`Error::Corrupt`] to exit code 1 (a check failed) and the
/// rest to exit code 2 (usage, input or I/O).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input is malformed or asks for something that does not exist.
    #[error("{0}")]
    Invalid(String),
    /// A check ran and did not pass: a proof, a signature, a refused request.
    #[error("{0}")]
    Failed(String),
    /// Stored data is damaged; the message names the record or table.
    #[error("corrupt ledger: {0}")]
    Corrupt(String),
    /// Another process holds the write lock for longer than the bounded wait.
    #[error("ledger is busy: {0}")]
    Busy(String),
    /// The file system or the storage engine failed.
    #[error("{0}")]
    Io(String),
    /// A write was attempted on a ledger opened read-only ([`crate::ledger::with_writable`]
    /// then reopens it for writing).
    #[error("the ledger was opened read-only")]
    ReadOnly,
}

impl Error {
    /// The process exit code this error should produce: 1 for a failed check, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Failed(_) | Error::Corrupt(_) => 1,
            _ => 2,
        }
    }
}

/// Shorthand for building an [`Error::Invalid`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

/// Shorthand for library results.
pub type Result<T> = std::result::Result<T, Error>;
