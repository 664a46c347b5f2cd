//! OCSP client against real `openssl ocsp` responders on 127.0.0.1, through a fault-injecting
//! proxy: statuses, responder authorisation, faults → conditions → policy decisions, cache,
//! negative cache, single-flight, User-Agent.

use crate::online_support;

use std::sync::Arc;
use std::time::Duration;

use eds_gateway::revocation::checker::Checker;
use eds_gateway::revocation::http::{Http, HttpConfig};
use eds_gateway::revocation::ocsp_client::{OcspClient, OcspConfig};
use eds_gateway::revocation::ocsp_request::{self, CertIdHash};
use eds_gateway::revocation::policy::{Action, Condition, Freshness, Mode, Outcome, Policy};
use online_support::{Fault, Pki, Responder, Server, now};

fn http(total_ms: u64) -> Http {
    Http::new(HttpConfig {
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(total_ms),
        ..HttpConfig::default()
    })
    .expect("client")
}

fn client(url: &str) -> OcspClient {
    OcspClient::new(
        http(1500),
        OcspConfig {
            url_override: Some(url.to_string()),
            hash: CertIdHash::Sha256,
            retries: 1,
            backoff: Duration::from_millis(20),
            ..OcspConfig::default()
        },
    )
}

async fn setup(signer: &str, key: &str, extra: &[&str]) -> (Server, Responder) {
    let pki = Pki::get();
    let responder = Responder::start(pki, signer, key, extra);
    let server = Server::start().await;
    server.ocsp("/ocsp", responder.port);
    (server, responder)
}

fn condition_of(r: &eds_gateway::revocation::ocsp_client::OcspResult) -> (Condition, &'static str) {
    match &r.result {
        Err(f) => (f.condition, f.code),
        Ok(a) => panic!("expected a failure, got {:?}", a.status),
    }
}

#[test]
fn request_parses_with_openssl() {
    let pki = Pki::get();
    let (leaf, ca) = (pki.cert("good.pem"), pki.ca());
    for (hash, name) in [(CertIdHash::Sha1, "sha1"), (CertIdHash::Sha256, "sha256")] {
        let der = ocsp_request::build(&leaf, &ca, hash, Some(&[0xab; 8])).expect("request");
        let f = pki.path(&format!("req-{name}.der"));
        std::fs::write(&f, &der).expect("write");
        let out = std::process::Command::new("openssl")
            .args(["ocsp", "-reqin"])
            .arg(&f)
            .arg("-req_text")
            .output()
            .expect("openssl is required");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains(&format!("Hash Algorithm: {name}")), "{text}");
        assert!(text.contains("Serial Number: 1001"), "{text}");
        assert!(text.contains("OCSP Nonce"), "{text}");
        assert!(text.to_uppercase().contains("ABABABABABABABAB"), "{text}");
    }
    // Without a nonce there are no request extensions.
    let der = ocsp_request::build(&leaf, &ca, CertIdHash::Sha1, None).expect("request");
    std::fs::write(pki.path("req-nononce.der"), &der).expect("write");
    let out = std::process::Command::new("openssl")
        .args(["ocsp", "-reqin", "req-nononce.der", "-req_text"])
        .current_dir(&pki.dir)
        .output()
        .expect("openssl");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Nonce"));
}

#[tokio::test]
async fn good_revoked_unknown_from_ca_signed_responder() {
    let pki = Pki::get();
    let (server, _r) = setup("ca.pem", "ca.key", &[]).await;
    let c = client(&server.url("/ocsp"));
    let ca = pki.ca();
    let t = now();
    let good = c.status(&pki.cert("good.pem"), &ca, t).await;
    assert!(
        matches!(
            good.report(t).outcome,
            Outcome::Answer(eds_gateway::revocation::policy::Answer::Good)
        ),
        "{good:?}"
    );
    let revoked = c.status(&pki.cert("revoked.pem"), &ca, t).await;
    assert!(
        matches!(
            revoked.report(t).outcome,
            Outcome::Answer(eds_gateway::revocation::policy::Answer::Revoked {
                reason: Some("keyCompromise"),
                ..
            })
        ),
        "{revoked:?}"
    );
    let unknown = c.status(&pki.cert("unknown.pem"), &ca, t).await;
    assert!(
        matches!(
            unknown.report(t).outcome,
            Outcome::Condition {
                condition: Condition::UnknownStatus,
                code: "ocsp_status_unknown",
                ..
            }
        ),
        "{unknown:?}"
    );
    // Every request carried a non-empty User-Agent.
    assert!(
        server
            .user_agents()
            .iter()
            .all(|u| u.starts_with("eds-gateway/"))
    );
}

#[tokio::test]
async fn delegated_responder_is_accepted_and_wrong_signer_refused() {
    let pki = Pki::get();
    let (server, _r) = setup("responder.pem", "leaf.key", &[]).await;
    let c = client(&server.url("/ocsp"));
    let t = now();
    let r = c.status(&pki.cert("good.pem"), &pki.ca(), t).await;
    assert!(r.result.is_ok(), "{r:?}");

    let (server, _r) = setup("other.pem", "other.key", &[]).await;
    let c = client(&server.url("/ocsp"));
    let r = c.status(&pki.cert("good.pem"), &pki.ca(), t).await;
    assert_eq!(
        condition_of(&r),
        (Condition::InvalidResponse, "ocsp_unauthorized_responder")
    );
}

#[tokio::test]
async fn faults_give_named_conditions() {
    let pki = Pki::get();
    let (server, _r) = setup("ca.pem", "ca.key", &[]).await;
    let (leaf, ca) = (pki.cert("good.pem"), pki.ca());
    let t = now();

    // Responder down: nothing listens.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = client(&format!("http://127.0.0.1:{dead}/"))
        .status(&leaf, &ca, t)
        .await;
    assert_eq!(
        condition_of(&r),
        (Condition::Unreachable, "ocsp_unreachable")
    );

    let cases: Vec<(&str, Fault, Condition, &str)> = vec![
        (
            "/slow",
            Fault::Slow(Duration::from_secs(3)),
            Condition::Unreachable,
            "ocsp_timeout",
        ),
        (
            "/500",
            Fault::Status(500),
            Condition::Unreachable,
            "ocsp_http_5xx",
        ),
        (
            "/garbage",
            Fault::Garbage,
            Condition::Unreachable,
            "ocsp_malformed",
        ),
        (
            "/trylater",
            Fault::TryLater,
            Condition::TryLater,
            "ocsp_try_later",
        ),
    ];
    for (path, fault, cond, code) in cases {
        server.ocsp(path, _r.port);
        server.fault(path, fault);
        let started = std::time::Instant::now();
        let r = client(&server.url(path)).status(&leaf, &ca, t).await;
        assert_eq!(condition_of(&r), (cond, code), "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    // Retries: 5xx and tryLater are retried once (retries = 1); a timeout is not.
    assert_eq!(server.hits("/500"), 2);
    assert_eq!(server.hits("/trylater"), 2);
    assert_eq!(server.hits("/slow"), 1);

    // Nonce mismatch: a replay of an earlier response.
    server.ocsp("/replay", _r.port);
    let first = client(&server.url("/replay")).status(&leaf, &ca, t).await;
    assert!(first.result.is_ok());
    server.fault("/replay", Fault::Replay);
    let r = client(&server.url("/replay")).status(&leaf, &ca, t).await;
    assert_eq!(
        condition_of(&r),
        (Condition::InvalidResponse, "ocsp_nonce_mismatch")
    );
}

#[tokio::test]
async fn stale_response_is_refused() {
    let pki = Pki::get();
    // nextUpdate = thisUpdate + 1 min; judged two hours later.
    let (server, _r) = setup("ca.pem", "ca.key", &["-nmin", "1"]).await;
    let c = client(&server.url("/ocsp"));
    let later = now().plus_seconds(7200);
    let r = c.status(&pki.cert("good.pem"), &pki.ca(), later).await;
    assert_eq!(
        condition_of(&r),
        (Condition::InvalidResponse, "ocsp_expired")
    );
}

#[tokio::test]
async fn cache_negative_cache_and_single_flight() {
    let pki = Pki::get();
    let (server, _r) = setup("ca.pem", "ca.key", &[]).await;
    let c = Arc::new(client(&server.url("/ocsp")));
    let (leaf, ca) = (Arc::new(pki.cert("good.pem")), Arc::new(pki.ca()));
    let t = now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, leaf, ca) = (c.clone(), leaf.clone(), ca.clone());
        tasks.push(tokio::spawn(async move { c.status(&leaf, &ca, t).await }));
    }
    let mut fresh = 0;
    for task in tasks {
        let r = task.await.expect("task");
        assert!(r.result.is_ok());
        if r.freshness == Freshness::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(
        server.hits("/ocsp"),
        1,
        "single-flight: one request for 20 callers"
    );
    assert_eq!(fresh, 1);
    // Cached until thisUpdate + max_age (no nextUpdate from this responder).
    let r = c.status(&leaf, &ca, t.plus_seconds(200)).await;
    assert_eq!(r.freshness, Freshness::Cached);
    assert_eq!(server.hits("/ocsp"), 1);
    let r = c.status(&leaf, &ca, t.plus_seconds(400)).await;
    assert!(
        r.result.is_err(),
        "past max_age the core refuses the replayed age: {r:?}"
    );

    // Negative cache: a failure is remembered for negative_ttl.
    server.ocsp("/down", _r.port);
    server.fault("/down", Fault::Status(503));
    let c = client(&server.url("/down"));
    let _ = c.status(&leaf, &ca, t).await;
    let hits = server.hits("/down");
    let r = c.status(&leaf, &ca, t.plus_seconds(5)).await;
    assert_eq!(r.freshness, Freshness::Cached);
    assert_eq!(server.hits("/down"), hits);
    let _ = c.status(&leaf, &ca, t.plus_seconds(31)).await;
    assert!(server.hits("/down") > hits);
}

#[tokio::test]
async fn policy_decisions_for_ocsp_conditions() {
    let pki = Pki::get();
    let (server, _r) = setup("ca.pem", "ca.key", &[]).await;
    let (leaf, ca) = (pki.cert("good.pem"), pki.ca());
    let t = now();
    server.ocsp("/down", _r.port);
    server.fault("/down", Fault::Status(500));

    // ocsp mode: refuse.
    let checker = Checker {
        policy: Policy::new(Mode::Ocsp),
        ocsp: Some(Arc::new(client(&server.url("/down")))),
        crls: vec![],
    };
    let v = checker.check(&leaf, &ca, t).await;
    assert!(!v.accepted);
    assert_eq!(v.code, "revocation_unreachable");

    // ocsp-then-crl with no CRL store: falls back, and the CRL has nothing → refused, named.
    let checker = Checker {
        policy: Policy::default(),
        ocsp: Some(Arc::new(client(&server.url("/down")))),
        crls: vec![],
    };
    let v = checker.check(&leaf, &ca, t).await;
    assert!(!v.accepted);
    assert_eq!(v.code, "revocation_no_url");
    assert_eq!(v.reports.len(), 2);

    // Soft-fail 600 s: good now; responder down 10 min later (cache expired) → accepted;
    // 20 min later → refused.
    let mut policy = Policy::new(Mode::Ocsp);
    policy
        .ocsp
        .set(Condition::Unreachable, Action::SoftFail { max_secs: 900 });
    server.ocsp("/flaky", _r.port);
    let checker = Checker {
        policy,
        ocsp: Some(Arc::new(client(&server.url("/flaky")))),
        crls: vec![],
    };
    assert_eq!(checker.check(&leaf, &ca, t).await.code, "ok");
    server.fault("/flaky", Fault::Status(500));
    let v = checker.check(&leaf, &ca, t.plus_seconds(600)).await;
    assert!(v.accepted, "{v}");
    assert_eq!(v.code, "ok_soft_fail");
    let v = checker.check(&leaf, &ca, t.plus_seconds(1200)).await;
    assert!(!v.accepted);
    assert_eq!(v.code, "revocation_soft_fail_expired");

    // Revoked always refuses, and the verdict JSON names source and freshness.
    let checker = Checker {
        policy: Policy::default(),
        ocsp: Some(Arc::new(client(&server.url("/ocsp")))),
        crls: vec![],
    };
    let v = checker.check(&pki.cert("revoked.pem"), &ca, t).await;
    assert_eq!(v.code, "cert_revoked");
    let j = v.to_json();
    assert_eq!(j["decided_by"], "ocsp");
    assert_eq!(j["freshness"], "fresh");
}
