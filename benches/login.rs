//! Logins per second with cached revocation vs without revocation, and the OCSP cache-hit
//! verdict latency (issue 4, item 6).
//!
//! - Login = the gateway's CMS login on NCA's RSA test fixture: parse, `cms::verify_signers`,
//!   `path::build_and_validate` to the NCA RSA test CA 2019 at the signing time.
//! - Revocation = a [`Checker`] verdict answered from cache, on the online test PKI
//!   (tests/online_support: `openssl ocsp` responder and CRLs on 127.0.0.1): the first call
//!   fetches, every timed call is a cache hit (OCSP: the client's response cache; CRL: the
//!   store's verified index). The revocation step runs on that PKI's leaf (the NCA fixture has no
//!   reachable responder); its cost does not depend on which certificate is asked about.
//!
//! Run: `cargo bench --bench login`

#[path = "../tests/online_support/mod.rs"]
mod online_support;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::cms::{self, SignedData};
use eds_gateway::pki::path::{self, ValidationOptions};
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::revocation::checker::Checker;
use eds_gateway::revocation::crl_store::{CrlStore, CrlStoreConfig};
use eds_gateway::revocation::http::{Http, HttpConfig};
use eds_gateway::revocation::ocsp_client::{OcspClient, OcspConfig};
use eds_gateway::revocation::ocsp_request::CertIdHash;
use eds_gateway::revocation::policy::{Mode, Policy};
use online_support::{Pki, Responder, Server, now};

const CMS: &str = "cms/dk_personal_active_AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d_attached_asdasd.p7s";
const ANCHOR: &str = "ca/test/nca_rsa_test_2019.pem";

fn fixtures() -> PathBuf {
    std::env::var_os("EDS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
        .join("fixtures/nca")
}

fn login(input: &[u8], anchors: &[Certificate], policy: &SignaturePolicy) {
    let sd = SignedData::parse(input).expect("CMS parse");
    let verdicts = cms::verify_signers(&sd, None, &[], policy).expect("CMS verify");
    for v in &verdicts {
        v.result.as_ref().expect("signer");
        let cert = v.certificate.as_ref().expect("signer certificate");
        let mut opts = ValidationOptions::at(v.signing_time.expect("signing time"));
        opts.signature = *policy;
        let vp = path::build_and_validate(cert, anchors, &[], &opts, &mut |_| Ok(()))
            .expect("signer path");
        black_box(vp.certs.len());
    }
}

fn http() -> Http {
    Http::new(HttpConfig {
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(2000),
        ..HttpConfig::default()
    })
    .expect("client")
}

/// Mean time per call of `f` over `n` calls, best of 5 batches (the machine is shared).
fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed() / n);
    }
    best
}

fn main() {
    let dir = fixtures();
    let cms_der = std::fs::read(dir.join(CMS)).expect("CMS fixture (set EDS_SHARED_DIR)");
    let anchors =
        vec![Certificate::parse(&std::fs::read(dir.join(ANCHOR)).expect("anchor")).expect("ca")];
    let policy = SignaturePolicy::default();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pki = Pki::get();
    let ca = pki.ca();
    let leaf = pki.cert("good.pem");
    let t = now();
    let _responder = Responder::start(pki, "ca.pem", "ca.key", &[]);
    let (ocsp_checker, crl_checker, _server) = rt.block_on(async {
        let server = Server::start().await;
        server.ocsp("/ocsp", _responder.port);
        server.file("/full.crl", pki.bytes("full.crl"));
        let ocsp = Checker {
            policy: Policy::new(Mode::Ocsp),
            ocsp: Some(Arc::new(OcspClient::new(
                http(),
                OcspConfig {
                    url_override: Some(server.url("/ocsp")),
                    hash: CertIdHash::Sha256,
                    ..OcspConfig::default()
                },
            ))),
            crls: Vec::new(),
        };
        let crl = Checker {
            policy: Policy::new(Mode::Crl),
            ocsp: None,
            crls: vec![Arc::new(CrlStore::new(
                http(),
                Arc::new(ca.clone()),
                CrlStoreConfig::new(server.url("/full.crl")),
            ))],
        };
        // Warm the caches: these two calls go to the network.
        for c in [&ocsp, &crl] {
            let v = c.check(&leaf, &ca, t).await;
            assert!(v.accepted, "{v}");
        }
        (ocsp, crl, server)
    });
    let requests = ocsp_checker.ocsp.as_ref().map(|c| c.requests_sent());

    let verdict = |c: &Checker| {
        let v = rt.block_on(c.check(&leaf, &ca, t));
        assert!(v.accepted, "{v}");
        black_box(v);
    };
    let ocsp_hit = per_call(20_000, || verdict(&ocsp_checker));
    let crl_hit = per_call(20_000, || verdict(&crl_checker));
    assert_eq!(
        ocsp_checker.ocsp.as_ref().map(|c| c.requests_sent()),
        requests,
        "timed OCSP calls must be cache hits"
    );

    // Interleaved rounds so a burst of load from other processes hits all three variants; the
    // ratios are per round, the figures are medians over the rounds.
    let (mut bare_v, mut ocsp_v, mut crl_v, mut r_ocsp, mut r_crl) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let once = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            for _ in 0..100 {
                f();
            }
            t.elapsed().as_secs_f64() / 100.0
        };
        let b = once(&mut || login(&cms_der, &anchors, &policy));
        let o = once(&mut || {
            login(&cms_der, &anchors, &policy);
            verdict(&ocsp_checker);
        });
        let c = once(&mut || {
            login(&cms_der, &anchors, &policy);
            verdict(&crl_checker);
        });
        bare_v.push(b);
        ocsp_v.push(o);
        crl_v.push(c);
        r_ocsp.push(o / b);
        r_crl.push(c / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let bare = Duration::from_secs_f64(median(&mut bare_v));
    let with_ocsp = Duration::from_secs_f64(median(&mut ocsp_v));
    let with_crl = Duration::from_secs_f64(median(&mut crl_v));
    let (ratio_ocsp, ratio_crl) = (median(&mut r_ocsp), median(&mut r_crl));
    let rate = |d: Duration| 1.0 / d.as_secs_f64();

    println!(
        "OCSP cache-hit verdict (Checker, mode ocsp):   {:>9.2} µs",
        ocsp_hit.as_secs_f64() * 1e6
    );
    println!(
        "CRL cached verdict (Checker, mode crl):        {:>9.2} µs",
        crl_hit.as_secs_f64() * 1e6
    );
    println!(
        "login, no revocation:                          {:>9.0} logins/s ({:.1} µs)",
        rate(bare),
        bare.as_secs_f64() * 1e6
    );
    println!(
        "login + OCSP cache hit:                        {:>9.0} logins/s (ratio {ratio_ocsp:.3})",
        rate(with_ocsp)
    );
    println!(
        "login + cached CRL:                            {:>9.0} logins/s (ratio {ratio_crl:.3})",
        rate(with_crl)
    );
}
