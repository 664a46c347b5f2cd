//! The gateway's commands through the real binary: `check-config` lists every problem and exits
//! 64; `demo --smoke` builds the embedded demo (test PKI, keys, staff file, responder, demo MIS,
//! gateway), logs the doctor in over HTTP and sees the revoked key refused; `audit verify` then
//! finds the demo's audit chain intact.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

#[test]
fn check_config_lists_every_problem_and_exits_64() {
    let d = tmp("check-config");
    let f = d.join("gateway.toml");
    std::fs::write(
        &f,
        "[server]\nlisten = \"nowhere\"\npublic_origin = \"http://a/b\"\n\
         [trust]\ndir = \"missing\"\n[staff]\nfile = \"missing.csv\"\n\
         [[staff.mapping]]\nnca_role = \"wizard\"\ngrant = []\n\
         [audit]\nfile = \"a.jsonl\"\n[upstream]\nurl = \"ftp://x\"\n\
         [session]\nidle_timeout_secs = 1\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&f)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "server.listen",
        "server.public_origin",
        "trust.dir",
        "staff.file",
        "staff.mapping[0].grant",
        "staff.mapping[0].nca_role",
        "upstream.url",
        "session.idle_timeout_secs",
        "[[revocation.crl]]",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
    // A typo in a key name is caught too (deny_unknown_fields).
    std::fs::write(&f, "[server]\nlistn = \"127.0.0.1:1\"\n").expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&f)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listn"));
}

#[test]
fn demo_smoke_logs_the_doctor_in_and_refuses_the_revoked_key() {
    let d = tmp("demo");
    // Ports base, base+1, base+2 on 127.0.0.1: three that are free now. Another test's client
    // connection can still take one before the demo binds it (ephemeral ports), so a bind
    // failure is retried with other ports; any other failure is not.
    let free_base = || loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().expect("addr").port();
        drop(l);
        let p = if p > 65000 { p - 3000 } else { p };
        let all_free = (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok());
        if all_free {
            return p;
        }
    };
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = Command::new(BIN)
            .args([
                "demo",
                "--smoke",
                "--port",
                &free_base().to_string(),
                "--dir",
            ])
            .arg(&d)
            .output()
            .expect("run demo");
        let in_use = String::from_utf8_lossy(&out.stderr).contains("Address already in use");
        if out.status.success() || !in_use || attempts == 5 {
            break out;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo --smoke failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("smoke: doctor: logged in"), "{text}");
    assert!(
        text.contains("smoke: revoked: refused: cert_revoked"),
        "{text}"
    );
    for f in [
        "keys/doctor.p12",
        "keys/nurse.p12",
        "keys/admin.p12",
        "keys/revoked.p12",
        "staff.csv",
        "gateway.toml",
    ] {
        assert!(d.join(f).exists(), "{f}");
    }
    let audit = d.join("data/audit/audit.jsonl");
    let out = Command::new(BIN)
        .args(["audit", "verify"])
        .arg(&audit)
        .output()
        .expect("audit verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let log = std::fs::read_to_string(&audit).expect("audit");
    assert!(log.contains("\"event\":\"login_ok\""));
    assert!(log.contains("\"code\":\"cert_revoked\""));
    // check-config accepts what the demo wrote, while nothing runs.
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(d.join("gateway.toml"))
        .output()
        .expect("check-config");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
