//! The NCALayer simulator (`eds-gateway ncalayer-sim`, issue 5): protocol over a real WebSocket
//! with NCA's own test keys (GOST-2015 2026 pack and RSA), CMS checked with our verifier over
//! exactly the data sent; dialog switches; bad input; every captured request/response pair in
//! ../shared/fixtures/nca/ncalayer replayed shape-for-shape; and the npm `ncalayer-js-client`
//! driving the binary from Node (node or the installed package missing = failure).

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use eds_gateway::drill::ncalayer::{Behaviour, Flavor, SimConfig, Simulator};
use eds_gateway::drill::sign::load_p12;
use eds_gateway::pki::cms::{SignedData, verify_signers};
use eds_gateway::pki::identity::NcaIdentity;
use eds_gateway::pki::signature::SignaturePolicy;

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");
const GOST: &str = "keys/gost2015-2026/individual_valid.p12";
const RSA: &str = "keys/rsa-2021-2022/individual_sign_rsa_2021.p12";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

type Ws = WebSocketStream<TcpStream>;

fn config(key: &str, behaviour: Behaviour, flavor: Flavor) -> SimConfig {
    let signer = load_p12(&common::nca_bytes(key), "Qwerty12").expect("NCA test key opens");
    SimConfig {
        signer,
        behaviour,
        flavor,
        tls: None,
    }
}

async fn start(cfg: SimConfig) -> SocketAddr {
    let sim = Simulator::bind("127.0.0.1:0".parse().expect("addr"), cfg)
        .await
        .expect("bind");
    let addr = sim.local_addr().expect("local addr");
    tokio::spawn(sim.run());
    addr
}

/// Connects and returns the socket and the greeting.
async fn connect(addr: SocketAddr) -> (Ws, Value) {
    let tcp = TcpStream::connect(addr).await.expect("tcp connect");
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (mut ws, _) = client_async_with_config(format!("ws://{addr}/"), tcp, Some(cfg))
        .await
        .expect("ws handshake");
    let greeting = next_text(&mut ws).await;
    (
        ws,
        serde_json::from_str(&greeting).expect("greeting is JSON"),
    )
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await.expect("a message").expect("no ws error") {
            Message::Text(t) => return t.as_str().to_string(),
            Message::Close(_) => panic!("server closed the connection"),
            _ => continue,
        }
    }
}

async fn call_raw(ws: &mut Ws, text: &str) -> String {
    ws.send(Message::text(text)).await.expect("send");
    next_text(ws).await
}

async fn call(ws: &mut Ws, req: &Value) -> Value {
    let t = call_raw(ws, &req.to_string()).await;
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {t}"))
}

fn basics_sign(data: Value, signing: Value, signer: Value) -> Value {
    json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
        "allowedStorages": null, "format": "cms", "data": data,
        "signingParams": signing, "signerParams": signer, "locale": "ru"}})
}

fn common_call(method: &str, args: Value) -> Value {
    json!({"module": "kz.gov.pki.knca.commonUtils", "method": method, "args": args})
}

/// Parses a CMS and checks every signer verifies over exactly `data`.
fn assert_verifies(cms: &[u8], data: &[u8], attached: bool) {
    let sd = SignedData::parse(cms).expect("CMS parses");
    assert_eq!(sd.content.is_some(), attached, "attached/detached as asked");
    if attached {
        assert_eq!(
            sd.content.as_deref(),
            Some(data),
            "content is exactly the data"
        );
    }
    let detached = if attached { None } else { Some(data) };
    let v = verify_signers(&sd, detached, &[], &SignaturePolicy::default()).expect("message ok");
    assert_eq!(v.len(), 1);
    assert!(v[0].result.is_ok(), "signer verifies: {:?}", v[0].result);
    // And the same CMS over other bytes fails: the check is real.
    if !attached {
        let v = verify_signers(&sd, Some(b"other"), &[], &SignaturePolicy::default())
            .expect("message ok");
        assert!(v[0].result.is_err());
    }
}

fn pem_body(result: &Value) -> Vec<u8> {
    let pem = result.as_str().expect("PEM string");
    assert!(pem.starts_with("-----BEGIN CMS-----\n") && pem.ends_with("-----END CMS-----\n"));
    pem.as_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basics_and_common_utils_sign_with_gost_and_rsa_keys() {
    for key in [GOST, RSA] {
        let cfg = config(key, Behaviour::default(), Flavor::NcaLayer);
        let id = NcaIdentity::from_certificate(&cfg.signer.certificate);
        let iin = id.iin.expect("NCA test key has an IIN").value;
        let addr = start(cfg).await;
        let (mut ws, greeting) = connect(addr).await;
        assert_eq!(greeting, json!({"result": {"version": "1.4"}}));
        assert_eq!(call_raw(&mut ws, "--heartbeat--").await, "--heartbeat--");

        let data = format!("login nonce for {key}").into_bytes();
        let b64 = B64.encode(&data);
        // basics, detached, decode: the PEM covers the decoded bytes.
        let r = call(
            &mut ws,
            &basics_sign(
                json!(b64),
                json!({"decode": true, "encapsulate": false, "digested": false, "tsaProfile": {}}),
                json!({"extKeyUsageOids": [], "iin": iin, "chain": []}),
            ),
        )
        .await;
        assert_eq!(r["status"], json!(true), "{key}: {r}");
        let list = r["body"]["result"].as_array().expect("NCALayer 1.4: array");
        assert_eq!(list.len(), 1);
        assert_verifies(&pem_body(&list[0]), &data, false);

        // basics defaults: decode false (the text itself), encapsulate true.
        let r = call(
            &mut ws,
            &basics_sign(
                json!("plain text"),
                json!({}),
                json!({"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"]}),
            ),
        )
        .await;
        assert_verifies(&pem_body(&r["body"]["result"][0]), b"plain text", true);

        // multisign: one PEM per document.
        let r = call(
            &mut ws,
            &basics_sign(
                json!([B64.encode(b"a"), B64.encode(b"b")]),
                json!({"decode": true, "encapsulate": true}),
                json!({"extKeyUsageOids": []}),
            ),
        )
        .await;
        let list = r["body"]["result"].as_array().expect("array");
        assert_eq!(list.len(), 2);
        assert_verifies(&pem_body(&list[1]), b"b", true);

        // commonUtils: base64 DER, detached and attached.
        for (m, attach) in [
            ("createCMSSignatureFromBase64", false),
            ("createCAdESFromBase64", true),
        ] {
            let r = call(
                &mut ws,
                &common_call(m, json!(["PKCS12", "SIGNATURE", b64, attach])),
            )
            .await;
            assert_eq!(r["code"], json!("200"), "{key} {m}: {r}");
            let der = B64
                .decode(r["responseObject"].as_str().expect("base64"))
                .expect("valid base64");
            assert_verifies(&der, &data, attach);
        }

        let r = call(&mut ws, &common_call("getKeyInfo", json!(["PKCS12"]))).await;
        assert_eq!(r["code"], json!("200"));
        assert!(
            r["responseObject"]["pem"]
                .as_str()
                .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----"))
        );
        let r = call(&mut ws, &common_call("getActiveTokens", json!([]))).await;
        assert_eq!(r, json!({"code": "200", "responseObject": []}));

        // uuid is echoed.
        let mut req = common_call("getActiveTokens", json!([]));
        req["uuid"] = json!("abc-1");
        assert_eq!(call(&mut ws, &req).await["uuid"], json!("abc-1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signer_filters_that_the_key_misses_look_like_a_closed_dialog() {
    let addr = start(config(GOST, Behaviour::default(), Flavor::NcaLayer)).await;
    let (mut ws, _) = connect(addr).await;
    let cancel = json!({"status": true, "body": {}});
    for signer in [
        json!({"extKeyUsageOids": [], "iin": "000000000000"}),
        json!({"extKeyUsageOids": [], "bin": "123456789021"}),
        // an org-employee role OID on an individual key
        json!({"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.2"]}),
    ] {
        let r = call(
            &mut ws,
            &basics_sign(json!("MTEK"), json!({}), signer.clone()),
        )
        .await;
        assert_eq!(r, cancel, "{signer}");
    }
    // extKeyUsageOids is mandatory.
    let r = call(&mut ws, &basics_sign(json!("MTEK"), json!({}), json!({}))).await;
    assert_eq!(r["status"], json!(false));
    assert_eq!(r["code"], json!("INVOCATION_ERROR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_no_matching_key_and_wrong_password_switches() {
    let sign_req = basics_sign(json!("MTEK"), json!({}), json!({"extKeyUsageOids": []}));
    let cms_req = common_call(
        "createCMSSignatureFromBase64",
        json!(["PKCS12", "AUTHENTICATION", "MTEK", false]),
    );
    for (b, basics_want, common_want) in [
        (
            Behaviour {
                cancel: true,
                ..Behaviour::default()
            },
            json!({"status": true, "body": {}}),
            json!({"code": "500", "message": "action.canceled"}),
        ),
        (
            Behaviour {
                no_matching_key: true,
                ..Behaviour::default()
            },
            json!({"status": true, "body": {}}),
            json!({"code": "500", "message": "action.canceled"}),
        ),
    ] {
        let addr = start(config(RSA, b, Flavor::NcaLayer)).await;
        let (mut ws, _) = connect(addr).await;
        assert_eq!(call(&mut ws, &sign_req).await, basics_want);
        assert_eq!(call(&mut ws, &cms_req).await, common_want);
        assert_eq!(
            call(&mut ws, &common_call("getKeyInfo", json!(["PKCS12"]))).await,
            common_want
        );
    }
    let wrong = Behaviour {
        wrong_password: true,
        ..Behaviour::default()
    };
    let addr = start(config(RSA, wrong, Flavor::NcaLayer)).await;
    let (mut ws, _) = connect(addr).await;
    let r = call(&mut ws, &sign_req).await;
    assert_eq!(r["status"], json!(false));
    assert_eq!(r["code"], json!("INVOCATION_ERROR"));
    assert!(
        r["details"]
            .as_str()
            .expect("details")
            .contains("UnrecoverableKey")
    );
    let r = call(&mut ws, &cms_req).await;
    assert_eq!(r["code"], json!("500"));
    assert_eq!(r["message"], json!("keystore.wrong.password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_ncalayer_shaped_errors_and_the_connection_survives() {
    let addr = start(config(RSA, Behaviour::default(), Flavor::NcaLayer)).await;
    let (mut ws, _) = connect(addr).await;
    let is_500 = |t: &str| {
        let v: Value = serde_json::from_str(t).unwrap_or_else(|_| panic!("JSON reply: {t}"));
        assert_eq!(v["code"], json!("500"), "{t}");
        assert!(v["message"].is_string(), "{t}");
        v
    };
    let v = is_500(&call_raw(&mut ws, "{not json").await);
    assert!(
        v["message"]
            .as_str()
            .expect("msg")
            .contains("JSONException")
    );
    is_500(&call_raw(&mut ws, "[1,2,3]").await);
    let v = is_500(&call_raw(&mut ws, r#"{"module":"kz.example.nope","method":"x"}"#).await);
    assert_eq!(v["message"], json!("module not found: kz.example.nope"));
    is_500(
        &call_raw(
            &mut ws,
            r#"{"module":"kz.gov.pki.knca.commonUtils","method":"nope"}"#,
        )
        .await,
    );
    // captured: wrong argument types
    let v = call(&mut ws, &common_call("getKeyInfo", json!([null]))).await;
    assert_eq!(
        v["message"],
        json!("java.lang.IllegalArgumentException: argument type mismatch. Method: getKeyInfo")
    );
    let r = call(
        &mut ws,
        &json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
            "allowedStorages": null, "format": "cms", "data": "MTEK", "signingParams": 555,
            "signerParams": {"extKeyUsageOids": []}, "locale": "ru"}}),
    )
    .await;
    assert_eq!(
        r["details"],
        json!("org.json.JSONException: JSONObject[\"signingParams\"] is not a JSONObject.")
    );
    // a huge frame (11 MiB): an error, and the same connection still answers
    let huge = "x".repeat(11 << 20);
    let v = is_500(&call_raw(&mut ws, &huge).await);
    assert!(v["message"].as_str().expect("msg").contains("too large"));
    assert_eq!(call_raw(&mut ws, "--heartbeat--").await, "--heartbeat--");
    // binary frames are read as text
    ws.send(Message::binary(b"--heartbeat--".to_vec()))
        .await
        .expect("send");
    assert_eq!(next_text(&mut ws).await, "--heartbeat--");
    // a frame over the hard limit closes that connection only
    let (mut ws2, _) = connect(addr).await;
    let _ = ws2.send(Message::text("y".repeat(65 << 20))).await;
    let _ = ws2.next().await;
    let (mut ws3, g) = connect(addr).await;
    assert_eq!(g["result"]["version"], json!("1.4"));
    assert_eq!(call_raw(&mut ws3, "--heartbeat--").await, "--heartbeat--");
    assert_eq!(call_raw(&mut ws, "--heartbeat--").await, "--heartbeat--");
}

/// Same JSON type everywhere; objects: the captured keys all present (top level: exactly the
/// same keys); arrays: first elements compared.
fn same_shape(captured: &Value, ours: &Value, top: bool, path: &str) -> Result<(), String> {
    match (captured, ours) {
        (Value::Object(c), Value::Object(o)) => {
            if top && c.keys().collect::<Vec<_>>() != o.keys().collect::<Vec<_>>() {
                return Err(format!(
                    "{path}: keys {:?} vs {:?}",
                    c.keys().collect::<Vec<_>>(),
                    o.keys().collect::<Vec<_>>()
                ));
            }
            for (k, v) in c {
                let ov = o.get(k).ok_or(format!("{path}.{k} missing"))?;
                same_shape(v, ov, top && k == "body", &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(c), Value::Array(o)) => {
            // A token list may be empty or not (pairs 1 and 2 are the same request); a
            // multisign result has one signature per document.
            if path.ends_with(".result") && c.len() != o.len() {
                return Err(format!("{path}: {} vs {} elements", c.len(), o.len()));
            }
            match (c.first(), o.first()) {
                (Some(a), Some(b)) => same_shape(a, b, false, &format!("{path}[0]")),
                _ => Ok(()),
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => Err(format!("{path}: {captured} vs {ours}")),
    }
}

fn is_cancel(v: &Value) -> bool {
    v == &json!({"code": "500", "message": "action.canceled"})
        || v == &json!({"status": true, "body": {}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_captured_pair_replays_shape_for_shape() {
    let pairs: Vec<Value> = serde_json::from_slice(&common::nca_bytes(
        "ncalayer/sigex_ncalayer_js_client_test-data.json",
    ))
    .expect("fixture JSON");
    assert_eq!(pairs.len(), 50);
    let normal = start(config(GOST, Behaviour::default(), Flavor::Kaztoken)).await;
    let cancel = start(config(
        GOST,
        Behaviour {
            cancel: true,
            ..Behaviour::default()
        },
        Flavor::Kaztoken,
    ))
    .await;
    // Captured successes the simulator does not produce (XML signing, CAdES over a hash): each must get an NCALayer-shaped error naming the simulator.
    let not_simulated = [13, 14, 15, 23, 24, 25, 27, 28, 29, 48];
    let mut matched = 0;
    for (i, p) in pairs.iter().enumerate() {
        let captured: Value =
            serde_json::from_str(p["response"].as_str().expect("response")).expect("JSON");
        let request = p["request"].as_str().expect("request");
        let (mut ws, greeting) = connect(if is_cancel(&captured) { cancel } else { normal }).await;
        if let Some(init) = p.get("initMessage") {
            let init: Value = serde_json::from_str(init.as_str().expect("str")).expect("JSON");
            assert_eq!(greeting, init, "pair {i}: greeting");
        }
        let ours: Value =
            serde_json::from_str(&call_raw(&mut ws, request).await).expect("JSON reply");
        if not_simulated.contains(&i) {
            let msg = ours
                .get("details")
                .or(ours.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("");
            assert!(
                msg.starts_with("ncalayer-sim:")
                    && (ours["code"] == json!("500") || ours["status"] == json!(false)),
                "pair {i}: {ours}"
            );
            continue;
        }
        same_shape(&captured, &ours, true, "$")
            .unwrap_or_else(|e| panic!("pair {i} ({request}): {e}\n ours: {ours}"));
        matched += 1;
    }
    assert_eq!(matched, 50 - not_simulated.len());
}

/// The binary, on an ephemeral port; returns the child and the printed URL.
fn spawn_sim(key: &str, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("ncalayer-sim")
        .arg("--p12")
        .arg(common::nca(key))
        .args(["--password-env", "NCASIM_PW", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("NCASIM_PW", "Qwerty12")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ncalayer-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (child, url)
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ncalayer_sim_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn verify_cms(cms: &Path, data: Option<&Path>, key: &str) -> Value {
    let mut cmd = Command::new(BIN);
    cmd.args(["verify", "cms"]).arg(cms);
    if let Some(d) = data {
        cmd.arg("--data").arg(d);
    }
    if key == GOST {
        // The 2026 pack chains to the 2022 test root; validate the path inside its life.
        cmd.arg("--root")
            .arg(common::nca("ca/test/root_test_gost_2022.cer"))
            .arg("--intermediate")
            .arg(common::nca("ca/test/nca_gost2022_test.cer"))
            .args(["--at", "2026-09-01T10:00:00Z"]);
    } else {
        cmd.arg("--root")
            .arg(common::nca("ca/test/nca_rsa_test_2019.pem"));
    }
    let o = cmd.arg("--json").output().expect("run verify cms");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "verify cms --json output ({e}): {text}{}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn npm_ncalayer_js_client_gets_cms_that_verify_cms_accepts() {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ncalayer-js");
    assert!(
        js.join("node_modules/ncalayer-js-client/package.json")
            .is_file(),
        "ncalayer-js-client is not installed: run `(cd tests/ncalayer-js && npm ci --no-audit --no-fund)`"
    );
    // wss:// too, as browsers need: a self-signed CN=127.0.0.1 certificate made now with
    // OpenSSL and trusted by Node through NODE_EXTRA_CA_CERTS (verification stays on).
    let tls = tmp_dir("tls");
    let (cert, tls_key) = (tls.join("cert.pem"), tls.join("key.pem"));
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&tls_key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl must be installed for the wss:// interop test");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (cert_s, key_s) = (
        cert.to_str().expect("utf8").to_string(),
        tls_key.to_str().expect("utf8").to_string(),
    );
    let wss = ["--tls-cert", cert_s.as_str(), "--tls-key", key_s.as_str()];
    for (key, extra, scheme) in [
        (GOST, &[][..], "ws"),
        (RSA, &[][..], "ws"),
        (GOST, &wss[..], "wss"),
    ] {
        let (child, url) = spawn_sim(key, extra);
        let _guard = Kill(child);
        assert!(url.starts_with(&format!("{scheme}://")), "{url}");
        let out = tmp_dir(&format!(
            "{}_{scheme}",
            if key == GOST { "gost" } else { "rsa" }
        ));
        let o = Command::new("node")
            .arg("interop.mjs")
            .arg(&url)
            .arg(&out)
            .current_dir(&js)
            .env("NODE_EXTRA_CA_CERTS", &cert)
            .output()
            .expect("node must be installed for the interop test");
        assert!(
            o.status.success(),
            "node interop.mjs failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let report: Value = serde_json::from_slice(
            o.stdout
                .split(|b| *b == b'\n')
                .find(|l| l.starts_with(b"{"))
                .expect("JSON report line"),
        )
        .expect("report JSON");
        assert_eq!(report["version"], json!("1.4"), "{report}");
        assert_eq!(report["canceledByUser"], json!(true), "{report}");
        let data = out.join("data.bin");
        // base64 DER from commonUtils → DER file
        let der = B64
            .decode(
                std::fs::read_to_string(out.join("common.b64"))
                    .expect("common.b64")
                    .trim(),
            )
            .expect("base64");
        std::fs::write(out.join("common.p7s"), der).expect("write");
        for (file, detached) in [
            ("basics.pem", true),
            ("basics_attached.pem", false),
            ("common.p7s", true),
        ] {
            let v = verify_cms(
                &out.join(file),
                if detached { Some(&data) } else { None },
                key,
            );
            let signer = &v["signers"][0];
            let code = signer["code"].as_str().unwrap_or("");
            if key == GOST {
                assert_eq!(code, "ok", "{key} {file}: {v}");
            } else {
                // The RSA 2021 test certificate's path is past its life or its CA is not in the
                // fixtures: the signature check must still have passed (path codes only).
                assert!(
                    ["ok", "cert_expired", "unknown_issuer"].contains(&code),
                    "{key} {file}: {v}"
                );
            }
            let bytes = std::fs::read(out.join(file)).expect("read CMS");
            let content = std::fs::read(&data).expect("read data");
            assert_verifies(&bytes, &content, !detached);
            eprintln!("{key} {file}: verify cms → {}", v["signers"][0]);
        }
        eprintln!("interop {key} over {scheme}: {report}");
    }
}

/// basics `digested: true` (`basicsCMSParamsDetachedHash`): the page sends the hash, NCALayer
/// signs it as the messageDigest and returns a detached CMS that verifies over the original
/// content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digested_signing_covers_the_content_the_hash_came_from() {
    use sha2::Digest as _;
    for key in [GOST, RSA] {
        let cfg = config(key, Behaviour::default(), Flavor::NcaLayer);
        let gost = key == GOST;
        let addr = start(cfg).await;
        let (mut ws, _) = connect(addr).await;
        let data = format!("document signed by hash with {key}").into_bytes();
        let hash: Vec<u8> = if gost {
            streebog::Streebog512::digest(&data).to_vec()
        } else {
            sha2::Sha256::digest(&data).to_vec()
        };
        let r = call(
            &mut ws,
            &basics_sign(
                json!(B64.encode(&hash)),
                json!({"decode": true, "encapsulate": false, "digested": true}),
                json!({"extKeyUsageOids": [], "chain": []}),
            ),
        )
        .await;
        assert_eq!(r["status"], json!(true), "{key}: {r}");
        let list = r["body"]["result"].as_array().expect("array");
        assert_verifies(&pem_body(&list[0]), &data, false);
        // A "hash" of the wrong length is signed as NCALayer does (captured pair 39), and the
        // result verifies over nothing.
        let r = call(
            &mut ws,
            &basics_sign(
                json!(B64.encode([1u8; 5])),
                json!({"decode": true, "digested": true}),
                json!({"extKeyUsageOids": [], "chain": []}),
            ),
        )
        .await;
        assert_eq!(r["status"], json!(true), "{key}: {r}");
        let sd = SignedData::parse(&pem_body(&r["body"]["result"][0])).expect("CMS");
        let v = verify_signers(&sd, Some(&data), &[], &SignaturePolicy::default()).expect("ok");
        assert!(v[0].result.is_err());
    }
}
