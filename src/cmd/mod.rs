pub mod analyze_file;
pub mod bench;
pub mod camsim;
pub mod check_config;
pub mod models;
pub mod run;
pub mod schema;
pub mod users;

/// What a subcommand whose issue has not landed says. Exits non-zero so scripts notice.
pub fn not_yet(command: &str, issue: u32, title: &str) -> anyhow::Result<std::process::ExitCode> {
    eprintln!(
        "xueliang {command}: not available in this build yet — it lands with issue #{issue} ({title})."
    );
    Ok(std::process::ExitCode::from(3))
}
