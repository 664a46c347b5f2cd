//! The admin page `/eds/admin` in headless Chromium (issue 8 item 3): an admin sees the live
//! sessions and the block list, blocks a nurse through the page's form (admin.js, CSRF token,
//! strict CSP with no violations), and a screenshot is saved under target/screenshots/ (CI
//! artifacts); a nurse gets the 403 page.

use crate::browser_support;
use crate::gateway_support;

use std::path::Path;

use serde_json::{Value, json};

use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::gateway::server::SESSION_COOKIE;
use eds_gateway::pki::identity::complete_iin;
use gateway_support::*;

fn iin(n: u32) -> String {
    for k in 0..10 {
        if let Some(i) = complete_iin(&format!("870303{}{:04}", 5, n * 10 + k)) {
            return i;
        }
    }
    panic!("no IIN for {n}");
}

fn screenshot(name: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir.join(name).display().to_string()
}

fn run_admin(
    _checked: &browser_support::Browser,
    locale: &str,
    cookie: &str,
    url: &str,
    steps: Value,
) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("EDS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let plan = json!({
        "chromium": chromium,
        "locale": locale,
        "cookies": [{"name": SESSION_COOKIE, "value": cookie, "url": url}],
        "steps": steps,
    });
    let out = std::process::Command::new("node")
        .arg("admin.mjs")
        .arg(plan.to_string())
        .current_dir(&dir)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node admin.mjs failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("driver output ({e}): {text}"))
}

fn session_cookie(b: &eds_gateway::gateway::client::Browser) -> String {
    b.cookies
        .iter()
        .find(|(k, _)| k == SESSION_COOKIE)
        .map(|(_, v)| v.clone())
        .expect("session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sees_sessions_and_blocks_in_chromium_and_a_nurse_gets_403() {
    let Some(chromium) = browser_support::browser() else {
        return;
    };
    let dir = tmp("admin-page");
    let pki = TestPki::start(&dir.join("pki"), KeyKind::Gost512).await;
    pki.trust_into(&dir.join("certs"), "test");
    let nurse = pki.issue(&iin(1), "СӘРСЕНОВА", Profile::Gost2015, "employee");
    let admin = pki.issue(&iin(2), "БАТЫРОВ", Profile::Gost2015, "employee");
    write_staff(
        &dir,
        &[
            (&nurse.iin, "Сәрсенова Дана", "nurse", true),
            (&admin.iin, "Батыров Серік", "admin", true),
        ],
    );
    let mis = echo_mis().await;
    let clock = TestClock::default();
    let rev = format!(
        "[revocation]\nmode = \"ocsp-then-crl\"\nocsp_hash = \"sha256\"\n\n{}",
        pki.crl_toml("test")
    );
    let gw = gateway(&dir, mis, &rev, "", &clock).await;
    let mut a = gw.browser();
    a.login(&admin.signer, eds_gateway::clock::now())
        .await
        .expect("admin login");
    let mut n = gw.browser();
    n.login(&nurse.signer, eds_gateway::clock::now())
        .await
        .expect("nurse login");
    // One entry already on the list.
    let (status, v) = a
        .post_json(
            "/eds/admin/api/block",
            &json!({"serial": "0badc0de", "reason": "тестовый ключ утерян"}),
        )
        .await
        .expect("POST");
    assert_eq!(status, 200, "{v}");

    let url = gw.origin.clone();
    let page = format!("{url}/eds/admin");
    let out = run_admin(
        &chromium,
        "ru",
        &session_cookie(&a),
        &url,
        json!([
            {"goto": page},
            {"snapshot": "before"},
            {"screenshot": screenshot("admin-ru.png")},
            {"fill": "#adm-block-key", "value": nurse.iin},
            {"fill": "#adm-block-reason", "value": "ключ скомпрометирован"},
            {"submit": "#adm-block-form"},
            {"snapshot": "after"},
            {"screenshot": screenshot("admin-ru-blocked.png")},
            {"goto": format!("{page}?lang=kk&event=session_evicted")},
            {"snapshot": "kk"},
            {"screenshot": screenshot("admin-kk-audit.png")},
        ]),
    );
    assert_eq!(out["pageErrors"], json!([]), "{out}");
    assert_eq!(out["csp"], json!([]), "CSP violations: {out}");
    assert_eq!(out["console"], json!([]), "{out}");
    let before = &out["snapshots"]["before"];
    assert_eq!(before["status"], 200, "{out}");
    assert_eq!(before["lang"], "ru");
    assert_eq!(before["sessions"], 2, "{before}");
    assert_eq!(before["blocks"], 1, "{before}");
    let text = before["text"].as_str().unwrap_or("");
    for want in [
        "Активные сеансы",
        "Список блокировок",
        "Сәрсенова Дана",
        "badc0de",
        "Состояние проверки отзыва",
    ] {
        assert!(text.contains(want), "{want:?} missing: {text}");
    }
    let after = &out["snapshots"]["after"];
    assert_eq!(after["blocks"], 2, "{after}");
    assert_eq!(after["sessions"], 1, "the nurse's session is gone: {after}");
    let kk = &out["snapshots"]["kk"];
    assert_eq!(kk["lang"], "kk");
    assert!(
        kk["text"]
            .as_str()
            .unwrap_or("")
            .contains("session_evicted"),
        "{kk}"
    );
    assert!(Path::new(&screenshot("admin-ru.png")).exists());
    // The block went through the page: audited with the admin's IIN.
    let rec = gw.last_audit("block_added");
    let by = rec
        .get("by")
        .or_else(|| rec["fields"].get("by"))
        .cloned()
        .unwrap_or_default();
    assert!(by.as_str().unwrap_or("").contains(&admin.iin), "{rec}");

    // A nurse (a fresh session after unblocking) gets the 403 page.
    let (status, _) = a
        .post_json("/eds/admin/api/unblock", &json!({"iin": nurse.iin}))
        .await
        .expect("POST");
    assert_eq!(status, 200);
    let mut n = gw.browser();
    n.login(&nurse.signer, eds_gateway::clock::now())
        .await
        .expect("nurse login after unblock");
    let out = run_admin(
        &chromium,
        "en",
        &session_cookie(&n),
        &url,
        json!([
            {"goto": page},
            {"snapshot": "nurse"},
            {"screenshot": screenshot("admin-nurse-403.png")},
        ]),
    );
    let nurse_view = &out["snapshots"]["nurse"];
    assert_eq!(nurse_view["status"], 403, "{out}");
    assert_eq!(nurse_view["sessions"], 0);
    assert!(
        nurse_view["text"]
            .as_str()
            .unwrap_or("")
            .contains("administrators only"),
        "{nurse_view}"
    );
}
