#![no_main]
//! OCSP response parsing and the RFC 6960 check (against the NCA RSA and GOST test pairs) on
//! hostile bytes.
use eds_gateway::pki::ocsp::{self, OcspCheckOptions, OcspResponse};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let r = match OcspResponse::parse(data) {
        Ok(r) => r,
        Err(e) => return common::assert_named(e.code()),
    };
    let _ = (r.nonce(), r.tbs_der().len());
    for p in common::pairs() {
        // Responses are checked a little after they were produced.
        let at = r.produced_at.plus_seconds(60);
        for at in [p.at, at] {
            if let Err(e) = ocsp::check(&r, &p.leaf, &p.issuer, at, &OcspCheckOptions::default()) {
                common::assert_named(e.code());
            }
        }
    }
});
