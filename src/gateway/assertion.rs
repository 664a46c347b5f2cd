//! The signed identity assertion sent to the MIS (issue 7 item 2): a compact JWS (RFC 7515 §7.1)
//! carrying a JWT (RFC 7519) signed with EdDSA over Ed25519 (RFC 8037), and the public key as a
//! JWK Set for `GET /eds/.well-known/jwks.json`.
//!
//! Why by hand and not a JWT crate: we only ever *sign*, with one algorithm and one fixed header.
//! The JOSE part is three base64url segments joined by dots (RFC 7515 §3.1) and a SHA-256 JWK
//! thumbprint (RFC 7638 §3); the signature is `ring`'s Ed25519, which the gateway already uses to
//! verify logins. A JWT crate would add a second crypto stack (or a `ring` feature matrix) and an
//! algorithm-negotiation surface (the `alg: none` / HS-RS confusion family) we do not need. The
//! verifying side (the MIS) should use a library; the README snippet in docs/observability.md
//! uses Node's built-in `crypto`.
//!
//! The key: `[assertion] key_file` (PKCS#8, PEM `PRIVATE KEY` or DER, v1 as OpenSSL writes it
//! or v2 as `ring` does). When the file does not exist the gateway makes a key once and keeps it
//! there: written to a temporary file with mode 0600 and hard-linked into place, so two
//! instances starting at once never see half a key and the loser of the race reads the winner's.
//!
//! Reuse: a session's token is cached by sid and re-signed only when less than
//! `renew_before_secs` of its life remain, so a page of 40 requests costs one signature, and the
//! MIS can cache verification by `jti`. The cache is bounded (`MAX_CACHED`): expired entries go
//! first, and if every entry is still live the cache is emptied (the cost is re-signing).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::session::Session;

use super::config::AssertionCfg;

/// Claims that may be listed in `[assertion] claims` (iss, aud, iat, exp and jti always go).
pub const OPTIONAL_CLAIMS: [&str; 7] = ["sub", "name", "bin", "org", "roles", "serial", "sid"];

/// Upper bound of cached tokens: one per live session; 100 000 tokens of ~600 bytes are 60 MB at
/// worst, more than any hospital's concurrent staff.
const MAX_CACHED: usize = 100_000;

/// Why the key could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading, creating or writing the key file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        detail: String,
    },
    /// The file is not a PKCS#8 Ed25519 private key.
    NotEd25519 {
        /// The file.
        path: PathBuf,
    },
    /// The OS random source failed while generating a key.
    Random,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Io { path, detail } => {
                write!(f, "assertion.key_file {}: {detail}", path.display())
            }
            KeyError::NotEd25519 { path } => write!(
                f,
                "assertion.key_file {}: not a PKCS#8 Ed25519 private key (PEM \"PRIVATE KEY\" or DER)",
                path.display()
            ),
            KeyError::Random => write!(f, "assertion key: the OS random source failed"),
        }
    }
}

/// The Ed25519 key and what is published about it.
pub struct AssertionKey {
    pair: Ed25519KeyPair,
    kid: String,
    x: String,
}

impl AssertionKey {
    /// A key from PKCS#8 bytes (PEM or DER).
    pub fn from_pkcs8(bytes: &[u8], path: &Path) -> Result<AssertionKey, KeyError> {
        let der = pem_or_der(bytes).ok_or_else(|| KeyError::NotEd25519 {
            path: path.to_path_buf(),
        })?;
        // `maybe_unchecked` accepts PKCS#8 v1 (no public key inside, as `openssl genpkey`
        // writes it) as well as v2; the public key is derived from the seed either way.
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| KeyError::NotEd25519 {
                path: path.to_path_buf(),
            })?;
        let x = B64URL.encode(pair.public_key().as_ref());
        Ok(AssertionKey {
            kid: jwk_thumbprint(&x),
            x,
            pair,
        })
    }

    /// Reads `path`, or makes a key there when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<AssertionKey, KeyError> {
        let io = |e: std::io::Error| KeyError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        match std::fs::read(path) {
            Ok(b) => return AssertionKey::from_pkcs8(&b, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Random)?;
        let pem = to_pem(doc.as_ref());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|_| KeyError::Random)?;
        let tmp = path.with_extension(format!("tmp-{}", hex::encode(rnd)));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let written = opts.open(&tmp).and_then(|mut f| {
            f.write_all(pem.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        // link(2) never replaces an existing file: whoever links first wins, the other reads it.
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => AssertionKey::from_pkcs8(pem.as_bytes(), path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let b = std::fs::read(path).map_err(io)?;
                AssertionKey::from_pkcs8(&b, path)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key id: the RFC 7638 thumbprint of the public JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK Set with the public key (RFC 7517 §5, RFC 8037 §2).
    pub fn jwks(&self) -> Value {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid,
                         "use": "sig", "alg": "EdDSA"}]})
    }

    /// Signs `claims` as a compact JWS with the fixed header.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let sig = self.pair.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(sig.as_ref()))
    }
}

/// RFC 7638 §3.2: SHA-256 over the required members in lexicographic order, no whitespace.
fn jwk_thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    B64URL.encode(Sha256::digest(canonical.as_bytes()))
}

fn pem_or_der(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok();
    match text.filter(|t| t.trim_start().starts_with("-----BEGIN")) {
        Some(t) => {
            let b64: String = t
                .lines()
                .map(str::trim)
                .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect();
            base64::engine::general_purpose::STANDARD.decode(b64).ok()
        }
        None => Some(bytes.to_vec()),
    }
}

fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str("-----END PRIVATE KEY-----\n");
    s
}

/// Makes (and reuses) assertions for sessions.
pub struct Assertions {
    key: AssertionKey,
    iss: String,
    aud: String,
    ttl: i64,
    renew_before: i64,
    claims: Vec<String>,
    cache: Mutex<HashMap<String, (std::sync::Arc<str>, i64)>>,
}

impl Assertions {
    /// From the config section; `None` when disabled. `origin` is the default `iss`.
    pub fn from_config(
        cfg: &AssertionCfg,
        key_path: &Path,
        origin: &str,
    ) -> Result<Option<Assertions>, KeyError> {
        if !cfg.enabled {
            return Ok(None);
        }
        let key = AssertionKey::load_or_create(key_path)?;
        Ok(Some(Assertions::new(key, cfg, origin)))
    }

    /// With an already loaded key.
    pub fn new(key: AssertionKey, cfg: &AssertionCfg, origin: &str) -> Assertions {
        Assertions {
            key,
            iss: cfg.iss.clone().unwrap_or_else(|| origin.to_string()),
            aud: cfg.aud.clone(),
            ttl: cfg.ttl_secs,
            renew_before: cfg.renew_before_secs,
            claims: cfg.claims.clone(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The key.
    pub fn key(&self) -> &AssertionKey {
        &self.key
    }

    /// The claims of a fresh token for `s` at `now` (pure; `jti` given).
    pub fn claims(&self, s: &Session, now: i64, jti: &str) -> Value {
        let mut m = Map::new();
        m.insert("iss".into(), Value::from(self.iss.as_str()));
        m.insert("aud".into(), Value::from(self.aud.as_str()));
        let id = &s.identity;
        for c in &self.claims {
            let v = match c.as_str() {
                "sub" => Value::from(id.iin.as_str()),
                "name" => Value::from(id.name.as_str()),
                "bin" => id.bin.as_deref().map(Value::from).unwrap_or(Value::Null),
                "org" => id.org.as_deref().map(Value::from).unwrap_or(Value::Null),
                "roles" => Value::from(id.roles.clone()),
                "serial" => Value::from(id.cert_serial.as_str()),
                "sid" => Value::from(s.sid.as_str()),
                _ => Value::Null,
            };
            if !v.is_null() {
                m.insert(c.clone(), v);
            }
        }
        m.insert("iat".into(), Value::from(now));
        m.insert("exp".into(), Value::from(now.saturating_add(self.ttl)));
        m.insert("jti".into(), Value::from(jti));
        Value::Object(m)
    }

    /// The token for `s` at `now`: the cached one while more than `renew_before_secs` remain,
    /// else a new one. `None` only if the OS random source fails (no jti).
    pub fn token_for(&self, s: &Session, now: i64) -> Option<std::sync::Arc<str>> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((tok, exp)) = cache.get(&s.sid)
            && exp.saturating_sub(now) > self.renew_before
            // A clock set back (tests, NTP step) must not keep a token "issued in the future".
            && exp.saturating_sub(self.ttl) <= now
        {
            return Some(tok.clone());
        }
        let mut rnd = [0u8; 16];
        getrandom::fill(&mut rnd).ok()?;
        let claims = self.claims(s, now, &hex::encode(rnd));
        let tok: std::sync::Arc<str> = self.key.sign(&claims).into();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, exp)| *exp > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(s.sid.clone(), (tok.clone(), now.saturating_add(self.ttl)));
        Some(tok)
    }

    /// Cached tokens (for tests and metrics).
    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc8037_appendix_a3() {
        // RFC 8037 A.1/A.3: the example Ed25519 public key and its RFC 7638 thumbprint.
        assert_eq!(
            jwk_thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn generated_key_is_kept_with_mode_0600_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("eds-assert-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("k.pem");
        let a = AssertionKey::load_or_create(&path).expect("create");
        let b = AssertionKey::load_or_create(&path).expect("reload");
        assert_eq!(a.kid(), b.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_key_file_is_an_error_not_a_panic() {
        let p = Path::new("/nonexistent/k");
        assert!(matches!(
            AssertionKey::from_pkcs8(
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                p
            ),
            Err(KeyError::NotEd25519 { .. })
        ));
        assert!(AssertionKey::from_pkcs8(&[0u8; 48], p).is_err());
    }
}
