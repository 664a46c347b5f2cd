//! The test CA's state in a directory, and the operations on it (init, issue, revoke, release,
//! CRL and OCSP output).
//!
//! # Directory format (version `eds-gateway-testpki/1`)
//! ```text
//! DIR/state.json        everything mutable: algorithm, base URL, CRL numbering and lifetimes,
//!                       every issued certificate (serial hex, subject, IIN, profile, role,
//!                       validity, status good|revoked|hold, revocation time and reason,
//!                       release time), written atomically (temp file + rename)
//! DIR/root.pem          root CA certificate      DIR/keys/root.key  (PKCS#8 PEM, mode 0600)
//! DIR/ca.pem            issuing CA certificate   DIR/keys/ca.key
//! DIR/ocsp.pem          OCSP responder cert      DIR/keys/ocsp.key
//! DIR/chain.pem         ca.pem + root.pem
//! DIR/issued/SERIAL.pem every issued end-entity certificate
//! DIR/crl/ca.crl, ca_delta.crl, root.crl   the current CRLs (DER), rewritten on every change
//! DIR/.lock             advisory lock: created with O_EXCL holding the owner's PID, removed on
//!                       drop; taken over when that process is gone (or after 10 minutes)
//! ```
//! URLs derived from `base_url`: OCSP `BASE/ocsp`, CRLs `BASE/crl/ca.crl`, `BASE/crl/ca_delta.crl`,
//! `BASE/crl/root.crl`, certificates `BASE/cert/root.cer`, `BASE/cert/ca.cer`.
//!
//! # CRL numbering
//! One shared, increasing cRLNumber sequence. `init` and `pki crl` write a full CRL (number N,
//! listing everything revoked or on hold) and an empty delta (N+1, deltaCRLIndicator N). Each
//! `revoke`/`release` writes a new delta against the last full CRL: new revocations since it,
//! and `removeFromCRL` for holds listed in it that were released since. The full CRL itself is
//! rewritten too (so a client without delta support still sees the revocation at once).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};

use super::builder::{self, CertSpec, CrlEntrySpec, CrlSpec, SingleStatus};
use super::der::pem;
use super::keys::{KeyError, KeyKind, SigningKey, key_id};
pub use crate::clock::now;
use crate::pki::cert::{Certificate, KeyUsage, oids as ext};
use crate::pki::der_util;
use crate::pki::name::oids as attr;
use crate::pki::time::UnixTime;

/// Format tag in state.json.
pub const FORMAT: &str = "eds-gateway-testpki/1";

/// An error from a CA operation, with a message for the operator.
#[derive(Debug)]
pub struct CaError(pub String);

impl std::fmt::Display for CaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaError {}

impl From<KeyError> for CaError {
    fn from(e: KeyError) -> Self {
        CaError(e.0)
    }
}

impl From<std::io::Error> for CaError {
    fn from(e: std::io::Error) -> Self {
        CaError(e.to_string())
    }
}

fn err(s: impl Into<String>) -> CaError {
    CaError(s.into())
}

/// Revocation state of an issued certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not revoked.
    Good,
    /// Revoked for good.
    Revoked,
    /// On hold (certificateHold); `release` lifts it.
    Hold,
}

/// One issued certificate in state.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Issued {
    /// Serial, upper-case hex.
    pub serial: String,
    /// Subject as text.
    pub subject: String,
    /// IIN.
    pub iin: String,
    /// BIN, for employees.
    pub bin: Option<String>,
    /// Profile name.
    pub profile: String,
    /// Role name.
    pub role: String,
    /// notBefore (RFC 3339).
    pub not_before: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Status.
    pub status: Status,
    /// Revocation time (Unix seconds).
    pub revoked_at: Option<i64>,
    /// CRLReason code.
    pub reason: Option<u8>,
    /// When a hold was lifted (Unix seconds).
    pub released_at: Option<i64>,
}

/// state.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// [`FORMAT`].
    pub format: String,
    /// CA key algorithm.
    pub algorithm: String,
    /// Base URL of the responder.
    pub base_url: String,
    /// Last cRLNumber used.
    pub crl_number: u64,
    /// Number of the last full CRL (the delta base).
    pub base_crl_number: u64,
    /// Serials (hex) listed in the last full CRL.
    pub base_crl_serials: Vec<String>,
    /// Full CRL lifetime, seconds.
    pub crl_lifetime_secs: i64,
    /// Delta CRL lifetime, seconds.
    pub delta_lifetime_secs: i64,
    /// Issued end-entity certificates.
    pub issued: Vec<Issued>,
}

/// CRL reason names (RFC 5280 §5.3.1) ↔ codes.
pub const REASONS: &[(&str, u8)] = &[
    ("unspecified", 0),
    ("keyCompromise", 1),
    ("cACompromise", 2),
    ("affiliationChanged", 3),
    ("superseded", 4),
    ("cessationOfOperation", 5),
    ("certificateHold", 6),
    ("privilegeWithdrawn", 9),
    ("aACompromise", 10),
];

/// Reason code by name (case-insensitive).
pub fn reason_code(name: &str) -> Option<u8> {
    REASONS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
}

/// The advisory lock on a CA directory (released on drop).
pub struct Lock(PathBuf);

impl Lock {
    /// Takes the lock, waiting up to 30 s.
    pub fn take(dir: &Path) -> Result<Lock, CaError> {
        let path = dir.join(".lock");
        for _ in 0..600 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Lock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Abandoned: its process is gone (Linux /proc), or it is older than
                    // 10 minutes where /proc is not available.
                    let pid_gone = fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok())
                        .is_some_and(|pid| {
                            Path::new("/proc/self").exists()
                                && !Path::new(&format!("/proc/{pid}")).exists()
                        });
                    let old = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(600));
                    let stale = pid_gone || old;
                    if stale {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(err(format!("lock {}: {e}", path.display()))),
            }
        }
        Err(err(format!(
            "{} is locked by another command (remove {} if none runs)",
            dir.display(),
            path.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err(format!("{}: {e}", path.display())))?;
    f.write_all(bytes)?;
    Ok(())
}

/// 20 random bytes with the top bit cleared (NCA's serial size), never starting with 0x00.
pub fn random_serial() -> Result<Vec<u8>, CaError> {
    let mut s = [0u8; 20];
    getrandom::fill(&mut s).map_err(|e| err(format!("random: {e}")))?;
    s[0] = (s[0] & 0x7f) | 0x01;
    Ok(s.to_vec())
}

fn alg_label(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Gost512 => "GOST",
        KeyKind::Rsa2048 => "RSA",
        KeyKind::P256 => "ECDSA",
    }
}

/// The root CA's CN (Kazakh, marked TEST).
pub fn root_cn(kind: KeyKind) -> String {
    format!(
        "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ ({}) TEST DRILL",
        alg_label(kind)
    )
}

/// The issuing CA's CN.
pub fn ca_cn(kind: KeyKind) -> String {
    format!(
        "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ ({}) TEST DRILL",
        alg_label(kind)
    )
}

/// A loaded CA directory.
pub struct Ca {
    /// The directory.
    pub dir: PathBuf,
    /// Its state.
    pub state: State,
    /// Root certificate.
    pub root: Certificate,
    /// Issuing CA certificate.
    pub ca: Certificate,
    /// OCSP responder certificate.
    pub ocsp: Certificate,
    /// Keys.
    pub root_key: SigningKey,
    /// Issuing CA key.
    pub ca_key: SigningKey,
    /// OCSP responder key.
    pub ocsp_key: SigningKey,
}

/// Options for `pki init`.
pub struct InitOptions {
    /// CA key algorithm.
    pub algorithm: KeyKind,
    /// Base URL of the responder (no trailing slash).
    pub base_url: String,
    /// Full CRL lifetime.
    pub crl_lifetime_secs: i64,
    /// Delta CRL lifetime.
    pub delta_lifetime_secs: i64,
}

fn url(base: &str, path: &str) -> Vec<String> {
    vec![format!("{}/{}", base.trim_end_matches('/'), path)]
}

fn read_pem_cert(path: &Path) -> Result<Certificate, CaError> {
    let b = fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    Certificate::parse(&b).map_err(|e| err(format!("{}: {e}", path.display())))
}

fn read_key(path: &Path) -> Result<SigningKey, CaError> {
    let b = fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let (_, der) = der_util::pem_or_der(&b).map_err(|e| err(format!("{}: {e}", path.display())))?;
    Ok(SigningKey::from_pkcs8(&der)?)
}

impl Ca {
    /// Creates a new CA in `dir` (which must not hold one yet).
    pub fn init(dir: &Path, opts: &InitOptions) -> Result<Ca, CaError> {
        fs::create_dir_all(dir)?;
        let _lock = Lock::take(dir)?;
        if dir.join("state.json").exists() {
            return Err(err(format!("{} already holds a test CA", dir.display())));
        }
        for sub in ["keys", "issued", "crl"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let kind = opts.algorithm;
        let base = &opts.base_url;
        let t0 = UnixTime(now().0 - 3600);
        let root_key = SigningKey::generate(kind)?;
        let ca_key = SigningKey::generate(kind)?;
        let ocsp_key = SigningKey::generate(kind)?;
        let root_id = key_id(&root_key.public_key_bits()?);
        let ca_id = key_id(&ca_key.public_key_bits()?);
        let ocsp_id = key_id(&ocsp_key.public_key_bits()?);
        let root_name = builder::name(&[(attr::CN, &root_cn(kind)), (attr::C, "KZ")]);
        let ca_name = builder::name(&[(attr::CN, &ca_cn(kind)), (attr::C, "KZ")]);
        let ocsp_name = builder::name(&[
            (attr::CN, "OCSP RESPONDER"),
            (attr::O, &ca_cn(kind)),
            (attr::C, "KZ"),
        ]);
        let year = 365 * 86400;
        let root_der = builder::certificate(
            &CertSpec {
                serial: &random_serial()?,
                issuer: &root_name,
                subject: &root_name,
                not_before: t0,
                not_after: t0.plus_seconds(10 * year),
                spki: &root_key.spki_der()?,
                extensions: vec![
                    builder::basic_constraints(true, None),
                    builder::key_usage(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN, true),
                    builder::subject_key_id(&root_id),
                    builder::policies(&[ObjectIdentifier::new_unwrap("1.2.398.3.1.2")]),
                ],
            },
            &root_key,
        )?;
        let ca_der = builder::certificate(
            &CertSpec {
                serial: &random_serial()?,
                issuer: &root_name,
                subject: &ca_name,
                not_before: t0,
                not_after: t0.plus_seconds(10 * year - 86400 * 3),
                spki: &ca_key.spki_der()?,
                extensions: vec![
                    builder::basic_constraints(true, Some(0)),
                    builder::key_usage(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN, true),
                    builder::subject_key_id(&ca_id),
                    builder::authority_key_id(&root_id),
                    builder::policies(&[ObjectIdentifier::new_unwrap("1.2.398.3.3.1.1")]),
                    builder::crl_distribution_points(&url(base, "crl/root.crl")),
                    builder::authority_info_access(&[], &url(base, "cert/root.cer")),
                ],
            },
            &root_key,
        )?;
        let ocsp_der = builder::certificate(
            &CertSpec {
                serial: &random_serial()?,
                issuer: &ca_name,
                subject: &ocsp_name,
                not_before: t0,
                not_after: t0.plus_seconds(2 * year),
                spki: &ocsp_key.spki_der()?,
                extensions: vec![
                    builder::key_usage(
                        KeyUsage::DIGITAL_SIGNATURE | KeyUsage::NON_REPUDIATION,
                        true,
                    ),
                    builder::ext_key_usage(&[ext::KP_OCSP_SIGNING], false),
                    builder::ocsp_nocheck(),
                    builder::subject_key_id(&ocsp_id),
                    builder::authority_key_id(&ca_id),
                    builder::policies(&[ObjectIdentifier::new_unwrap("1.2.398.3.3.1.1")]),
                ],
            },
            &ca_key,
        )?;
        write_secret(
            &dir.join("keys/root.key"),
            pem("PRIVATE KEY", &root_key.to_pkcs8()).as_bytes(),
        )?;
        write_secret(
            &dir.join("keys/ca.key"),
            pem("PRIVATE KEY", &ca_key.to_pkcs8()).as_bytes(),
        )?;
        write_secret(
            &dir.join("keys/ocsp.key"),
            pem("PRIVATE KEY", &ocsp_key.to_pkcs8()).as_bytes(),
        )?;
        write_atomic(
            &dir.join("root.pem"),
            pem("CERTIFICATE", &root_der).as_bytes(),
        )?;
        write_atomic(&dir.join("ca.pem"), pem("CERTIFICATE", &ca_der).as_bytes())?;
        write_atomic(
            &dir.join("ocsp.pem"),
            pem("CERTIFICATE", &ocsp_der).as_bytes(),
        )?;
        write_atomic(
            &dir.join("chain.pem"),
            [pem("CERTIFICATE", &ca_der), pem("CERTIFICATE", &root_der)]
                .concat()
                .as_bytes(),
        )?;
        let state = State {
            format: FORMAT.into(),
            algorithm: kind.as_str().into(),
            base_url: base.trim_end_matches('/').to_string(),
            crl_number: 0,
            base_crl_number: 0,
            base_crl_serials: Vec::new(),
            crl_lifetime_secs: opts.crl_lifetime_secs,
            delta_lifetime_secs: opts.delta_lifetime_secs,
            issued: Vec::new(),
        };
        let mut ca = Ca {
            dir: dir.to_path_buf(),
            state,
            root: Certificate::parse(&root_der).map_err(|e| err(e.to_string()))?,
            ca: Certificate::parse(&ca_der).map_err(|e| err(e.to_string()))?,
            ocsp: Certificate::parse(&ocsp_der).map_err(|e| err(e.to_string()))?,
            root_key,
            ca_key,
            ocsp_key,
        };
        ca.write_full_crl(now())?;
        ca.save()?;
        Ok(ca)
    }

    /// Loads a CA directory (take the [`Lock`] first when you will change it).
    pub fn open(dir: &Path) -> Result<Ca, CaError> {
        let s = fs::read(dir.join("state.json"))
            .map_err(|e| err(format!("{}: not a test CA directory ({e})", dir.display())))?;
        let state: State =
            serde_json::from_slice(&s).map_err(|e| err(format!("state.json: {e}")))?;
        if state.format != FORMAT {
            return Err(err(format!("state.json: unknown format {}", state.format)));
        }
        Ok(Ca {
            root: read_pem_cert(&dir.join("root.pem"))?,
            ca: read_pem_cert(&dir.join("ca.pem"))?,
            ocsp: read_pem_cert(&dir.join("ocsp.pem"))?,
            root_key: read_key(&dir.join("keys/root.key"))?,
            ca_key: read_key(&dir.join("keys/ca.key"))?,
            ocsp_key: read_key(&dir.join("keys/ocsp.key"))?,
            dir: dir.to_path_buf(),
            state,
        })
    }

    /// Writes state.json.
    pub fn save(&self) -> Result<(), CaError> {
        let json = serde_json::to_vec_pretty(&self.state).map_err(|e| err(e.to_string()))?;
        write_atomic(&self.dir.join("state.json"), &json)
    }

    /// The issuing CA's key identifier.
    pub fn ca_key_id(&self) -> Vec<u8> {
        self.ca
            .extensions
            .subject_key_id
            .clone()
            .unwrap_or_default()
    }

    /// URL helpers.
    pub fn urls(&self, path: &str) -> Vec<String> {
        url(&self.state.base_url, path)
    }

    fn entry(i: &Issued) -> Option<CrlEntrySpec> {
        Some(CrlEntrySpec {
            serial: hex::decode(&i.serial).ok()?,
            time: UnixTime(i.revoked_at?),
            reason: i.reason,
        })
    }

    fn revoked_entries(&self) -> Vec<CrlEntrySpec> {
        self.state
            .issued
            .iter()
            .filter(|i| i.status != Status::Good)
            .filter_map(Self::entry)
            .collect()
    }

    /// Writes a new full CRL (and an empty delta on it) and the root CRL.
    pub fn write_full_crl(&mut self, at: UnixTime) -> Result<(), CaError> {
        let entries = self.revoked_entries();
        self.state.crl_number += 1;
        let number = self.state.crl_number;
        let full = builder::crl(
            &CrlSpec {
                issuer: self.ca.subject.der(),
                issuer_key_id: &self.ca_key_id(),
                this_update: at,
                next_update: at.plus_seconds(self.state.crl_lifetime_secs),
                number,
                delta_base: None,
                entries: &entries,
            },
            &self.ca_key,
        )?;
        self.state.base_crl_number = number;
        self.state.base_crl_serials = entries
            .iter()
            .map(|e| hex::encode_upper(&e.serial))
            .collect();
        write_atomic(&self.dir.join("crl/ca.crl"), &full)?;
        let root = builder::crl(
            &CrlSpec {
                issuer: self.root.subject.der(),
                issuer_key_id: &self
                    .root
                    .extensions
                    .subject_key_id
                    .clone()
                    .unwrap_or_default(),
                this_update: at,
                next_update: at.plus_seconds(self.state.crl_lifetime_secs),
                number,
                delta_base: None,
                entries: &[],
            },
            &self.root_key,
        )?;
        write_atomic(&self.dir.join("crl/root.crl"), &root)?;
        self.write_delta_crl(at)
    }

    /// Writes a new delta CRL against the last full CRL.
    pub fn write_delta_crl(&mut self, at: UnixTime) -> Result<(), CaError> {
        let mut entries = Vec::new();
        for i in &self.state.issued {
            let in_base = self.state.base_crl_serials.contains(&i.serial);
            match (i.status, in_base) {
                (Status::Revoked | Status::Hold, false) => entries.extend(Self::entry(i)),
                (Status::Revoked, true) => {
                    // A hold in the base that became a revocation: list it with its new reason.
                    entries.extend(Self::entry(i));
                }
                (Status::Good, true) => {
                    if let Ok(serial) = hex::decode(&i.serial) {
                        entries.push(CrlEntrySpec {
                            serial,
                            time: UnixTime(i.released_at.unwrap_or(at.0)),
                            reason: Some(8), // removeFromCRL
                        });
                    }
                }
                _ => {}
            }
        }
        self.state.crl_number += 1;
        let delta = builder::crl(
            &CrlSpec {
                issuer: self.ca.subject.der(),
                issuer_key_id: &self.ca_key_id(),
                this_update: at,
                next_update: at.plus_seconds(self.state.delta_lifetime_secs),
                number: self.state.crl_number,
                delta_base: Some(self.state.base_crl_number),
                entries: &entries,
            },
            &self.ca_key,
        )?;
        write_atomic(&self.dir.join("crl/ca_delta.crl"), &delta)
    }

    /// Finds an issued certificate by serial hex (case-insensitive, leading zeros ignored).
    pub fn find_mut(&mut self, serial_hex: &str) -> Option<&mut Issued> {
        let want = serial_hex.trim_start_matches('0').to_ascii_uppercase();
        self.state
            .issued
            .iter_mut()
            .find(|i| i.serial.trim_start_matches('0') == want)
    }

    /// Revokes (or holds) a certificate; rewrites the delta CRL. Returns the serial.
    pub fn revoke(
        &mut self,
        serial_hex: &str,
        reason: u8,
        at: UnixTime,
    ) -> Result<String, CaError> {
        let i = self
            .find_mut(serial_hex)
            .ok_or_else(|| err(format!("no certificate with serial {serial_hex}")))?;
        if i.status == Status::Revoked {
            return Err(err(format!("{} is already revoked", i.serial)));
        }
        i.status = if reason == 6 {
            Status::Hold
        } else {
            Status::Revoked
        };
        i.revoked_at = Some(at.0);
        i.reason = Some(reason);
        i.released_at = None;
        let serial = i.serial.clone();
        self.write_delta_crl(at)?;
        self.save()?;
        Ok(serial)
    }

    /// Lifts a hold; the next delta lists the serial with removeFromCRL.
    pub fn release(&mut self, serial_hex: &str, at: UnixTime) -> Result<String, CaError> {
        let i = self
            .find_mut(serial_hex)
            .ok_or_else(|| err(format!("no certificate with serial {serial_hex}")))?;
        if i.status != Status::Hold {
            return Err(err(format!("{} is not on hold", i.serial)));
        }
        i.status = Status::Good;
        i.released_at = Some(at.0);
        i.revoked_at = None;
        i.reason = None;
        let serial = i.serial.clone();
        self.write_delta_crl(at)?;
        self.save()?;
        Ok(serial)
    }

    /// The OCSP status of `serial` (content octets of the INTEGER).
    pub fn status_of(&self, serial: &[u8]) -> SingleStatus {
        let hex_s = hex::encode_upper(serial);
        let want = hex_s.trim_start_matches('0');
        match self
            .state
            .issued
            .iter()
            .find(|i| i.serial.trim_start_matches('0') == want)
        {
            None => SingleStatus::Unknown,
            Some(i) => match (i.status, i.revoked_at) {
                (Status::Good, _) | (_, None) => SingleStatus::Good,
                (_, Some(t)) => SingleStatus::Revoked {
                    time: UnixTime(t),
                    reason: i.reason,
                },
            },
        }
    }
}

/// End-entity profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// GOST-2015-512 single key: KU dS+nR+keyAgreement (critical), EKU emailProtection + roles
    /// (no clientAuth), policy 1.2.398.3.3.2, NCA key-store extension.
    Gost2015,
    /// RSA AUTH: KU dS+keyEncipherment, EKU clientAuth + roles, policy …2.4 / …2.2.
    RsaAuth,
    /// RSA SIGN: KU dS+nR, EKU emailProtection + roles, policy …2.3 / …2.1.
    RsaSign,
}

impl Profile {
    /// From the command-line name.
    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "gost2015" => Some(Profile::Gost2015),
            "rsa-auth" => Some(Profile::RsaAuth),
            "rsa-sign" => Some(Profile::RsaSign),
            _ => None,
        }
    }

    /// Command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Gost2015 => "gost2015",
            Profile::RsaAuth => "rsa-auth",
            Profile::RsaSign => "rsa-sign",
        }
    }

    fn key_kind(self) -> KeyKind {
        match self {
            Profile::Gost2015 => KeyKind::Gost512,
            _ => KeyKind::Rsa2048,
        }
    }
}

/// The role names of `pki issue --role` and their EKU OIDs (NCA.md §3.3).
pub const ROLES: &[(&str, &[&str])] = &[
    ("individual", &["1.2.398.3.3.4.1.1"]),
    ("employee", &["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.5"]),
    ("head", &["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.1"]),
    ("signright", &["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.2"]),
    ("finance", &["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.3"]),
    ("hr", &["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.4"]),
    ("infosystem", &["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.6"]),
];

/// What to issue.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// IIN (12 digits).
    pub iin: String,
    /// Family name.
    pub surname: String,
    /// First name (only inside CN, as NCA does).
    pub given_name: String,
    /// Patronymic (goes to G).
    pub patronymic: Option<String>,
    /// BIN (12 digits) for employees.
    pub bin: Option<String>,
    /// Organisation name.
    pub org: Option<String>,
    /// Role name from [`ROLES`].
    pub role: String,
    /// Profile.
    pub profile: Profile,
    /// notBefore.
    pub not_before: UnixTime,
    /// Lifetime in days.
    pub days: i64,
}

/// A freshly issued certificate with its key.
pub struct IssuedCert {
    /// Certificate DER.
    pub cert_der: Vec<u8>,
    /// The subject's key.
    pub key: SigningKey,
    /// Serial hex.
    pub serial: String,
}

fn digits12(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Ca {
    /// Issues an end-entity certificate (the caller holds the [`Lock`]).
    pub fn issue(&mut self, r: &IssueRequest) -> Result<IssuedCert, CaError> {
        if !digits12(&r.iin) {
            return Err(err("--iin must be 12 digits"));
        }
        if let Some(b) = &r.bin
            && !digits12(b)
        {
            return Err(err("--bin must be 12 digits"));
        }
        let role_oids = ROLES
            .iter()
            .find(|(n, _)| *n == r.role)
            .map(|(_, o)| *o)
            .ok_or_else(|| err(format!("unknown role {}", r.role)))?;
        let legal = r.role != "individual";
        if legal && r.bin.is_none() {
            return Err(err(format!("role {} needs --bin (and --org)", r.role)));
        }
        let key = SigningKey::generate(r.profile.key_kind())?;
        let bits = key.public_key_bits()?;
        let ski = key_id(&bits);
        // NCA: serial = the 20-byte key identifier with the top bit cleared (NCA.md §3.2).
        let mut serial = ski.clone();
        serial[0] &= 0x7f;
        if serial[0] == 0 {
            serial[0] = 0x01;
        }
        let cn = format!("{} {}", r.surname, r.given_name);
        let iin = format!("IIN{}", r.iin);
        let mut attrs: Vec<(ObjectIdentifier, &str)> = vec![
            (attr::CN, &cn),
            (attr::SURNAME, &r.surname),
            (attr::SERIAL_NUMBER, &iin),
            (attr::C, "KZ"),
        ];
        let bin = r.bin.as_ref().map(|b| format!("BIN{b}"));
        if let Some(o) = &r.org {
            attrs.push((attr::O, o));
        }
        if let Some(p) = &r.patronymic {
            attrs.push((attr::GIVEN_NAME, p));
        }
        if let Some(b) = &bin {
            attrs.push((attr::OU, b));
        }
        let subject = builder::name(&attrs);
        let mut eku: Vec<ObjectIdentifier> = Vec::new();
        let (ku, policy) = match r.profile {
            Profile::Gost2015 => {
                eku.push(ext::KP_EMAIL_PROTECTION);
                (
                    KeyUsage::DIGITAL_SIGNATURE
                        | KeyUsage::NON_REPUDIATION
                        | KeyUsage::KEY_AGREEMENT,
                    "1.2.398.3.3.2",
                )
            }
            Profile::RsaAuth => {
                eku.push(ext::KP_CLIENT_AUTH);
                (
                    KeyUsage::DIGITAL_SIGNATURE | KeyUsage::KEY_ENCIPHERMENT,
                    if legal {
                        "1.2.398.3.3.2.2"
                    } else {
                        "1.2.398.3.3.2.4"
                    },
                )
            }
            Profile::RsaSign => {
                eku.push(ext::KP_EMAIL_PROTECTION);
                (
                    KeyUsage::DIGITAL_SIGNATURE | KeyUsage::NON_REPUDIATION,
                    if legal {
                        "1.2.398.3.3.2.1"
                    } else {
                        "1.2.398.3.3.2.3"
                    },
                )
            }
        };
        eku.extend(role_oids.iter().map(|o| ObjectIdentifier::new_unwrap(o)));
        let mut exts = vec![
            builder::key_usage(ku, true),
            builder::ext_key_usage(&eku, false),
            builder::subject_key_id(&ski),
            builder::authority_key_id(&self.ca_key_id()),
            builder::policies(&[ObjectIdentifier::new_unwrap(policy)]),
            builder::crl_distribution_points(&self.urls("crl/ca.crl")),
            builder::freshest_crl(&self.urls("crl/ca_delta.crl")),
            builder::authority_info_access(&self.urls("ocsp"), &self.urls("cert/ca.cer")),
        ];
        if r.profile == Profile::Gost2015 {
            exts.push(builder::nca_key_store_pkcs12());
        }
        let not_after = r.not_before.plus_seconds(r.days * 86400);
        let cert_der = builder::certificate(
            &CertSpec {
                serial: &serial,
                issuer: self.ca.subject.der(),
                subject: &subject,
                not_before: r.not_before,
                not_after,
                spki: &key.spki_der()?,
                extensions: exts,
            },
            &self.ca_key,
        )?;
        let cert = Certificate::parse(&cert_der).map_err(|e| err(e.to_string()))?;
        let serial_hex = hex::encode_upper(&serial);
        write_atomic(
            &self.dir.join("issued").join(format!("{serial_hex}.pem")),
            pem("CERTIFICATE", &cert_der).as_bytes(),
        )?;
        self.state.issued.push(Issued {
            serial: serial_hex.clone(),
            subject: cert.subject.to_display_string(),
            iin: r.iin.clone(),
            bin: r.bin.clone(),
            profile: r.profile.as_str().into(),
            role: r.role.clone(),
            not_before: r.not_before.to_rfc3339(),
            not_after: not_after.to_rfc3339(),
            status: Status::Good,
            revoked_at: None,
            reason: None,
            released_at: None,
        });
        self.save()?;
        Ok(IssuedCert {
            cert_der,
            key,
            serial: serial_hex,
        })
    }
}

/// How the responder signs.
#[derive(Clone, Copy, Debug, Default)]
pub struct OcspOptions {
    /// Sign with the CA key (responderID = CA name, no certs) instead of the delegated
    /// responder.
    pub ca_signed: bool,
    /// NCA-like: no nextUpdate, the extended-revoke extension, and a serial this CA never
    /// issued answered as revoked / certificateHold / 1970-01-01 (RFC 6960 §2.2), as NCA's
    /// responder does (../shared/NCA.md §5).
    pub no_next_update: bool,
    /// nextUpdate = thisUpdate + this (when not NCA-like); 0 = 1 hour.
    pub next_update_secs: i64,
}

impl Ca {
    /// Answers a DER OCSPRequest (always returns an OCSPResponse: malformedRequest on bad input).
    pub fn ocsp_respond(&self, request: &[u8], opts: OcspOptions, at: UnixTime) -> Vec<u8> {
        let req = match builder::parse_ocsp_request(request) {
            Ok(r) => r,
            Err(_) => return builder::ocsp_error(builder::ResponseStatus::MalformedRequest),
        };
        let ca_name = self.ca.subject.der();
        let ca_key_bits = &self.ca.public_key;
        let responses = req
            .certs
            .iter()
            .map(|c| {
                let ours = builder::cert_id_hash(&c.hash_alg, ca_name)
                    .is_some_and(|h| h == c.issuer_name_hash)
                    && builder::cert_id_hash(&c.hash_alg, ca_key_bits)
                        .is_some_and(|h| h == c.issuer_key_hash);
                let st = match (ours, self.status_of(&c.serial)) {
                    (false, _) => SingleStatus::Unknown,
                    (true, SingleStatus::Unknown) if opts.no_next_update => SingleStatus::Revoked {
                        time: UnixTime(0),
                        reason: Some(6),
                    },
                    (true, st) => st,
                };
                (c.cert_id_der.clone(), st)
            })
            .collect();
        let (name, key, certs) = if opts.ca_signed {
            (ca_name, &self.ca_key, vec![])
        } else {
            (
                self.ocsp.subject.der(),
                &self.ocsp_key,
                vec![self.ocsp.der().to_vec()],
            )
        };
        let next = if opts.no_next_update {
            None
        } else {
            Some(at.plus_seconds(if opts.next_update_secs > 0 {
                opts.next_update_secs
            } else {
                3600
            }))
        };
        let spec = builder::OcspResponseSpec {
            responder_name: name,
            produced_at: at,
            next_update: next,
            responses,
            nonce: req.nonce,
            certs,
            extended_revoke: opts.no_next_update,
        };
        builder::ocsp_response(&spec, key)
            .unwrap_or_else(|_| builder::ocsp_error(builder::ResponseStatus::InternalError))
    }
}
