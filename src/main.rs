//! The `xueliang` binary: one executable whose subcommands run each role of the pipeline
//! (or all of them), model tooling, configuration and user management, and a forwarder to
//! the camera simulator. The benchmarks are a separate binary (`benches/harness`).

mod cli;
mod cmd;
mod http;
mod signals;

use clap::Parser;
use cli::{Cli, Command, ModelsAction};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Cameras { .. }) {
        // Rust ignores SIGPIPE, so printing into a closed pipe (`| head`) panics; a listing
        // should just end. Not for `run`: a server must never die of a closed socket.
        // SAFETY: no other thread exists yet; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let rt = runtime()?;
            let result = rt.block_on(cmd::run::run(args));
            // Dropping a runtime waits for every blocking task; after a drain that timed out
            // one may be stuck in a C library. The state is safe by now (spool, offsets).
            rt.shutdown_timeout(std::time::Duration::from_millis(500));
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::SendAlert(args) => {
            cmd::send_alert::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Users { action } => {
            runtime()?.block_on(cmd::users::run(action))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cameras { action } => cmd::cameras::run(action),
        Command::CheckConfig { path } => Ok(cmd::check_config::run(&path)),
        Command::Schema { out } => {
            cmd::schema::run(out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Camsim(args) => {
            runtime()?.block_on(cmd::camsim::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Models { action } => match action {
            ModelsAction::List => cmd::models::list(),
            ModelsAction::Fetch { name } => cmd::models::fetch(&name),
        },
        Command::AnalyzeFile(args) => {
            cmd::analyze_file::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("xueliang-rt")
        .build()?)
}
