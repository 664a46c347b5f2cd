#![no_main]
//! Path building on hostile certificates: the input is read as consecutive DER elements (at most
//! eight); each one that parses as a certificate joins the pool. The first is the leaf; the last
//! is also a trust anchor, next to the NCA test CAs. Every run must end in a path or a named
//! error within the default budget.
use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::der_util::read_tlv;
use eds_gateway::pki::path::{ValidationOptions, build_and_validate};
use eds_gateway::pki::time::UnixTime;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const MAX_CERTS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let mut pool = Vec::new();
    let mut pos = 0;
    while pos < data.len() && pool.len() < MAX_CERTS {
        let Some(t) = read_tlv(data, pos) else { break };
        match Certificate::parse(t.whole(data)) {
            Ok(c) => pool.push(c),
            Err(e) => common::assert_named(e.code()),
        }
        pos = t.end;
    }
    let Some(leaf) = pool.first().cloned() else {
        return;
    };
    let mut anchors: Vec<Certificate> = common::pairs().iter().map(|p| p.issuer.clone()).collect();
    if let Some(last) = pool.last() {
        anchors.push(last.clone());
    }
    let mut times = vec![leaf.not_before.plus_seconds(1), UnixTime(1_651_363_200)];
    times.dedup();
    for at in times {
        let opts = ValidationOptions::at(at);
        let r = build_and_validate(&leaf, &anchors, &pool, &opts, &mut |_| Ok(()));
        if let Err(e) = r {
            common::assert_named(e.code());
        }
        // NCA leaves against the fuzzed pool.
        for p in common::pairs() {
            if let Err(e) = build_and_validate(&p.leaf, &anchors, &pool, &opts, &mut |_| Ok(())) {
                common::assert_named(e.code());
            }
        }
    }
});
