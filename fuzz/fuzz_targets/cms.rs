#![no_main]
//! CMS SignedData parsing (DER, BER, base64, PEM) and signer verification on hostile bytes.
use eds_gateway::pki::cms::{SignedData, verify_signers};
use eds_gateway::pki::signature::SignaturePolicy;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let sd = match SignedData::parse(data) {
        Ok(sd) => sd,
        Err(e) => return common::assert_named(e.code()),
    };
    let policy = SignaturePolicy::default();
    for detached in [None, Some(&b"test123"[..])] {
        match verify_signers(&sd, detached, &[], &policy) {
            Ok(verdicts) => {
                for v in verdicts {
                    if let Err(e) = v.result {
                        common::assert_named(e.code());
                    }
                }
            }
            Err(e) => common::assert_named(e.code()),
        }
    }
    for s in &sd.signers {
        if let Err(e) = s.signing_time() {
            common::assert_named(e.code());
        }
    }
});
