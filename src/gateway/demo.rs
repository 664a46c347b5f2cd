//! `eds-gateway demo`: the README's first command. In a data folder it makes a GOST-512 test
//! PKI, four staff keys (a doctor, a nurse, an admin, and a revoked one), a staff file, a
//! trust store and a `gateway.toml`; then it starts the CRL/OCSP responder, a small demo MIS
//! that shows the identity it receives, and the gateway, all on 127.0.0.1, and prints how to log
//! in. Nothing outside the process is needed.
//!
//! Re-running with the same folder reuses what is there (keys stay valid; the staff file and
//! config are rewritten so ports can change).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use axum::response::Html;

use crate::drill::ca::{self, Ca, InitOptions, IssueRequest, Profile};
use crate::drill::keys::KeyKind;
use crate::drill::p12out;
use crate::pki::time::UnixTime;

/// The password of every demo key (test keys only).
pub const DEMO_PASSWORD: &str = "Qwerty12";

/// One demo person.
pub struct DemoUser {
    /// File stem of the .p12.
    pub key: &'static str,
    /// IIN.
    pub iin: &'static str,
    /// Surname.
    pub surname: &'static str,
    /// Given name.
    pub given: &'static str,
    /// Patronymic.
    pub patronymic: &'static str,
    /// Gateway roles in the staff file.
    pub roles: &'static str,
    /// Revoked right after issue.
    pub revoked: bool,
}

/// The demo hospital's BIN (valid checksum).
pub const DEMO_BIN: &str = "990340001230";

/// The four demo people (IINs with valid checksums).
pub const USERS: [DemoUser; 4] = [
    DemoUser {
        key: "doctor",
        iin: "850101300015",
        surname: "АХМЕТОВ",
        given: "АЙДАР",
        patronymic: "САПАРҰЛЫ",
        roles: "doctor;staff",
        revoked: false,
    },
    DemoUser {
        key: "nurse",
        iin: "900215400013",
        surname: "ИВАНОВА",
        given: "МАРИЯ",
        patronymic: "ПЕТРОВНА",
        roles: "nurse;staff",
        revoked: false,
    },
    DemoUser {
        key: "admin",
        iin: "780630300026",
        surname: "СЕРИКОВ",
        given: "ДАНИЯР",
        patronymic: "БОЛАТҰЛЫ",
        roles: "admin;staff",
        revoked: false,
    },
    DemoUser {
        key: "revoked",
        iin: "881111400034",
        surname: "ЖҰМАБАЕВА",
        given: "ӘСЕЛ",
        patronymic: "ҚАЙРАТҚЫЗЫ",
        roles: "nurse;staff",
        revoked: true,
    },
];

/// What [`prepare`] made.
pub struct Prepared {
    /// The config file.
    pub config: PathBuf,
    /// Key files by user key name.
    pub keys: Vec<(String, PathBuf)>,
}

/// Creates (or reuses) the PKI and keys in `dir` and writes the staff file, trust store and
/// config for a responder at `responder` and a gateway at `gateway` with the MIS at `mis`.
pub fn prepare(
    dir: &Path,
    responder: SocketAddr,
    gateway: SocketAddr,
    mis: SocketAddr,
    ncalayer_url: &str,
) -> Result<Prepared, String> {
    let pki = dir.join("pki");
    let base = format!("http://{responder}");
    let fresh = !pki.join("state.json").exists();
    if fresh {
        Ca::init(
            &pki,
            &InitOptions {
                algorithm: KeyKind::Gost512,
                base_url: base.clone(),
                crl_lifetime_secs: 24 * 3600,
                delta_lifetime_secs: 3600,
            },
        )
        .map_err(|e| format!("pki init: {}", e.0))?;
    }
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| format!("{}: {e}", keys_dir.display()))?;
    let mut keys = Vec::new();
    {
        let _lock = ca::Lock::take(&pki).map_err(|e| e.0)?;
        let mut ca = Ca::open(&pki).map_err(|e| e.0)?;
        for u in &USERS {
            let out = keys_dir.join(format!("{}.p12", u.key));
            if !out.exists() {
                let issued = ca
                    .issue(&IssueRequest {
                        iin: u.iin.into(),
                        surname: u.surname.into(),
                        given_name: u.given.into(),
                        patronymic: Some(u.patronymic.into()),
                        bin: Some(DEMO_BIN.into()),
                        org: Some("ТЕСТ ҚАЛАЛЫҚ АУРУХАНАСЫ".into()),
                        role: "employee".into(),
                        profile: Profile::Gost2015,
                        not_before: UnixTime(ca::now().0 - 300),
                        days: 365,
                    })
                    .map_err(|e| format!("pki issue {}: {}", u.key, e.0))?;
                let key_id =
                    crate::drill::keys::key_id(&issued.key.public_key_bits().unwrap_or_default());
                let p12 = p12out::write(
                    &issued.key.to_pkcs8(),
                    &[issued.cert_der.clone(), ca.ca.der().to_vec()],
                    &hex::encode(&key_id),
                    &key_id,
                    DEMO_PASSWORD,
                )
                .map_err(|e| format!("p12 {}: {e}", u.key))?;
                std::fs::write(&out, p12).map_err(|e| format!("{}: {e}", out.display()))?;
                if u.revoked {
                    ca.revoke(&issued.serial, 1, ca::now())
                        .map_err(|e| format!("pki revoke: {}", e.0))?;
                }
            }
            keys.push((u.key.to_string(), out));
        }
        ca.write_full_crl(ca::now()).map_err(|e| e.0)?;
        ca.write_delta_crl(ca::now()).map_err(|e| e.0)?;
        ca.save().map_err(|e| e.0)?;
    }
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).map_err(|e| format!("{}: {e}", certs.display()))?;
    for (name, src) in [("test_root.pem", "root.pem"), ("test_ca.pem", "ca.pem")] {
        std::fs::copy(pki.join(src), certs.join(name))
            .map_err(|e| format!("{}: {e}", pki.join(src).display()))?;
    }
    let mut staff = String::from("iin,name,roles,enabled,valid_until,bin\n");
    for u in &USERS {
        staff.push_str(&format!(
            "{},{} {} {},{},true,,\n",
            u.iin, u.surname, u.given, u.patronymic, u.roles
        ));
    }
    write(&dir.join("staff.csv"), &staff)?;
    let config = dir.join("gateway.toml");
    write(
        &config,
        &format!(
            r#"# Written by `eds-gateway demo`: a localhost demo with TEST keys. Not for production.
[server]
listen = "{gateway}"
public_origin = "http://{gateway}"
plain_http = true
instance = "demo"

[trust]
dir = "certs"

[revocation]
mode = "ocsp-then-crl"
ocsp_hash = "sha256"
crl_dir = "data/crl"

[[revocation.crl]]
issuer = "certs/test_ca.pem"
url = "{base}/crl/ca.crl"
delta_url = "{base}/crl/ca_delta.crl"

[session]
store = "embedded"
dir = "data/sessions"

[staff]
file = "staff.csv"

[[staff.mapping]]
bin = "{DEMO_BIN}"
nca_role = "employee"
grant = ["employee_of_demo_hospital"]

[audit]
file = "data/audit/audit.jsonl"

[upstream]
url = "http://{mis}"

[login_page]
ncalayer_url = "{ncalayer_url}"
gateway_name = "Demo hospital MIS"
"#
        ),
    )?;
    Ok(Prepared { config, keys })
}

/// Logs in at `gateway` with the .p12 at `p12` over HTTP and returns the demo MIS page it then
/// sees, or the refusal code.
pub async fn http_login(gateway: SocketAddr, p12: &Path, password: &str) -> Result<String, String> {
    let bytes = std::fs::read(p12).map_err(|e| format!("{}: {e}", p12.display()))?;
    let signer = crate::drill::sign::load_p12(&bytes, password).map_err(|e| e.to_string())?;
    let mut b =
        super::client::Browser::new(gateway, &format!("http://{gateway}")).map_err(|e| e.code)?;
    b.login(&signer, crate::clock::now())
        .await
        .map_err(|e| e.code)?;
    let (status, page) = b.get("/").await.map_err(|e| e.code)?;
    if status == 200 {
        Ok(page)
    } else {
        Err(format!("http_{status}"))
    }
}

fn write(p: &Path, s: &str) -> Result<(), String> {
    std::fs::write(p, s).map_err(|e| format!("{}: {e}", p.display()))
}

fn header_value(h: &HeaderMap, name: &str) -> String {
    let raw = h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("—");
    pct_decode(raw)
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The demo MIS: one page that shows what the gateway told it.
pub fn demo_mis() -> Router {
    Router::new().fallback(|req: Request<Body>| async move {
        let h = req.headers();
        let rows: String = [
            ("IIN / ЖСН / ИИН", "x-eds-iin"),
            ("Name / Аты-жөні / ФИО", "x-eds-name"),
            ("BIN / БСН / БИН", "x-eds-bin"),
            ("Organisation / Ұйым / Организация", "x-eds-org"),
            ("Roles / Рөлдер / Роли", "x-eds-roles"),
            ("Certificate serial", "x-eds-serial"),
            ("Session id", "x-eds-sid"),
            ("X-Request-Id", "x-request-id"),
            ("X-Forwarded-For", "x-forwarded-for"),
        ]
        .iter()
        .map(|(label, name)| {
            format!(
                "<tr><th>{}</th><td id=\"{}\">{}</td></tr>",
                esc(label),
                esc(name),
                esc(&header_value(h, name))
            )
        })
        .collect();
        let cookie_seen = h.get("cookie").is_some_and(|c| {
            c.to_str()
                .map(|s| s.contains("__Host-eds"))
                .unwrap_or(false)
        });
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Demo MIS</title>\
             <style>body{{font-family:sans-serif;margin:2em;background:#f4f7fb}}\
             table{{border-collapse:collapse;background:#fff}}th,td{{border:1px solid #ccd;padding:.4em .8em;text-align:left}}\
             h1{{color:#1d4e89}}</style></head><body>\
             <h1>Demo MIS — Медициналық ақпараттық жүйе</h1>\
             <p>Path: <code>{}</code></p>\
             <p>The gateway passed this identity (client copies of these headers are removed):</p>\
             <table>{rows}</table>\
             <p>Gateway cookies visible to the MIS: <b id=\"cookie-leak\">{}</b></p>\
             <p><a id=\"logout\" href=\"/eds/logout\">Log out / Шығу / Выйти</a></p></body></html>",
            esc(req.uri().path()),
            if cookie_seen { "YES (bug)" } else { "none" }
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_iins_and_bin_have_valid_checksums() {
        for u in &USERS {
            assert!(crate::pki::identity::iin_checksum_ok(u.iin), "{}", u.iin);
        }
        assert!(crate::pki::identity::iin_checksum_ok(DEMO_BIN));
    }

    #[test]
    fn percent_decoding_round_trips_cyrillic() {
        let s = "АХМЕТОВ Әсел";
        assert_eq!(pct_decode(&super::super::upstream::pct_encode(s)), s);
        assert_eq!(pct_decode("%"), "%");
        assert_eq!(pct_decode("%zz"), "%zz");
    }
}
