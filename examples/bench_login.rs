//! Logs in at a plain-HTTP gateway with a .p12 (as `demo --smoke` does) and prints the `Cookie`
//! header value of the new session, for load generators (bench/proxy-vs-nginx.sh).
//!
//! `cargo run --release --example bench_login -- 127.0.0.1:18080 eds-demo/keys/doctor.p12 PASSWORD`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, p12, password] = args.as_slice() else {
        eprintln!("usage: bench_login GATEWAY_ADDR P12 PASSWORD");
        return ExitCode::from(2);
    };
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else {
        eprintln!("bench_login: {addr:?} is not an address like 127.0.0.1:8080");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench_login: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        let signer = match std::fs::read(p12).map_err(|e| e.to_string()).and_then(|b| {
            eds_gateway::drill::sign::load_p12(&b, password).map_err(|e| e.to_string())
        }) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bench_login: {p12}: {e}");
                return ExitCode::from(1);
            }
        };
        let mut b =
            match eds_gateway::gateway::client::Browser::new(addr, &format!("http://{addr}")) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("bench_login: {e}");
                    return ExitCode::from(1);
                }
            };
        match b.login(&signer, eds_gateway::clock::now()).await {
            Ok(_) => {
                println!("{}", b.cookie_header());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench_login: refused: {e}");
                ExitCode::from(1)
            }
        }
    })
}
