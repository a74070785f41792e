use clap::Parser;

/// mimalloc instead of the system allocator: the dispatcher and ingest allocate many small,
/// short-lived buffers across threads, where glibc's malloc spent a sixth of the CPU of an
/// alarm's path (BENCHMARKS.md). `biotz-bench` keeps the system allocator, so its bare-client
/// baseline stays comparable with earlier runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = biotz::cli::Cli::parse();
    match biotz::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}
