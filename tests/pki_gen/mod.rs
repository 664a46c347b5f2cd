//! A scenario PKI generated at test time with the real OpenSSL CLI (`openssl ca`, `openssl ocsp`),
//! in a unique folder under `std::env::temp_dir()`.
//!
//! The scenario PKI is built once per test binary run (a `OnceLock` in the test file).
//! Certificate validity and CRL thisUpdate/nextUpdate are pinned (`openssl ca -startdate/-enddate`,
//! `-crl_lastupdate/-crl_nextupdate`, supported since OpenSSL 3.0), so every scenario validates
//! at the fixed time [`AT`]. OCSP responses cannot be pinned (`openssl ocsp` stamps thisUpdate
//! with the real clock): they get `-ndays 3650`, so they are fresh at [`AT`] as long as the real
//! clock is before it (checked, with a clear message).
//!
//! If `openssl` is missing the generator panics with a clear message: these tests never skip.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::time::UnixTime;

/// The pinned validation time of every scenario.
pub const AT: &str = "2030-06-15T12:00:00Z";

/// Default validity of certificates that should be valid at [`AT`].
pub const NOT_BEFORE: &str = "20240101000000Z";
/// Default notAfter.
pub const NOT_AFTER: &str = "20450101000000Z";

/// The validation time as a [`UnixTime`].
pub fn at() -> UnixTime {
    UnixTime::parse_rfc3339(AT).expect("AT is RFC 3339")
}

/// Runs `openssl args...` in `cwd`, panicking with its stderr on failure.
#[track_caller]
pub fn openssl(cwd: &Path, args: &[&str]) -> Vec<u8> {
    let out = match Command::new("openssl").args(args).current_dir(cwd).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "the `openssl` CLI was not found on PATH: the path scenario tests generate their \
             PKI with it and must not be skipped (install OpenSSL 3.x, e.g. apt-get install openssl)"
        ),
        Err(e) => panic!("running openssl {args:?}: {e}"),
    };
    assert!(
        out.status.success(),
        "openssl {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write(p: &Path, contents: impl AsRef<[u8]>) {
    std::fs::write(p, contents).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Key algorithms the generator makes.
#[derive(Clone, Copy, Debug)]
pub enum KeyAlg {
    /// RSA with this many bits.
    Rsa(u32),
    /// ECDSA P-256.
    P256,
}

/// A certificate authority: its own `openssl ca` database (index.txt, serial, crlnumber).
#[derive(Clone, Debug)]
pub struct Ca {
    /// Folder with the database and config.
    pub dir: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// Certificate (PEM).
    pub cert: PathBuf,
    /// `openssl ca` config.
    pub config: PathBuf,
}

/// Certificate options for one issuance.
pub struct Issue<'a> {
    /// Name to store the certificate under.
    pub id: &'a str,
    /// `-subj` string (`/CN=.../O=...`).
    pub subj: &'a str,
    /// Key of the subject.
    pub key: &'a Path,
    /// Body of the `[ext]` section.
    pub ext: &'a str,
    /// notBefore, YYYYMMDDHHMMSSZ.
    pub start: &'a str,
    /// notAfter.
    pub end: &'a str,
    /// Signature digest.
    pub md: &'a str,
}

/// The generator: a temp folder and a counter for unique serials.
pub struct Gen {
    /// Root folder of everything generated.
    pub dir: PathBuf,
    next_ca: u32,
    /// Generated files by id.
    pub files: HashMap<String, PathBuf>,
}

impl Gen {
    /// A new unique folder under the system temp dir.
    pub fn new() -> Gen {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("eds-path-scenarios-{}-{nanos}", std::process::id()));
        remove_stale_dirs();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let version = openssl(&dir, &["version"]);
        let version = String::from_utf8_lossy(&version);
        assert!(
            version.starts_with("OpenSSL 3."),
            "the scenario PKI needs OpenSSL 3.x (ca -crl_lastupdate), found {version}"
        );
        Gen {
            dir,
            next_ca: 1,
            files: HashMap::new(),
        }
    }

    /// Path of a new file in the work folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Registers an output under `id`.
    fn put(&mut self, id: &str, p: PathBuf) -> PathBuf {
        let old = self.files.insert(id.to_string(), p.clone());
        assert!(old.is_none(), "duplicate generated id {id}");
        p
    }

    /// Generates a private key.
    pub fn key(&mut self, id: &str, alg: KeyAlg) -> PathBuf {
        let out = self.file(&format!("{id}.key"));
        match alg {
            KeyAlg::Rsa(bits) => {
                let opt = format!("rsa_keygen_bits:{bits}");
                openssl(
                    &self.dir,
                    &[
                        "genpkey",
                        "-algorithm",
                        "RSA",
                        "-pkeyopt",
                        &opt,
                        "-out",
                        s(&out),
                    ],
                );
            }
            KeyAlg::P256 => {
                openssl(
                    &self.dir,
                    &[
                        "genpkey",
                        "-algorithm",
                        "EC",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-out",
                        s(&out),
                    ],
                );
            }
        }
        self.put(id, out)
    }

    fn new_ca_dir(&mut self, id: &str, key: &Path) -> Ca {
        let dir = self.file(&format!("ca-{id}"));
        std::fs::create_dir_all(dir.join("newcerts")).expect("mkdir ca");
        write(&dir.join("index.txt"), "");
        write(&dir.join("index.txt.attr"), "unique_subject = no\n");
        // Unique serials across CAs: the CA number in the top bits.
        write(
            &dir.join("serial"),
            format!("{:04X}000000000001\n", self.next_ca),
        );
        write(&dir.join("crlnumber"), "1000\n");
        self.next_ca += 1;
        let cert = dir.join("ca.pem");
        let config = dir.join("ca.cnf");
        write(
            &config,
            format!(
                "[ca]\ndefault_ca = CA_default\n\
                 [CA_default]\n\
                 dir = {d}\n\
                 database = {d}/index.txt\n\
                 new_certs_dir = {d}/newcerts\n\
                 serial = {d}/serial\n\
                 crlnumber = {d}/crlnumber\n\
                 certificate = {c}\n\
                 private_key = {k}\n\
                 default_md = sha256\n\
                 policy = pol\n\
                 unique_subject = no\n\
                 default_crl_days = 30\n\
                 [pol]\ncommonName = optional\n\
                 [crl_ext]\nauthorityKeyIdentifier = keyid:always\n",
                d = s(&dir),
                c = s(&cert),
                k = s(key),
            ),
        );
        Ca {
            dir,
            key: key.to_path_buf(),
            cert,
            config,
        }
    }

    fn csr(&self, id: &str, subj: &str, key: &Path) -> PathBuf {
        let csr = self.file(&format!("{id}.csr"));
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-utf8",
                "-key",
                s(key),
                "-subj",
                subj,
                "-out",
                s(&csr),
            ],
        );
        csr
    }

    fn sign(&mut self, ca: &Ca, i: &Issue<'_>, selfsign: bool) -> PathBuf {
        let csr = self.csr(i.id, i.subj, i.key);
        let extfile = self.file(&format!("{}.ext", i.id));
        write(&extfile, format!("[ext]\n{}\n", i.ext));
        let out = self.file(&format!("{}.pem", i.id));
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-utf8",
            "-preserveDN",
            "-config",
            s(&ca.config),
            "-in",
            s(&csr),
            "-out",
            s(&out),
            "-startdate",
            i.start,
            "-enddate",
            i.end,
            "-md",
            i.md,
            "-extfile",
            s(&extfile),
            "-extensions",
            "ext",
        ];
        if selfsign {
            args.extend(["-selfsign", "-keyfile", s(i.key)]);
        }
        openssl(&self.dir, &args);
        self.put(i.id, out)
    }

    /// A self-signed root CA.
    pub fn root(&mut self, i: &Issue<'_>) -> Ca {
        let ca = self.new_ca_dir(i.id, i.key);
        let pem = self.sign(&ca, i, true);
        std::fs::copy(&pem, &ca.cert).expect("copy root cert");
        ca
    }

    /// A certificate issued by `ca`.
    pub fn issue(&mut self, ca: &Ca, i: &Issue<'_>) -> PathBuf {
        self.sign(ca, i, false)
    }

    /// A certificate issued by `ca` that can itself issue (its own database).
    pub fn sub_ca(&mut self, ca: &Ca, i: &Issue<'_>) -> Ca {
        let pem = self.sign(ca, i, false);
        let sub = self.new_ca_dir(i.id, i.key);
        std::fs::copy(&pem, &sub.cert).expect("copy ca cert");
        sub
    }

    /// A CA database for an existing certificate (a second issuer with the same name/key).
    pub fn ca_for(&mut self, id: &str, cert: &Path, key: &Path) -> Ca {
        let ca = self.new_ca_dir(id, key);
        std::fs::copy(cert, &ca.cert).expect("copy ca cert");
        ca
    }

    /// Revokes `cert` in `ca`'s database; `how` is `openssl ca` arguments (`-crl_reason X`).
    pub fn revoke(&self, ca: &Ca, cert: &Path, how: &[&str]) {
        let mut args = vec!["ca", "-config", s(&ca.config), "-revoke", s(cert)];
        args.extend(how);
        openssl(&self.dir, &args);
    }

    /// A CRL of `ca`'s database with pinned lastUpdate / nextUpdate.
    pub fn crl(&mut self, id: &str, ca: &Ca, last: &str, next: &str) -> PathBuf {
        let out = self.file(&format!("{id}.crl.pem"));
        openssl(
            &self.dir,
            &[
                "ca",
                "-gencrl",
                "-config",
                s(&ca.config),
                "-crlexts",
                "crl_ext",
                "-crl_lastupdate",
                last,
                "-crl_nextupdate",
                next,
                "-out",
                s(&out),
            ],
        );
        self.put(id, out)
    }

    /// An OCSP request for `cert` issued by `issuer`; returns (path, nonce if any).
    pub fn ocsp_request(
        &mut self,
        id: &str,
        issuer: &Path,
        cert: &Path,
        nonce: bool,
    ) -> (PathBuf, Option<Vec<u8>>) {
        let out = self.file(&format!("{id}.req.der"));
        openssl(
            &self.dir,
            &[
                "ocsp",
                "-sha256",
                "-issuer",
                s(issuer),
                "-cert",
                s(cert),
                if nonce { "-nonce" } else { "-no_nonce" },
                "-reqout",
                s(&out),
            ],
        );
        let der = std::fs::read(&out).expect("read OCSP request");
        let n = if nonce {
            Some(extract_nonce(&der).expect("the request carries a nonce"))
        } else {
            None
        };
        (self.put(id, out), n)
    }

    /// An OCSP response to `req` from `index` (a CA's index.txt, or an empty one), signed by
    /// `signer_cert`/`signer_key`, about certificates of `issuer`.
    pub fn ocsp_response(
        &mut self,
        id: &str,
        req: &Path,
        index: &Path,
        issuer: &Path,
        signer_cert: &Path,
        signer_key: &Path,
    ) -> PathBuf {
        let out = self.file(&format!("{id}.resp.der"));
        openssl(
            &self.dir,
            &[
                "ocsp",
                "-index",
                s(index),
                "-CA",
                s(issuer),
                "-rsigner",
                s(signer_cert),
                "-rkey",
                s(signer_key),
                "-rmd",
                "sha256",
                "-reqin",
                s(req),
                "-ndays",
                "3650",
                "-respout",
                s(&out),
            ],
        );
        self.put(id, out)
    }
}

/// Removes the folders of earlier runs whose process is gone (Linux: no `/proc/<pid>`); the
/// folders of a live run (another test binary, another engineer) are left alone.
fn remove_stale_dirs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("eds-path-scenarios-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().filter(|p| p.parse::<u32>().is_ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The nonce inside an OCSP request: the id-pkix-ocsp-nonce extension's extnValue holds
/// OCTET STRING { nonce } (OpenSSL's encoding). Returns the inner bytes.
pub fn extract_nonce(der: &[u8]) -> Option<Vec<u8>> {
    const OID: [u8; 11] = [
        0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02,
    ];
    let pos = der.windows(OID.len()).position(|w| w == OID)? + OID.len();
    let rest = der.get(pos..)?;
    // Outer extnValue OCTET STRING (short form lengths: nonces are 16 bytes).
    if rest.first()? != &0x04 {
        return None;
    }
    let inner = rest.get(2..)?;
    if inner.first()? != &0x04 {
        return Some(inner.get(..usize::from(*rest.get(1)?))?.to_vec());
    }
    let len = usize::from(*inner.get(1)?);
    Some(inner.get(2..2 + len)?.to_vec())
}

/// Reads and parses a generated certificate.
#[track_caller]
pub fn load_cert(p: &Path) -> Certificate {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    Certificate::parse(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", p.display()))
}
