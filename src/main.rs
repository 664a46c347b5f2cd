//! The `eds-gateway` binary: a thin `main` over [`eds_gateway::cli::run`].
//! Exit codes: 0 success / valid, 1 invalid (the last line names the reason), 2 usage error or
//! unreadable input, 64 bad configuration.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: measured in BENCHMARKS.md ("The proxy against nginx").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    eds_gateway::cli::run(std::env::args_os())
}
