//! Login page, error pages, kk/ru/en messages and embedded static assets (issue 6 item 3).
//!
//! Everything here is pure: strings in, strings out. The HTTP layer (src/gateway/) decides the
//! language with [`i18n::Lang::negotiate`], renders [`pages::login_page`] or
//! [`pages::error_page`], sends [`pages::csp`] as the `Content-Security-Policy` header, and serves
//! [`static_asset`] under `/eds/static/`. The page's script (`assets/login.js`) talks to NCALayer
//! and to `POST /eds/challenge` / `POST /eds/login`; the protocol is described at its top.

pub mod admin;
pub mod i18n;
pub mod pages;

pub use pages::{csp, static_asset};
