//! The drill toolkit (issue 5): an NCA-like test PKI, its CRL and OCSP output and live
//! responder, and a CMS signer that writes what NCALayer writes. Builds only on the core
//! ([`crate::pki`]); everything it emits must parse and verify with the core's own parsers (and
//! OpenSSL for RSA), which the `tests/testpki_*.rs` scenarios check.
//!
//! * [`der`] — the small DER writer every builder uses;
//! * [`keys`] — GOST / RSA / P-256 signing keys and their storage form;
//! * [`sign`] — CMS SignedData like NCALayer's;
//! * [`builder`] — certificates, CRLs (full, delta), OCSP requests and responses;
//! * [`p12out`] — .p12 files with NCA's legacy encryption;
//! * [`ca`] — the test CA's directory format and operations (init, issue, revoke, release);
//! * [`ncalayer`] — `ncalayer-sim`: NCALayer's WebSocket protocol with one .p12 key;
//! * [`responder`] — `pki serve`: CRLs and OCSP over HTTP, webhook, fault switches.

pub mod builder;
pub mod ca;
pub mod der;
pub mod keys;
pub mod ncalayer;
pub mod p12out;
pub mod report;
pub mod responder;
pub mod run;
pub mod sign;
