//! A scripted browser for the login flow over real HTTP: what the login page's script does, with
//! the signing done by [`crate::drill::sign`] instead of NCALayer. Used by `demo --smoke`, the
//! end-to-end tests and (issue 8) drills.

use std::net::SocketAddr;

use base64::Engine;
use serde_json::Value;

use crate::drill::sign::{self, SignOptions, Signer};

/// A logged-in (or not yet) browser against one gateway.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    origin: String,
    /// Cookies the gateway set (name → value).
    pub cookies: Vec<(String, String)>,
    /// The CSRF token for POSTs (pre-login, then the session's).
    pub csrf: String,
}

/// A refused step: the gateway's reason code and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// Reason code (`code` in the JSON body), or `http_<status>`.
    pub code: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {})", self.code, self.status)
    }
}

fn refused(status: u16, code: impl Into<String>) -> Refused {
    Refused {
        status,
        code: code.into(),
    }
}

impl Browser {
    /// A browser for the gateway at `addr` whose public origin is `origin`.
    pub fn new(addr: SocketAddr, origin: &str) -> Result<Browser, Refused> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("eds-gateway scripted browser")
            .build()
            .map_err(|e| refused(0, format!("client: {e}")))?;
        Ok(Browser {
            http,
            base: format!("http://{addr}"),
            origin: origin.to_string(),
            cookies: Vec::new(),
            csrf: String::new(),
        })
    }

    /// The `Cookie` header value for what the gateway set.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let Ok(s) = v.to_str() else { continue };
            let Some((name, rest)) = s.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or("").to_string();
            self.cookies.retain(|(k, _)| k != name);
            let cleared = s.to_ascii_lowercase().contains("max-age=0");
            if !cleared {
                self.cookies.push((name.to_string(), value));
            }
        }
    }

    /// GET `path` with the cookies; returns status and body.
    pub async fn get(&mut self, path: &str) -> Result<(u16, String), Refused> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept", "text/html")
            .send()
            .await
            .map_err(|e| refused(0, format!("GET {path}: {e}")))?;
        self.take_cookies(&r);
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        Ok((status, body))
    }

    /// POST JSON to `path` with Origin, cookies and the CSRF header.
    pub async fn post_json(&mut self, path: &str, body: &Value) -> Result<(u16, Value), Refused> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("origin", &self.origin)
            .header("x-eds-csrf", &self.csrf)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| refused(0, format!("POST {path}: {e}")))?;
        self.take_cookies(&r);
        let status = r.status().as_u16();
        let v: Value =
            serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or(Value::Null);
        Ok((status, v))
    }

    /// Opens the login page and picks up the pre-login cookie and CSRF token.
    pub async fn open_login(&mut self) -> Result<(), Refused> {
        let (status, html) = self.get("/eds/login").await?;
        if status != 200 {
            return Err(refused(status, "login_page"));
        }
        self.csrf = meta(&html, "eds-csrf").ok_or_else(|| refused(status, "no_csrf_meta"))?;
        Ok(())
    }

    /// Asks for a challenge: (id, bytes to sign).
    pub async fn challenge(&mut self) -> Result<(String, Vec<u8>), Refused> {
        let (status, v) = self
            .post_json("/eds/challenge", &serde_json::json!({}))
            .await?;
        if status != 200 {
            return Err(code_of(status, &v));
        }
        let id = v["challenge_id"].as_str().unwrap_or("").to_string();
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().unwrap_or(""))
            .map_err(|_| refused(status, "bad_challenge_data"))?;
        Ok((id, data))
    }

    /// Sends a CMS (PEM or base64 text) for a challenge. On success keeps the session cookie
    /// and returns the login JSON.
    pub async fn send_login(&mut self, challenge_id: &str, cms: &str) -> Result<Value, Refused> {
        let (status, v) = self
            .post_json(
                "/eds/login",
                &serde_json::json!({"challenge_id": challenge_id, "cms": cms, "next": "/"}),
            )
            .await?;
        if status != 200 {
            return Err(code_of(status, &v));
        }
        if let Some(c) = v["session"]["csrf"].as_str() {
            self.csrf = c.to_string();
        }
        Ok(v)
    }

    /// The whole flow with `signer`, signing at `signing_time`.
    pub async fn login(
        &mut self,
        signer: &Signer,
        signing_time: crate::pki::time::UnixTime,
    ) -> Result<Value, Refused> {
        self.open_login().await?;
        let (id, data) = self.challenge().await?;
        let cms = sign::sign_cms(
            &signer.key,
            &signer.certificate,
            &data,
            SignOptions {
                detached: false,
                signing_time,
            },
        )
        .map_err(|e| refused(0, format!("sign: {e}")))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(cms);
        self.send_login(&id, &b64).await
    }

    /// Logs out (JSON POST with the session's CSRF token).
    pub async fn logout(&mut self) -> Result<(), Refused> {
        let (status, v) = self
            .post_json("/eds/logout", &serde_json::json!({}))
            .await?;
        if status != 200 {
            return Err(code_of(status, &v));
        }
        Ok(())
    }
}

fn code_of(status: u16, v: &Value) -> Refused {
    refused(
        status,
        v["code"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("http_{status}")),
    )
}

/// The `content` of `<meta name="NAME" content="…">`.
pub fn meta(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let c = tag.find("content=\"")? + "content=\"".len();
    let rest = &tag[c..];
    let end = rest.find('"')?;
    Some(
        rest[..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn meta_content_is_found_in_either_attribute_order() {
        let h = r#"<meta content="x&amp;y" name="eds-csrf"><meta name="b" content="2">"#;
        assert_eq!(super::meta(h, "eds-csrf").as_deref(), Some("x&y"));
        assert_eq!(super::meta(h, "b").as_deref(), Some("2"));
        assert_eq!(super::meta(h, "c"), None);
    }
}
