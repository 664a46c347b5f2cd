#![no_main]
//! CRL parsing and the RFC 5280 §6.3.3 check (against the NCA RSA and GOST test pairs) on
//! hostile bytes.
use eds_gateway::pki::crl::{self, Crl};
use eds_gateway::pki::signature::SignaturePolicy;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let c = match Crl::parse(data) {
        Ok(c) => c,
        Err(e) => return common::assert_named(e.code()),
    };
    let _ = (c.is_delta(), c.tbs_der().len());
    if let Some(e) = c.entries().first() {
        let _ = c.find(&e.serial);
    }
    let crls = [c];
    for p in common::pairs() {
        let _ = crls[0].applies_to(&p.leaf, &p.issuer);
        if let Err(e) = crl::check(&p.leaf, &p.issuer, &crls, p.at, &SignaturePolicy::default()) {
            common::assert_named(e.code());
        }
    }
});
