//! CRL figures at NCA production size: a synthetic CRL of 422,065 entries (20-byte serials,
//! reasons as NCA uses them) made once by `openssl ca -gencrl` and cached in target/crl-bench/.
//! Prints parse, verify and index time, index memory, peak RSS and lookup time.
//!
//! Run: `cargo bench --bench crl_index`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::crl::Crl;
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::revocation::crl_store::CrlIndex;

const ENTRIES: usize = 422_065;

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("openssl is required for this bench");
    assert!(st.success(), "openssl {args:?} failed");
}

/// Deterministic 20-byte serial #i (positive: first byte < 0x80).
fn serial(i: u64) -> [u8; 20] {
    let mut out = [0u8; 20];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    for b in out.iter_mut() {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        *b = (x >> 24) as u8;
    }
    out[0] = (out[0] & 0x7f) | 0x10;
    out
}

fn make(dir: &Path) -> PathBuf {
    let crl = dir.join("nca-size.crl");
    if crl.exists() {
        return crl;
    }
    std::fs::create_dir_all(dir).expect("dir");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "3650",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Bench CA",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let reasons = [
        "superseded",
        "certificateHold",
        "keyCompromise",
        "unspecified",
    ];
    let mut index = String::with_capacity(ENTRIES * 90);
    for i in 0..ENTRIES as u64 {
        let reason = reasons[(i % 4) as usize];
        index.push_str(&format!(
            "R\t301231235959Z\t240101000000Z,{reason}\t{}\tunknown\t/CN=u{i}\n",
            hex::encode_upper(serial(i))
        ));
    }
    std::fs::write(dir.join("index.txt"), index).expect("index");
    std::fs::write(dir.join("index.txt.attr"), "unique_subject = no\n").expect("attr");
    std::fs::write(dir.join("crlnumber"), "0542\n").expect("num");
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\n\
         crl_extensions=e\n[e]\nauthorityKeyIdentifier=keyid:always\n",
    )
    .expect("cnf");
    let t = Instant::now();
    openssl(
        dir,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-gencrl",
            "-keyfile",
            "ca.key",
            "-cert",
            "ca.pem",
            "-crldays",
            "3650",
            "-out",
            "nca-size.pem",
        ],
    );
    openssl(
        dir,
        &[
            "crl",
            "-in",
            "nca-size.pem",
            "-outform",
            "DER",
            "-out",
            "nca-size.crl",
        ],
    );
    eprintln!("made the CRL in {:?}", t.elapsed());
    crl
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/crl-bench");
    let path = make(&dir);
    let der = std::fs::read(&path).expect("crl");
    let ca = Certificate::parse(&std::fs::read(dir.join("ca.pem")).expect("ca")).expect("ca");
    let policy = SignaturePolicy::default();
    let rss0 = peak_rss_kb();

    let t = Instant::now();
    let crl = Crl::parse(&der).expect("parse");
    let parse = t.elapsed();
    let t = Instant::now();
    crl.verify_signature(&ca, &policy).expect("signature");
    let verify = t.elapsed();
    let t = Instant::now();
    let index = CrlIndex::from_crl(&crl, &ca, &policy).expect("index");
    let index_time = t.elapsed(); // includes a second signature check (validate_for_use)
    let rss1 = peak_rss_kb();
    drop(crl);
    assert_eq!(index.entries, ENTRIES);

    let n = 2_000_000u64;
    let present: Vec<[u8; 20]> = (0..1024)
        .map(|i| serial(i * 397 % ENTRIES as u64))
        .collect();
    let absent: Vec<[u8; 20]> = (0..1024).map(|i| serial(ENTRIES as u64 + i)).collect();
    let t = Instant::now();
    let mut hits = 0usize;
    for i in 0..n as usize {
        if index.find(&present[i % 1024]).is_some() {
            hits += 1;
        }
    }
    let hit_ns = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    for i in 0..n as usize {
        if index.find(&absent[i % 1024]).is_some() {
            hits += 1;
        }
    }
    let miss_ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(hits, n as usize);

    println!("CRL: {} bytes DER, {} entries", der.len(), ENTRIES);
    println!(
        "parse (core Crl::parse):          {:>8.1} ms",
        parse.as_secs_f64() * 1e3
    );
    println!(
        "verify signature (RSA-2048):      {:>8.1} ms",
        verify.as_secs_f64() * 1e3
    );
    println!(
        "index build (+ validate_for_use): {:>8.1} ms",
        index_time.as_secs_f64() * 1e3
    );
    println!(
        "parse + verify + index:           {:>8.1} ms",
        (parse + verify + index_time).as_secs_f64() * 1e3
    );
    println!(
        "index memory:                     {:>8.2} MB ({:.1} B/entry)",
        index.memory_bytes() as f64 / 1e6,
        index.memory_bytes() as f64 / ENTRIES as f64
    );
    if let (Some(a), Some(b)) = (rss0, rss1) {
        println!(
            "peak RSS before / after load:     {:>8.1} / {:.1} MB",
            a as f64 / 1e3,
            b as f64 / 1e3
        );
    }
    println!("lookup, listed serial:            {hit_ns:>8.1} ns");
    println!("lookup, absent serial:            {miss_ns:>8.1} ns");
}
