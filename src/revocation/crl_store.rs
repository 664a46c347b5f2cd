//! CRL store for one issuing CA: download (streaming, size-capped, conditional GET), verify once
//! at load, a compact serial index, full + delta, raw CRLs persisted on disk and loaded at start,
//! refresh before nextUpdate, atomic swap.
//!
//! - **Verify once.** A downloaded or persisted CRL is parsed by the core ([`Crl::parse`]) and
//!   checked with [`Crl::validate_for_use`] at its own thisUpdate (signature by the issuer,
//!   cRLSign, critical extensions, CRL number, nextUpdate present, no removeFromCRL in a complete
//!   CRL) and its issuer name and AKI are matched against the issuer certificate. Lookups then
//!   read the index only; staleness (nextUpdate) is judged per lookup against the clock.
//! - **Compact index.** The core keeps CRL entries sorted by (length, bytes) of the serial, so
//!   entries of one serial length are contiguous: each length gets a bucket of fixed-width keys
//!   (binary search with a stride), a `u32` revocation date (seconds since 1970, saturating) and
//!   a `u8` reason. For NCA's 422,065 entries with 20-byte serials that is 25 bytes per entry,
//!   ~10.6 MB, against ~604 B/entry in NCANode's JVM (../shared/NCA.md §1.6). The parsed `Crl` is
//!   dropped once the index is built.
//! - **Full + delta.** Kept as two indexes and merged at lookup: the delta applies when its
//!   BaseCRLNumber ≤ the full CRL's number < its own number and both have the same scope (IDP);
//!   a delta entry wins (removeFromCRL un-revokes a held certificate), else the full CRL's entry.
//!   A new delta does not rebuild the 422k-entry index. When a delta URL is configured and no
//!   usable, current delta is held, the CRL source is *stale* (the policy decides).
//! - **Atomic swap.** Readers clone an `Arc<Snapshot>` under a read lock; a refresh builds the
//!   new index on a blocking thread and swaps the pointer. A reader never sees a half-built index.
//! - **Persistence.** The raw DER and its validators (ETag/Last-Modified) go to
//!   `dir/crl-<sha256(url)[..16]>.{der,json}`, written to a temporary file and renamed. At start
//!   [`CrlStore::load_persisted`] re-verifies them, so the gateway starts offline with the last
//!   good CRL (lookups answer until its nextUpdate, then report it stale).
//! - **Rollback.** A downloaded full CRL with a lower CRLNumber than the one held is refused.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::pki::cert::Certificate;
use crate::pki::crl::{self, Crl, CrlError, CrlNumber, RevocationReason};
use crate::pki::signature::{self, SignaturePolicy};
use crate::pki::time::UnixTime;

use super::http::{FetchError, GetOutcome, Http, Validators};
use super::policy::{Answer, Condition, Freshness, Outcome, Report, Source};

/// One serial length's entries.
#[derive(Debug, Default)]
struct Bucket {
    len: usize,
    keys: Vec<u8>,
    dates: Vec<u32>,
    reasons: Vec<u8>,
    /// For large buckets of serials of 2+ bytes: `prefix[p]..prefix[p + 1]` is the range of
    /// entries whose first two bytes are `p` (65,537 × 4 bytes), so a lookup binary-searches a
    /// handful of neighbouring keys instead of ~19 cache-missing levels.
    prefix: Vec<u32>,
}

/// Buckets smaller than this are searched without a prefix table.
const PREFIX_MIN: usize = 4096;

impl Bucket {
    fn build_prefix(&mut self) {
        let n = self.dates.len();
        if self.len < 2 || n < PREFIX_MIN {
            return;
        }
        let mut prefix = vec![0u32; 65537];
        let mut i = 0usize;
        for (p, slot) in prefix.iter_mut().enumerate() {
            while i < n {
                let k = self.keys.get(i * self.len..i * self.len + 2);
                let Some(&[a, b]) = k else { break };
                if usize::from(u16::from_be_bytes([a, b])) >= p {
                    break;
                }
                i += 1;
            }
            *slot = u32::try_from(i).unwrap_or(u32::MAX);
        }
        self.prefix = prefix;
    }
}

const NO_REASON: u8 = 0xff;

/// The verified, indexed content of one CRL.
#[derive(Debug)]
pub struct CrlIndex {
    /// CRLNumber.
    pub crl_number: CrlNumber,
    /// BaseCRLNumber (delta CRLs).
    pub base_crl_number: Option<CrlNumber>,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: UnixTime,
    /// Number of entries.
    pub entries: usize,
    /// Size of the DER.
    pub der_len: usize,
    scope: Option<Vec<u8>>,
    buckets: Vec<Bucket>,
}

/// An entry found in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// revocationDate.
    pub date: UnixTime,
    /// reasonCode.
    pub reason: Option<RevocationReason>,
}

fn reason_to_u8(r: Option<RevocationReason>) -> u8 {
    use RevocationReason as R;
    match r {
        None => NO_REASON,
        Some(R::Unspecified) => 0,
        Some(R::KeyCompromise) => 1,
        Some(R::CaCompromise) => 2,
        Some(R::AffiliationChanged) => 3,
        Some(R::Superseded) => 4,
        Some(R::CessationOfOperation) => 5,
        Some(R::CertificateHold) => 6,
        Some(R::RemoveFromCrl) => 8,
        Some(R::PrivilegeWithdrawn) => 9,
        Some(R::AaCompromise) => 10,
    }
}

fn reason_from_u8(v: u8) -> Option<RevocationReason> {
    use RevocationReason as R;
    Some(match v {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        8 => R::RemoveFromCrl,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        0 => R::Unspecified,
        _ => return None,
    })
}

fn normalize(mut s: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = s {
        if rest.is_empty() {
            break;
        }
        s = rest;
    }
    s
}

/// Why a CRL could not be fetched or installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Download failed.
    Fetch(FetchError),
    /// The core refused the CRL.
    Crl(CrlError),
    /// The CRL's issuer is not this store's CA.
    IssuerMismatch {
        /// The CRL's issuer.
        crl_issuer: String,
    },
    /// A complete CRL where a delta was expected, or the reverse.
    WrongKind {
        /// What was expected.
        expected: &'static str,
    },
    /// Older than the one held.
    Rollback {
        /// Held number.
        held: String,
        /// Received number.
        got: String,
    },
    /// Disk error.
    Io(String),
}

impl StoreError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Fetch(e) => match e {
                FetchError::Connect(_) => "crl_unreachable",
                FetchError::Timeout => "crl_timeout",
                FetchError::Status(404) => "crl_http_404",
                FetchError::Status(s) if *s >= 500 => "crl_http_5xx",
                FetchError::Status(_) => "crl_http_status",
                FetchError::TooLarge { .. } => "crl_too_large",
                FetchError::Body(_) => "crl_truncated",
                FetchError::Other(_) => "crl_fetch_failed",
            },
            StoreError::Crl(e) => e.code(),
            StoreError::IssuerMismatch { .. } => "crl_issuer_mismatch",
            StoreError::WrongKind { .. } => "crl_wrong_kind",
            StoreError::Rollback { .. } => "crl_rollback",
            StoreError::Io(_) => "crl_io",
        }
    }

    /// The policy condition this error means when no usable CRL is held.
    pub fn condition(&self) -> Condition {
        match self {
            StoreError::Fetch(_) | StoreError::Io(_) => Condition::Unreachable,
            StoreError::Crl(CrlError::BadEncoding { .. } | CrlError::TooLarge { .. }) => {
                Condition::Unreachable
            }
            StoreError::Crl(CrlError::Stale { .. }) => Condition::CrlStale,
            StoreError::Crl(CrlError::DeltaWithoutBase { .. }) => Condition::CrlStale,
            _ => Condition::InvalidResponse,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Fetch(e) => write!(f, "download: {e}"),
            StoreError::Crl(e) => write!(f, "{e}"),
            StoreError::IssuerMismatch { crl_issuer } => {
                write!(f, "the CRL is issued by {crl_issuer}, not by this CA")
            }
            StoreError::WrongKind { expected } => write!(f, "expected a {expected} CRL"),
            StoreError::Rollback { held, got } => {
                write!(f, "CRL #{got} is older than the held #{held}")
            }
            StoreError::Io(e) => write!(f, "disk: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl CrlIndex {
    /// Parses, verifies (signature, issuer, extensions; not the time window) and indexes `der`.
    pub fn load(
        der: &[u8],
        issuer: &Certificate,
        policy: &SignaturePolicy,
    ) -> Result<CrlIndex, StoreError> {
        let crl = Crl::parse(der).map_err(StoreError::Crl)?;
        Self::from_crl(&crl, issuer, policy)
    }

    /// Verifies and indexes a parsed CRL.
    pub fn from_crl(
        crl: &Crl,
        issuer: &Certificate,
        policy: &SignaturePolicy,
    ) -> Result<CrlIndex, StoreError> {
        if !crl.issuer.matches(&issuer.subject) {
            return Err(StoreError::IssuerMismatch {
                crl_issuer: crl.issuer.to_display_string(),
            });
        }
        if let (Some(aki), Some(ski)) = (&crl.authority_key_id, &issuer.extensions.subject_key_id)
            && aki != ski
        {
            return Err(StoreError::IssuerMismatch {
                crl_issuer: format!("{} (other key)", crl.issuer.to_display_string()),
            });
        }
        // Everything but the time window, which is judged per lookup.
        crl.validate_for_use(issuer, crl.this_update, policy)
            .map_err(StoreError::Crl)?;
        let next_update = crl.next_update.unwrap_or(crl.this_update);
        let mut buckets: Vec<Bucket> = Vec::new();
        for e in crl.entries() {
            let s = normalize(&e.serial);
            if buckets.last().is_none_or(|b| b.len != s.len()) {
                buckets.push(Bucket {
                    len: s.len(),
                    ..Bucket::default()
                });
            }
            if let Some(b) = buckets.last_mut() {
                b.keys.extend_from_slice(s);
                b.dates
                    .push(u32::try_from(e.revocation_date.0.max(0)).unwrap_or(u32::MAX));
                b.reasons.push(reason_to_u8(e.reason));
            }
        }
        for b in &mut buckets {
            b.build_prefix();
            b.keys.shrink_to_fit();
            b.dates.shrink_to_fit();
            b.reasons.shrink_to_fit();
        }
        Ok(CrlIndex {
            crl_number: crl
                .crl_number
                .clone()
                .unwrap_or_else(|| CrlNumber::from_be_bytes(&[])),
            base_crl_number: crl.base_crl_number.clone(),
            this_update: crl.this_update,
            next_update,
            entries: crl.entries().len(),
            der_len: crl.der().len(),
            scope: crl
                .issuing_distribution_point
                .as_ref()
                .map(|i| i.der.clone()),
            buckets,
        })
    }

    /// True for a delta CRL.
    pub fn is_delta(&self) -> bool {
        self.base_crl_number.is_some()
    }

    /// Heap bytes held by the index.
    pub fn memory_bytes(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| {
                b.keys.capacity()
                    + b.dates.capacity() * 4
                    + b.reasons.capacity()
                    + b.prefix.capacity() * 4
            })
            .sum::<usize>()
            + self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }

    /// The entry for `serial` (certificate serial content octets), if listed.
    pub fn find(&self, serial: &[u8]) -> Option<IndexEntry> {
        let s = normalize(serial);
        let b = self.buckets.iter().find(|b| b.len == s.len())?;
        let n = b.dates.len();
        let (mut lo, mut hi) = match s {
            [a, c, ..] if !b.prefix.is_empty() => {
                let p = usize::from(u16::from_be_bytes([*a, *c]));
                (*b.prefix.get(p)? as usize, *b.prefix.get(p + 1)? as usize)
            }
            _ => (0usize, n),
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let key = b.keys.get(mid * b.len..(mid + 1) * b.len)?;
            match crl::cmp_bytes(key, s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    return Some(IndexEntry {
                        date: UnixTime(i64::from(*b.dates.get(mid)?)),
                        reason: reason_from_u8(*b.reasons.get(mid)?),
                    });
                }
            }
        }
        None
    }

    fn delta_applies_to(&self, full: &CrlIndex) -> bool {
        self.scope == full.scope
            && self
                .base_crl_number
                .as_ref()
                .is_some_and(|b| *b <= full.crl_number)
            && self.crl_number > full.crl_number
    }
}

/// What a lookup established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrlLookup {
    /// Not listed by a current full (+ delta) CRL.
    Good {
        /// Number of the newest CRL used.
        crl_number: String,
        /// thisUpdate of the newest CRL used.
        this_update: UnixTime,
        /// Earliest nextUpdate of the CRLs used.
        next_update: UnixTime,
    },
    /// Listed.
    Revoked {
        /// revocationDate.
        date: UnixTime,
        /// reason.
        reason: Option<RevocationReason>,
        /// Which CRL listed it.
        crl_number: String,
    },
    /// No usable answer.
    Condition {
        /// Condition.
        condition: Condition,
        /// Code.
        code: &'static str,
        /// Detail.
        detail: String,
        /// Until when the last CRL held was current (soft-fail anchor).
        last_good: Option<UnixTime>,
    },
}

/// What the store holds at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Full CRL.
    pub full: Option<Arc<CrlIndex>>,
    /// Delta CRL (only one that applied to the full CRL when installed).
    pub delta: Option<Arc<CrlIndex>>,
    /// Validators of the full download.
    pub full_validators: Validators,
    /// Validators of the delta download.
    pub delta_validators: Validators,
    /// Last full refresh error.
    pub full_error: Option<StoreError>,
    /// Last delta refresh error.
    pub delta_error: Option<StoreError>,
    /// When the full CRL was last fetched or confirmed (304).
    pub full_checked: Option<UnixTime>,
    /// When the delta CRL was last fetched or confirmed.
    pub delta_checked: Option<UnixTime>,
    /// When a refresh was last attempted (either kind), for the retry back-off.
    pub last_attempt: Option<UnixTime>,
}

/// Settings of one store.
#[derive(Clone, Debug)]
pub struct CrlStoreConfig {
    /// Complete CRL URL (CDP or configured).
    pub full_url: String,
    /// Delta CRL URL (Freshest CRL or configured).
    pub delta_url: Option<String>,
    /// Where raw CRLs are persisted (`None`: memory only).
    pub dir: Option<PathBuf>,
    /// Download size cap.
    pub max_size: usize,
    /// Refresh this long before nextUpdate.
    pub refresh_margin: Duration,
    /// Re-fetch the delta at least this often.
    pub delta_interval: Duration,
    /// Do not retry a failed refresh sooner than this.
    pub retry_after: Duration,
    /// Signature policy.
    pub signature: SignaturePolicy,
}

impl CrlStoreConfig {
    /// Defaults for `full_url`: 64 MiB cap, refresh 1 h before nextUpdate, delta every hour
    /// (NCANode's delta TTL), failed refreshes retried after a minute.
    pub fn new(full_url: impl Into<String>) -> CrlStoreConfig {
        CrlStoreConfig {
            full_url: full_url.into(),
            delta_url: None,
            dir: None,
            max_size: crl::MAX_CRL_SIZE,
            refresh_margin: Duration::from_secs(3600),
            delta_interval: Duration::from_secs(3600),
            retry_after: Duration::from_secs(60),
            signature: SignaturePolicy::default(),
        }
    }
}

/// Which CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Complete.
    Full,
    /// Delta.
    Delta,
}

/// What a refresh did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// 304: the held CRL is current.
    NotModified,
    /// A new CRL is installed.
    Installed {
        /// Its number.
        crl_number: String,
        /// Entries.
        entries: usize,
    },
    /// Nothing was due.
    NotDue,
}

/// The store for one CA.
pub struct CrlStore {
    http: Http,
    issuer: Arc<Certificate>,
    config: CrlStoreConfig,
    current: RwLock<Arc<Snapshot>>,
    refresh_gate: tokio::sync::Mutex<()>,
    /// Counts installed CRLs: live-session re-checks (issue 8) wait on it.
    swaps: tokio::sync::watch::Sender<u64>,
}

fn file_stem(url: &str) -> String {
    let h = signature::digest(&signature::oids::SHA256, url.as_bytes()).unwrap_or_default();
    format!("crl-{}", hex::encode(h.get(..8).unwrap_or_default()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

impl CrlStore {
    /// A store for the CA `issuer`.
    pub fn new(http: Http, issuer: Arc<Certificate>, config: CrlStoreConfig) -> CrlStore {
        CrlStore {
            http,
            issuer,
            config,
            current: RwLock::new(Arc::new(Snapshot::default())),
            refresh_gate: tokio::sync::Mutex::new(()),
            swaps: tokio::sync::watch::channel(0).0,
        }
    }

    /// The CA.
    pub fn issuer(&self) -> &Certificate {
        &self.issuer
    }

    /// Settings.
    pub fn config(&self) -> &CrlStoreConfig {
        &self.config
    }

    /// Notified (the count goes up) every time a new full or delta CRL is swapped in, after the
    /// swap: a receiver that sees a change reads the new index.
    pub fn subscribe_swaps(&self) -> tokio::sync::watch::Receiver<u64> {
        self.swaps.subscribe()
    }

    /// The current snapshot (cheap: one `Arc` clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn swap(&self, f: impl FnOnce(&Snapshot) -> Snapshot) {
        let mut w = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = f(&w);
        *w = Arc::new(next);
    }

    fn url(&self, kind: Kind) -> Option<&str> {
        match kind {
            Kind::Full => Some(self.config.full_url.as_str()),
            Kind::Delta => self.config.delta_url.as_deref(),
        }
    }

    fn paths(&self, kind: Kind) -> Option<(PathBuf, PathBuf)> {
        let dir = self.config.dir.as_ref()?;
        let stem = file_stem(self.url(kind)?);
        Some((
            dir.join(format!("{stem}.der")),
            dir.join(format!("{stem}.json")),
        ))
    }

    /// Loads the persisted full and delta CRLs (verifying them again). Missing files are not an
    /// error; a persisted CRL that no longer verifies is.
    pub async fn load_persisted(&self) -> Result<(), StoreError> {
        for kind in [Kind::Full, Kind::Delta] {
            let Some((der_path, meta_path)) = self.paths(kind) else {
                continue;
            };
            let issuer = self.issuer.clone();
            let policy = self.config.signature;
            let loaded = tokio::task::spawn_blocking(move || {
                let der = match std::fs::read(&der_path) {
                    Ok(d) => d,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(StoreError::Io(e.to_string())),
                };
                let validators: Validators = std::fs::read(&meta_path)
                    .ok()
                    .and_then(|m| serde_json::from_slice(&m).ok())
                    .unwrap_or_default();
                CrlIndex::load(&der, &issuer, &policy).map(|i| Some((i, validators)))
            })
            .await
            .map_err(|e| StoreError::Io(e.to_string()))??;
            if let Some((index, validators)) = loaded {
                self.install(kind, index, validators, None)?;
            }
        }
        Ok(())
    }

    fn install(
        &self,
        kind: Kind,
        index: CrlIndex,
        validators: Validators,
        now: Option<UnixTime>,
    ) -> Result<Refreshed, StoreError> {
        let snap = self.snapshot();
        match kind {
            Kind::Full => {
                if index.is_delta() {
                    return Err(StoreError::WrongKind {
                        expected: "complete",
                    });
                }
                if let Some(held) = &snap.full
                    && index.crl_number < held.crl_number
                {
                    return Err(StoreError::Rollback {
                        held: held.crl_number.to_string(),
                        got: index.crl_number.to_string(),
                    });
                }
            }
            Kind::Delta => {
                if !index.is_delta() {
                    return Err(StoreError::WrongKind { expected: "delta" });
                }
                let applies = snap
                    .full
                    .as_ref()
                    .is_some_and(|f| index.delta_applies_to(f));
                if !applies {
                    return Err(StoreError::Crl(CrlError::DeltaWithoutBase {
                        delta_crl_number: Some(index.crl_number.clone()),
                        base_crl_number: index
                            .base_crl_number
                            .clone()
                            .unwrap_or_else(|| CrlNumber::from_be_bytes(&[])),
                    }));
                }
            }
        }
        let out = Refreshed::Installed {
            crl_number: index.crl_number.to_string(),
            entries: index.entries,
        };
        let index = Arc::new(index);
        self.swap(|s| {
            let mut n = Snapshot {
                full: s.full.clone(),
                delta: s.delta.clone(),
                full_validators: s.full_validators.clone(),
                delta_validators: s.delta_validators.clone(),
                full_error: s.full_error.clone(),
                delta_error: s.delta_error.clone(),
                full_checked: s.full_checked,
                delta_checked: s.delta_checked,
                last_attempt: s.last_attempt,
            };
            match kind {
                Kind::Full => {
                    // A delta for an older base no longer applies.
                    if n.delta
                        .as_ref()
                        .is_some_and(|d| !d.delta_applies_to(&index))
                    {
                        n.delta = None;
                    }
                    n.full = Some(index);
                    n.full_validators = validators;
                    n.full_error = None;
                    n.full_checked = now.or(n.full_checked);
                }
                Kind::Delta => {
                    n.delta = Some(index);
                    n.delta_validators = validators;
                    n.delta_error = None;
                    n.delta_checked = now.or(n.delta_checked);
                }
            }
            n
        });
        self.swaps.send_modify(|n| *n = n.wrapping_add(1));
        Ok(out)
    }

    fn record(&self, kind: Kind, now: UnixTime, result: &Result<Refreshed, StoreError>) {
        self.swap(|s| {
            let mut n = Snapshot {
                full: s.full.clone(),
                delta: s.delta.clone(),
                full_validators: s.full_validators.clone(),
                delta_validators: s.delta_validators.clone(),
                full_error: s.full_error.clone(),
                delta_error: s.delta_error.clone(),
                full_checked: s.full_checked,
                delta_checked: s.delta_checked,
                last_attempt: Some(now),
            };
            let (err, checked) = match kind {
                Kind::Full => (&mut n.full_error, &mut n.full_checked),
                Kind::Delta => (&mut n.delta_error, &mut n.delta_checked),
            };
            match result {
                Ok(_) => {
                    *err = None;
                    *checked = Some(now);
                }
                Err(e) => *err = Some(e.clone()),
            }
            n
        });
    }

    /// Downloads `kind` (conditionally), verifies, indexes, persists and installs it.
    pub async fn refresh(
        &self,
        kind: Kind,
        now: UnixTime,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> Result<Refreshed, StoreError> {
        let _gate = self.refresh_gate.lock().await;
        let result = self.refresh_locked(kind, now, progress).await;
        self.record(kind, now, &result);
        result
    }

    async fn refresh_locked(
        &self,
        kind: Kind,
        now: UnixTime,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> Result<Refreshed, StoreError> {
        let Some(url) = self.url(kind) else {
            return Ok(Refreshed::NotDue);
        };
        let snap = self.snapshot();
        let (held, validators) = match kind {
            Kind::Full => (snap.full.is_some(), &snap.full_validators),
            Kind::Delta => (snap.delta.is_some(), &snap.delta_validators),
        };
        let validators = held.then_some(validators);
        let got = self
            .http
            .get(url, validators, self.config.max_size, progress)
            .await
            .map_err(StoreError::Fetch)?;
        let (bytes, validators) = match got {
            GetOutcome::NotModified => return Ok(Refreshed::NotModified),
            GetOutcome::Body { bytes, validators } => (bytes, validators),
        };
        let issuer = self.issuer.clone();
        let policy = self.config.signature;
        let paths = self.paths(kind);
        let meta = serde_json::to_vec(&validators).unwrap_or_default();
        let index = tokio::task::spawn_blocking(move || {
            let index = CrlIndex::load(&bytes, &issuer, &policy)?;
            if let Some((der_path, meta_path)) = paths {
                if let Some(dir) = der_path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(e.to_string()))?;
                }
                write_atomic(&der_path, &bytes).map_err(|e| StoreError::Io(e.to_string()))?;
                write_atomic(&meta_path, &meta).map_err(|e| StoreError::Io(e.to_string()))?;
            }
            Ok::<_, StoreError>(index)
        })
        .await
        .map_err(|e| StoreError::Io(e.to_string()))??;
        self.install(kind, index, validators, Some(now))
    }

    /// Refreshes what is due at `now`: the full CRL when none is held or nextUpdate minus the
    /// margin has passed; the delta when none is held, its nextUpdate minus the margin has
    /// passed, or `delta_interval` has. A failed attempt is not repeated within `retry_after`.
    pub async fn refresh_if_due(
        &self,
        now: UnixTime,
    ) -> Vec<(Kind, Result<Refreshed, StoreError>)> {
        let mut out = Vec::new();
        let snap = self.snapshot();
        let retry = secs(self.config.retry_after);
        let failed_recently = (snap.full_error.is_some() || snap.delta_error.is_some())
            && snap.last_attempt.is_some_and(|t| now.0 < t.0 + retry);
        if failed_recently {
            return out;
        }
        let margin = secs(self.config.refresh_margin);
        let full_due = snap
            .full
            .as_ref()
            .is_none_or(|f| now.0 >= f.next_update.0 - margin);
        if full_due {
            out.push((
                Kind::Full,
                self.refresh(Kind::Full, now, &mut |_, _| {}).await,
            ));
        }
        if self.config.delta_url.is_some() {
            let snap = self.snapshot();
            let interval = secs(self.config.delta_interval);
            let delta_due = match &snap.delta {
                None => true,
                Some(d) => {
                    now.0 >= d.next_update.0 - margin
                        || snap.delta_checked.is_none_or(|t| now.0 >= t.0 + interval)
                }
            };
            if delta_due && snap.full.is_some() {
                out.push((
                    Kind::Delta,
                    self.refresh(Kind::Delta, now, &mut |_, _| {}).await,
                ));
            }
        }
        out
    }

    /// Runs [`Self::refresh_if_due`] every `every` on the current runtime until the store is
    /// dropped elsewhere (the task holds only a weak reference).
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration, clock: fn() -> UnixTime) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(store) = weak.upgrade() else { break };
                store.refresh_if_due(clock()).await;
                drop(store);
                tokio::time::sleep(every).await;
            }
        });
    }

    /// The status of `serial` at `now` from the held CRLs (no I/O).
    pub fn lookup(&self, serial: &[u8], now: UnixTime) -> CrlLookup {
        let snap = self.snapshot();
        let Some(full) = &snap.full else {
            let (condition, code, detail) = match &snap.full_error {
                Some(e) => (e.condition(), e.code(), e.to_string()),
                None => (
                    Condition::Unreachable,
                    "crl_not_loaded",
                    "no CRL has been loaded yet".to_string(),
                ),
            };
            return CrlLookup::Condition {
                condition,
                code,
                detail: format!("{}: {detail}", self.config.full_url),
                last_good: None,
            };
        };
        let listed = |idx: &CrlIndex| {
            idx.find(serial).map(|e| CrlLookup::Revoked {
                date: e.date,
                reason: e.reason,
                crl_number: idx.crl_number.to_string(),
            })
        };
        // A usable delta first: it is the newer word (removeFromCRL lifts a hold).
        let delta = snap.delta.as_ref().filter(|d| d.delta_applies_to(full));
        if let Some(d) = delta
            && let Some(e) = d.find(serial)
        {
            if e.reason == Some(RevocationReason::RemoveFromCrl) {
                // Lifted; fall through to the staleness checks for a "good".
            } else {
                return CrlLookup::Revoked {
                    date: e.date,
                    reason: e.reason,
                    crl_number: d.crl_number.to_string(),
                };
            }
        }
        let lifted = delta.is_some_and(|d| {
            d.find(serial)
                .is_some_and(|e| e.reason == Some(RevocationReason::RemoveFromCrl))
        });
        if !lifted && let Some(r) = listed(full) {
            return r;
        }
        let stale = |code: &'static str, detail: String| CrlLookup::Condition {
            condition: Condition::CrlStale,
            code,
            detail,
            last_good: Some(full.next_update),
        };
        if now > full.next_update {
            return stale(
                "crl_stale",
                format!(
                    "CRL #{} was current until {}",
                    full.crl_number, full.next_update
                ),
            );
        }
        if self.config.delta_url.is_some() {
            match delta {
                None => {
                    let (code, detail) = match &snap.delta_error {
                        Some(e) => (e.code(), e.to_string()),
                        None => ("crl_delta_missing", "no delta CRL is held".to_string()),
                    };
                    return stale(code, detail);
                }
                Some(d) if now > d.next_update => {
                    return stale(
                        "crl_delta_stale",
                        format!(
                            "delta CRL #{} was current until {}",
                            d.crl_number, d.next_update
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        let newest = delta.map_or(full, |d| d);
        CrlLookup::Good {
            crl_number: newest.crl_number.to_string(),
            this_update: newest.this_update,
            next_update: delta.map_or(full.next_update, |d| d.next_update.min(full.next_update)),
        }
    }

    /// The lookup as a policy report.
    pub fn report(&self, serial: &[u8], now: UnixTime, freshness: Freshness) -> Report {
        let snap = self.snapshot();
        let age = snap.full.as_ref().map(|f| now.0 - f.this_update.0);
        let (outcome, last_good) = match self.lookup(serial, now) {
            CrlLookup::Good { next_update, .. } => {
                (Outcome::Answer(Answer::Good), Some(next_update))
            }
            CrlLookup::Revoked { date, reason, .. } => (
                Outcome::Answer(Answer::Revoked {
                    time: date,
                    reason: reason.map(|r| r.code()),
                }),
                None,
            ),
            CrlLookup::Condition {
                condition,
                code,
                detail,
                last_good,
            } => (
                Outcome::Condition {
                    condition,
                    code,
                    detail,
                },
                last_good,
            ),
        };
        Report {
            source: Source::Crl,
            outcome,
            freshness,
            age_secs: age,
            last_good,
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(serials: &[Vec<u8>]) -> CrlIndex {
        let mut b = Bucket {
            len: serials[0].len(),
            ..Bucket::default()
        };
        for (i, s) in serials.iter().enumerate() {
            b.keys.extend_from_slice(s);
            b.dates.push(i as u32);
            b.reasons.push(6);
        }
        b.build_prefix();
        CrlIndex {
            crl_number: CrlNumber::from_be_bytes(&[1]),
            base_crl_number: None,
            this_update: UnixTime(0),
            next_update: UnixTime(1),
            entries: serials.len(),
            der_len: 0,
            scope: None,
            buckets: vec![b],
        }
    }

    #[test]
    fn prefix_table_finds_every_key_and_nothing_else() {
        let mut serials: Vec<Vec<u8>> = (0u32..20_000)
            .map(|i| {
                (i.wrapping_mul(2_654_435_761) | 0x0100_0000)
                    .to_be_bytes()
                    .to_vec()
            })
            .collect();
        serials.sort();
        serials.dedup();
        let idx = index_of(&serials);
        assert!(!idx.buckets[0].prefix.is_empty());
        for (i, s) in serials.iter().enumerate() {
            let e = idx.find(s).expect("listed");
            assert_eq!(e.date, UnixTime(i as i64));
            assert_eq!(e.reason, Some(RevocationReason::CertificateHold));
            // Leading zero octets are ignored.
            let mut padded = vec![0u8];
            padded.extend_from_slice(s);
            assert!(idx.find(&padded).is_some());
        }
        assert!(idx.find(&[0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(
            idx.find(&[0x01, 0x00, 0x00, 0x00]).is_none() || serials.contains(&vec![1, 0, 0, 0])
        );
        assert!(idx.find(&[0x05]).is_none());
    }

    #[test]
    fn reasons_round_trip() {
        for code in 0u8..=10 {
            if code == 7 {
                continue;
            }
            let r = reason_from_u8(code);
            assert_eq!(reason_to_u8(r), code);
        }
        assert_eq!(reason_from_u8(NO_REASON), None);
    }
}
