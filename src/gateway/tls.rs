//! The HTTPS side of the listener (issue 7 item 4): the certificate and key from PEM files,
//! checked to belong together, served through a resolver whose pair can be swapped while the
//! gateway runs (a renewed certificate is picked up by new connections; connections already
//! open keep the one they shook hands with), ALPN `h2` and `http/1.1`, TLS 1.2 and 1.3 only.
//!
//! Loading ([`load_pair`]) is pure apart from reading the two files; the watcher
//! ([`Reloader::spawn_watcher`]) polls their modification times and sizes, and a pair that fails
//! to load is reported and the old one kept (a half-written file during a renewal must not take
//! the gateway off the air).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// Why a certificate/key pair could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsLoadError {
    /// A file could not be read.
    Unreadable {
        /// Which file.
        file: PathBuf,
        /// The OS error.
        error: String,
    },
    /// The certificate file holds no `CERTIFICATE` PEM block (or a broken one).
    NoCertificate {
        /// Which file.
        file: PathBuf,
    },
    /// The key file holds no private key PEM block (PKCS#8, PKCS#1 or SEC1), or a broken one.
    NoPrivateKey {
        /// Which file.
        file: PathBuf,
    },
    /// The key is of a kind rustls (ring) cannot sign with.
    UnsupportedKey {
        /// Which file.
        file: PathBuf,
        /// rustls' words.
        error: String,
    },
    /// The key's public half is not the one in the leaf certificate.
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The leaf certificate could not be parsed.
    BadCertificate {
        /// Which file.
        file: PathBuf,
        /// rustls' words.
        error: String,
    },
}

impl std::fmt::Display for TlsLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsLoadError::Unreadable { file, error } => {
                write!(f, "{}: cannot read: {error}", file.display())
            }
            TlsLoadError::NoCertificate { file } => {
                write!(f, "{}: no PEM CERTIFICATE block", file.display())
            }
            TlsLoadError::NoPrivateKey { file } => write!(
                f,
                "{}: no PEM private key (PKCS#8, RSA or EC PRIVATE KEY)",
                file.display()
            ),
            TlsLoadError::UnsupportedKey { file, error } => {
                write!(f, "{}: unsupported key: {error}", file.display())
            }
            TlsLoadError::KeyMismatch { cert, key } => write!(
                f,
                "{} does not hold the private key of the certificate in {}",
                key.display(),
                cert.display()
            ),
            TlsLoadError::BadCertificate { file, error } => {
                write!(f, "{}: bad certificate: {error}", file.display())
            }
        }
    }
}

impl std::error::Error for TlsLoadError {}

/// The crypto provider: ring, the one the rest of the gateway already uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads and checks a certificate chain and its key.
pub fn load_pair(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, TlsLoadError> {
    let read = |f: &Path| {
        std::fs::read(f).map_err(|e| TlsLoadError::Unreadable {
            file: f.to_path_buf(),
            error: e.to_string(),
        })
    };
    let cert_pem = read(cert_file)?;
    let key_pem = read(key_file)?;
    pair_from_pem(&cert_pem, &key_pem, cert_file, key_file)
}

/// [`load_pair`] on bytes already read (`cert_file`/`key_file` only name them in errors).
pub fn pair_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_file: &Path,
    key_file: &Path,
) -> Result<CertifiedKey, TlsLoadError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsLoadError::NoCertificate {
            file: cert_file.to_path_buf(),
        })?;
    if chain.is_empty() {
        return Err(TlsLoadError::NoCertificate {
            file: cert_file.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsLoadError::NoPrivateKey {
        file: key_file.to_path_buf(),
    })?;
    let signing = provider().key_provider.load_private_key(key).map_err(|e| {
        TlsLoadError::UnsupportedKey {
            file: key_file.to_path_buf(),
            error: e.to_string(),
        }
    })?;
    let ck = CertifiedKey::new(chain, signing);
    // RFC 8446 §4.4.2: the peer checks our signature against the leaf's key; a mismatch would
    // fail every handshake, so refuse it here, before it replaces a working pair.
    match ck.keys_match() {
        Ok(()) => Ok(ck),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsLoadError::KeyMismatch {
                cert: cert_file.to_path_buf(),
                key: key_file.to_path_buf(),
            })
        }
        // ring exposes the public half of every key type it loads; "unknown" is not a mismatch.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(ck),
        Err(e) => Err(TlsLoadError::BadCertificate {
            file: cert_file.to_path_buf(),
            error: e.to_string(),
        }),
    }
}

/// The resolver rustls asks at each handshake: one pair, swappable.
#[derive(Debug)]
pub struct SwappableCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl SwappableCert {
    /// Starts with `ck`.
    pub fn new(ck: CertifiedKey) -> SwappableCert {
        SwappableCert {
            current: RwLock::new(Arc::new(ck)),
        }
    }

    /// Serves `ck` to new connections from now on.
    pub fn swap(&self, ck: CertifiedKey) {
        let ck = Arc::new(ck);
        match self.current.write() {
            Ok(mut g) => *g = ck,
            Err(poisoned) => *poisoned.into_inner() = ck,
        }
    }

    /// The pair served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// What one look at the files found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Nothing changed.
    Unchanged,
    /// A new pair is served.
    Reloaded,
    /// The files changed but did not load: the old pair stays.
    Failed(TlsLoadError),
}

/// The HTTPS configuration plus what reloads it.
pub struct Reloader {
    cert_file: PathBuf,
    key_file: PathBuf,
    resolver: Arc<SwappableCert>,
    config: Arc<rustls::ServerConfig>,
    seen: std::sync::Mutex<Option<Stamp>>,
}

/// (mtime, length) of both files: a renewal changes at least one of them.
type Stamp = [(Option<SystemTime>, u64); 2];

fn stamp(cert: &Path, key: &Path) -> Option<Stamp> {
    let one = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    Some([one(cert)?, one(key)?])
}

impl Reloader {
    /// Loads the pair and builds the rustls server configuration.
    pub fn new(cert_file: &Path, key_file: &Path) -> Result<Reloader, TlsLoadError> {
        let seen = stamp(cert_file, key_file);
        let ck = load_pair(cert_file, key_file)?;
        let resolver = Arc::new(SwappableCert::new(ck));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsLoadError::UnsupportedKey {
                file: key_file.to_path_buf(),
                error: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // RFC 7301: h2 first (browsers then multiplex one connection), HTTP/1.1 for the rest.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Reloader {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            resolver,
            config: Arc::new(config),
            seen: std::sync::Mutex::new(seen),
        })
    }

    /// The rustls configuration (its resolver follows reloads).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }

    /// The pair served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.resolver.current()
    }

    /// Looks at the files once: reloads if they changed since the last look.
    pub fn check(&self) -> ReloadOutcome {
        let now = stamp(&self.cert_file, &self.key_file);
        {
            let Ok(mut seen) = self.seen.lock() else {
                return ReloadOutcome::Unchanged;
            };
            if *seen == now {
                return ReloadOutcome::Unchanged;
            }
            // Remember it either way: a bad pair is reported once, not every poll.
            *seen = now;
        }
        match load_pair(&self.cert_file, &self.key_file) {
            Ok(ck) => {
                self.resolver.swap(ck);
                ReloadOutcome::Reloaded
            }
            Err(e) => ReloadOutcome::Failed(e),
        }
    }

    /// Polls every `every`, calling `on_change` for each reload or failed reload.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        every: Duration,
        on_change: impl Fn(&ReloadOutcome) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let r = me.check();
                if r != ReloadOutcome::Unchanged {
                    on_change(&r);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_PEM: &[u8] = b"not a pem file\n";

    #[test]
    fn garbage_certificate_file_is_named_in_the_error() {
        let e = pair_from_pem(NO_PEM, NO_PEM, Path::new("c.pem"), Path::new("k.pem"));
        assert_eq!(
            e.err(),
            Some(TlsLoadError::NoCertificate {
                file: PathBuf::from("c.pem")
            })
        );
    }

    #[test]
    fn missing_files_are_unreadable() {
        let e = load_pair(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        );
        assert!(matches!(e, Err(TlsLoadError::Unreadable { .. })), "{e:?}");
    }
}
