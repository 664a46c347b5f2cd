//! One audit record: how a line is built (canonical form), how secrets are kept out of it, and how
//! a line is read back.
//!
//! # Canonical form
//! A record is one line of UTF-8 JSON followed by `\n`:
//!
//! ```text
//! {"seq":7,"ts":"2026-11-25T08:00:00Z","instance":"gw-a","event":"login_ok",<fields…>,"prev":"<64 hex>"}
//! ```
//!
//! `seq` starts at 1 and grows by one per record across rotated files; `ts` is RFC 3339 UTC
//! (seconds); `prev` is the lowercase hex SHA-256 (FIPS 180-4) of the **exact bytes of the previous
//! record's line, without its terminating `\n`**. The first record of a brand-new chain has
//! `prev` = 64 zeros. Nothing is ever re-serialised for hashing: the verifier hashes the bytes it
//! reads, so any byte changed in a line (including whitespace or key order) breaks the chain at the
//! next record. The writer emits the fields in the order shown, caller fields in between (in the
//! order `serde_json::Map` iterates them).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::AuditError;

/// The `prev` of the first record of a brand-new chain.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest line (without `\n`) the writer produces and the verifier reads: 64 KiB. Login records
/// are a few hundred bytes; the cap keeps a hostile or broken file from making the verifier (or
/// `open`) hold unbounded lines in memory.
pub const MAX_LINE: usize = 64 * 1024;

/// Longest string value kept in a record (bytes); longer values (a hostile `User-Agent`, say) are
/// cut at a character boundary and marked, so that an attacker-sized header cannot stop a login
/// record from being written.
pub const MAX_STRING: usize = 2048;

/// Deepest nesting accepted in caller fields (records are flat in practice; the cap keeps the
/// recursive sanitiser bounded).
pub const MAX_DEPTH: usize = 16;

/// Keys the writer owns; caller fields may not use them at the top level.
pub const RESERVED_KEYS: [&str; 6] = ["seq", "ts", "instance", "event", "prev", "redacted"];

/// Words that mark a key as secret. A key is split into lowercase words (on `_`, `-`, `.`, spaces
/// and camelCase boundaries); if any word is one of these (or its plural), or the key holds the
/// words `challenge data`, the key and its value are removed from the record and the key's path
/// is listed in the record's `redacted` array. Issue 6: "No tokens, nonces or raw CMS in it."
const SECRET_WORDS: [&str; 9] = [
    "token",
    "cookie",
    "nonce",
    "cms",
    "password",
    "csrf",
    "secret",
    "authorization",
    "passwd",
];

/// Hex SHA-256 of a line's bytes (without the `\n`).
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// True if `key` names something that must never be written (see [`SECRET_WORDS`]).
pub fn is_secret_key(key: &str) -> bool {
    let words = key_words(key);
    if words.iter().any(|w| {
        SECRET_WORDS
            .iter()
            .any(|s| w == s || w.strip_suffix('s') == Some(s))
    }) {
        return true;
    }
    words
        .windows(2)
        .any(|p| p[0] == "challenge" && p[1] == "data")
}

/// Splits a key into lowercase words: `sessionToken` → [session, token], `Set-Cookie` →
/// [set, cookie], `challenge_data` → [challenge, data].
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Validates and cleans caller fields: an object, no reserved keys at the top, secret keys removed
/// at any depth (their paths returned), long strings shortened, depth capped.
pub fn sanitize_fields(fields: Value) -> Result<(Map<String, Value>, Vec<String>), AuditError> {
    let mut map = match fields {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err(AuditError::FieldsNotObject),
    };
    if let Some(k) = map.keys().find(|k| RESERVED_KEYS.contains(&k.as_str())) {
        return Err(AuditError::ReservedField(k.clone()));
    }
    let mut redacted = Vec::new();
    clean_map(&mut map, "", 0, &mut redacted)?;
    Ok((map, redacted))
}

fn clean_map(
    map: &mut Map<String, Value>,
    path: &str,
    depth: usize,
    redacted: &mut Vec<String>,
) -> Result<(), AuditError> {
    if depth >= MAX_DEPTH {
        return Err(AuditError::TooDeep);
    }
    let secret: Vec<String> = map.keys().filter(|k| is_secret_key(k)).cloned().collect();
    for k in secret {
        map.remove(&k);
        redacted.push(join_path(path, &k));
    }
    for (k, v) in map.iter_mut() {
        let p = join_path(path, k);
        clean_value(v, &p, depth + 1, redacted)?;
    }
    Ok(())
}

fn clean_value(
    v: &mut Value,
    path: &str,
    depth: usize,
    redacted: &mut Vec<String>,
) -> Result<(), AuditError> {
    if depth >= MAX_DEPTH {
        return Err(AuditError::TooDeep);
    }
    match v {
        Value::Object(m) => clean_map(m, path, depth, redacted),
        Value::Array(a) => {
            for (i, item) in a.iter_mut().enumerate() {
                clean_value(item, &format!("{path}[{i}]"), depth + 1, redacted)?;
            }
            Ok(())
        }
        Value::String(s) if s.len() > MAX_STRING => {
            let dropped = s.len() - MAX_STRING;
            let mut cut = MAX_STRING;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push_str(&format!("…[{dropped} bytes cut]"));
            Ok(())
        }
        _ => Ok(()),
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Builds one line (without `\n`) in the canonical form.
pub fn build_line(
    seq: u64,
    ts: &str,
    instance: &str,
    event: &str,
    fields: &Map<String, Value>,
    redacted: &[String],
    prev: &str,
) -> Result<String, AuditError> {
    let js = |v: &Value| serde_json::to_string(v).map_err(|e| AuditError::Encode(e.to_string()));
    let jstr = |s: &str| js(&Value::String(s.to_owned()));
    let mut line = String::with_capacity(256);
    line.push_str("{\"seq\":");
    line.push_str(&seq.to_string());
    line.push_str(",\"ts\":");
    line.push_str(&jstr(ts)?);
    line.push_str(",\"instance\":");
    line.push_str(&jstr(instance)?);
    line.push_str(",\"event\":");
    line.push_str(&jstr(event)?);
    for (k, v) in fields {
        line.push(',');
        line.push_str(&jstr(k)?);
        line.push(':');
        line.push_str(&js(v)?);
    }
    if !redacted.is_empty() {
        line.push_str(",\"redacted\":");
        line.push_str(&js(&Value::from(redacted.to_vec()))?);
    }
    line.push_str(",\"prev\":\"");
    line.push_str(prev);
    line.push_str("\"}");
    if line.len() > MAX_LINE {
        return Err(AuditError::RecordTooLarge {
            len: line.len(),
            max: MAX_LINE,
        });
    }
    Ok(line)
}

/// What the chain needs from a line read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecord {
    /// `seq`.
    pub seq: u64,
    /// `prev`, lowercase hex.
    pub prev: String,
    /// SHA-256 of the line bytes (the next record's expected `prev`).
    pub hash: String,
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not UTF-8 JSON, or not an object.
    NotJson(String),
    /// JSON object, but a required field is missing or malformed.
    BadRecord(String),
}

/// Parses a line (without `\n`) into the chain fields; checks `seq`, `ts`, `instance`, `event`
/// and `prev` are present and well-formed.
pub fn parse_line(line: &[u8]) -> Result<(ParsedRecord, Value), LineError> {
    let v: Value = serde_json::from_slice(line).map_err(|e| {
        LineError::NotJson(if line.is_empty() {
            "empty line".to_owned()
        } else {
            format!("not JSON ({e})")
        })
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| LineError::NotJson("JSON but not an object".to_owned()))?;
    let seq = obj
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| LineError::BadRecord("no unsigned integer `seq`".to_owned()))?;
    let ts = obj
        .get("ts")
        .and_then(Value::as_str)
        .ok_or_else(|| LineError::BadRecord("no string `ts`".to_owned()))?;
    if crate::pki::time::UnixTime::parse_rfc3339(ts).is_none() {
        return Err(LineError::BadRecord(format!("`ts` {ts:?} is not RFC 3339")));
    }
    for k in ["instance", "event"] {
        if obj.get(k).and_then(Value::as_str).is_none() {
            return Err(LineError::BadRecord(format!("no string `{k}`")));
        }
    }
    let prev = obj
        .get("prev")
        .and_then(Value::as_str)
        .filter(|p| {
            p.len() == 64
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(|| LineError::BadRecord("no `prev` of 64 lowercase hex digits".to_owned()))?
        .to_owned();
    Ok((
        ParsedRecord {
            seq,
            prev,
            hash: line_hash(line),
        },
        v,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_recognised_in_any_spelling() {
        for k in [
            "token",
            "session_token",
            "sessionToken",
            "Set-Cookie",
            "cookies",
            "nonce",
            "ocsp.nonce",
            "cms",
            "raw_cms",
            "password",
            "X-CSRF-Token",
            "challenge_data",
            "challengeData",
            "client_secret",
            "Authorization",
        ] {
            assert!(is_secret_key(k), "{k} should be secret");
        }
        for k in [
            "iin",
            "serial",
            "issuer",
            "reason",
            "challenge_id",
            "user_agent",
            "ip",
        ] {
            assert!(!is_secret_key(k), "{k} should be allowed");
        }
    }

    #[test]
    fn nested_secret_fields_are_stripped_and_listed() {
        let (m, red) = sanitize_fields(json!({
            "iin": "900101300123",
            "req": {"headers": [{"cookie": "sid=abc"}, {"ua": "x"}], "csrf": "zz"},
            "token": "t"
        }))
        .expect("ok");
        assert_eq!(red, vec!["token", "req.csrf", "req.headers[0].cookie"]);
        let s = serde_json::to_string(&m).expect("json");
        assert!(
            !s.contains("abc") && !s.contains("zz") && !s.contains("\"t\""),
            "{s}"
        );
    }

    #[test]
    fn reserved_and_non_object_fields_are_refused() {
        assert!(matches!(
            sanitize_fields(json!({"seq": 3})),
            Err(AuditError::ReservedField(k)) if k == "seq"
        ));
        assert!(matches!(
            sanitize_fields(json!([1])),
            Err(AuditError::FieldsNotObject)
        ));
    }

    #[test]
    fn long_strings_are_cut_at_a_char_boundary() {
        let (m, _) = sanitize_fields(json!({"ua": "ж".repeat(5000)})).expect("ok");
        let ua = m["ua"].as_str().expect("str");
        assert!(
            ua.len() < MAX_STRING + 40 && ua.ends_with("bytes cut]"),
            "{}",
            ua.len()
        );
    }

    #[test]
    fn built_line_parses_back_and_hashes_its_bytes() {
        let (m, red) = sanitize_fields(json!({"iin": "1", "nonce": "n"})).expect("ok");
        let line = build_line(
            5,
            "2026-11-25T00:00:00Z",
            "gw",
            "login_ok",
            &m,
            &red,
            ZERO_HASH,
        )
        .expect("line");
        assert_eq!(
            line,
            format!(
                "{{\"seq\":5,\"ts\":\"2026-11-25T00:00:00Z\",\"instance\":\"gw\",\"event\":\"login_ok\",\"iin\":\"1\",\"redacted\":[\"nonce\"],\"prev\":\"{ZERO_HASH}\"}}"
            )
        );
        let (p, _) = parse_line(line.as_bytes()).expect("parses");
        assert_eq!(p.seq, 5);
        assert_eq!(p.hash, line_hash(line.as_bytes()));
    }
}
