use std::path::Path;
use std::process::ExitCode;
use xueliang::config_load;

/// Validates a configuration and prints what it describes.
pub fn run(path: &Path) -> ExitCode {
    match config_load::load(path) {
        Ok(s) => {
            let rules: usize = s.inventory.cameras.iter().map(|c| c.rules.len()).sum();
            let enabled = s.inventory.cameras.iter().filter(|c| c.enabled).count();
            println!("{}: OK", path.display());
            println!(
                "  node       {} (data in {})",
                s.node.name,
                s.node.data_dir.display()
            );
            println!(
                "  cameras    {} ({} enabled, {} rules) from {}",
                s.inventory.cameras.len(),
                enabled,
                rules,
                s.inventory.file.display()
            );
            println!(
                "  desks      {} (centre: {})",
                s.node.desks.len(),
                s.node.centre().id
            );
            println!(
                "  areas      {} jurisdictions from {}",
                s.jurisdictions.areas.len(),
                s.jurisdictions.file.display()
            );
            println!(
                "  kafka      {} → {} (dead letters: {})",
                s.node.kafka.brokers, s.node.kafka.alerts_topic, s.node.kafka.dlq_topic
            );
            println!(
                "  endpoints  metrics http://{}/metrics, desk http://{}/",
                s.node.http_listen, s.node.dispatcher.listen
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}
