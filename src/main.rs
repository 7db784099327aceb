//! The `xueliang` binary: one executable whose subcommands run each role of the pipeline
//! (or all of them), the camera simulator, model tooling and the benchmarks.

mod cli;
mod cmd;
mod config_load;
mod http;
mod signals;
mod telemetry;

use clap::Parser;
use cli::{BenchWhat, Cli, Command, ModelsAction};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Bench { what } => match what {
            BenchWhat::Ingest {
                cameras,
                seconds,
                clip,
                decode,
                decoder_workers,
            } => {
                crate::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "warn");
                cmd::bench::ingest(cameras, seconds, &clip, decode, decoder_workers)?;
                Ok(ExitCode::SUCCESS)
            }
            BenchWhat::Decode { clip, loops } => {
                crate::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "warn");
                cmd::bench::decode(&clip, loops)?;
                Ok(ExitCode::SUCCESS)
            }
            BenchWhat::Detect {
                seconds,
                intra_threads,
            } => {
                crate::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "warn");
                cmd::bench::detect(seconds, intra_threads)?;
                Ok(ExitCode::SUCCESS)
            }
            BenchWhat::Dispatch(opts) => {
                crate::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "warn");
                runtime()?.block_on(cmd::bench_dispatch::run(opts))?;
                Ok(ExitCode::SUCCESS)
            }
            BenchWhat::E2e(opts) => {
                crate::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "warn");
                cmd::bench_e2e::run(opts)?;
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("xueliang-rt")
        .build()?)
}
