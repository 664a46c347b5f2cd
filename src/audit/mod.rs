//! Append-only, hash-chained JSON-lines audit log and its verifier (issue 6 item 6).
//!
//! Every gateway instance writes its own file (DESIGN.md "Stores and scale"): one JSON object per
//! line with a `seq` and the SHA-256 of the previous line (`prev`), so an auditor can show that no
//! record was edited, deleted, reordered or cut off since it was written
//! (`eds-gateway audit verify`). Records carry reason codes, IINs, serials, issuers, IPs and user
//! agents, never tokens, nonces, cookies or raw CMS: secret-named keys are removed at any depth
//! before a record is built.
//!
//! - [`record`]: the canonical line format, the hash, the secret-field filter.
//! - [`writer`]: [`AuditLog`] (fsync policy, rotation, crash recovery).
//! - [`verify`]: [`verify_files`] and the [`VerifyReport`].
//! - [`lines`]: the length-capped line reader both sides use.

use std::fmt;
use std::path::PathBuf;

pub mod lines;
pub mod record;
pub mod verify;
pub mod writer;

pub use verify::{
    FileSummary, Problem, ProblemKind, VerifyOptions, VerifyReport, verify_files, verify_files_with,
};
pub use writer::{AuditConfig, AuditLog, FsyncMode, TornTail};

/// Why the audit log could not open or append.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuditError {
    /// The existing file does not end with an audit record; the operator must check it.
    CorruptTail {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A JSON encoding failure (not expected for `serde_json::Value`).
    Encode(String),
    /// `fields` was not a JSON object.
    FieldsNotObject,
    /// The configuration is unusable.
    InvalidConfig(String),
    /// An event name outside `[a-z0-9_.-]{1,64}`.
    InvalidEvent(String),
    /// A timestamp that has no RFC 3339 form (outside years 0..=9999).
    InvalidTime(i64),
    /// A file operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A previous write or fsync failed in a way that leaves the file's state unknown; reopen.
    Poisoned(String),
    /// The record would be over the 64 KiB line cap.
    RecordTooLarge {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A caller field used a key the writer owns (`seq`, `ts`, `instance`, `event`, `prev`,
    /// `redacted`).
    ReservedField(String),
    /// The blocking task running an async append failed.
    Task(String),
    /// Fields nested deeper than the cap.
    TooDeep,
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::CorruptTail { path, detail } => {
                write!(f, "audit file {} is damaged: {detail}", path.display())
            }
            AuditError::Encode(e) => write!(f, "audit record encoding failed: {e}"),
            AuditError::FieldsNotObject => f.write_str("audit fields must be a JSON object"),
            AuditError::InvalidConfig(e) => write!(f, "audit configuration: {e}"),
            AuditError::InvalidEvent(e) => {
                write!(f, "audit event name {e:?} is not of [a-z0-9_.-], 1..64")
            }
            AuditError::InvalidTime(t) => write!(f, "audit timestamp {t} has no RFC 3339 form"),
            AuditError::Io { path, op, source } => {
                write!(f, "audit file {}: {op}: {source}", path.display())
            }
            AuditError::Poisoned(why) => {
                write!(
                    f,
                    "audit log stopped after an earlier failure ({why}); reopen it"
                )
            }
            AuditError::RecordTooLarge { len, max } => {
                write!(f, "audit record of {len} bytes is over the {max}-byte cap")
            }
            AuditError::ReservedField(k) => write!(f, "audit field {k:?} is reserved"),
            AuditError::Task(e) => write!(f, "audit writer task failed: {e}"),
            AuditError::TooDeep => f.write_str("audit fields are nested too deeply"),
        }
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
