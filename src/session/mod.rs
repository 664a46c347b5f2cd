//! Session and challenge stores behind one trait ([`Store`]): the embedded default (on local
//! disk, survives a restart, nothing to install) and Redis (several gateways behind a load
//! balancer). DESIGN.md "Stores and scale".
//!
//! The store keeps data; it does not judge it. Idle and absolute expiry are decided by the
//! gateway with its (injectable) clock; the stores only use the expiry times to collect garbage.
//! A session can only be *created* from an [`crate::auth::proof::NewSession`], which only a
//! successful signature login makes.

pub mod embedded;
pub mod redis_store;

use std::path::PathBuf;
use std::sync::Arc;
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

// Secrets stay out of logs (STYLE.md §8): no Debug of the CSRF token, the token hash, the
// challenge's signed bytes (they hold the nonce) or the certificate.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("identity", &self.identity)
            .field("created", &self.created)
            .field("last_seen", &self.last_seen)
            .field("absolute_expiry", &self.absolute_expiry)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PendingChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingChallenge")
            .field("client_ip", &self.client_ip)
            .field("issued", &self.issued)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// One emergency block-list entry (issue 8): logins and live sessions of this IIN or certificate
/// serial are refused. Persisted by the store; every instance keeps a copy in memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEntry {
    /// `iin` or `serial`.
    pub kind: String,
    /// The 12-digit IIN, or the serial as lowercase hex without leading zeros.
    pub value: String,
    /// Why (free text from the operator).
    pub reason: String,
    /// Who added it (admin IIN and name, or `operator-token`).
    pub by: String,
    /// When (Unix seconds).
    pub at: i64,
}

impl BlockEntry {
    /// The store key: `iin:…` or `serial:…`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.value)
    }
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
    /// Adds or replaces a block-list entry (keyed by [`BlockEntry::key`]).
    async fn block_put(&self, e: &BlockEntry) -> Result<(), StoreError>;
    /// Removes a block-list entry by key; returns it if it existed.
    async fn block_remove(&self, key: &str) -> Result<Option<BlockEntry>, StoreError>;
    /// The whole block list, oldest first.
    async fn block_list(&self) -> Result<Vec<BlockEntry>, StoreError>;
    /// Remembers that the session `token_hash` was evicted with `code` (`session_revoked`,
    /// `session_blocked`) until `until` (Unix seconds), so its next request is told why.
    async fn put_tombstone(
        &self,
        token_hash: &str,
        code: &str,
        until: i64,
    ) -> Result<(), StoreError>;
    /// The eviction code of `token_hash`, if a tombstone is held (and not past `now`).
    async fn tombstone(&self, token_hash: &str, now: i64) -> Result<Option<String>, StoreError>;
}

/// Which store to open (the gateway config's `[store]` table: `backend = "embedded"` with `dir`,
/// or `backend = "redis"` with `url` and `prefix`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    /// [`embedded::EmbeddedStore`] in this directory.
    Embedded {
        /// The store directory (created if missing).
        dir: PathBuf,
    },
    /// [`redis_store::RedisStore`].
    Redis {
        /// `redis://[user:password@]host:port[/db]` (or `rediss://` where TLS is built in).
        url: String,
        /// Starts every key and the event channel: one per deployment sharing a Redis.
        #[serde(default = "default_redis_prefix")]
        prefix: String,
    },
}

fn default_redis_prefix() -> String {
    "eds:".to_string()
}

impl std::fmt::Debug for StoreConfig {
    // The Redis URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Embedded { dir } => f.debug_struct("Embedded").field("dir", dir).finish(),
            StoreConfig::Redis { prefix, .. } => f
                .debug_struct("Redis")
                .field("url", &"<redacted>")
                .field("prefix", prefix)
                .finish(),
        }
    }
}

/// Opens the configured store (the embedded one on a blocking thread: it replays its journal).
pub async fn open(cfg: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    match cfg {
        StoreConfig::Embedded { dir } => {
            let dir = dir.clone();
            let store = tokio::task::spawn_blocking(move || embedded::EmbeddedStore::open(&dir))
                .await
                .map_err(|e| StoreError::Io(format!("opening the session store: {e}")))??;
            Ok(Arc::new(store))
        }
        StoreConfig::Redis { url, prefix } => Ok(Arc::new(
            redis_store::RedisStore::connect(url, prefix).await?,
        )),
    }
}

/// The behavioural suite every backend must pass: one generic scenario per behaviour, run
/// against [`embedded::EmbeddedStore`] and [`redis_store::RedisStore`] (a real server at
/// `REDIS_URL`, default `redis://127.0.0.1:6379`, a unique key prefix per test). Redis tests fail
/// when the server is unreachable, unless `EDS_SKIP_REDIS_TESTS=1`.
#[cfg(test)]
mod suite {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::embedded::{EmbeddedOptions, EmbeddedStore, JOURNAL_FILE};
    use super::redis_store::RedisStore;
    use super::*;

    const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

    fn now() -> i64 {
        crate::clock::now().0
    }

    fn hex_sha256(s: &str) -> String {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()))
    }

    /// A realistic session: `seed` names it, `key` names its key.
    fn session(seed: &str, key: &str, created: i64, idle: i64) -> Session {
        let token_hash = hex_sha256(&format!("token {seed}"));
        Session {
            sid: hex_sha256(&format!("sid{token_hash}"))[..16].to_string(),
            token_hash,
            identity: Identity {
                iin: "870412300415".into(),
                name: "ЖҰМАБЕКОВА АЙГЕРІМ".into(),
                bin: Some("990240000123".into()),
                org: Some("ГКП на ПХВ \"Городская поликлиника №5\"".into()),
                roles: vec!["nurse".into(), "staff".into()],
                cert_serial: "4b1f6e0c3a2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f".into(),
                cert_issuer: "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) 2022, C=KZ".into(),
                key_id: hex_sha256(&format!("key {key}")),
                cert_not_after: created + 365 * 86_400,
            },
            cert_der: (0..1500u32)
                .map(|i| (i * 7 + seed.len() as u32) as u8)
                .collect(),
            created,
            last_seen: created,
            idle_timeout_secs: idle,
            absolute_expiry: created + 43_200,
            ip: "10.20.30.40".into(),
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0".into(),
            csrf: hex_sha256(&format!("csrf {seed}")),
        }
    }

    fn key_of(key: &str) -> String {
        hex_sha256(&format!("key {key}"))
    }

    fn challenge(id: &str, expires: i64) -> PendingChallenge {
        PendingChallenge {
            id: id.to_string(),
            data: (0..48u8).collect(),
            prelogin_hash: hex_sha256(id),
            client_ip: "10.1.2.3".into(),
            issued: expires - 120,
            expires,
        }
    }

    async fn create(store: &Arc<dyn Store>, s: &Session) {
        store
            .create_session(&NewSession::for_store_tests(s.clone()))
            .await
            .expect("create_session");
    }

    #[track_caller]
    fn token_hashes(v: &[Session]) -> Vec<&str> {
        v.iter().map(|s| s.token_hash.as_str()).collect()
    }

    /// A backend under test.
    #[async_trait]
    trait Backend: Send {
        /// A handle on the store (a fresh one each call: drop the previous to "restart").
        async fn open(&mut self) -> Result<Arc<dyn Store>, StoreError>;
        /// A second instance sharing the data (Redis: another connection); `None` where a
        /// second instance cannot exist (embedded: one process per directory).
        async fn second(&mut self) -> Option<Arc<dyn Store>>;
        /// Damages the stored record of `token_hash` so that it no longer decodes.
        async fn corrupt_session(&mut self, token_hash: &str);
        /// The expiry the backend itself enforces for the session (Redis key expiry).
        async fn backend_expiry(&mut self, _token_hash: &str) -> Option<i64> {
            None
        }
        /// Removes what the test left behind.
        async fn cleanup(&mut self);
    }

    static SEQ: AtomicU64 = AtomicU64::new(0);

    fn unique(name: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!(
            "{name}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )
    }

    struct EmbeddedBackend {
        dir: PathBuf,
        opts: EmbeddedOptions,
    }

    impl EmbeddedBackend {
        fn new(name: &str) -> EmbeddedBackend {
            EmbeddedBackend {
                dir: std::env::temp_dir().join(format!("eds-session-{}", unique(name))),
                opts: EmbeddedOptions::default(),
            }
        }

        fn journal(&self) -> PathBuf {
            self.dir.join(JOURNAL_FILE)
        }
    }

    #[async_trait]
    impl Backend for EmbeddedBackend {
        async fn open(&mut self) -> Result<Arc<dyn Store>, StoreError> {
            Ok(Arc::new(EmbeddedStore::open_with(
                &self.dir,
                self.opts.clone(),
            )?))
        }

        async fn second(&mut self) -> Option<Arc<dyn Store>> {
            None
        }

        async fn corrupt_session(&mut self, token_hash: &str) {
            // Change one character of the token hash inside its (last) put record: the frame's
            // CRC no longer matches.
            let path = self.journal();
            let mut bytes = std::fs::read(&path).expect("read journal");
            let at = find_last(&bytes, token_hash.as_bytes()).expect("record in journal");
            bytes[at + 3] ^= 0x01;
            std::fs::write(&path, bytes).expect("write journal");
        }

        async fn cleanup(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).rposition(|w| w == needle)
    }

    struct RedisBackend {
        url: String,
        prefix: String,
    }

    impl RedisBackend {
        /// `None` (with a loud note) when `EDS_SKIP_REDIS_TESTS=1`.
        fn new(name: &str) -> Option<RedisBackend> {
            if std::env::var("EDS_SKIP_REDIS_TESTS").as_deref() == Ok("1") {
                // Straight to stderr, not `eprintln!`: the test harness captures the macros'
                // output of passing tests, and a skip must be seen.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "!!!!! SKIPPED Redis session-store test {name}: EDS_SKIP_REDIS_TESTS=1 !!!!!"
                );
                return None;
            }
            Some(RedisBackend {
                url: std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into()),
                prefix: format!("eds-test:{}:", unique(name)),
            })
        }

        async fn raw(&self) -> redis::aio::MultiplexedConnection {
            redis::Client::open(self.url.as_str())
                .expect("REDIS_URL parses")
                .get_multiplexed_async_connection()
                .await
                .expect("raw Redis connection")
        }
    }

    #[async_trait]
    impl Backend for RedisBackend {
        async fn open(&mut self) -> Result<Arc<dyn Store>, StoreError> {
            match RedisStore::connect(&self.url, &self.prefix).await {
                Ok(s) => Ok(Arc::new(s)),
                Err(StoreError::Backend(e)) => panic!(
                    "no Redis at REDIS_URL={} ({e}): start one, point REDIS_URL at it, or set \
                     EDS_SKIP_REDIS_TESTS=1 to skip these tests",
                    self.url
                ),
                Err(e) => Err(e),
            }
        }

        async fn second(&mut self) -> Option<Arc<dyn Store>> {
            Some(self.open().await.expect("second Redis instance"))
        }

        async fn corrupt_session(&mut self, token_hash: &str) {
            let mut c = self.raw().await;
            let _: () = redis::cmd("HSET")
                .arg(format!("{}s:{token_hash}", self.prefix))
                .arg("rec")
                .arg("{\"token_hash\": [not json")
                .query_async(&mut c)
                .await
                .expect("HSET");
        }

        async fn backend_expiry(&mut self, token_hash: &str) -> Option<i64> {
            let mut c = self.raw().await;
            let t: i64 = redis::cmd("EXPIRETIME")
                .arg(format!("{}s:{token_hash}", self.prefix))
                .query_async(&mut c)
                .await
                .expect("EXPIRETIME");
            Some(t)
        }

        async fn cleanup(&mut self) {
            let mut c = self.raw().await;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query_async(&mut c)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query_async(&mut c).await;
            }
        }
    }

    // ---- scenarios (generic over the backend) ----

    async fn challenge_is_single_use_under_concurrency(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let peer = b.second().await.unwrap_or_else(|| Arc::clone(&a));
        let c = challenge("6f2c0a9d41b7e3c8", now() + 120);
        a.put_challenge(&c).await.expect("put");
        let mut tasks = Vec::new();
        for i in 0..32 {
            let s = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&peer)
            };
            let id = c.id.clone();
            tasks.push(tokio::spawn(async move { s.take_challenge(&id).await }));
        }
        let mut won = Vec::new();
        for t in tasks {
            if let Some(got) = t.await.expect("join").expect("take") {
                won.push(got);
            }
        }
        assert_eq!(won, vec![c.clone()], "exactly one take gets the challenge");
        assert_eq!(a.take_challenge(&c.id).await.expect("take"), None);
        assert_eq!(
            a.take_challenge("no-such-challenge").await.expect("take"),
            None
        );
    }

    async fn session_survives_reopen(b: &mut dyn Backend) {
        let t = now();
        let kept = session("kept", "k1", t, 900);
        let gone = session("gone", "k2", t + 1, 900);
        {
            let a = b.open().await.expect("open");
            create(&a, &kept).await;
            create(&a, &gone).await;
            a.touch_session(&kept.token_hash, t + 20)
                .await
                .expect("touch");
            let removed = a.remove_session(&gone.token_hash).await.expect("remove");
            assert_eq!(removed.as_ref(), Some(&gone));
        }
        let a = b.open().await.expect("reopen");
        let mut want = kept.clone();
        want.last_seen = t + 20;
        assert_eq!(
            a.get_session(&kept.token_hash).await.expect("get"),
            Some(want.clone())
        );
        assert_eq!(a.get_session(&gone.token_hash).await.expect("get"), None);
        assert_eq!(
            a.sessions_for_key(&key_of("k1")).await.expect("for key"),
            vec![want.clone()]
        );
        assert_eq!(
            a.sessions_for_key(&key_of("k2")).await.expect("for key"),
            vec![]
        );
        assert_eq!(a.list_sessions().await.expect("list"), vec![want]);
    }

    async fn sessions_for_key_are_oldest_first(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let t = now();
        let s1 = session("s1", "K", t, 900);
        let s2 = session("s2", "K", t + 5, 900);
        let s3 = session("s3", "K", t + 10, 900);
        let s4 = session("s4", "L", t + 1, 900);
        for s in [&s2, &s4, &s3, &s1] {
            create(&a, s).await;
        }
        let got = a.sessions_for_key(&key_of("K")).await.expect("for key");
        assert_eq!(
            token_hashes(&got),
            vec![&s1.token_hash, &s2.token_hash, &s3.token_hash]
        );
        a.remove_session(&s2.token_hash).await.expect("remove");
        let got = a.sessions_for_key(&key_of("K")).await.expect("for key");
        assert_eq!(got, vec![s1.clone(), s3.clone()]);
        assert_eq!(
            a.sessions_for_key(&key_of("L")).await.expect("for key"),
            vec![s4]
        );
        assert_eq!(
            a.sessions_for_key(&key_of("nobody"))
                .await
                .expect("for key"),
            vec![]
        );
    }

    async fn touch_extends_idle_expiry(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let t = now();
        let s = session("toucher", "K", t, 60);
        create(&a, &s).await;
        assert_eq!(
            b.backend_expiry(&s.token_hash).await.unwrap_or(t + 60),
            t + 60
        );

        a.touch_session(&s.token_hash, t + 30).await.expect("touch");
        let got = a
            .get_session(&s.token_hash)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(got.last_seen, t + 30);
        assert_eq!(got.expires_at(), t + 90);
        assert_eq!(
            b.backend_expiry(&s.token_hash).await.unwrap_or(t + 90),
            t + 90
        );

        // An older timestamp never moves last_seen back.
        a.touch_session(&s.token_hash, t + 10).await.expect("touch");
        let got = a
            .get_session(&s.token_hash)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(got.last_seen, t + 30);

        // A touch 5 s later may be recorded late (≤ 15 s), never wrongly.
        a.touch_session(&s.token_hash, t + 35).await.expect("touch");
        let got = a
            .get_session(&s.token_hash)
            .await
            .expect("get")
            .expect("present");
        assert!(
            got.last_seen == t + 30 || got.last_seen == t + 35,
            "{}",
            got.last_seen - t
        );

        // Touching a removed (or unknown) session does not bring it back.
        a.remove_session(&s.token_hash).await.expect("remove");
        a.touch_session(&s.token_hash, t + 100)
            .await
            .expect("touch");
        a.touch_session(&hex_sha256("unknown"), t + 100)
            .await
            .expect("touch");
        assert_eq!(a.get_session(&s.token_hash).await.expect("get"), None);
        assert_eq!(a.list_sessions().await.expect("list"), vec![]);
    }

    async fn purge_removes_expired(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let t = now();
        let short = session("short", "K", t, 2);
        let long = session("long", "K", t, 900);
        create(&a, &short).await;
        create(&a, &long).await;
        let old = challenge("0ld", t - 1);
        let fresh = challenge("fre5h", t + 600);
        a.put_challenge(&old).await.expect("put");
        a.put_challenge(&fresh).await.expect("put");

        assert_eq!(a.purge_expired(t + 10).await.expect("purge"), 1);
        assert_eq!(a.get_session(&short.token_hash).await.expect("get"), None);
        assert_eq!(
            a.get_session(&long.token_hash).await.expect("get"),
            Some(long.clone())
        );
        assert_eq!(a.list_sessions().await.expect("list"), vec![long.clone()]);
        assert_eq!(
            a.sessions_for_key(&key_of("K")).await.expect("for key"),
            vec![long]
        );
        assert_eq!(a.take_challenge(&old.id).await.expect("take"), None);
        assert_eq!(
            a.take_challenge(&fresh.id).await.expect("take"),
            Some(fresh)
        );
        assert_eq!(a.purge_expired(t + 10).await.expect("purge"), 0);
    }

    async fn rate_counter_resets_after_window(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let w = Duration::from_millis(400);
        for want in 1..=3 {
            assert_eq!(
                a.rate_hit("ip:10.1.2.3:challenge", w).await.expect("hit"),
                want
            );
        }
        assert_eq!(a.rate_peek("ip:10.1.2.3:challenge").await.expect("peek"), 3);
        assert_eq!(a.rate_peek("ip:10.9.9.9:challenge").await.expect("peek"), 0);
        assert_eq!(
            a.rate_hit("iin:870412300415:fail", w).await.expect("hit"),
            1
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(a.rate_peek("ip:10.1.2.3:challenge").await.expect("peek"), 0);
        assert_eq!(
            a.rate_hit("ip:10.1.2.3:challenge", w).await.expect("hit"),
            1
        );
    }

    async fn events_reach_a_second_instance(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let other = b.second().await;
        let mut rx_other = other.as_ref().unwrap_or(&a).subscribe();
        let mut rx_self = a.subscribe();
        let ev = StoreEvent::SessionEnded {
            token_hash: hex_sha256("ended"),
            reason: "logout".into(),
        };
        a.publish(&ev).await.expect("publish");
        for rx in [&mut rx_other, &mut rx_self] {
            let got = tokio::time::timeout(Duration::from_secs(2), async {
                loop {
                    match rx.recv().await {
                        Ok(StoreEvent::Recheck { kind, .. }) if kind == "events_gap" => continue,
                        other => return other,
                    }
                }
            })
            .await
            .expect("event within 2 s");
            assert_eq!(got.expect("recv"), ev);
        }
    }

    async fn remove_returns_the_session_once(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let peer = b.second().await.unwrap_or_else(|| Arc::clone(&a));
        let s = session("removed", "K", now(), 900);
        create(&a, &s).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let st = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&peer)
            };
            let th = s.token_hash.clone();
            tasks.push(tokio::spawn(async move { st.remove_session(&th).await }));
        }
        let mut got = Vec::new();
        for t in tasks {
            if let Some(x) = t.await.expect("join").expect("remove") {
                got.push(x);
            }
        }
        assert_eq!(got, vec![s.clone()]);
        assert_eq!(peer.get_session(&s.token_hash).await.expect("get"), None);
        assert_eq!(
            a.sessions_for_key(&key_of("K")).await.expect("for key"),
            vec![]
        );
    }

    async fn corrupt_record_is_an_error_not_a_panic(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let t = now();
        let bad = session("bad", "K", t, 900);
        let good = session("good", "L", t + 1, 900);
        create(&a, &bad).await;
        create(&a, &good).await;
        b.corrupt_session(&bad.token_hash).await;

        assert!(matches!(
            a.get_session(&bad.token_hash).await,
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            a.get_session(&good.token_hash).await.expect("get"),
            Some(good.clone())
        );
        assert!(matches!(
            a.list_sessions().await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            a.sessions_for_key(&key_of("K")).await,
            Err(StoreError::Corrupt(_))
        ));
        drop(a);
        // After a restart the damage is still reported, never ignored or a panic: the
        // embedded store refuses to open (whole records follow the bad one), Redis reports the
        // record.
        match b.open().await {
            Err(e) => assert_eq!(e.code(), "store_corrupt", "{e}"),
            Ok(a) => assert!(matches!(
                a.get_session(&bad.token_hash).await,
                Err(StoreError::Corrupt(_))
            )),
        }
    }

    async fn block_list_survives_reopen_and_is_shared(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let e1 = BlockEntry {
            kind: "iin".into(),
            value: "870412300415".into(),
            reason: "token reported lost".into(),
            by: "870101300123 Admin".into(),
            at: 100,
        };
        let e2 = BlockEntry {
            kind: "serial".into(),
            value: "4b1f6e".into(),
            reason: "laptop stolen".into(),
            by: "operator-token".into(),
            at: 200,
        };
        a.block_put(&e2).await.expect("put");
        a.block_put(&e1).await.expect("put");
        // Same key again replaces.
        let mut e1b = e1.clone();
        e1b.reason = "key compromise".into();
        a.block_put(&e1b).await.expect("put");
        assert_eq!(
            a.block_list().await.expect("list"),
            vec![e1b.clone(), e2.clone()]
        );
        let other = b.second().await;
        if let Some(o) = &other {
            assert_eq!(
                o.block_list().await.expect("list"),
                vec![e1b.clone(), e2.clone()]
            );
        }
        drop(other);
        drop(a);
        let a = b.open().await.expect("reopen");
        assert_eq!(
            a.block_list().await.expect("list"),
            vec![e1b.clone(), e2.clone()]
        );
        assert_eq!(
            a.block_remove(&e2.key()).await.expect("remove"),
            Some(e2.clone())
        );
        assert_eq!(a.block_remove(&e2.key()).await.expect("remove"), None);
        assert_eq!(a.block_list().await.expect("list"), vec![e1b]);
    }

    async fn tombstone_answers_until_its_end(b: &mut dyn Backend) {
        let a = b.open().await.expect("open");
        let t = now();
        let th = hex_sha256("evicted");
        assert_eq!(a.tombstone(&th, t).await.expect("get"), None);
        a.put_tombstone(&th, "session_blocked", t + 600)
            .await
            .expect("put");
        assert_eq!(
            a.tombstone(&th, t).await.expect("get").as_deref(),
            Some("session_blocked")
        );
        if let Some(o) = b.second().await {
            assert_eq!(
                o.tombstone(&th, t).await.expect("get").as_deref(),
                Some("session_blocked")
            );
        }
        let short = hex_sha256("short");
        a.put_tombstone(&short, "session_revoked", t + 1)
            .await
            .expect("put");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(a.tombstone(&short, now()).await.expect("get"), None);
    }

    // ---- embedded-only scenarios ----

    async fn torn_journal_tail_is_ignored(b: &mut EmbeddedBackend) {
        let t = now();
        let s1 = session("one", "K", t, 900);
        let s2 = session("two", "K", t + 1, 900);
        let s3 = session("three", "K", t + 2, 900);
        {
            let a = b.open().await.expect("open");
            for s in [&s1, &s2, &s3] {
                create(&a, s).await;
            }
        }
        // The process died while appending s3: only part of its record reached the file.
        let path = b.journal();
        let len = std::fs::metadata(&path).expect("journal").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_len(len - 700).expect("tear");
        drop(file);

        let a = b.open().await.expect("reopen after a torn write");
        assert_eq!(
            a.get_session(&s1.token_hash).await.expect("get"),
            Some(s1.clone())
        );
        assert_eq!(
            a.get_session(&s2.token_hash).await.expect("get"),
            Some(s2.clone())
        );
        assert_eq!(a.get_session(&s3.token_hash).await.expect("get"), None);
        let s4 = session("four", "K", t + 3, 900);
        create(&a, &s4).await;
        drop(a);

        // A torn frame header and zero-filled blocks at the end are torn tails too.
        append_bytes(&path, &[0x20, 0x01]);
        let a = b.open().await.expect("reopen after a torn header");
        drop(a);
        append_bytes(&path, &[0u8; 4096]);
        let a = b.open().await.expect("reopen after zero fill");
        let got = a.sessions_for_key(&key_of("K")).await.expect("for key");
        assert_eq!(got, vec![s1, s2, s4]);
    }

    fn append_bytes(path: &Path, bytes: &[u8]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(bytes).expect("append");
    }

    async fn second_opener_is_refused(b: &mut EmbeddedBackend) {
        let a = b.open().await.expect("open");
        let Err(err) = b.open().await else {
            panic!("second opener must be refused");
        };
        assert!(
            matches!(&err, StoreError::Io(m) if m.contains("in use")),
            "{err}"
        );
        drop(a);
        b.open().await.expect("open after the first closed");
    }

    async fn compaction_keeps_live_sessions_and_their_last_seen(b: &mut EmbeddedBackend) {
        let t = now();
        b.opts.compact_min_bytes = 0;
        let a = b.open().await.expect("open");
        let all: Vec<Session> = (0..40)
            .map(|i| session(&format!("c{i}"), &format!("K{}", i % 4), t + i, 900))
            .collect();
        for s in &all {
            create(&a, s).await;
        }
        for s in &all[..30] {
            a.remove_session(&s.token_hash).await.expect("remove");
        }
        for s in &all[30..] {
            a.touch_session(&s.token_hash, t + 100)
                .await
                .expect("touch");
        }
        let before = std::fs::metadata(b.journal()).expect("journal").len();
        assert_eq!(a.purge_expired(t).await.expect("purge (compacts)"), 0);
        let after = std::fs::metadata(b.journal()).expect("journal").len();
        assert!(after * 3 < before, "journal {before} → {after} bytes");
        // Still serving from the new journal, and so after a restart.
        let s = &all[35];
        assert_eq!(
            a.get_session(&s.token_hash)
                .await
                .expect("get")
                .map(|s| s.last_seen),
            Some(t + 100)
        );
        drop(a);
        let a = b.open().await.expect("reopen");
        let mut want: Vec<Session> = all[30..].to_vec();
        for s in &mut want {
            s.last_seen = t + 100;
        }
        assert_eq!(a.list_sessions().await.expect("list"), want);
    }

    // ---- Redis-only ----

    #[tokio::test]
    async fn unreachable_redis_is_a_backend_error() {
        let started = std::time::Instant::now();
        // Port 1 on loopback: nothing listens there.
        let err = RedisStore::connect("redis://127.0.0.1:1", "eds-test:unreachable:")
            .await
            .expect_err("no server");
        assert_eq!(err.code(), "store_unavailable", "{err}");
        assert!(started.elapsed() < Duration::from_secs(6));
        let err = RedisStore::connect("not a url", "p:")
            .await
            .expect_err("bad url");
        assert_eq!(err.code(), "store_unavailable");
    }

    #[test]
    fn store_config_parses_and_hides_the_redis_password() {
        let cfg: StoreConfig =
            toml::from_str("backend = \"redis\"\nurl = \"redis://:s3cret@10.0.0.5:6379\"")
                .expect("parse");
        assert!(matches!(&cfg, StoreConfig::Redis { prefix, .. } if prefix == "eds:"));
        assert!(!format!("{cfg:?}").contains("s3cret"));
        let cfg: StoreConfig =
            toml::from_str("backend = \"embedded\"\ndir = \"/var/lib/eds\"").expect("parse");
        assert_eq!(
            cfg,
            StoreConfig::Embedded {
                dir: "/var/lib/eds".into()
            }
        );
        assert!(toml::from_str::<StoreConfig>("backend = \"memcached\"").is_err());
    }

    macro_rules! on_both_backends {
        ($($scenario:ident),* $(,)?) => {
            mod embedded_backend {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $scenario() {
                        let mut b = super::EmbeddedBackend::new(stringify!($scenario));
                        super::$scenario(&mut b).await;
                        super::Backend::cleanup(&mut b).await;
                    }
                )*
            }
            mod redis_backend {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $scenario() {
                        let Some(mut b) = super::RedisBackend::new(stringify!($scenario)) else {
                            return;
                        };
                        super::$scenario(&mut b).await;
                        super::Backend::cleanup(&mut b).await;
                    }
                )*
            }
        };
    }

    macro_rules! on_embedded {
        ($($scenario:ident),* $(,)?) => {
            mod embedded_only {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $scenario() {
                        let mut b = super::EmbeddedBackend::new(stringify!($scenario));
                        super::$scenario(&mut b).await;
                        super::Backend::cleanup(&mut b).await;
                    }
                )*
            }
        };
    }

    on_both_backends!(
        challenge_is_single_use_under_concurrency,
        session_survives_reopen,
        sessions_for_key_are_oldest_first,
        touch_extends_idle_expiry,
        purge_removes_expired,
        rate_counter_resets_after_window,
        events_reach_a_second_instance,
        remove_returns_the_session_once,
        corrupt_record_is_an_error_not_a_panic,
        block_list_survives_reopen_and_is_shared,
        tombstone_answers_until_its_end,
    );

    on_embedded!(
        torn_journal_tail_is_ignored,
        second_opener_is_refused,
        compaction_keeps_live_sessions_and_their_last_seen,
    );
}
