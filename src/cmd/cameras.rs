//! `xueliang cameras apply|list`: the camera inventory of a cluster lives on a compacted
//! Kafka topic; these commands publish it from a file and show who runs what.

use crate::cli::CamerasAction;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use xueliang_cluster::inventory;
use xueliang_core::config::{ConfigErrors, Inventory, NodeConfig, inventory_desk_errors};

pub fn run(action: CamerasAction) -> anyhow::Result<ExitCode> {
    match action {
        CamerasAction::Apply {
            path,
            config,
            dry_run,
            json,
        } => apply(&path, &config, dry_run, json),
        CamerasAction::List { config, json } => list(&config, json),
    }
}

fn node(config: &Path) -> anyhow::Result<NodeConfig> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    NodeConfig::parse(&text, config).map_err(|e| anyhow::anyhow!("{e}"))
}

fn apply(path: &Path, config: &Path, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let node = node(config)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // The same validation as `check-config`, desks included; passwords are resolved on
    // the edges, so their variables need not exist here.
    let checked = Inventory::parse(&text, path, &|_| Some(String::new())).and_then(|inv| {
        let errs = inventory_desk_errors(&node, &inv, config);
        if errs.is_empty() {
            Ok(inv)
        } else {
            Err(ConfigErrors(errs))
        }
    });
    let records = checked.and_then(|inv| Ok((inv, Inventory::records(&text, path)?)));
    let (inv, records) = match records {
        Ok(r) => r,
        Err(e) => {
            eprint!("{e}");
            eprintln!("nothing was published");
            return Ok(ExitCode::FAILURE);
        }
    };
    // With the variables stood in by "", a password here was written in the file.
    let plain_passwords = inv.cameras.iter().any(|c| {
        c.credentials
            .as_ref()
            .is_some_and(|cr| !cr.password.expose().is_empty())
    });
    let topic = &node.kafka.inventory_topic;
    let d = inventory::apply(&node.kafka.brokers, topic, &records, dry_run)?;
    if json {
        println!("{}", serde_json::to_string(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would change" } else { "applied" };
    println!(
        "{} → topic {} on {} ({verb})",
        path.display(),
        topic,
        node.kafka.brokers
    );
    for (sign, ids) in [("+", &d.added), ("~", &d.changed), ("-", &d.removed)] {
        for id in ids {
            println!("  {sign} {id}");
        }
    }
    println!(
        "{} added, {} changed, {} removed, {} unchanged",
        d.added.len(),
        d.changed.len(),
        d.removed.len(),
        d.unchanged
    );
    if plain_passwords {
        eprintln!(
            "note: passwords written in the file are stored in the topic as written; prefer \
             password_env (each edge reads the variable)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(config: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let node = node(config)?;
    let state = inventory::snapshot(
        &node.kafka.brokers,
        &node.kafka.inventory_topic,
        &node.kafka.nodes_topic,
        node.cluster.timeout_beats(),
    )?;
    let owners = state.owners();
    let members = state.members();
    if json {
        let cameras: Vec<_> = state
            .inventory
            .cameras
            .values()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "name": c.name,
                    "enabled": c.enabled,
                    "owner": owners.get(&c.id).cloned().flatten(),
                })
            })
            .collect();
        let nodes: Vec<_> = members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "node": m.beat.node,
                    "role": m.beat.role,
                    "live": m.live,
                    "capacity": m.beat.capacity,
                    "version": m.beat.version,
                    "beats_behind": m.staleness,
                })
            })
            .collect();
        let invalid: Vec<_> = state
            .inventory
            .invalid
            .iter()
            .map(|(k, e)| serde_json::json!({"key": k, "error": e.trim()}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"nodes": nodes, "cameras": cameras, "invalid": invalid})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("nodes ({}):", node.kafka.nodes_topic);
    println!(
        "  {:<20} {:<10} {:<5} {:>8} {:>8}  version",
        "node", "role", "live", "capacity", "cameras"
    );
    for m in &members {
        let owned = owners
            .values()
            .filter(|o| o.as_deref() == Some(m.beat.node.as_str()))
            .count();
        println!(
            "  {:<20} {:<10} {:<5} {:>8} {:>8}  {}",
            m.beat.node,
            m.beat.role.as_str(),
            if m.live { "yes" } else { "no" },
            m.beat.capacity,
            if m.beat.role == xueliang_cluster::beat::NodeRole::Edge {
                owned.to_string()
            } else {
                "-".into()
            },
            m.beat.version
        );
    }
    println!(
        "cameras ({}, {}):",
        node.kafka.inventory_topic,
        state.inventory.cameras.len()
    );
    println!("  {:<22} {:<8} {:<20} name", "id", "enabled", "owner");
    for c in state.inventory.cameras.values() {
        let owner = owners
            .get(&c.id)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "(no live edge)".into());
        println!(
            "  {:<22} {:<8} {:<20} {}",
            c.id.as_str(),
            if c.enabled { "yes" } else { "no" },
            if c.enabled { owner.as_str() } else { "-" },
            c.name
        );
    }
    for (key, error) in &state.inventory.invalid {
        println!("  invalid record {key}: {}", error.trim());
    }
    Ok(ExitCode::SUCCESS)
}
