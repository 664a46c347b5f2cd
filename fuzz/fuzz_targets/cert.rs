#![no_main]
//! Certificate parsing and NCA identity extraction on hostile bytes.
use eds_gateway::pki::{cert::Certificate, identity::NcaIdentity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::parse(data) {
        let _ = NcaIdentity::from_certificate(&c);
        let _ = c.tbs_der();
    }
});
