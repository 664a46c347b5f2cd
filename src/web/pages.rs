//! The HTML the gateway serves itself: the login page, error pages, their static assets and the
//! Content-Security-Policy they are served with.
//!
//! No inline script or style anywhere (the CSP forbids both): the script and stylesheet are
//! files under `/eds/static/`, embedded in the binary with `include_bytes!` (no build step), and
//! the page hands its configuration to the script in `<meta name="eds-…">` tags: the CSRF token,
//! the NCALayer URL, the `next` path, the page language and the texts the script shows without
//! asking the server (NCALayer problems, busy states). Every value put into HTML is escaped
//! with [`escape`] (text and attribute context alike).

use std::fmt::Write as _;

use super::i18n::{CLIENT_CODES, Lang, NCALAYER_DOWNLOAD_URL, Ui, message, ui};

/// NCALayer's usual address (../shared/NCA.md §2: `wss://127.0.0.1:13579/`).
pub const DEFAULT_NCALAYER_URL: &str = "wss://127.0.0.1:13579";

/// A `next` longer than this is replaced by `/` on the page (the gateway re-checks `next` at
/// login anyway; this only bounds what a crafted link can put into every link of the page).
const MAX_NEXT_LEN: usize = 2048;

/// What the login page needs.
#[derive(Clone, Debug)]
pub struct LoginPage {
    /// Page language.
    pub lang: Lang,
    /// Where to go after login (a same-origin path; validated again by the gateway at login).
    pub next: String,
    /// The CSRF token the script sends as `X-EDS-CSRF`.
    pub csrf: String,
    /// NCALayer's WebSocket URL ([`DEFAULT_NCALAYER_URL`] in production).
    pub ncalayer_url: String,
    /// The hospital's or system's name, shown above the heading.
    pub gateway_name: String,
}

/// Escapes `s` for HTML text and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes `s` for a query value (RFC 3986 §2.3: unreserved characters and `/` stay).
fn query_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The `scheme://host[:port]` CSP source for a ws/wss URL, or `None` when the URL is not a
/// plain ws/wss URL made of safe characters (a `;` or a space would inject directives into the
/// header; CSP3 §2.3.1 source expressions).
fn ws_source(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("ws") && !scheme.eq_ignore_ascii_case("wss") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let ok = !authority.is_empty()
        && authority.len() <= 255
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

/// The Content-Security-Policy for the login and error pages: only our own script, style and
/// connections, plus the NCALayer WebSocket. An NCALayer URL that is not a clean ws/wss URL
/// is left out (the page then reports "NCALayer not running" rather than weakening the policy).
pub fn csp(ncalayer_url: &str) -> String {
    let connect = match ws_source(ncalayer_url) {
        Some(src) => format!("'self' {src}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src {connect}; \
         img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

const LOGIN_JS: &[u8] = include_bytes!("assets/login.js");
const LOGIN_CSS: &[u8] = include_bytes!("assets/login.css");
const FAVICON_SVG: &[u8] = include_bytes!("assets/favicon.svg");
const ADMIN_JS: &[u8] = include_bytes!("assets/admin.js");
const ADMIN_CSS: &[u8] = include_bytes!("assets/admin.css");

/// An embedded static file by its URL path: `(bytes, content type)`.
pub fn static_asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    match path {
        "/eds/static/login.js" => Some((LOGIN_JS, "text/javascript; charset=utf-8")),
        "/eds/static/login.css" => Some((LOGIN_CSS, "text/css; charset=utf-8")),
        "/eds/static/favicon.svg" => Some((FAVICON_SVG, "image/svg+xml")),
        "/eds/static/admin.js" => Some((ADMIN_JS, "text/javascript; charset=utf-8")),
        "/eds/static/admin.css" => Some((ADMIN_CSS, "text/css; charset=utf-8")),
        _ => None,
    }
}

fn meta(out: &mut String, name: &str, content: &str) {
    let _ = writeln!(
        out,
        "<meta name=\"{}\" content=\"{}\">",
        escape(name),
        escape(content)
    );
}

fn head(out: &mut String, lang: Lang, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<title>{}</title>\n\
         <link rel=\"icon\" href=\"/eds/static/favicon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/eds/static/login.css\">\n",
        lang.tag(),
        escape(title)
    );
}

/// The login page.
pub fn login_page(p: &LoginPage) -> String {
    let lang = p.lang;
    let next = if p.next.len() <= MAX_NEXT_LEN {
        p.next.as_str()
    } else {
        "/"
    };
    let title = if p.gateway_name.is_empty() {
        ui(Ui::Title, lang).to_string()
    } else {
        format!("{} — {}", ui(Ui::Title, lang), p.gateway_name)
    };
    let mut o = String::with_capacity(8 * 1024);
    head(&mut o, lang, &title);
    meta(&mut o, "eds-lang", lang.tag());
    meta(&mut o, "eds-csrf", &p.csrf);
    meta(&mut o, "eds-ncalayer-url", &p.ncalayer_url);
    meta(&mut o, "eds-next", next);
    for code in CLIENT_CODES {
        meta(&mut o, &format!("eds-msg-{code}"), &message(code, lang));
    }
    for (name, key) in [
        ("eds-ui-submit", Ui::Submit),
        ("eds-ui-busy-connect", Ui::BusyConnect),
        ("eds-ui-busy-sign", Ui::BusySign),
        ("eds-ui-busy-verify", Ui::BusyVerify),
        ("eds-ui-success", Ui::Success),
    ] {
        meta(&mut o, name, ui(key, lang));
    }
    o.push_str("<script src=\"/eds/static/login.js\" defer></script>\n</head>\n<body>\n");
    o.push_str("<main class=\"eds-card\">\n");

    // Language switch: plain links, so it works before (and without) the script.
    let _ = write!(
        o,
        "<nav class=\"eds-lang\" aria-label=\"{}\">",
        escape(ui(Ui::Language, lang))
    );
    for l in Lang::ALL {
        let current = if l == lang {
            " aria-current=\"true\""
        } else {
            ""
        };
        let _ = write!(
            o,
            "<a href=\"/eds/login?lang={tag}&amp;next={next}\" hreflang=\"{tag}\" lang=\"{tag}\" \
             id=\"eds-lang-{tag}\"{current}>{name}</a>",
            tag = l.tag(),
            next = escape(&query_encode(next)),
            name = escape(l.native_name()),
        );
    }
    o.push_str("</nav>\n");

    if !p.gateway_name.is_empty() {
        let _ = writeln!(
            o,
            "<p class=\"eds-gateway\">{}</p>",
            escape(&p.gateway_name)
        );
    }
    let _ = writeln!(o, "<h1>{}</h1>", escape(ui(Ui::Title, lang)));
    let _ = writeln!(
        o,
        "<p class=\"eds-intro\">{}</p>",
        escape(ui(Ui::Intro, lang))
    );

    o.push_str("<form id=\"eds-login\" method=\"post\" action=\"/eds/login\" novalidate>\n");
    let _ = writeln!(
        o,
        "<fieldset class=\"eds-storage\">\n<legend>{}</legend>",
        escape(ui(Ui::StorageLegend, lang))
    );
    for (value, key, checked) in [
        ("any", Ui::StorageAny, " checked"),
        ("file", Ui::StorageFile, ""),
        ("token", Ui::StorageToken, ""),
    ] {
        let _ = writeln!(
            o,
            "<label><input type=\"radio\" name=\"storage\" value=\"{value}\" \
             id=\"eds-storage-{value}\"{checked}> <span>{}</span></label>",
            escape(ui(key, lang))
        );
    }
    o.push_str("</fieldset>\n");
    // Disabled until the script has loaded and wired the form (without it, nothing could sign).
    let _ = writeln!(
        o,
        "<button type=\"submit\" id=\"eds-submit\" disabled>{}</button>",
        escape(ui(Ui::Submit, lang))
    );
    o.push_str(
        "<p id=\"eds-status\" class=\"eds-status\" role=\"status\" aria-live=\"polite\"></p>\n",
    );
    let _ = writeln!(
        o,
        "<div id=\"eds-error\" class=\"eds-error\" role=\"alert\" hidden>\n\
         <p id=\"eds-error-text\"></p>\n\
         <p class=\"eds-error-code\"><small>{}: <code id=\"eds-error-code\"></code> \
         <span id=\"eds-error-detail\"></span></small></p>\n</div>",
        escape(ui(Ui::ErrorCode, lang))
    );
    o.push_str("</form>\n");
    let _ = writeln!(
        o,
        "<noscript><p class=\"eds-error\">{}</p></noscript>",
        escape(ui(Ui::NoScript, lang))
    );
    let _ = writeln!(
        o,
        "<p class=\"eds-help\">{} <a href=\"{url}\" target=\"_blank\" \
         rel=\"noopener noreferrer\">{url}</a></p>",
        escape(ui(Ui::NcaLayerHelp, lang)),
        url = escape(NCALAYER_DOWNLOAD_URL)
    );
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// An error page: the message for `code` in `lang`, the code in small print for IT, and a link
/// back to the login page. `status` is shown next to the code (the caller sends it as the HTTP
/// status too).
pub fn error_page(lang: Lang, status: u16, code: &str) -> String {
    let mut o = String::with_capacity(2048);
    head(&mut o, lang, ui(Ui::ErrorTitle, lang));
    o.push_str("</head>\n<body>\n<main class=\"eds-card\">\n");
    let _ = writeln!(o, "<h1>{}</h1>", escape(ui(Ui::ErrorTitle, lang)));
    let _ = writeln!(
        o,
        "<p class=\"eds-error-text\" id=\"eds-error-text\">{}</p>",
        escape(&message(code, lang))
    );
    let _ = writeln!(
        o,
        "<p class=\"eds-error-code\"><small>{}: <code id=\"eds-error-code\">{}</code> \
         (HTTP {status})</small></p>",
        escape(ui(Ui::ErrorCode, lang)),
        escape(code)
    );
    let _ = writeln!(
        o,
        "<p><a class=\"eds-back\" href=\"/eds/login?lang={}\">{}</a></p>",
        lang.tag(),
        escape(ui(Ui::BackToLogin, lang))
    );
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// The logout page (`GET /eds/logout`, linked from the MIS): who is signed in and a button that
/// POSTs to `/eds/logout` with the session's CSRF token (a plain form: no script needed).
pub fn logout_page(lang: Lang, name: &str, csrf: &str) -> String {
    let mut o = String::with_capacity(2048);
    head(&mut o, lang, ui(Ui::LogoutTitle, lang));
    o.push_str("</head>\n<body>\n<main class=\"eds-card\">\n");
    let _ = writeln!(o, "<h1>{}</h1>", escape(ui(Ui::LogoutTitle, lang)));
    let _ = writeln!(
        o,
        "<p>{} <strong id=\"eds-user\">{}</strong></p>",
        escape(ui(Ui::LogoutSignedInAs, lang)),
        escape(name)
    );
    let _ = writeln!(
        o,
        "<form method=\"post\" action=\"/eds/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" id=\"eds-logout\">{}</button></form>",
        escape(csrf),
        escape(ui(Ui::LogoutButton, lang))
    );
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lang: Lang) -> LoginPage {
        LoginPage {
            lang,
            next: "/mis/patients?id=1&x=\"><script>alert(1)</script>".into(),
            csrf: "tok\"en<&>".into(),
            ncalayer_url: DEFAULT_NCALAYER_URL.into(),
            gateway_name: "Аурухана <№1> & \"Ем\"".into(),
        }
    }

    #[test]
    fn login_page_escapes_every_value_it_is_given() {
        let html = login_page(&page(Lang::Ru));
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("content=\"tok&quot;en&lt;&amp;&gt;\""));
        assert!(html.contains("Аурухана &lt;№1&gt; &amp; &quot;Ем&quot;"));
        // next: escaped in the meta tag, percent-encoded in the language links.
        assert!(html.contains(
            "content=\"/mis/patients?id=1&amp;x=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""
        ));
        assert!(html.contains(
            "/eds/login?lang=kk&amp;next=/mis/patients%3Fid%3D1%26x%3D%22%3E%3Cscript%3E"
        ));
    }

    #[test]
    fn login_page_has_no_inline_script_or_style() {
        let html = login_page(&page(Lang::Kk));
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script src=\"/eds/static/login.js\" defer></script>"));
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            let inside_quotes = tag.split('"').step_by(2).collect::<String>();
            assert!(
                !inside_quotes
                    .split_whitespace()
                    .any(|a| a.starts_with("on")),
                "event handler attribute in <{tag}>"
            );
        }
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn login_page_speaks_the_chosen_language_and_offers_the_others() {
        for lang in Lang::ALL {
            let html = login_page(&page(lang));
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.tag())));
            assert!(html.contains(&escape(ui(Ui::Title, lang))));
            assert!(html.contains(&escape(ui(Ui::Submit, lang))));
            assert!(html.contains(&escape(&message("ncalayer_not_running", lang))));
            for other in Lang::ALL {
                assert!(html.contains(&format!("id=\"eds-lang-{}\"", other.tag())));
            }
            assert_eq!(html.matches("aria-current=\"true\"").count(), 1);
            for storage in ["any", "file", "token"] {
                assert!(html.contains(&format!("value=\"{storage}\"")));
            }
        }
    }

    #[test]
    fn an_overlong_next_is_replaced_by_the_root() {
        let mut p = page(Lang::En);
        p.next = format!("/{}", "a".repeat(5000));
        let html = login_page(&p);
        assert!(html.contains("<meta name=\"eds-next\" content=\"/\">"));
        assert!(!html.contains("aaaaaaaaaa"));
    }

    #[test]
    fn error_page_shows_the_message_code_and_a_way_back() {
        let html = error_page(Lang::Kk, 403, "staff_unknown");
        assert!(html.contains(&escape(&message("staff_unknown", Lang::Kk))));
        assert!(html.contains("<code id=\"eds-error-code\">staff_unknown</code> (HTTP 403)"));
        assert!(html.contains("href=\"/eds/login?lang=kk\""));
        let evil = error_page(Lang::En, 400, "<img src=x onerror=alert(1)>");
        assert!(!evil.contains("<img"));
    }

    #[test]
    fn csp_allows_only_self_and_the_ncalayer_socket() {
        assert_eq!(
            csp("wss://127.0.0.1:13579"),
            "default-src 'self'; script-src 'self'; style-src 'self'; \
             connect-src 'self' wss://127.0.0.1:13579; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        );
        assert!(
            csp("ws://127.0.0.1:4321/path?q").contains("connect-src 'self' ws://127.0.0.1:4321;")
        );
        // Injection attempts and other schemes are dropped, not copied into the header.
        for bad in [
            "wss://127.0.0.1:13579; script-src *",
            "wss://a b",
            "https://evil.example",
            "javascript:alert(1)",
            "",
        ] {
            let c = csp(bad);
            assert!(c.contains("connect-src 'self'; "), "{bad}: {c}");
            assert_eq!(c.matches("script-src").count(), 1);
        }
    }

    #[test]
    fn static_assets_are_embedded_with_their_types() {
        let (js, t) = static_asset("/eds/static/login.js").expect("js");
        assert!(t.starts_with("text/javascript"));
        assert!(
            std::str::from_utf8(js)
                .expect("utf-8")
                .contains("kz.gov.pki.knca.basics")
        );
        let (css, t) = static_asset("/eds/static/login.css").expect("css");
        assert!(t.starts_with("text/css") && !css.is_empty());
        assert!(static_asset("/eds/static/favicon.svg").is_some());
        assert!(static_asset("/eds/static/../Cargo.toml").is_none());
        assert!(static_asset("/eds/static/").is_none());
    }
}
