//! `xueliang-camsim`: simulated RTSP cameras for tests, the demo and the benchmarks.

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "xueliang-camsim",
    version,
    about = "Simulated RTSP cameras for xueliang"
)]
struct Cli {
    #[command(flatten)]
    args: xueliang_camsim::cli::CamsimArgs,
}

fn main() -> anyhow::Result<()> {
    xueliang_camsim::cli::init_tracing();
    let cli = Cli::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("camsim-rt")
        .build()?
        .block_on(xueliang_camsim::cli::run(cli.args))
}
