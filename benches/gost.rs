//! GOST benchmarks (BENCHMARKS.md "## GOST"): verify per second for GOST 34.10-2015 512 and 256
//! and GOST 34.310-2004, GOST-512 sign per second, and a full GOST-512 login verification
//! (CMS parse + `cms::verify_signers` + 2-level path validation) per second, all on one core.
//!
//! `cargo bench --bench gost` runs an interleaved loop: each round times every operation once
//! (a batch of about `--ms` milliseconds each, default 300) one after the other, `--rounds`
//! rounds (default 7); the median, min and max of the per-round rates are printed. On a shared
//! machine only such side-by-side numbers mean anything. `-- FILTER` limits the operations;
//! `--quick` (also implied without `--bench`, i.e. under `cargo test --benches`) runs one short
//! round. Rates are per second of the bench thread's on-CPU time (Linux
//! `/proc/thread-self/schedstat`; `openssl speed` also divides by CPU time by default), with the
//! wall-clock median beside them; on a shared machine the two differ by the share of a core the
//! bench got. Lines `RESULT name median min max wall-median` are for `benches/gost_vs_openssl.sh`.
//!
//! Inputs: random keys made at start (verify: a signature over a Streebog digest, verified with
//! `PublicKey::verify_digest`, i.e. without hashing, like `openssl speed ecdsa`), and for the
//! login the NCA fixture `cms/ncanode_2signers_gost2015+rsa_attached_test123.p7s` with
//! `ca/test/root_test_gost_2022.cer` (anchor) and `ca/test/nca_gost2022_test.cer` (pool) at the
//! signer's signing time. A missing fixture stops the bench with exit code 2.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::cms::{self, SignedData};
use eds_gateway::pki::gost::{Algorithm, PrivateKey, PublicKey};
use eds_gateway::pki::path::{self, ValidationOptions};
use eds_gateway::pki::signature::SignaturePolicy;

const LOGIN_CMS: &str = "cms/ncanode_2signers_gost2015+rsa_attached_test123.p7s";
const GOST_ROOT_2022: &str = "ca/test/root_test_gost_2022.cer";
const GOST_CA_2022: &str = "ca/test/nca_gost2022_test.cer";

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("bench gost: {msg}");
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

/// A key pair and a valid signature over a digest, for one algorithm.
struct Signed {
    key: PrivateKey,
    public: PublicKey,
    digest: Vec<u8>,
    signature: Vec<u8>,
}

fn signed(alg: Algorithm) -> Signed {
    let key = PrivateKey::generate(alg).unwrap_or_else(|e| fail(format!("{alg:?} keygen: {e}")));
    let public = key
        .public_key()
        .unwrap_or_else(|e| fail(format!("{alg:?} public key: {e}")));
    let digest = alg.hash(b"eds-gateway login challenge 0123456789abcdef");
    let signature = key
        .sign_digest(&digest)
        .unwrap_or_else(|e| fail(format!("{alg:?} sign: {e}")));
    public
        .verify_digest(&digest, &signature)
        .unwrap_or_else(|e| fail(format!("{alg:?} fresh signature does not verify: {e}")));
    Signed {
        key,
        public,
        digest,
        signature,
    }
}

/// The gateway's GOST login check on the fixture CMS: parse, verify the signers, validate the
/// GOST signer's (signer 0) path at its signing time. Returns the path length.
fn login(input: &[u8], anchors: &[Certificate], pool: &[Certificate]) -> usize {
    let policy = SignaturePolicy::default();
    let sd = SignedData::parse(input).unwrap_or_else(|e| fail(format!("CMS parse: {e}")));
    let verdicts = cms::verify_signers(&sd, None, pool, &policy)
        .unwrap_or_else(|e| fail(format!("CMS verify: {e}")));
    let v = verdicts
        .first()
        .unwrap_or_else(|| fail("CMS without signers"));
    if let Err(e) = &v.result {
        fail(format!("CMS GOST signer 0: {e}"));
    }
    let cert = v
        .certificate
        .as_ref()
        .unwrap_or_else(|| fail("CMS signer certificate not found"));
    let at = v
        .signing_time
        .unwrap_or_else(|| fail("CMS signer has no signing time"));
    let mut opts = ValidationOptions::at(at);
    opts.signature = policy;
    let vp = path::build_and_validate(cert, anchors, pool, &opts, &mut |_| Ok(()))
        .unwrap_or_else(|e| fail(format!("CMS signer path: {e}")));
    vp.certs.len()
}

struct Op<'a> {
    name: &'static str,
    run: Box<dyn FnMut() + 'a>,
    /// Iterations per batch (calibrated).
    batch: u64,
    /// Per-round rates by on-CPU time of this thread (`None` without schedstat).
    rates: Vec<f64>,
    /// Per-round rates by wall-clock time.
    wall_rates: Vec<f64>,
}

/// On-CPU time of the current thread (Linux `/proc/thread-self/schedstat`, nanoseconds), so a
/// rate does not count the time other processes held the shared cores. `openssl speed` likewise
/// divides by CPU (user) time unless given `-elapsed`.
fn thread_cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    (ns > 0).then(|| Duration::from_nanos(ns))
}

/// Median, min and max of a non-empty list (sorted in place).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let quick = !full || args.iter().any(|a| a == "--quick");
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| fail(format!("{flag} {v}: not a number")))
            })
    };
    let rounds = if quick {
        1
    } else {
        value_of("--rounds").unwrap_or(7)
    };
    let ms = if quick {
        30
    } else {
        value_of("--ms").unwrap_or(300)
    };
    let mut skip_next = false;
    let mut filter = None;
    for a in &args {
        if skip_next {
            skip_next = false;
        } else if a == "--rounds" || a == "--ms" {
            skip_next = true;
        } else if !a.starts_with('-') {
            filter = Some(a.clone());
        }
    }
    let selected = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));

    let s512 = signed(Algorithm::Gost2015_512);
    let s256 = signed(Algorithm::Gost2015_256);
    let s2004 = signed(Algorithm::Gost2004);

    let nca = shared_nca();
    let cms_der = read(&nca.join(LOGIN_CMS));
    let anchors = vec![cert_from(&nca.join(GOST_ROOT_2022))];
    let pool = vec![cert_from(&nca.join(GOST_CA_2022))];
    let n = login(&cms_der, &anchors, &pool);
    if n != 3 {
        fail(format!("login path has {n} certificates, not 3"));
    }

    let verify = |s: &Signed| {
        let s_ok = s
            .public
            .verify_digest(black_box(&s.digest), black_box(&s.signature));
        if s_ok.is_err() {
            fail("verification failed during the benchmark");
        }
    };
    let mut ops: Vec<Op> = vec![
        Op {
            name: "gost2015_512_verify",
            run: Box::new(|| verify(&s512)),
            batch: 1,
            rates: vec![],
            wall_rates: vec![],
        },
        Op {
            name: "gost2015_256_verify",
            run: Box::new(|| verify(&s256)),
            batch: 1,
            rates: vec![],
            wall_rates: vec![],
        },
        Op {
            name: "gost2004_verify",
            run: Box::new(|| verify(&s2004)),
            batch: 1,
            rates: vec![],
            wall_rates: vec![],
        },
        Op {
            name: "gost2015_512_sign",
            run: Box::new(|| {
                black_box(
                    s512.key
                        .sign_digest(black_box(&s512.digest))
                        .unwrap_or_else(|e| fail(format!("sign: {e}"))),
                );
            }),
            batch: 1,
            rates: vec![],
            wall_rates: vec![],
        },
        Op {
            name: "gost2015_512_login",
            run: Box::new(|| {
                black_box(login(black_box(&cms_der), &anchors, &pool));
            }),
            batch: 1,
            rates: vec![],
            wall_rates: vec![],
        },
    ];
    ops.retain(|o| selected(o.name));
    if ops.is_empty() {
        fail("no operation matches the filter");
    }

    // Calibrate: iterations for about `ms` milliseconds (after one warm-up call).
    let target = Duration::from_millis(ms);
    for op in &mut ops {
        (op.run)();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < target / 4 {
            (op.run)();
            n += 1;
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        op.batch = ((target.as_secs_f64() / per) as u64).max(1);
    }
    let cpu_clock = thread_cpu_time().is_some();
    for _ in 0..rounds {
        for op in &mut ops {
            let cpu0 = thread_cpu_time();
            let start = Instant::now();
            for _ in 0..op.batch {
                (op.run)();
            }
            let wall = start.elapsed();
            let cpu = thread_cpu_time()
                .zip(cpu0)
                .map_or(wall, |(c1, c0)| c1.saturating_sub(c0));
            op.wall_rates.push(op.batch as f64 / wall.as_secs_f64());
            op.rates.push(op.batch as f64 / cpu.as_secs_f64());
        }
    }

    println!(
        "bench gost: {rounds} interleaved round(s) of ~{ms} ms per operation, one thread; \
         rates per second of {} time",
        if cpu_clock {
            "on-CPU (this thread's schedstat)"
        } else {
            "wall-clock (no schedstat: CPU time unavailable)"
        }
    );
    println!(
        "{:<22} {:>11} {:>11} {:>11} {:>10} {:>11}",
        "operation", "median/s", "min/s", "max/s", "median µs", "wall med/s"
    );
    let mut results = Vec::new();
    for op in &mut ops {
        let (med, min, max) = stats(&mut op.rates);
        let (wmed, _, _) = stats(&mut op.wall_rates);
        println!(
            "{:<22} {:>11.1} {:>11.1} {:>11.1} {:>10.1} {:>11.1}",
            op.name,
            med,
            min,
            max,
            1e6 / med,
            wmed
        );
        results.push(format!(
            "RESULT {} {med:.1} {min:.1} {max:.1} {wmed:.1}",
            op.name
        ));
    }
    for r in results {
        println!("{r}");
    }
}
