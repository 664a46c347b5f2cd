//! `ncalayer-sim`: a stand-in for the NCALayer desktop app, speaking its WebSocket protocol as
//! real web pages use it (../shared/NCA.md §2), with one .p12 key and no dialogs.
//!
//! What a client sees:
//! * on connect, the greeting `{"result":{"version":"1.4"}}` (`1.2` in the KAZTOKEN flavour);
//!   `--heartbeat--` is echoed;
//! * `kz.gov.pki.knca.commonUtils`: `getActiveTokens`, `getKeyInfo`, `createCMSSignatureFromBase64`,
//!   `createCAdESFromBase64`, `changeLocale`; answers `{"code":"200","responseObject":…}`, errors
//!   `{"code":"500","message":…}`, a cancelled dialog `{"code":"500","message":"action.canceled"}`;
//!   wrong argument types get NCALayer's `argument type mismatch` message (captured pairs);
//! * `kz.gov.pki.knca.basics` `sign` with `format: "cms"`: `{"status":true,"body":{"result":[PEM…]}}`
//!   (always an array in the NCALayer 1.4 flavour; a bare string for one `data` in the KAZTOKEN
//!   flavour, as in the captured pairs); cancel and "no key matches `signerParams`" →
//!   `{"status":true,"body":{}}`; errors `{"status":false,"code":"INVOCATION_ERROR",…}`;
//! * an optional `uuid` in a request is echoed in its response.
//!
//! The key is offered in every storage a request names (the simulator has no hardware, but pages
//! that ask only for KAZTOKEN still get a key). The CMS comes from [`super::sign::sign_cms`].
//!
//! Simulator choices (not captured from NCALayer, documented so tests can rely on them):
//! unknown module → `{"code":"500","message":"module not found: M"}`; malformed JSON →
//! `{"code":"500","message":"org.json.JSONException: …"}`; a message over [`MAX_MESSAGE`] →
//! `{"code":"500","message":"request too large: …"}` (the connection stays open up to
//! [`HARD_LIMIT`], above that the error is sent and the connection closed); the `--wrong-password`
//! switch → commonUtils `{"code":"500","message":"keystore.wrong.password"}` and basics
//! `INVOCATION_ERROR` with `java.security.UnrecoverableKeyException` details. Not simulated:
//! TSA timestamps (`tsaProfile` is ignored), XML and raw signing, the
//! `…FromBase64Hash` methods: these get an error naming the simulator.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::der::pem;
use super::sign::{SignOptions, Signer, sign_cms, sign_cms_digest};
use crate::clock::now;
use crate::pki::cert::KeyUsage;
use crate::pki::identity::NcaIdentity;
use crate::pki::name::oids as name_oids;
use crate::pki::time::UnixTime;

/// Largest request answered normally (10 MiB).
pub const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// Largest message read at all; above it the connection is closed after an error reply.
pub const HARD_LIMIT: usize = 64 * 1024 * 1024;

/// Module names.
pub const COMMON_UTILS: &str = "kz.gov.pki.knca.commonUtils";
/// The 2022 module.
pub const BASICS: &str = "kz.gov.pki.knca.basics";
/// KAZTOKEN's identification module (answered only in the KAZTOKEN flavour).
pub const KAZTOKEN_EXT: &str = "kz.digiflow.mobile.extensions";

/// Which desktop app to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// NCALayer 1.4: greeting `1.4`, basics results always arrays, no tokens.
    #[default]
    NcaLayer,
    /// KAZTOKEN desktop 1.2 (the captured pairs): greeting `1.2`, `getVersion` answered,
    /// basics result a string for one `data`, `AKKaztokenStore` active.
    Kaztoken,
}

/// Dialog outcomes to simulate.
#[derive(Clone, Copy, Debug, Default)]
pub struct Behaviour {
    /// The user closes every dialog.
    pub cancel: bool,
    /// The user types a wrong key password.
    pub wrong_password: bool,
    /// No key in the storage fits the request.
    pub no_matching_key: bool,
}

/// Everything the simulator needs.
pub struct SimConfig {
    /// The one key offered.
    pub signer: Signer,
    /// Simulated dialog outcomes.
    pub behaviour: Behaviour,
    /// Which app to imitate.
    pub flavor: Flavor,
    /// `wss://` when set, plain `ws://` otherwise.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// A bound simulator; [`Simulator::run`] serves until the process ends.
pub struct Simulator {
    listener: TcpListener,
    cfg: Arc<SimConfig>,
}

impl Simulator {
    /// Binds `addr` (port 0 = an ephemeral port, see [`Simulator::local_addr`]).
    pub async fn bind(addr: SocketAddr, cfg: SimConfig) -> io::Result<Simulator> {
        Ok(Simulator {
            listener: TcpListener::bind(addr).await?,
            cfg: Arc::new(cfg),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections forever; each gets its own task, and no client input ends the loop.
    pub async fn run(self) -> io::Result<()> {
        loop {
            let (stream, _) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("ncalayer-sim: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let cfg = self.cfg.clone();
            tokio::spawn(async move {
                match cfg.tls.clone() {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => serve(tls, cfg).await,
                        Err(e) => eprintln!("ncalayer-sim: TLS handshake: {e}"),
                    },
                    None => serve(stream, cfg).await,
                }
            });
        }
    }
}

/// Loads `--tls-cert` (PEM chain) and `--tls-key` (PEM private key) into an acceptor.
pub fn tls_acceptor(
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| format!("{}: {e}", cert_pem.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert_pem.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", cert_pem.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_pem).map_err(|e| format!("{}: {e}", key_pem.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, cfg: Arc<SimConfig>) {
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(HARD_LIMIT))
        .max_frame_size(Some(HARD_LIMIT));
    let ws = match tokio_tungstenite::accept_async_with_config(stream, Some(ws_cfg)).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("ncalayer-sim: WebSocket handshake: {e}");
            return;
        }
    };
    let (mut tx, mut rx) = ws.split();
    if tx.send(Message::text(greeting(cfg.flavor))).await.is_err() {
        return;
    }
    while let Some(msg) = rx.next().await {
        let reply = match msg {
            Ok(Message::Text(t)) => handle_text(&cfg, t.as_str()),
            Ok(Message::Binary(b)) => match std::str::from_utf8(&b) {
                Ok(t) => handle_text(&cfg, t),
                Err(_) => common_error("org.json.JSONException: request is not UTF-8 text"),
            },
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(WsError::Capacity(e)) => {
                let _ = tx
                    .send(Message::text(common_error(&format!(
                        "request too large: {e} (limit {MAX_MESSAGE} bytes)"
                    ))))
                    .await;
                break;
            }
            Err(_) => break,
        };
        if tx.send(Message::text(reply)).await.is_err() {
            break;
        }
    }
    let _ = tx.close().await;
}

/// The first message on every connection.
pub fn greeting(flavor: Flavor) -> String {
    let version = match flavor {
        Flavor::NcaLayer => "1.4",
        Flavor::Kaztoken => "1.2",
    };
    json!({"result": {"version": version}}).to_string()
}

/// Answers one text message (the whole protocol, without the socket).
pub fn handle_text(cfg: &SimConfig, text: &str) -> String {
    if text.len() > MAX_MESSAGE {
        return common_error(&format!(
            "request too large: {} bytes (limit {MAX_MESSAGE} bytes)",
            text.len()
        ));
    }
    if text == "--heartbeat--" {
        return text.to_string();
    }
    let req: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return common_error(&format!("org.json.JSONException: {e}")),
    };
    let Some(obj) = req.as_object() else {
        return common_error(
            "org.json.JSONException: A JSONObject text must begin with '{' at 1 [character 2 line 1]",
        );
    };
    let module = obj.get("module").and_then(Value::as_str).unwrap_or("");
    let method = obj.get("method").and_then(Value::as_str).unwrap_or("");
    let args = obj.get("args");
    let mut reply = match module {
        COMMON_UTILS => common_utils(cfg, method, args),
        BASICS => basics(cfg, method, args),
        KAZTOKEN_EXT if cfg.flavor == Flavor::Kaztoken && method == "getVersion" => {
            json!({"code": "200", "responseObject": {"name": "KAZTOKENdesktop", "version": "1.2.758.648"}})
        }
        _ => json!({"code": "500", "message": format!("module not found: {module}")}),
    };
    if let (Some(uuid), Some(r)) = (obj.get("uuid"), reply.as_object_mut()) {
        r.insert("uuid".into(), uuid.clone());
    }
    reply.to_string()
}

fn common_error(message: &str) -> String {
    json!({"code": "500", "message": message}).to_string()
}

fn c500(message: impl Into<String>) -> Value {
    json!({"code": "500", "message": message.into()})
}

fn mismatch(method: &str) -> Value {
    c500(format!(
        "java.lang.IllegalArgumentException: argument type mismatch. Method: {method}"
    ))
}

fn c200(v: Value) -> Value {
    json!({"code": "200", "responseObject": v})
}

fn canceled() -> Value {
    c500("action.canceled")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn sign_bytes(cfg: &SimConfig, data: &[u8], detached: bool) -> Result<Vec<u8>, String> {
    sign_cms(
        &cfg.signer.key,
        &cfg.signer.certificate,
        data,
        SignOptions {
            detached,
            signing_time: now(),
        },
    )
    .map_err(|e| e.to_string())
}

/// Whether the key suits a commonUtils `keyType` (anything but the two names = any key).
fn key_type_matches(cfg: &SimConfig, key_type: &str) -> bool {
    let ku = cfg.signer.certificate.extensions.key_usage;
    let has = |bit| ku.is_none_or(|k: KeyUsage| k.has(bit));
    match key_type {
        "AUTHENTICATION" => has(KeyUsage::DIGITAL_SIGNATURE),
        "SIGNATURE" => has(KeyUsage::NON_REPUDIATION),
        _ => true,
    }
}

fn common_utils(cfg: &SimConfig, method: &str, args: Option<&Value>) -> Value {
    let args: Vec<Value> = match args {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return mismatch(method),
    };
    let s = |i: usize| args.get(i).and_then(Value::as_str);
    let b = &cfg.behaviour;
    match method {
        "getActiveTokens" => match cfg.flavor {
            Flavor::NcaLayer => c200(json!([])),
            Flavor::Kaztoken => c200(json!(["AKKaztokenStore"])),
        },
        "getKeyInfo" => {
            if args.len() != 1 || s(0).is_none() {
                return mismatch(method);
            }
            if b.cancel || b.no_matching_key {
                return canceled();
            }
            if b.wrong_password {
                return c500("keystore.wrong.password");
            }
            c200(key_info(cfg))
        }
        "createCMSSignatureFromBase64" | "createCAdESFromBase64" => {
            let attach = args.get(3).and_then(Value::as_bool);
            let (Some(_storage), Some(key_type), Some(data), Some(attach)) =
                (s(0), s(1), s(2), attach)
            else {
                return mismatch(method);
            };
            if args.len() != 4 {
                return mismatch(method);
            }
            if b.cancel || b.no_matching_key || !key_type_matches(cfg, key_type) {
                return canceled();
            }
            if b.wrong_password {
                return c500("keystore.wrong.password");
            }
            let bytes = match b64().decode(data.trim()) {
                Ok(v) => v,
                Err(e) => return c500(format!("java.lang.IllegalArgumentException: {e}")),
            };
            match sign_bytes(cfg, &bytes, !attach) {
                Ok(cms) => c200(json!(b64().encode(cms))),
                Err(e) => c500(e),
            }
        }
        "createCAdESFromBase64Hash" => {
            if args.len() != 3 || s(0).is_none() || s(1).is_none() || s(2).is_none() {
                return mismatch(method);
            }
            if s(2) == Some("") {
                // The captured answer to an empty hash carries no message at all.
                return json!({"code": "500"});
            }
            c500(format!("ncalayer-sim: {method} is not simulated"))
        }
        "signXml" | "signXmls" => {
            let xml_ok = match method {
                "signXml" => s(2).is_some(),
                _ => args
                    .get(2)
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().all(Value::is_string)),
            };
            if args.len() != 5 || s(0).is_none() || s(1).is_none() || !xml_ok {
                return mismatch(method);
            }
            c500(format!("ncalayer-sim: {method} is not simulated"))
        }
        "changeLocale" => {
            if args.len() != 1 || s(0).is_none() {
                return mismatch(method);
            }
            json!({"code": "200"})
        }
        _ => c500(format!("java.lang.NoSuchMethodException: {method}")),
    }
}

fn key_info(cfg: &SimConfig) -> Value {
    let c = &cfg.signer.certificate;
    let ski = c.extensions.subject_key_id.as_deref().map(hex::encode);
    let algorithm = match c.public_key_algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA".to_string(),
        "1.2.398.3.10.1.1.2.3.2" | "1.2.398.3.10.1.1.2.3.1" => "ECGOST3410-2015".to_string(),
        "1.2.398.3.10.1.1.1.1" | "1.2.398.3.10.1.1.1.2" => "ECGOST3410".to_string(),
        "1.2.840.10045.2.1" => "EC".to_string(),
        other => other.to_string(),
    };
    let millis = |t: UnixTime| (t.0 * 1000).to_string();
    json!({
        "alias": ski.clone().unwrap_or_else(|| c.serial_hex()),
        "keyId": ski.clone().unwrap_or_default(),
        "algorithm": algorithm,
        "subjectCn": c.subject.first_text(name_oids::CN).unwrap_or(""),
        "subjectDn": c.subject.to_display_string(),
        "issuerCn": c.issuer.first_text(name_oids::CN).unwrap_or(""),
        "issuerDn": c.issuer.to_display_string(),
        "serialNumber": c.serial_hex(),
        "certNotAfter": millis(c.not_after),
        "certNotBefore": millis(c.not_before),
        "authorityKeyIdentifier": c.extensions.authority_key_id.as_deref().map(hex::encode).unwrap_or_default(),
        "pem": pem("CERTIFICATE", c.der()),
    })
}

fn invocation_error(details: impl Into<String>) -> Value {
    json!({
        "status": false,
        "code": "INVOCATION_ERROR",
        "message": "An invoked method threw an exception.",
        "details": details.into(),
    })
}

fn not_object(key: &str) -> Value {
    invocation_error(format!(
        "org.json.JSONException: JSONObject[\"{key}\"] is not a JSONObject."
    ))
}

fn not_found(key: &str) -> Value {
    invocation_error(format!(
        "org.json.JSONException: JSONObject[\"{key}\"] not found."
    ))
}

fn basics_cancel() -> Value {
    json!({"status": true, "body": {}})
}

/// Whether the key passes `signerParams` (extKeyUsageOids all-of, iin, bin, serialNumber).
fn signer_matches(cfg: &SimConfig, p: &serde_json::Map<String, Value>) -> Result<bool, Value> {
    let c = &cfg.signer.certificate;
    let oids = match p.get("extKeyUsageOids") {
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(invocation_error(
                "org.json.JSONException: JSONObject[\"extKeyUsageOids\"] is not a JSONArray.",
            ));
        }
        None => return Err(not_found("extKeyUsageOids")),
    };
    let eku: Vec<String> = c
        .extensions
        .extended_key_usage
        .iter()
        .flatten()
        .map(|o| o.to_string())
        .collect();
    for o in oids {
        match o.as_str() {
            Some(o) if eku.iter().any(|e| e == o) => {}
            Some(_) => return Ok(false),
            None => {
                return Err(invocation_error(
                    "org.json.JSONException: JSONArray[0] is not a String.",
                ));
            }
        }
    }
    let id = NcaIdentity::from_certificate(c);
    let want = |k: &str| p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    if let Some(iin) = want("iin")
        && id.iin.as_ref().map(|n| n.value.as_str()) != Some(iin)
    {
        return Ok(false);
    }
    if let Some(bin) = want("bin")
        && id.bin.as_ref().map(|n| n.value.as_str()) != Some(bin)
    {
        return Ok(false);
    }
    if let Some(sn) = want("serialNumber") {
        let ours = c.serial_hex().to_ascii_lowercase();
        let theirs = sn.to_ascii_lowercase();
        if ours.trim_start_matches('0') != theirs.trim_start_matches('0') {
            return Ok(false);
        }
    }
    Ok(true)
}

fn basics(cfg: &SimConfig, method: &str, args: Option<&Value>) -> Value {
    if method != "sign" {
        return invocation_error(format!(
            "java.lang.NoSuchMethodException: {BASICS}.{method}"
        ));
    }
    let Some(args) = args.and_then(Value::as_object) else {
        return not_object("args");
    };
    let format = match args.get("format") {
        Some(Value::String(f)) => f.as_str(),
        Some(_) => {
            return invocation_error(
                "org.json.JSONException: JSONObject[\"format\"] is not a string.",
            );
        }
        None => return not_found("format"),
    };
    match args.get("allowedStorages") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => {
            return invocation_error(
                "org.json.JSONException: JSONObject[\"allowedStorages\"] is not a JSONArray.",
            );
        }
    }
    let signing = match args.get("signingParams") {
        Some(Value::Object(o)) => o,
        Some(_) => return not_object("signingParams"),
        None => return not_found("signingParams"),
    };
    let signer = match args.get("signerParams") {
        Some(Value::Object(o)) => o,
        Some(_) => return not_object("signerParams"),
        None => return not_found("signerParams"),
    };
    let (docs, many): (Vec<&str>, bool) = match args.get("data") {
        Some(Value::String(s)) => (vec![s.as_str()], false),
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
            (a.iter().filter_map(Value::as_str).collect(), true)
        }
        Some(_) => {
            return invocation_error(
                "org.json.JSONException: JSONObject[\"data\"] is not a string or a non-empty array of strings.",
            );
        }
        None => return not_found("data"),
    };
    let flag = |k: &str, default: bool| -> Result<bool, Value> {
        match signing.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(v)) => Ok(*v),
            Some(_) => Err(invocation_error(format!(
                "org.json.JSONException: JSONObject[\"{k}\"] is not a Boolean."
            ))),
        }
    };
    let (decode, encapsulate, digested) = match (
        flag("decode", false),
        flag("encapsulate", true),
        flag("digested", false),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    if format != "cms" {
        return invocation_error(format!(
            "ncalayer-sim: format \"{format}\" is not simulated (cms only)"
        ));
    }
    let matches = match signer_matches(cfg, signer) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let b = &cfg.behaviour;
    if b.cancel || b.no_matching_key || !matches {
        return basics_cancel();
    }
    if b.wrong_password {
        return invocation_error(
            "java.security.UnrecoverableKeyException: keystore password was incorrect",
        );
    }
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let bytes = if decode {
            match b64().decode(d.trim()) {
                Ok(v) => v,
                Err(e) => {
                    return invocation_error(format!("java.lang.IllegalArgumentException: {e}"));
                }
            }
        } else {
            d.as_bytes().to_vec()
        };
        // digested: the (decoded) data is the hash; the CMS is detached by nature.
        let signed = if digested {
            sign_cms_digest(&cfg.signer.key, &cfg.signer.certificate, &bytes, now())
                .map_err(|e| e.to_string())
        } else {
            sign_bytes(cfg, &bytes, !encapsulate)
        };
        match signed {
            Ok(cms) => out.push(Value::String(pem("CMS", &cms))),
            Err(e) => return invocation_error(e),
        }
    }
    let result = if many || cfg.flavor == Flavor::NcaLayer {
        Value::Array(out)
    } else {
        out.pop().unwrap_or(Value::Null)
    };
    json!({"status": true, "body": {"result": result}})
}
