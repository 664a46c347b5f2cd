//! Verification-core benchmarks (BENCHMARKS.md): certificate parsing, 3-certificate RSA path
//! validation, RSA CMS login verification and CRL lookups, each next to the raw cost of the
//! signature verifications it performs (ring, called directly on the same bytes).
//!
//! `cargo bench --bench verify` runs the criterion groups, then an interleaved timing loop that
//! measures each operation and its anchor alternately in the same process and prints the
//! ratios (criterion does not compute ratios, and on a shared machine only ratios measured side
//! by side mean anything). `cargo bench --bench verify -- FILTER` limits both parts.
//!
//! Inputs: the NCA fixtures in the shared folder (`../shared` beside the repository, or
//! `$EDS_SHARED_DIR`), and a root RSA-4096 → intermediate RSA-4096 → leaf RSA-2048 chain, a CMS
//! login signed with the leaf key and a 50,000-entry CRL, all made with `openssl` at start in a
//! temporary folder. A missing fixture or a failing `openssl` stops the bench with an error
//! (exit code 2): nothing is skipped silently.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::Criterion;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey, VerificationAlgorithm};

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::cms::{self, SignedData};
use eds_gateway::pki::crl::{self, Crl, CrlStatus};
use eds_gateway::pki::path::{self, ValidationOptions};
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::pki::time::UnixTime;

const RSA_LEAF: &str = "certs/rsa-2021-2022/individual_sign_rsa_2021.pem";
const GOST_LEAF: &str = "certs/gost2015-2026/individual_valid.pem";
const NCA_CMS: &str = "cms/dk_personal_active_AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d_attached_asdasd.p7s";
const NCA_CMS_ANCHOR: &str = "ca/test/nca_rsa_test_2019.pem";
/// Revoked serials in the generated CRL.
const CRL_ENTRIES: usize = 50_000;

/// Stops the bench with a message: a benchmark that cannot run must not look like one that ran.
fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("bench verify: {msg}");
    std::process::exit(2)
}

fn shared_nca() -> PathBuf {
    let shared = std::env::var_os("EDS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let nca = shared.join("fixtures/nca");
    if !nca.is_dir() {
        fail(format!(
            "shared fixtures not found at {} (set EDS_SHARED_DIR to the folder holding fixtures/)",
            nca.display()
        ));
    }
    nca
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| fail(format!("fixture {}: {e}", path.display())))
}

fn cert_from(path: &Path) -> Certificate {
    Certificate::parse(&read(path))
        .unwrap_or_else(|e| fail(format!("parsing {}: {e}", path.display())))
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| fail(format!("running openssl: {e} (is it installed?)")));
    if !out.status.success() {
        fail(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|e| fail(format!("clock before 1970: {e}")))
        .as_secs();
    i64::try_from(secs).unwrap_or_else(|e| fail(e))
}

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[inter_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = clientAuth,emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ca]
default_ca = bench_ca
[bench_ca]
database = index.txt
crlnumber = crlnumber
unique_subject = no
default_md = sha256
default_crl_days = 30
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
";

/// Everything `openssl` makes at start.
struct Generated {
    dir: PathBuf,
    root: Certificate,
    inter: Certificate,
    leaf: Certificate,
    cms: Vec<u8>,
    crl_der: Vec<u8>,
    /// A serial listed in the CRL (content octets).
    revoked_serial: Vec<u8>,
    /// Serials to look up: half listed, half not.
    probes: Vec<Vec<u8>>,
}

impl Drop for Generated {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A deterministic 20-octet positive serial (NCA's serials are 20 octets).
fn serial(i: u64) -> [u8; 20] {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = [0u8; 20];
    for chunk in out.chunks_mut(8) {
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        let b = x.to_be_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    out[0] = (out[0] & 0x3f) | 0x10; // positive, no leading zero octet
    out
}

fn generate() -> Generated {
    let dir = std::env::temp_dir().join(format!("eds-bench-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("{}: {e}", dir.display())));
    let write = |name: &str, data: &[u8]| {
        std::fs::write(dir.join(name), data).unwrap_or_else(|e| fail(format!("{name}: {e}")));
    };
    write("bench.cnf", OPENSSL_CNF.as_bytes());
    let d = dir.as_path();
    let started = Instant::now();
    eprintln!(
        "bench verify: generating the RSA chain, CMS and CRL with openssl in {}",
        d.display()
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-config",
            "bench.cnf",
            "-newkey",
            "rsa:4096",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "3650",
            "-sha256",
            "-subj",
            "/C=KZ/CN=Bench Root RSA",
            "-extensions",
            "root_ext",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-config",
            "bench.cnf",
            "-newkey",
            "rsa:4096",
            "-nodes",
            "-keyout",
            "inter.key",
            "-out",
            "inter.csr",
            "-subj",
            "/C=KZ/CN=Bench Intermediate RSA",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "inter.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-set_serial",
            "0x1001",
            "-days",
            "3000",
            "-sha256",
            "-extfile",
            "bench.cnf",
            "-extensions",
            "inter_ext",
            "-out",
            "inter.pem",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-config",
            "bench.cnf",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/C=KZ/CN=TESTOV TEST/serialNumber=IIN123456789011",
        ],
    );
    let leaf_serial = format!("0x{}", hex::encode(serial(u64::MAX)));
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "inter.pem",
            "-CAkey",
            "inter.key",
            "-set_serial",
            &leaf_serial,
            "-days",
            "365",
            "-sha256",
            "-extfile",
            "bench.cnf",
            "-extensions",
            "leaf_ext",
            "-out",
            "leaf.pem",
        ],
    );
    // A 64-byte login challenge signed as the gateway's login page would have NCALayer do it.
    write("challenge.bin", &[0x5a; 64]);
    openssl(
        d,
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-md",
            "sha256",
            "-in",
            "challenge.bin",
            "-signer",
            "leaf.pem",
            "-inkey",
            "leaf.key",
            "-outform",
            "DER",
            "-out",
            "login.p7s",
        ],
    );
    // The CRL: openssl's CA database written directly (one `openssl ca -revoke` per serial would
    // take hours), then one -gencrl.
    let mut index = String::with_capacity(CRL_ENTRIES * 80);
    for i in 0..CRL_ENTRIES as u64 {
        let reason = if i % 3 == 0 { ",keyCompromise" } else { "" };
        index.push_str(&format!(
            "R\t351231235959Z\t240101000000Z{reason}\t{}\tunknown\t/CN=x{i}\n",
            hex::encode_upper(serial(i))
        ));
    }
    write("index.txt", index.as_bytes());
    write("crlnumber", b"1000\n");
    openssl(
        d,
        &[
            "ca",
            "-config",
            "bench.cnf",
            "-gencrl",
            "-keyfile",
            "inter.key",
            "-cert",
            "inter.pem",
            "-out",
            "big.crl",
        ],
    );
    openssl(
        d,
        &[
            "crl",
            "-in",
            "big.crl",
            "-outform",
            "DER",
            "-out",
            "big.crl.der",
        ],
    );
    eprintln!(
        "bench verify: generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let probes = (0..1024u64)
        .map(|k| {
            // Even k: a listed serial; odd k: one that is not listed.
            let i = if k % 2 == 0 {
                k * 37 % CRL_ENTRIES as u64
            } else {
                1_000_000 + k
            };
            serial(i).to_vec()
        })
        .collect();
    Generated {
        root: cert_from(&d.join("root.pem")),
        inter: cert_from(&d.join("inter.pem")),
        leaf: cert_from(&d.join("leaf.pem")),
        cms: read(&d.join("login.p7s")),
        crl_der: read(&d.join("big.crl.der")),
        revoked_serial: serial(CRL_ENTRIES as u64 / 2).to_vec(),
        probes,
        dir,
    }
}

/// ring, directly: the cost floor of one RSA PKCS#1 v1.5 SHA-256 verification (this includes
/// ring's parsing of the RSAPublicKey and the SHA-256 of the message, as any verification does).
fn raw_verify(issuer_key: &[u8], message: &[u8], signature: &[u8]) {
    let alg: &'static dyn VerificationAlgorithm = &RSA_PKCS1_2048_8192_SHA256;
    UnparsedPublicKey::new(alg, issuer_key)
        .verify(message, signature)
        .unwrap_or_else(|_| fail("raw ring verification failed: the anchor measures nothing"));
}

/// The raw verification of a certificate's signature by its issuer.
fn raw_verify_cert(cert: &Certificate, issuer: &Certificate) {
    raw_verify(&issuer.public_key, cert.tbs_der(), &cert.signature);
}

/// A CMS login as the gateway does it: parse, verify the signer's signature, validate the
/// signer's certificate path at its signing time (the CLI's `verify cms --at-signing-time`).
/// No revocation here: revocation evidence is benchmarked separately (CRL).
fn cms_login(
    input: &[u8],
    anchors: &[Certificate],
    pool: &[Certificate],
    policy: &SignaturePolicy,
) {
    let sd = SignedData::parse(input).unwrap_or_else(|e| fail(format!("CMS parse: {e}")));
    let verdicts = cms::verify_signers(&sd, None, pool, policy)
        .unwrap_or_else(|e| fail(format!("CMS verify: {e}")));
    for v in &verdicts {
        if let Err(e) = &v.result {
            fail(format!("CMS signer {}: {e}", v.index));
        }
        let cert = v
            .certificate
            .as_ref()
            .unwrap_or_else(|| fail("CMS signer certificate not found"));
        let at = v
            .signing_time
            .unwrap_or_else(|| fail("CMS signer has no signing time"));
        let mut opts = ValidationOptions::at(at);
        opts.signature = *policy;
        let vp = path::build_and_validate(cert, anchors, pool, &opts, &mut |_| Ok(()))
            .unwrap_or_else(|e| fail(format!("CMS signer path: {e}")));
        black_box(vp.certs.len());
    }
}

/// The bytes a CMS signer's signature covers, its signature and its certificate.
fn cms_signed_parts(input: &[u8]) -> (Vec<u8>, Vec<u8>, Certificate) {
    let sd = SignedData::parse(input).unwrap_or_else(|e| fail(format!("CMS parse: {e}")));
    let s = sd
        .signers
        .first()
        .unwrap_or_else(|| fail("CMS without signers"));
    let cert = sd
        .certificates
        .iter()
        .find(|c| s.sid.matches(c))
        .cloned()
        .unwrap_or_else(|| fail("CMS signer certificate not embedded"));
    let attrs = s
        .signed_attributes_der()
        .unwrap_or_else(|| fail("CMS signer without signed attributes"))
        .to_vec();
    (attrs, s.signature.clone(), cert)
}

/// A timed closure.
type Timed<'a> = Box<dyn FnMut() + 'a>;

/// One measured operation, optionally paired with its anchor (the raw verifications).
struct Pair<'a> {
    name: &'static str,
    op: Timed<'a>,
    anchor: Option<(&'static str, Timed<'a>)>,
}

/// Per-iteration time of `f` over `n` calls.
fn time_batch(f: &mut dyn FnMut(), n: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(n)
}

/// Enough calls for a batch of about `target`.
fn calibrate(f: &mut dyn FnMut(), target: Duration) -> u32 {
    f(); // warm caches
    let mut n = 1u32;
    loop {
        let per = time_batch(f, n);
        let total = per * f64::from(n);
        if total >= target.as_secs_f64() / 4.0 || n >= 1 << 24 {
            let scaled = (target.as_secs_f64() / per).ceil();
            return if scaled >= f64::from(u32::MAX) {
                u32::MAX
            } else {
                (scaled as u32).max(1)
            };
        }
        n = n.saturating_mul(4);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

fn fmt_time(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.3} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.2} µs", secs * 1e6)
    } else {
        format!("{:.1} ns", secs * 1e9)
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() - 1) as f64 * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

/// Interleaved rounds: an op batch and an anchor batch (order alternating), each batch shorter
/// than a scheduler time slice, so that on a shared machine many batches run unpreempted.
/// Reported per side: p10 and median of the per-call time over all rounds. The ratio is
/// p10(op) / p10(anchor) (the low percentile is the least disturbed by other processes), next
/// to the median of the per-round ratios as a cross-check.
fn ratios(pairs: &mut [Pair<'_>], budget: Duration, batch: Duration, max_rounds: usize) {
    println!();
    println!(
        "== ratios (interleaved, ~{:.1} ms batches per side, up to {max_rounds} rounds or {:.1} s per row)",
        batch.as_secs_f64() * 1e3,
        budget.as_secs_f64()
    );
    println!(
        "{:<30} {:>11} {:>11}  {:<40} {:>11} {:>11} {:>9} {:>9} {:>6}",
        "operation",
        "p10",
        "median",
        "anchor",
        "anchor p10",
        "anchor med",
        "ratio p10",
        "ratio med",
        "rounds"
    );
    for p in pairs.iter_mut() {
        let n_op = calibrate(&mut *p.op, batch);
        let mut op_t = Vec::new();
        let mut an_t = Vec::new();
        let mut ratio = Vec::new();
        let started = Instant::now();
        match &mut p.anchor {
            Some((aname, anchor)) => {
                let n_an = calibrate(&mut **anchor, batch);
                let mut r = 0usize;
                while r < max_rounds && (r < 10 || started.elapsed() < budget) {
                    let (o, a) = if r.is_multiple_of(2) {
                        let o = time_batch(&mut *p.op, n_op);
                        (o, time_batch(&mut **anchor, n_an))
                    } else {
                        let a = time_batch(&mut **anchor, n_an);
                        (time_batch(&mut *p.op, n_op), a)
                    };
                    op_t.push(o);
                    an_t.push(a);
                    ratio.push(o / a);
                    r += 1;
                }
                let (op10, an10) = (percentile(&mut op_t, 0.1), percentile(&mut an_t, 0.1));
                println!(
                    "{:<30} {:>11} {:>11}  {:<40} {:>11} {:>11} {:>8.3}x {:>8.3}x {:>6}",
                    p.name,
                    fmt_time(op10),
                    fmt_time(median(&mut op_t)),
                    aname,
                    fmt_time(an10),
                    fmt_time(median(&mut an_t)),
                    op10 / an10,
                    median(&mut ratio),
                    r
                );
            }
            None => {
                while op_t.len() < max_rounds && (op_t.len() < 10 || started.elapsed() < budget) {
                    op_t.push(time_batch(&mut *p.op, n_op));
                }
                let r = op_t.len();
                println!(
                    "{:<30} {:>11} {:>11}  {:<40} {:>11} {:>11} {:>9} {:>9} {:>6}",
                    p.name,
                    fmt_time(percentile(&mut op_t, 0.1)),
                    fmt_time(median(&mut op_t)),
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    r
                );
            }
        }
    }
}

/// The 1-minute load average, to show how shared the machine was during the run.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; without it (`cargo test --benches`) run everything briefly.
    let full = args.iter().any(|a| a == "--bench");
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let selected = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));

    let nca = shared_nca();
    let rsa_leaf_pem = read(&nca.join(RSA_LEAF));
    let gost_leaf_pem = read(&nca.join(GOST_LEAF));
    let nca_cms = read(&nca.join(NCA_CMS));
    let nca_anchor = vec![cert_from(&nca.join(NCA_CMS_ANCHOR))];
    let g = generate();
    let policy = SignaturePolicy::default();
    let t = UnixTime(now() + 60);
    let opts = ValidationOptions::at(t);
    let anchors = vec![g.root.clone()];
    let pool = vec![g.inter.clone()];
    let crl = Crl::parse(&g.crl_der).unwrap_or_else(|e| fail(format!("generated CRL: {e}")));
    if crl.entries().len() != CRL_ENTRIES {
        fail(format!(
            "generated CRL has {} entries, not {CRL_ENTRIES}",
            crl.entries().len()
        ));
    }
    let crls = vec![crl];

    // DER of the two leaves (certificates reach the hot path as DER, inside a CMS).
    let rsa_leaf_der = cert_from(&nca.join(RSA_LEAF)).der().to_vec();
    let gost_leaf_der = cert_from(&nca.join(GOST_LEAF)).der().to_vec();
    // Each operation must succeed once before it is timed.
    for pem in [&rsa_leaf_pem, &gost_leaf_pem] {
        Certificate::parse(pem).unwrap_or_else(|e| fail(format!("leaf fixture: {e}")));
    }
    let vp = path::build_and_validate(&g.leaf, &anchors, &pool, &opts, &mut |_| Ok(()))
        .unwrap_or_else(|e| fail(format!("generated chain: {e}")));
    if vp.certs.len() != 3 {
        fail(format!(
            "generated chain has {} certificates, not 3",
            vp.certs.len()
        ));
    }
    cms_login(&nca_cms, &nca_anchor, &[], &policy);
    cms_login(&g.cms, &anchors, &pool, &policy);
    match crl::check(&g.leaf, &g.inter, &crls, t, &policy) {
        Ok(CrlStatus::Good { .. }) => {}
        other => fail(format!("CRL check of the leaf: {other:?}")),
    }
    if crls[0].find(&g.revoked_serial).is_none() {
        fail("a listed serial was not found in the CRL");
    }

    // The anchors' inputs: exactly the bytes the verifications above cover.
    let (nca_attrs, nca_sig, nca_signer) = cms_signed_parts(&nca_cms);
    let (gen_attrs, gen_sig, gen_signer) = cms_signed_parts(&g.cms);
    if gen_signer.der() != g.leaf.der() {
        fail("the generated CMS does not embed the generated leaf");
    }
    let nca_ca = &nca_anchor[0];
    // Pre-parsed inputs for the breakdown of the NCA login (parse / verify_signers / path).
    let nca_sd = SignedData::parse(&nca_cms).unwrap_or_else(|e| fail(format!("CMS parse: {e}")));
    let nca_opts = ValidationOptions::at(
        nca_sd.signers[0]
            .signing_time()
            .ok()
            .flatten()
            .unwrap_or_else(|| fail("NCA CMS without signing time")),
    );
    let crl0 = &crls[0];
    raw_verify(&nca_signer.public_key, &nca_attrs, &nca_sig);
    raw_verify_cert(&nca_signer, nca_ca);
    raw_verify(&g.leaf.public_key, &gen_attrs, &gen_sig);
    raw_verify(&g.inter.public_key, crl0.tbs_der(), &crl0.signature);

    // ---- criterion ----
    let mut c = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    {
        let mut grp = c.benchmark_group("cert");
        grp.bench_function("parse_rsa_leaf", |b| {
            b.iter(|| Certificate::parse(black_box(&rsa_leaf_pem)))
        });
        grp.bench_function("parse_gost_leaf", |b| {
            b.iter(|| Certificate::parse(black_box(&gost_leaf_pem)))
        });
        grp.finish();
    }
    {
        let mut grp = c.benchmark_group("path");
        grp.bench_function("validate_3cert_rsa", |b| {
            b.iter(|| {
                path::build_and_validate(
                    black_box(&g.leaf),
                    &anchors,
                    &pool,
                    &opts,
                    &mut |_| Ok(()),
                )
                .map(|p| p.certs.len())
            })
        });
        grp.bench_function("anchor_2_raw_rsa4096_verifies", |b| {
            b.iter(|| {
                raw_verify_cert(black_box(&g.leaf), &g.inter);
                raw_verify_cert(black_box(&g.inter), &g.root);
            })
        });
        grp.finish();
    }
    {
        let mut grp = c.benchmark_group("cms");
        grp.bench_function("login_nca_rsa_fixture", |b| {
            b.iter(|| cms_login(black_box(&nca_cms), &nca_anchor, &[], &policy))
        });
        grp.bench_function("anchor_nca_2_raw_verifies", |b| {
            b.iter(|| {
                raw_verify(&nca_signer.public_key, black_box(&nca_attrs), &nca_sig);
                raw_verify_cert(black_box(&nca_signer), nca_ca);
            })
        });
        grp.bench_function("login_openssl_3cert", |b| {
            b.iter(|| cms_login(black_box(&g.cms), &anchors, &pool, &policy))
        });
        grp.bench_function("anchor_openssl_3_raw_verifies", |b| {
            b.iter(|| {
                raw_verify(&g.leaf.public_key, black_box(&gen_attrs), &gen_sig);
                raw_verify_cert(black_box(&g.leaf), &g.inter);
                raw_verify_cert(black_box(&g.inter), &g.root);
            })
        });
        grp.bench_function("parse_only_nca_fixture", |b| {
            b.iter(|| SignedData::parse(black_box(&nca_cms)))
        });
        grp.finish();
    }
    {
        let mut grp = c.benchmark_group("crl");
        grp.sample_size(10);
        grp.bench_function("parse_50k", |b| {
            b.iter(|| Crl::parse(black_box(&g.crl_der)).map(|c| c.entries().len()))
        });
        let mut k = 0usize;
        grp.bench_function("find_50k", |b| {
            b.iter(|| {
                k = (k + 1) % g.probes.len();
                crls[0].find(black_box(&g.probes[k])).is_some()
            })
        });
        grp.bench_function("check_50k", |b| {
            b.iter(|| crl::check(black_box(&g.leaf), &g.inter, &crls, t, &policy))
        });
        grp.bench_function("anchor_crl_raw_rsa4096_verify", |b| {
            b.iter(|| {
                raw_verify(
                    &g.inter.public_key,
                    black_box(crl0.tbs_der()),
                    &crl0.signature,
                )
            })
        });
        grp.finish();
    }
    c.final_summary();

    // ---- ratios, interleaved in this process ----
    let mut pairs: Vec<Pair<'_>> = vec![
        Pair {
            name: "cert/parse_rsa_leaf",
            op: Box::new(|| {
                black_box(Certificate::parse(black_box(&rsa_leaf_pem)).is_ok());
            }),
            anchor: Some((
                "1 raw RSA-2048 verify (context only)",
                Box::new(|| raw_verify(&nca_signer.public_key, black_box(&nca_attrs), &nca_sig)),
            )),
        },
        Pair {
            name: "cert/parse_gost_leaf",
            op: Box::new(|| {
                black_box(Certificate::parse(black_box(&gost_leaf_pem)).is_ok());
            }),
            anchor: None,
        },
        Pair {
            name: "cert/from_der_rsa_leaf",
            op: Box::new(|| {
                black_box(Certificate::from_der(black_box(rsa_leaf_der.clone())).is_ok());
            }),
            anchor: None,
        },
        Pair {
            name: "cert/from_der_gost_leaf",
            op: Box::new(|| {
                black_box(Certificate::from_der(black_box(gost_leaf_der.clone())).is_ok());
            }),
            anchor: None,
        },
        Pair {
            name: "path/validate_3cert_rsa",
            op: Box::new(|| {
                let r = path::build_and_validate(
                    black_box(&g.leaf),
                    &anchors,
                    &pool,
                    &opts,
                    &mut |_| Ok(()),
                );
                black_box(r.is_ok());
            }),
            anchor: Some((
                "2 raw RSA-4096 verifies (leaf, inter)",
                Box::new(|| {
                    raw_verify_cert(black_box(&g.leaf), &g.inter);
                    raw_verify_cert(black_box(&g.inter), &g.root);
                }),
            )),
        },
        Pair {
            name: "cms/login_nca_rsa_fixture",
            op: Box::new(|| cms_login(black_box(&nca_cms), &nca_anchor, &[], &policy)),
            anchor: Some((
                "2 raw: CMS RSA-2048 + leaf by RSA-4096",
                Box::new(|| {
                    raw_verify(&nca_signer.public_key, black_box(&nca_attrs), &nca_sig);
                    raw_verify_cert(black_box(&nca_signer), nca_ca);
                }),
            )),
        },
        Pair {
            name: "cms/nca: parse only",
            op: Box::new(|| {
                black_box(SignedData::parse(black_box(&nca_cms)).is_ok());
            }),
            anchor: None,
        },
        Pair {
            name: "cms/nca: verify_signers only",
            op: Box::new(|| {
                let v = cms::verify_signers(black_box(&nca_sd), None, &[], &policy);
                black_box(v.is_ok());
            }),
            anchor: Some((
                "1 raw: CMS RSA-2048",
                Box::new(|| raw_verify(&nca_signer.public_key, black_box(&nca_attrs), &nca_sig)),
            )),
        },
        Pair {
            name: "cms/nca: path only",
            op: Box::new(|| {
                let r = path::build_and_validate(
                    black_box(&nca_signer),
                    &nca_anchor,
                    &[],
                    &nca_opts,
                    &mut |_| Ok(()),
                );
                black_box(r.is_ok());
            }),
            anchor: Some((
                "1 raw: leaf by RSA-4096",
                Box::new(|| raw_verify_cert(black_box(&nca_signer), nca_ca)),
            )),
        },
        Pair {
            // path.rs renders subjects eagerly, ~11 times per 3-certificate validation.
            name: "name: NCA leaf to_display_string",
            op: Box::new(|| {
                black_box(black_box(&nca_signer.subject).to_display_string().len());
            }),
            anchor: None,
        },
        Pair {
            name: "cms/login_openssl_3cert",
            op: Box::new(|| cms_login(black_box(&g.cms), &anchors, &pool, &policy)),
            anchor: Some((
                "3 raw: CMS 2048 + leaf 4096 + inter 4096",
                Box::new(|| {
                    raw_verify(&g.leaf.public_key, black_box(&gen_attrs), &gen_sig);
                    raw_verify_cert(black_box(&g.leaf), &g.inter);
                    raw_verify_cert(black_box(&g.inter), &g.root);
                }),
            )),
        },
        Pair {
            name: "crl/parse_50k",
            op: Box::new(|| {
                black_box(Crl::parse(black_box(&g.crl_der)).is_ok());
            }),
            anchor: None,
        },
        Pair {
            name: "crl/find_50k",
            op: {
                let mut k = 0usize;
                let probes = &g.probes;
                let crl = &crls[0];
                Box::new(move || {
                    k = (k + 1) % probes.len();
                    black_box(crl.find(black_box(&probes[k])).is_some());
                })
            },
            anchor: None,
        },
        Pair {
            name: "crl/check_50k",
            op: Box::new(|| {
                black_box(crl::check(black_box(&g.leaf), &g.inter, &crls, t, &policy).is_ok());
            }),
            anchor: Some((
                "1 raw RSA-4096 verify of the CRL",
                Box::new(|| {
                    raw_verify(
                        &g.inter.public_key,
                        black_box(crl0.tbs_der()),
                        &crl0.signature,
                    )
                }),
            )),
        },
    ];
    pairs.retain(|p| selected(p.name));
    let load_before = loadavg();
    if full {
        ratios(
            &mut pairs,
            Duration::from_secs(4),
            Duration::from_micros(1500),
            2000,
        );
    } else {
        ratios(
            &mut pairs,
            Duration::from_millis(50),
            Duration::from_micros(500),
            10,
        );
    }
    println!(
        "\nmachine: {} CPUs, load average (1 min) {load_before} before the ratio loop, {} after",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!(
        "ratio = operation / anchor; goal <= 1.5x for path/validate_3cert_rsa and cms/login_*; \
         crl/check_50k's anchor is the CRL signature it re-verifies on every call."
    );
}
