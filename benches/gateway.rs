//! Issue 6 item 10: logins per second over HTTP with warm revocation caches, as a ratio to the
//! core verification alone; and the cost of the session check per proxied request.
//!
//! - Anchor A (same run): the core's login check of the same kind of CMS — parse,
//!   `cms::verify_signers`, `path::build_and_validate` to the test root — no I/O.
//! - Login over HTTP: `POST /eds/challenge` + `POST /eds/login` through loopback with a GOST-512
//!   key of the test PKI, OCSP-then-CRL revocation against the live test responder (warm: the
//!   first login fills the caches), the embedded session store, per-record fsync of the audit
//!   log. The client's signing time is excluded (it is NCALayer's work, not the gateway's).
//! - Session check: `GET /` through the gateway with a session cookie vs the same request
//!   straight to the echo MIS; the difference is what the gateway adds per request.
//!
//! Run: `cargo bench --bench gateway` (numbers are medians of the samples; 2-core machine shared
//! with whatever else runs).

#[path = "../tests/gateway_support/mod.rs"]
mod gateway_support;

use std::time::{Duration, Instant};

use base64::Engine;
use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::drill::sign::{SignOptions, sign_cms};
use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::cms::{self, SignedData};
use eds_gateway::pki::path::{self, ValidationOptions};
use eds_gateway::pki::signature::SignaturePolicy;
use gateway_support::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tmp("bench-gateway");
    let pki = TestPki::start(&dir.join("pki"), KeyKind::Gost512).await;
    pki.trust_into(&dir.join("certs"), "test");
    let iin = eds_gateway::pki::identity::complete_iin("85010130001").expect("iin");
    let key = pki.issue(&iin, "БЕНЧ", Profile::Gost2015, "employee");
    write_staff(&dir, &[(&iin, "Бенч", "staff", true)]);
    let mis = echo_mis().await;
    let clock = TestClock::default();
    let revocation = format!(
        "[revocation]\nmode = \"ocsp-then-crl\"\nocsp_hash = \"sha256\"\n\n{}",
        pki.crl_toml("test")
    );
    let extra = "[rate_limit]\nchallenges_per_ip_per_minute = 100000000\nfailed_logins_per_ip = 100000000\n";
    let gw = gateway(&dir, mis, &revocation, extra, &clock).await;

    // Anchor: the core check alone, same key type, same trust store.
    let anchors = vec![
        Certificate::parse(&std::fs::read(pki.dir.join("root.pem")).expect("root")).expect("root"),
    ];
    let pool =
        vec![Certificate::parse(&std::fs::read(pki.dir.join("ca.pem")).expect("ca")).expect("ca")];
    let data = b"eds-gateway login\nnonce: benchmark";
    let cms_der = sign_cms(
        &key.signer.key,
        &key.signer.certificate,
        data,
        SignOptions {
            detached: false,
            signing_time: eds_gateway::clock::now(),
        },
    )
    .expect("sign");
    let mut core = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let sd = SignedData::parse(&cms_der).expect("parse");
        let v = cms::verify_signers(&sd, None, &[], &SignaturePolicy::default()).expect("verify");
        let leaf = v[0].certificate.clone().expect("cert");
        assert!(v[0].result.is_ok());
        let opts = ValidationOptions::at(eds_gateway::clock::now());
        path::build_and_validate(&leaf, &anchors, &pool, &opts, &mut |_| Ok(())).expect("path");
        core.push(t.elapsed());
    }
    let core_med = median(core);

    // Logins over HTTP (warm-up fills the OCSP cache and the CRL index).
    let mut b = gw.browser();
    b.login(&key.signer, eds_gateway::clock::now())
        .await
        .expect("warm-up login");
    let mut http = Vec::new();
    for _ in 0..200 {
        let mut b = gw.browser();
        b.open_login().await.expect("page");
        let t0 = Instant::now();
        let (id, data) = b.challenge().await.expect("challenge");
        let t_ch = t0.elapsed();
        let cms = sign_cms(
            &key.signer.key,
            &key.signer.certificate,
            &data,
            SignOptions {
                detached: false,
                signing_time: eds_gateway::clock::now(),
            },
        )
        .expect("sign");
        let b64 = base64::engine::general_purpose::STANDARD.encode(cms);
        let t1 = Instant::now();
        b.send_login(&id, &b64).await.expect("login");
        http.push(t_ch + t1.elapsed());
    }
    let http_med = median(http);

    // Session check per request (a fresh login: the loop above replaced the warm-up session,
    // one session per key).
    let mut b = gw.browser();
    b.login(&key.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    let mut through = Vec::new();
    let mut direct = Vec::new();
    let client = reqwest::Client::new();
    for i in 0..2000 {
        if i % 2 == 0 {
            let t = Instant::now();
            let (s, _) = b.get("/ping").await.expect("GET");
            assert_eq!(s, 200);
            through.push(t.elapsed());
        } else {
            let t = Instant::now();
            let r = client
                .get(format!("http://{mis}/ping"))
                .send()
                .await
                .expect("GET");
            let _ = r.bytes().await;
            direct.push(t.elapsed());
        }
    }
    let (through_med, direct_med) = (median(through), median(direct));
    println!("core login check (parse + CMS verify + path), GOST-512: {core_med:?} median");
    println!(
        "HTTP login (challenge + login, warm revocation, fsync'd audit): {http_med:?} median = {:.0} logins/s sequential; ratio to core check {:.2}x",
        1.0 / http_med.as_secs_f64(),
        http_med.as_secs_f64() / core_med.as_secs_f64()
    );
    println!(
        "GET through the gateway {through_med:?} vs straight to the MIS {direct_med:?}: the gateway adds {:?} per request (session check + proxy hop)",
        through_med.saturating_sub(direct_med)
    );
}
