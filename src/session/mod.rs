//! Session and challenge stores behind one trait ([`Store`]): the embedded default (on local
//! disk, survives a restart, nothing to install) and Redis (several gateways behind a load
//! balancer). DESIGN.md "Stores and scale".
//!
//! The store keeps data; it does not judge it. Idle and absolute expiry are decided by the
//! gateway with its (injectable) clock; the stores only use the expiry times to collect garbage.
//! A session can only be *created* from an [`crate::auth::proof::NewSession`], which only a
//! successful signature login makes.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::auth::proof::NewSession;

/// SHA-256 of a session token, lowercase hex. Tokens themselves are never stored.
pub type TokenHash = String;

/// Who a session belongs to (what the login proved, after the staff directory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// 12-digit IIN.
    pub iin: String,
    /// Full name as the staff directory (or else the certificate) gives it.
    pub name: String,
    /// Organisation BIN from the certificate, if any.
    pub bin: Option<String>,
    /// Organisation name from the certificate, if any.
    pub org: Option<String>,
    /// Gateway roles (from the staff directory and mapping rules), sorted, unique.
    pub roles: Vec<String>,
    /// Certificate serial, lowercase hex.
    pub cert_serial: String,
    /// Certificate issuer, display form.
    pub cert_issuer: String,
    /// SHA-256 of the certificate's subjectPublicKeyInfo, hex: "the key" for
    /// `max_sessions_per_key`.
    pub key_id: String,
    /// Certificate notAfter (Unix seconds).
    pub cert_not_after: i64,
}

/// One live session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the cookie token (hex): the store key.
    pub token_hash: TokenHash,
    /// Public session id for logs, audit, the admin page and the upstream: the first 16 hex
    /// digits of SHA-256("sid" ‖ token_hash). Never enough to act as the session.
    pub sid: String,
    /// Who.
    pub identity: Identity,
    /// The login certificate, DER (issue 8 re-checks live sessions against it).
    pub cert_der: Vec<u8>,
    /// Login time (Unix seconds).
    pub created: i64,
    /// Last request seen (Unix seconds; stores may record it coarsely, ≤ 15 s late).
    pub last_seen: i64,
    /// Idle timeout in seconds.
    pub idle_timeout_secs: i64,
    /// Absolute end (Unix seconds).
    pub absolute_expiry: i64,
    /// Client IP at login.
    pub ip: String,
    /// User-Agent at login (truncated to 256 characters).
    pub user_agent: String,
    /// The per-session CSRF token (hex) that POSTs must carry.
    pub csrf: String,
}

impl Session {
    /// When this session ends if no request comes: min(last_seen + idle, absolute).
    pub fn expires_at(&self) -> i64 {
        (self.last_seen.saturating_add(self.idle_timeout_secs)).min(self.absolute_expiry)
    }
}

/// An issued, not yet used login challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChallenge {
    /// Random id (hex), the store key.
    pub id: String,
    /// The exact bytes the user must sign.
    pub data: Vec<u8>,
    /// SHA-256 (hex) of the pre-login cookie it is bound to.
    pub prelogin_hash: String,
    /// Client IP it was issued to.
    pub client_ip: String,
    /// Issue time (Unix seconds).
    pub issued: i64,
    /// Expiry (Unix seconds).
    pub expires: i64,
}

/// News that every gateway instance must act on at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoreEvent {
    /// A session ended (logout, kill, newer login, eviction): drop any cached copy.
    SessionEnded {
        /// Its token hash.
        token_hash: TokenHash,
        /// Why (audit reason code, e.g. `logout`, `killed`, `replaced_by_newer_login`).
        reason: String,
    },
    /// Something an instance must re-check its live sessions for (issue 8: block list,
    /// revocation webhook). Free-form JSON payload.
    Recheck {
        /// What happened (e.g. `block_added`).
        kind: String,
        /// Details.
        payload: serde_json::Value,
    },
}

/// A store failure. Callers refuse (deny by default) and audit it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered with an error.
    Backend(String),
    /// Local disk I/O failed.
    Io(String),
    /// A stored record could not be decoded.
    Corrupt(String),
}

impl StoreError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Backend(_) => "store_unavailable",
            StoreError::Io(_) => "store_io_error",
            StoreError::Corrupt(_) => "store_corrupt",
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Backend(d) => write!(f, "session store unavailable: {d}"),
            StoreError::Io(d) => write!(f, "session store I/O error: {d}"),
            StoreError::Corrupt(d) => write!(f, "session store record corrupt: {d}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The one store trait. All methods are safe to call from many tasks at once.
#[async_trait]
pub trait Store: Send + Sync {
    /// Saves a challenge until `c.expires`.
    async fn put_challenge(&self, c: &PendingChallenge) -> Result<(), StoreError>;
    /// Removes and returns the challenge, atomically: of two concurrent takes (on any instance)
    /// at most one gets it. Expired challenges may still be returned; the caller checks.
    async fn take_challenge(&self, id: &str) -> Result<Option<PendingChallenge>, StoreError>;
    /// Stores a new session made by a successful login.
    async fn create_session(&self, s: &NewSession) -> Result<(), StoreError>;
    /// The session with this token hash, if stored.
    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Records activity (`last_seen = at`). Backends may skip writes closer than 15 s apart.
    async fn touch_session(&self, token_hash: &str, at: i64) -> Result<(), StoreError>;
    /// Removes a session; returns it if it existed. Publishes nothing (the caller publishes).
    async fn remove_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Live sessions of one key (`Identity::key_id`), oldest first.
    async fn sessions_for_key(&self, key_id: &str) -> Result<Vec<Session>, StoreError>;
    /// Every stored session (admin page, re-checks).
    async fn list_sessions(&self) -> Result<Vec<Session>, StoreError>;
    /// Fixed-window counter: adds one to `key` and returns the count in the current window of
    /// length `window` (the window starts at the first hit).
    async fn rate_hit(&self, key: &str, window: Duration) -> Result<u64, StoreError>;
    /// The current count of `key` without adding (0 if none or expired).
    async fn rate_peek(&self, key: &str) -> Result<u64, StoreError>;
    /// Sends an event to every instance sharing this store (this one included).
    async fn publish(&self, ev: &StoreEvent) -> Result<(), StoreError>;
    /// Receives events published by any instance.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreEvent>;
    /// Drops sessions and challenges whose times are past `now` (Unix seconds); returns how many
    /// sessions went. Redis does this itself with key expiry and may return 0.
    async fn purge_expired(&self, now: i64) -> Result<usize, StoreError>;
    /// Backend name for logs and `/eds/readyz`: `embedded` or `redis`.
    fn backend(&self) -> &'static str;
}
