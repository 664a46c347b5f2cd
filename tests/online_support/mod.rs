//! Real peers on 127.0.0.1 for the online revocation tests: a test PKI made with the `openssl`
//! command line, `openssl ocsp` responders, and a tiny HTTP server (tokio) that proxies OCSP
//! requests to them, serves CRLs (with ETag / 304), and injects faults.
//! Missing `openssl` fails loudly. Spawned processes are killed on drop.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::time::UnixTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64,
    )
}

#[track_caller]
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is required for these tests and could not run: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serial numbers of the test leaves.
pub const GOOD: &str = "1001";
pub const REVOKED: &str = "1002";
pub const UNKNOWN: &str = "1003";
pub const HELD: &str = "1004";
/// Revoked only by the delta CRL.
pub const DELTA_REVOKED: &str = "1005";

/// The test PKI (files in a folder under target/tmp), made once per test binary. The leaves'
/// AIA and CDP point at `http://127.0.0.1:1/` (never used: tests pass URLs explicitly) except
/// where a test makes its own.
pub struct Pki {
    pub dir: PathBuf,
}

static PKI: OnceLock<Pki> = OnceLock::new();

fn index_line(status: char, serial: &str, revoked: Option<&str>, cn: &str) -> String {
    format!(
        "{status}\t301231235959Z\t{}\t{serial}\tunknown\t/CN={cn}\n",
        revoked.unwrap_or("")
    )
}

impl Pki {
    pub fn get() -> &'static Pki {
        PKI.get_or_init(Pki::make)
    }

    fn make() -> Pki {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("online-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki dir");
        let d = dir.as_path();
        std::fs::write(
            d.join("ext.cnf"),
            "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n\
             [leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nauthorityKeyIdentifier=keyid\n\
             authorityInfoAccess=OCSP;URI:http://127.0.0.1:1/ocsp\ncrlDistributionPoints=URI:http://127.0.0.1:1/full.crl\n\
             [responder]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n\
             authorityKeyIdentifier=keyid\n1.3.6.1.5.5.7.48.1.5=DER:05:00\n",
        )
        .expect("ext");
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "30",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=Online Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "30",
                "-keyout",
                "other.key",
                "-out",
                "other.pem",
                "-subj",
                "/CN=Other CA",
            ],
        );
        openssl(d, &["genrsa", "-out", "leaf.key", "2048"]);
        for (serial, cn, ext, key) in [
            (GOOD, "good", "leaf", "leaf.key"),
            (REVOKED, "revoked", "leaf", "leaf.key"),
            (UNKNOWN, "unknown", "leaf", "leaf.key"),
            (HELD, "held", "leaf", "leaf.key"),
            (DELTA_REVOKED, "delta", "leaf", "leaf.key"),
            ("2001", "responder", "responder", "leaf.key"),
        ] {
            openssl(
                d,
                &[
                    "req",
                    "-new",
                    "-key",
                    key,
                    "-subj",
                    &format!("/CN={cn}"),
                    "-out",
                    &format!("{cn}.csr"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{cn}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-set_serial",
                    &format!("0x{serial}"),
                    "-days",
                    "10",
                    "-sha256",
                    "-extfile",
                    "ext.cnf",
                    "-extensions",
                    ext,
                    "-out",
                    &format!("{cn}.pem"),
                ],
            );
        }
        // OCSP index: good and held valid... held revoked with certificateHold; unknown absent.
        let mut index = String::new();
        index += &index_line('V', GOOD, None, "good");
        index += &index_line('R', REVOKED, Some("240101000000Z,keyCompromise"), "revoked");
        index += &index_line('R', HELD, Some("240101000000Z,certificateHold"), "held");
        index += &index_line('V', DELTA_REVOKED, None, "delta");
        std::fs::write(d.join("index.txt"), &index).expect("index");
        std::fs::write(d.join("index.txt.attr"), "unique_subject = no\n").expect("attr");
        // Full CRL #5 (revoked + held), delta #6 on base 5 (delta-revoked, held lifted).
        Pki::gencrl(d, "full.crl", "index.txt", 5, None, 24);
        let mut delta_index = String::new();
        delta_index += &index_line(
            'R',
            DELTA_REVOKED,
            Some("250101000000Z,superseded"),
            "delta",
        );
        delta_index += &index_line('R', HELD, Some("250101000000Z,removeFromCRL"), "held");
        std::fs::write(d.join("delta-index.txt"), &delta_index).expect("delta index");
        Pki::gencrl(d, "delta.crl", "delta-index.txt", 6, Some(5), 8);
        // A delta on base 9, which no full CRL has: "delta without its base".
        Pki::gencrl(d, "orphan-delta.crl", "delta-index.txt", 10, Some(9), 8);
        // Signed by the wrong key (Other CA's key but our CA's name): bad signature.
        Pki::gencrl(d, "badsig-src.crl", "index.txt", 7, None, 24);
        openssl(
            d,
            &[
                "crl",
                "-in",
                "badsig-src.crl",
                "-outform",
                "DER",
                "-out",
                "badsig-src.der",
            ],
        );
        let mut bad = std::fs::read(d.join("badsig-src.der")).expect("der");
        if let Some(last) = bad.last_mut() {
            *last ^= 0x01;
        }
        std::fs::write(d.join("badsig.crl"), bad).expect("badsig");
        // A newer full CRL #8 listing the delta-revoked cert too.
        let mut newer = index.clone();
        newer = newer.replace(
            &index_line('V', DELTA_REVOKED, None, "delta"),
            &index_line(
                'R',
                DELTA_REVOKED,
                Some("250101000000Z,superseded"),
                "delta",
            ),
        );
        std::fs::write(d.join("index8.txt"), newer).expect("index8");
        std::fs::write(d.join("index8.txt.attr"), "unique_subject = no\n").expect("attr");
        Pki::gencrl(d, "full8.crl", "index8.txt", 8, None, 24);
        Pki { dir }
    }

    fn gencrl(d: &Path, out: &str, index: &str, number: u32, base: Option<u32>, hours: u32) {
        Pki::gencrl_with(d, out, index, number, base, hours, "ca.key", "ca.pem");
    }

    #[allow(clippy::too_many_arguments)]
    fn gencrl_with(
        d: &Path,
        out: &str,
        index: &str,
        number: u32,
        base: Option<u32>,
        hours: u32,
        key: &str,
        cert: &str,
    ) {
        let cnf = format!("{out}.cnf");
        let delta = match base {
            Some(b) => format!("2.5.29.27=critical,DER:02:01:{b:02x}\n"),
            None => String::new(),
        };
        std::fs::write(
            d.join(&cnf),
            format!(
                "[ca]\ndefault_ca=CA_default\n[CA_default]\ndatabase={index}\ncrlnumber={out}.num\n\
                 default_md=sha256\ncrl_extensions=crl_ext\n[crl_ext]\nauthorityKeyIdentifier=keyid:always\n{delta}"
            ),
        )
        .expect("cnf");
        std::fs::write(d.join(format!("{out}.num")), format!("{number:02X}\n")).expect("num");
        if !d.join(format!("{index}.attr")).exists() {
            std::fs::write(d.join(format!("{index}.attr")), "unique_subject = no\n").expect("attr");
        }
        openssl(
            d,
            &[
                "ca",
                "-config",
                &cnf,
                "-gencrl",
                "-keyfile",
                key,
                "-cert",
                cert,
                "-crlhours",
                &hours.to_string(),
                "-out",
                out,
            ],
        );
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn cert(&self, name: &str) -> Certificate {
        Certificate::parse(&self.bytes(name)).expect("certificate")
    }

    pub fn ca(&self) -> Certificate {
        self.cert("ca.pem")
    }
}

/// An `openssl ocsp` responder process, killed on drop.
pub struct Responder {
    child: Child,
    pub port: u16,
}

impl Responder {
    /// Starts a responder over the PKI index, signed by `signer` (a cert file in the PKI) with
    /// `key`; `extra` adds flags (e.g. `-nmin 1`).
    pub fn start(pki: &Pki, signer: &str, key: &str, extra: &[&str]) -> Responder {
        let mut child = Command::new("openssl")
            .current_dir(&pki.dir)
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                "0",
                "-rsigner",
                signer,
                "-rkey",
                key,
                "-CA",
                "ca.pem",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("openssl is required for these tests: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ACCEPT line");
        // "ACCEPT [::]:35283 PID=25492" or "ACCEPT 0.0.0.0:35283 ..."
        let port = line
            .split_whitespace()
            .nth(1)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected openssl ocsp output: {line:?}"));
        Responder { child, port }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fault the test server injects.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Behave.
    None,
    /// Answer 500.
    Status(u16),
    /// 200 with bytes that are not OCSP / not a CRL.
    Garbage,
    /// OCSP tryLater.
    TryLater,
    /// Sleep this long before answering.
    Slow(Duration),
    /// Answer with the previous OCSP response (wrong nonce).
    Replay,
    /// Promise more bytes than sent, then close.
    Truncated,
}

#[derive(Default)]
struct State {
    /// Path → OCSP responder port.
    ocsp: HashMap<String, u16>,
    /// Path → CRL bytes.
    files: HashMap<String, Vec<u8>>,
    /// Path → fault.
    faults: HashMap<String, Fault>,
    /// Path → requests seen.
    hits: HashMap<String, u64>,
    /// Path → 304s sent.
    not_modified: HashMap<String, u64>,
    last_ocsp: Option<Vec<u8>>,
    user_agents: Vec<String>,
}

/// The in-test HTTP server.
#[derive(Clone)]
pub struct Server {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    break;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        Server { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn ocsp(&self, path: &str, responder_port: u16) {
        self.state
            .lock()
            .expect("state")
            .ocsp
            .insert(path.into(), responder_port);
    }

    pub fn file(&self, path: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .expect("state")
            .files
            .insert(path.into(), bytes);
    }

    pub fn fault(&self, path: &str, f: Fault) {
        self.state
            .lock()
            .expect("state")
            .faults
            .insert(path.into(), f);
    }

    pub fn hits(&self, path: &str) -> u64 {
        *self
            .state
            .lock()
            .expect("state")
            .hits
            .get(path)
            .unwrap_or(&0)
    }

    pub fn not_modified(&self, path: &str) -> u64 {
        *self
            .state
            .lock()
            .expect("state")
            .not_modified
            .get(path)
            .unwrap_or(&0)
    }

    pub fn user_agents(&self) -> Vec<String> {
        self.state.lock().expect("state").user_agents.clone()
    }
}

fn etag(b: &[u8]) -> String {
    let h = b.iter().fold(0xcbf29ce484222325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100000001b3)
    });
    format!("\"{h:016x}\"")
}

async fn serve(mut sock: tokio::net::TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = buf[head_end..].to_vec();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (fault, ocsp_port, file) = {
        let mut s = st.lock().expect("state");
        *s.hits.entry(path.clone()).or_default() += 1;
        s.user_agents
            .push(headers.get("user-agent").cloned().unwrap_or_default());
        (
            s.faults.get(&path).cloned().unwrap_or(Fault::None),
            s.ocsp.get(&path).copied(),
            s.files.get(&path).cloned(),
        )
    };
    let respond = |status: &str, ctype: &str, body: &[u8], extra: &str| {
        let mut r = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let out = match fault {
        Fault::Status(code) => respond(&format!("{code} Fault"), "text/plain", b"fault", ""),
        Fault::Garbage => respond("200 OK", "text/html", b"<html>captive portal</html>", ""),
        Fault::TryLater => respond(
            "200 OK",
            "application/ocsp-response",
            &[0x30, 0x03, 0x0a, 0x01, 0x03],
            "",
        ),
        Fault::Truncated => {
            let data = file.unwrap_or_else(|| vec![0u8; 1000]);
            let half = &data[..data.len() / 2];
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                data.len()
            )
            .into_bytes();
            r.extend_from_slice(half);
            r
        }
        Fault::Replay => {
            let last = st
                .lock()
                .expect("state")
                .last_ocsp
                .clone()
                .unwrap_or_default();
            respond("200 OK", "application/ocsp-response", &last, "")
        }
        Fault::Slow(d) => {
            tokio::time::sleep(d).await;
            normal(
                &method, &path, &headers, body, ocsp_port, file, &st, &respond,
            )
            .await
        }
        Fault::None => {
            normal(
                &method, &path, &headers, body, ocsp_port, file, &st, &respond,
            )
            .await
        }
    };
    sock.write_all(&out).await?;
    sock.shutdown().await
}

type Respond = dyn Fn(&str, &str, &[u8], &str) -> Vec<u8> + Sync;

#[allow(clippy::too_many_arguments)]
async fn normal(
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    body: Vec<u8>,
    ocsp_port: Option<u16>,
    file: Option<Vec<u8>>,
    st: &Arc<Mutex<State>>,
    respond: &Respond,
) -> Vec<u8> {
    if let (Some(port), "POST") = (ocsp_port, method) {
        let client = reqwest::Client::new();
        let resp = client
            .post(format!("http://127.0.0.1:{port}/"))
            .header("Content-Type", "application/ocsp-request")
            .body(body)
            .send()
            .await;
        return match resp {
            Ok(r) => {
                let bytes = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                st.lock().expect("state").last_ocsp = Some(bytes.clone());
                respond("200 OK", "application/ocsp-response", &bytes, "")
            }
            Err(_) => respond("502 Bad Gateway", "text/plain", b"responder down", ""),
        };
    }
    match file {
        Some(data) => {
            let tag = etag(&data);
            if headers.get("if-none-match") == Some(&tag) {
                *st.lock()
                    .expect("state")
                    .not_modified
                    .entry(path.to_string())
                    .or_default() += 1;
                return b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_vec();
            }
            respond(
                "200 OK",
                "application/pkix-crl",
                &data,
                &format!("ETag: {tag}\r\n"),
            )
        }
        None => respond("404 Not Found", "text/plain", b"not found", ""),
    }
}
