//! The whole login in a real browser against the real gateway (issue 6 item 9): headless
//! Chromium opens a MIS page, is sent to the gateway's login page, the page's script asks the
//! NCALayer simulator (`eds-gateway ncalayer-sim`, a separate process with a test-PKI GOST key)
//! to sign the gateway's challenge, the gateway verifies it (path, OCSP against the live test
//! responder, staff file) and the browser lands on the demo MIS page showing the identity the
//! gateway passed; then it signs out through the MIS's logout link. Screenshots are saved under
//! target/browser-screenshots/ (CI artifacts).

use crate::browser_support;
use crate::gateway_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use browser_support::{browser, screenshot_path};
use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use gateway_support::*;

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(p12: &std::path::Path) -> (Sim, String) {
    let mut child = Command::new(BIN)
        .arg("ncalayer-sim")
        .arg("--p12")
        .arg(p12)
        .args(["--password-env", "GW_BROWSER_PW", "--listen", "127.0.0.1:0"])
        .env("GW_BROWSER_PW", "pw")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ncalayer-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("ncalayer-sim said {line:?}"))
        .to_string();
    (Sim(child), url)
}

#[test]
fn a_nurse_signs_in_with_ncalayer_reaches_the_mis_and_signs_out() {
    let Some(b) = browser() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tmp("gw-browser");
    let (gw, iin, _sim) = rt.block_on(async {
        let pki = TestPki::start(&dir.join("pki"), KeyKind::Gost512).await;
        pki.trust_into(&dir.join("certs"), "test");
        let iin = eds_gateway::pki::identity::complete_iin("90021540001").expect("iin");
        let key = pki.issue(&iin, "ИВАНОВА", Profile::Gost2015, "employee");
        write_staff(&dir, &[(&iin, "Иванова Мария", "nurse;staff", true)]);
        let (sim, sim_url) = start_sim(&key.p12);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind MIS");
        let mis = l.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(l, eds_gateway::gateway::demo::demo_mis()).await });
        let revocation = format!(
            "[revocation]\nmode = \"ocsp-then-crl\"\nocsp_hash = \"sha256\"\n\n{}",
            pki.crl_toml("test")
        );
        let extra = format!("[login_page]\nncalayer_url = \"{sim_url}\"\n");
        let gw = gateway(&dir, mis, &revocation, &extra, &TestClock::default()).await;
        (gw, iin, sim)
    });
    // The runtime keeps serving while the browser runs (its worker threads are separate).
    let shot_login = screenshot_path("gateway-login-page.png");
    let shot_mis = screenshot_path("gateway-demo-mis.png");
    let shot_out = screenshot_path("gateway-signed-out.png");
    let out = b.run(
        "kk-KZ,kk;q=0.9,ru;q=0.8",
        json!([
            {"goto": format!("{}/ward/7?patient=42", gw.origin)},
            {"snapshot": "login"},
            {"screenshot": shot_login},
            {"submit": true},
            {"snapshot": "mis"},
            {"screenshot": shot_mis},
            {"click": "#logout"},
            {"snapshot": "logout_page"},
            {"click": "#eds-logout"},
            {"snapshot": "signed_out"},
            {"screenshot": shot_out},
        ]),
    );
    let login = &out["snapshots"]["login"];
    assert!(
        login["url"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("{}/eds/login?next=", gw.origin)),
        "an unauthenticated page visit lands on the login page: {login}"
    );
    assert_eq!(
        login["lang"],
        json!("kk"),
        "Accept-Language kk → Kazakh page"
    );
    let mis = &out["snapshots"]["mis"];
    assert_eq!(
        mis["url"],
        json!(format!("{}/ward/7?patient=42", gw.origin)),
        "back where the nurse wanted to go: {mis}"
    );
    let body = mis["body"].as_str().unwrap_or("");
    assert!(
        body.contains(&iin),
        "the MIS shows the IIN it received: {body}"
    );
    assert!(body.contains("Иванова Мария"), "and the name: {body}");
    assert!(body.contains("nurse,staff"), "and the roles: {body}");
    assert!(
        body.contains("Gateway cookies visible to the MIS: none"),
        "{body}"
    );
    let logout_page = &out["snapshots"]["logout_page"];
    assert!(
        logout_page["body"]
            .as_str()
            .unwrap_or("")
            .contains("Иванова Мария"),
        "{logout_page}"
    );
    let signed_out = &out["snapshots"]["signed_out"];
    assert!(
        signed_out["url"]
            .as_str()
            .unwrap_or("")
            .contains("/eds/login"),
        "after sign-out the browser is on the login page: {signed_out}"
    );
    assert!(
        out["csp"].as_array().is_none_or(|a| a.is_empty()),
        "no CSP violations on gateway pages: {}",
        out["csp"]
    );
    assert!(
        out["pageErrors"].as_array().is_none_or(|a| a.is_empty()),
        "{}",
        out["pageErrors"]
    );
    for e in ["login_ok", "logout"] {
        gw.last_audit(e);
    }
    for shot in [shot_login, shot_mis, shot_out] {
        let png = std::fs::read(&shot).expect("screenshot written");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
            "{shot}"
        );
    }
    drop(gw);
    rt.shutdown_background();
}
