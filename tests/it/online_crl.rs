//! CRL store against CRLs made by `openssl ca -gencrl`, served by the in-test HTTP server:
//! full + delta (removeFromCRL), conditional GET, persistence and offline start, rollback, and
//! faults (404, truncated, bad signature, expired, delta without its base) → policy decisions.

use crate::online_support;

use std::sync::Arc;
use std::time::Duration;

use eds_gateway::revocation::checker::Checker;
use eds_gateway::revocation::crl_store::{CrlLookup, CrlStore, CrlStoreConfig, Kind, Refreshed};
use eds_gateway::revocation::http::{Http, HttpConfig};
use eds_gateway::revocation::policy::{Action, Condition, Mode, Policy};
use online_support::{Fault, Pki, Server, now};

fn http() -> Http {
    Http::new(HttpConfig {
        connect_timeout: Duration::from_millis(500),
        download_timeout: Duration::from_secs(3),
        ..HttpConfig::default()
    })
    .expect("client")
}

fn serial(hex: &str) -> Vec<u8> {
    hex::decode(hex).expect("hex")
}

fn store(
    server: &Server,
    full: &str,
    delta: Option<&str>,
    dir: Option<std::path::PathBuf>,
) -> Arc<CrlStore> {
    let mut cfg = CrlStoreConfig::new(server.url(full));
    cfg.delta_url = delta.map(|d| server.url(d));
    cfg.dir = dir;
    cfg.retry_after = Duration::from_secs(0);
    Arc::new(CrlStore::new(http(), Arc::new(Pki::get().ca()), cfg))
}

fn condition(l: &CrlLookup) -> (Condition, &'static str) {
    match l {
        CrlLookup::Condition {
            condition, code, ..
        } => (*condition, code),
        other => panic!("expected a condition, got {other:?}"),
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("online-crl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[tokio::test]
async fn full_and_delta_merge_with_remove_from_crl() {
    let pki = Pki::get();
    let server = Server::start().await;
    server.file("/full.crl", pki.bytes("full.crl"));
    server.file("/delta.crl", pki.bytes("delta.crl"));
    let s = store(&server, "/full.crl", Some("/delta.crl"), None);
    let t = now();
    let done = s.refresh_if_due(t).await;
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(
        done.iter()
            .all(|(_, r)| matches!(r, Ok(Refreshed::Installed { .. }))),
        "{done:?}"
    );

    assert!(matches!(
        s.lookup(&serial(online_support::GOOD), t),
        CrlLookup::Good { .. }
    ));
    match s.lookup(&serial(online_support::REVOKED), t) {
        CrlLookup::Revoked { crl_number, .. } => assert_eq!(crl_number, "5"),
        other => panic!("{other:?}"),
    }
    // Revoked by the delta only.
    match s.lookup(&serial(online_support::DELTA_REVOKED), t) {
        CrlLookup::Revoked { crl_number, .. } => assert_eq!(crl_number, "6"),
        other => panic!("{other:?}"),
    }
    // Held in the full CRL, lifted by removeFromCRL in the delta.
    assert!(matches!(
        s.lookup(&serial(online_support::HELD), t),
        CrlLookup::Good { .. }
    ));

    // Conditional GET: nothing changed → 304.
    let r = s.refresh(Kind::Full, t, &mut |_, _| {}).await;
    assert_eq!(r, Ok(Refreshed::NotModified));
    assert_eq!(server.not_modified("/full.crl"), 1);

    // Rollback refused: an older full CRL (#5) after #8.
    server.file("/full.crl", pki.bytes("full8.crl"));
    assert!(matches!(
        s.refresh(Kind::Full, t, &mut |_, _| {}).await,
        Ok(Refreshed::Installed { .. })
    ));
    server.file("/full.crl", pki.bytes("full.crl"));
    let r = s.refresh(Kind::Full, t, &mut |_, _| {}).await;
    assert_eq!(r.map_err(|e| e.code()), Err("crl_rollback"));
    // The delta on base 5 no longer applies to #8, which lists the delta-revoked cert itself.
    assert!(matches!(
        s.lookup(&serial(online_support::DELTA_REVOKED), t),
        CrlLookup::Revoked { .. }
    ));
}

#[tokio::test]
async fn persisted_crl_gives_an_offline_start() {
    let pki = Pki::get();
    let server = Server::start().await;
    server.file("/full.crl", pki.bytes("full.crl"));
    let dir = tempdir("persist");
    let t = now();
    let s = store(&server, "/full.crl", None, Some(dir.clone()));
    s.refresh(Kind::Full, t, &mut |_, _| {})
        .await
        .expect("fetch");
    drop(s);
    // A new store, the server gone: the persisted CRL answers.
    server.fault("/full.crl", Fault::Status(404));
    let s = store(&server, "/full.crl", None, Some(dir));
    s.load_persisted().await.expect("load");
    assert!(matches!(
        s.lookup(&serial(online_support::GOOD), t),
        CrlLookup::Good { .. }
    ));
    assert!(matches!(
        s.lookup(&serial(online_support::REVOKED), t),
        CrlLookup::Revoked { .. }
    ));
    // Until its nextUpdate (24 h), then stale.
    let later = t.plus_seconds(25 * 3600);
    assert_eq!(
        condition(&s.lookup(&serial(online_support::GOOD), later)),
        (Condition::CrlStale, "crl_stale")
    );
    // Even stale, a listed serial is revoked.
    assert!(matches!(
        s.lookup(&serial(online_support::REVOKED), later),
        CrlLookup::Revoked { .. }
    ));
}

#[tokio::test]
async fn faults_give_named_conditions() {
    let pki = Pki::get();
    let server = Server::start().await;
    let t = now();
    let good = serial(online_support::GOOD);

    server.fault("/missing.crl", Fault::Status(404));
    let s = store(&server, "/missing.crl", None, None);
    let _ = s.refresh_if_due(t).await;
    assert_eq!(
        condition(&s.lookup(&good, t)),
        (Condition::Unreachable, "crl_http_404")
    );

    server.file("/trunc.crl", pki.bytes("full.crl"));
    server.fault("/trunc.crl", Fault::Truncated);
    let s = store(&server, "/trunc.crl", None, None);
    let _ = s.refresh_if_due(t).await;
    assert_eq!(
        condition(&s.lookup(&good, t)),
        (Condition::Unreachable, "crl_truncated")
    );

    server.file("/garbage.crl", b"<html>captive portal</html>".to_vec());
    let s = store(&server, "/garbage.crl", None, None);
    let _ = s.refresh_if_due(t).await;
    assert_eq!(
        condition(&s.lookup(&good, t)),
        (Condition::Unreachable, "crl_malformed")
    );

    server.file("/badsig.crl", pki.bytes("badsig.crl"));
    let s = store(&server, "/badsig.crl", None, None);
    let _ = s.refresh_if_due(t).await;
    assert_eq!(
        condition(&s.lookup(&good, t)),
        (Condition::InvalidResponse, "crl_bad_signature")
    );

    server.file("/full.crl", pki.bytes("full.crl"));
    let s = store(&server, "/full.crl", None, None);
    let _ = s.refresh_if_due(t).await;
    let expired = t.plus_seconds(48 * 3600);
    assert_eq!(
        condition(&s.lookup(&good, expired)),
        (Condition::CrlStale, "crl_stale")
    );

    server.file("/orphan.crl", pki.bytes("orphan-delta.crl"));
    let s = store(&server, "/full.crl", Some("/orphan.crl"), None);
    let _ = s.refresh_if_due(t).await;
    assert_eq!(
        condition(&s.lookup(&good, t)),
        (Condition::CrlStale, "crl_delta_without_base")
    );

    // Slow server past the download timeout: no hang.
    server.file("/slow.crl", pki.bytes("full.crl"));
    server.fault("/slow.crl", Fault::Slow(Duration::from_secs(10)));
    let s = store(&server, "/slow.crl", None, None);
    let started = std::time::Instant::now();
    let _ = s.refresh_if_due(t).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        condition(&s.lookup(&good, t)),
        (Condition::Unreachable, "crl_timeout")
    );
}

#[tokio::test]
async fn policy_decisions_for_crl_conditions() {
    let pki = Pki::get();
    let server = Server::start().await;
    server.file("/full.crl", pki.bytes("full.crl"));
    server.fault("/missing.crl", Fault::Status(404));
    let ca = pki.ca();
    let leaf = pki.cert("good.pem");
    let t = now();

    // crl mode, CRL fetched on demand by the checker.
    let checker = Checker {
        policy: Policy::new(Mode::Crl),
        ocsp: None,
        crls: vec![store(&server, "/full.crl", None, None)],
    };
    let v = checker.check(&leaf, &ca, t).await;
    assert_eq!((v.accepted, v.code), (true, "ok"), "{v}");
    assert_eq!(v.to_json()["freshness"], "fresh");
    let v = checker.check(&leaf, &ca, t).await;
    assert_eq!(v.to_json()["freshness"], "cached");
    let v = checker.check(&pki.cert("revoked.pem"), &ca, t).await;
    assert_eq!((v.accepted, v.code), (false, "cert_revoked"));

    // Stale: refused by default; soft-fail within N after nextUpdate accepts, past N refuses.
    let later = t.plus_seconds(24 * 3600 + 600);
    let v = checker.check(&leaf, &ca, later).await;
    assert_eq!((v.accepted, v.code), (false, "revocation_crl_stale"), "{v}");
    let mut policy = Policy::new(Mode::Crl);
    policy
        .crl
        .set(Condition::CrlStale, Action::SoftFail { max_secs: 3600 });
    let soft = Checker {
        policy,
        ocsp: None,
        crls: checker.crls.clone(),
    };
    let v = soft.check(&leaf, &ca, later).await;
    assert_eq!((v.accepted, v.code), (true, "ok_soft_fail"), "{v}");
    let v = soft.check(&leaf, &ca, later.plus_seconds(7200)).await;
    assert_eq!(
        (v.accepted, v.code),
        (false, "revocation_soft_fail_expired"),
        "{v}"
    );
    // Soft-fail never accepts a listed certificate.
    let v = soft.check(&pki.cert("revoked.pem"), &ca, later).await;
    assert_eq!(v.code, "cert_revoked");

    // crl-and-ocsp: no OCSP configured → refused with no_url.
    let both = Checker {
        policy: Policy::new(Mode::CrlAndOcsp),
        ocsp: None,
        crls: checker.crls.clone(),
    };
    let v = both.check(&leaf, &ca, t).await;
    assert_eq!((v.accepted, v.code), (false, "revocation_no_url"), "{v}");

    // 404 in crl mode: refused, named.
    let missing = Checker {
        policy: Policy::new(Mode::Crl),
        ocsp: None,
        crls: vec![store(&server, "/missing.crl", None, None)],
    };
    let v = missing.check(&leaf, &ca, t).await;
    assert_eq!(
        (v.accepted, v.code),
        (false, "revocation_unreachable"),
        "{v}"
    );
    assert_eq!(v.to_json()["reports"][0]["code"], "crl_http_404");
}

#[tokio::test]
async fn refresh_is_due_before_next_update_and_the_delta_on_its_own_interval() {
    let pki = Pki::get();
    let server = Server::start().await;
    server.file("/full.crl", pki.bytes("full.crl"));
    server.file("/delta.crl", pki.bytes("delta.crl"));
    let mut cfg = CrlStoreConfig::new(server.url("/full.crl"));
    cfg.delta_url = Some(server.url("/delta.crl"));
    cfg.retry_after = Duration::from_secs(0);
    cfg.refresh_margin = Duration::from_secs(600);
    cfg.delta_interval = Duration::from_secs(60);
    let s = Arc::new(CrlStore::new(http(), Arc::new(pki.ca()), cfg));
    let t = now();
    assert_eq!(s.refresh_if_due(t).await.len(), 2);
    // A second later nothing is due: no request at all.
    assert!(s.refresh_if_due(t.plus_seconds(1)).await.is_empty());
    assert_eq!(server.not_modified("/full.crl"), 0);
    // Past the delta interval only the delta is asked for (conditional GET → 304).
    let done = s.refresh_if_due(t.plus_seconds(61)).await;
    assert_eq!(done, vec![(Kind::Delta, Ok(Refreshed::NotModified))]);
    // Within the margin before the full CRL's nextUpdate the full CRL is asked for too.
    let next = s.snapshot().full.as_ref().expect("full").next_update;
    let done = s.refresh_if_due(next.plus_seconds(-599)).await;
    assert_eq!(
        done.first(),
        Some(&(Kind::Full, Ok(Refreshed::NotModified)))
    );
    assert_eq!(server.not_modified("/full.crl"), 1);
}

fn far_future() -> eds_gateway::pki::time::UnixTime {
    // Past every test CRL's nextUpdate: each tick of the refresher finds the full CRL due.
    now().plus_seconds(10 * 365 * 86_400)
}

#[tokio::test]
async fn background_refresher_asks_again_on_every_tick_until_the_store_is_dropped() {
    let pki = Pki::get();
    let server = Server::start().await;
    server.file("/full.crl", pki.bytes("full.crl"));
    let s = store(&server, "/full.crl", None, None);
    assert_eq!(s.refresh_if_due(now()).await.len(), 1);
    s.spawn_refresher(Duration::from_millis(20), far_future);
    let mut asked = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        asked = server.not_modified("/full.crl");
        if asked >= 3 {
            break;
        }
    }
    assert!(asked >= 3, "refresher asked {asked} times");
    // Dropping the last strong reference ends the task: the count stops growing.
    // (A tick already in flight may still finish: let it.)
    drop(s);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_drop = server.not_modified("/full.crl");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.not_modified("/full.crl"), after_drop);
}
