//! Login challenges: the one-time text a member of staff signs with NCALayer, and the checks on a
//! challenge taken back from the store (DESIGN.md "The flow of one login", step 1).
//!
//! # What staff sign (the exact format; an auditor can read it)
//! UTF-8 text, five lines, each ended by a single LF (`\n`), nothing else:
//! ```text
//! eds-gateway login
//! origin: https://mis.example.kz
//! issued: 2026-12-01T16:00:00Z
//! expires: 2026-12-01T16:02:00Z
//! nonce: 3q2-7wAAAAD…  (43 characters)
//! ```
//! * `origin` is the gateway's own origin (scheme://host[:port]) as configured: a signature made
//!   for one gateway cannot be replayed to another.
//! * `issued`/`expires` are RFC 3339 UTC times with whole seconds.
//! * `nonce` is 32 bytes from the operating system's CSPRNG (`getrandom`), base64url without
//!   padding (RFC 4648 §5).
//!
//! The challenge id (the store key the browser sends back) is 16 further random bytes in
//! lowercase hex; it is not part of the signed text.
//!
//! # Refusals when a challenge comes back ([`accept_taken`])
//! | code | status | when |
//! |---|---|---|
//! | `challenge_unknown` | 400 | never issued, already used (the store's take is atomic, so a replay finds nothing), or purged |
//! | `challenge_wrong_browser` | 400 | the pre-login cookie differs from the one the challenge was bound to |
//! | `challenge_expired` | 401 | `now >= expires`: sign a fresh challenge |
//!
//! Issuing can fail with `challenge_bad_origin` (500, a configuration error),
//! `challenge_bad_ttl` (500) or `challenge_rng_failed` (503, the OS refused randomness).
//!
//! The nonce and the signed text are secrets until used: [`PendingChallenge`] is only handed to
//! the store and the browser, never logged (the audit records the challenge id only).

use base64::Engine;

use super::refusal::Refusal;
use crate::pki::time::UnixTime;
use crate::session::PendingChallenge;

/// Random bytes in the nonce (issue 6 asks for 32 or more).
pub const NONCE_BYTES: usize = 32;

/// Random bytes in the challenge id.
pub const ID_BYTES: usize = 16;

/// Longest accepted challenge lifetime (the default is 120 s; an hour is already generous for a
/// nurse looking for her token).
pub const MAX_TTL_SECS: i64 = 3600;

/// Longest accepted origin (scheme + host + port); longer is a configuration mistake.
pub const MAX_ORIGIN_LEN: usize = 256;

/// First line of every challenge text.
pub const HEADER: &str = "eds-gateway login";

/// The exact text that is signed (see the module documentation for the format).
pub fn challenge_text(origin: &str, issued: UnixTime, expires: UnixTime, nonce: &[u8]) -> String {
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce);
    format!(
        "{HEADER}\norigin: {origin}\nissued: {}\nexpires: {}\nnonce: {nonce}\n",
        issued.to_rfc3339(),
        expires.to_rfc3339()
    )
}

fn check_origin(origin: &str) -> Result<(), Refusal> {
    let bad = |why: &str| {
        Err(Refusal::new(
            "challenge_bad_origin",
            500,
            format!("gateway origin {origin:?} {why}"),
        ))
    };
    if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN {
        return bad("is empty or too long");
    }
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return bad("must start with https:// (or http:// for local tests)");
    };
    if rest.is_empty() || rest.contains('/') {
        return bad("must be scheme://host[:port] without a path");
    }
    if !origin.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("must be printable ASCII without spaces");
    }
    Ok(())
}

/// Issues a challenge for `origin` at `now`, valid `ttl_secs`, bound to the pre-login cookie
/// (its SHA-256 hex, `prelogin_hash`) and the client's IP. The caller stores it
/// ([`crate::session::Store::put_challenge`]) and sends `id` and `data` to the browser.
pub fn new_challenge(
    origin: &str,
    now: UnixTime,
    ttl_secs: i64,
    prelogin_hash: &str,
    client_ip: &str,
) -> Result<PendingChallenge, Refusal> {
    check_origin(origin)?;
    if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
        return Err(Refusal::new(
            "challenge_bad_ttl",
            500,
            format!("challenge lifetime {ttl_secs} s is outside 1..={MAX_TTL_SECS}"),
        ));
    }
    let mut nonce = zeroize::Zeroizing::new([0u8; NONCE_BYTES]);
    let mut id = [0u8; ID_BYTES];
    getrandom::fill(nonce.as_mut_slice())
        .and_then(|()| getrandom::fill(&mut id))
        .map_err(|e| {
            Refusal::new(
                "challenge_rng_failed",
                503,
                format!("the OS random generator failed: {e}"),
            )
        })?;
    let expires = now.plus_seconds(ttl_secs);
    Ok(PendingChallenge {
        id: hex::encode(id),
        data: challenge_text(origin, now, expires, nonce.as_slice()).into_bytes(),
        prelogin_hash: prelogin_hash.to_string(),
        client_ip: client_ip.to_string(),
        issued: now.0,
        expires: expires.0,
    })
}

/// Equal-length byte comparison whose time does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Judges what [`crate::session::Store::take_challenge`] returned: `None` (never issued, or
/// already taken once: a replay) is `challenge_unknown`; a different pre-login cookie is
/// `challenge_wrong_browser`; `now >= expires` is `challenge_expired`.
pub fn accept_taken(
    taken: Option<PendingChallenge>,
    prelogin_hash: &str,
    now: UnixTime,
) -> Result<PendingChallenge, Refusal> {
    let Some(c) = taken else {
        return Err(Refusal::new(
            "challenge_unknown",
            400,
            "no such challenge: never issued, already used, or purged",
        ));
    };
    if !same(c.prelogin_hash.as_bytes(), prelogin_hash.as_bytes()) {
        return Err(Refusal::new(
            "challenge_wrong_browser",
            400,
            format!(
                "challenge {} was issued to another browser (pre-login cookie differs)",
                c.id
            ),
        ));
    }
    if now.0 >= c.expires {
        return Err(Refusal::new(
            "challenge_expired",
            401,
            format!(
                "challenge {} expired at {} (now {})",
                c.id,
                UnixTime(c.expires),
                now
            ),
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime(1_796_140_800); // 2026-12-01T16:00:00Z

    #[test]
    fn challenge_text_has_the_documented_lines() {
        let c = new_challenge("https://mis.example.kz", T, 120, "ab", "10.0.0.1").expect("ok");
        let text = String::from_utf8(c.data.clone()).expect("utf-8");
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[0], "eds-gateway login");
        assert_eq!(lines[1], "origin: https://mis.example.kz");
        assert_eq!(lines[2], "issued: 2026-12-01T16:00:00Z");
        assert_eq!(lines[3], "expires: 2026-12-01T16:02:00Z");
        let nonce = lines[4].strip_prefix("nonce: ").expect("nonce line");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(nonce)
            .expect("base64url");
        assert_eq!(raw.len(), NONCE_BYTES);
        assert_eq!(c.id.len(), 2 * ID_BYTES);
        assert!(c.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!((c.issued, c.expires), (T.0, T.0 + 120));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn two_challenges_never_share_nonce_or_id() {
        let a = new_challenge("https://a.kz", T, 120, "h", "ip").expect("a");
        let b = new_challenge("https://a.kz", T, 120, "h", "ip").expect("b");
        assert_ne!(a.id, b.id);
        assert_ne!(a.data, b.data);
    }

    #[test]
    fn bad_origins_and_lifetimes_are_configuration_errors() {
        for o in [
            "",
            "mis.example.kz",
            "https://",
            "https://a.kz/path",
            "https://a.kz\nnonce: x",
            "https://a b",
        ] {
            let e = new_challenge(o, T, 120, "h", "ip").expect_err(o);
            assert_eq!(e.code, "challenge_bad_origin", "{o:?}");
        }
        for ttl in [0, -5, MAX_TTL_SECS + 1] {
            let e = new_challenge("https://a.kz", T, ttl, "h", "ip").expect_err("ttl");
            assert_eq!(e.code, "challenge_bad_ttl");
        }
    }

    #[test]
    fn taken_challenge_is_judged_in_order() {
        let c = new_challenge("https://a.kz", T, 120, "cookie-a", "ip").expect("c");
        assert_eq!(
            accept_taken(None, "cookie-a", T).expect_err("none").code,
            "challenge_unknown"
        );
        let e = accept_taken(Some(c.clone()), "cookie-b", T).expect_err("other browser");
        assert_eq!((e.code, e.status), ("challenge_wrong_browser", 400));
        let e = accept_taken(Some(c.clone()), "cookie-a", T.plus_seconds(120)).expect_err("exp");
        assert_eq!((e.code, e.status), ("challenge_expired", 401));
        let ok = accept_taken(Some(c.clone()), "cookie-a", T.plus_seconds(119)).expect("fresh");
        assert_eq!(ok, c);
    }
}
