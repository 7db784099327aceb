//! Test tooling, not part of the product: the dispatcher that `tests/consume_crash.rs` kills
//! with SIGKILL in the middle of a topic, to prove that a restart loses and duplicates nothing.
//!
//! It consumes alerts into a SQLite store, routed with a deployment directory's configuration,
//! until it is killed. It also exits when its standard input closes (the test that started it
//! has ended without killing it, e.g. after a failed assertion) and after 10 minutes, so it
//! never outlives its test. Integration tests find it through
//! `env!("CARGO_BIN_EXE_xueliang-crash-child")`; `cargo build` at the workspace root does not
//! build it, and the `xueliang` binary does not contain it.
//!
//! ```text
//! xueliang-crash-child --deployment DIR --db PATH --brokers HOST:PORT --alerts-topic T
//!     --dlq-topic T --group-id G --instance-id I [--batch-max N] [--batch-linger-ms MS]
//!     [--librdkafka KEY=VALUE]...
//! ```

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use xueliang_core::config::{Inventory, Jurisdictions, NodeConfig};
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::consume::{ConsumeOptions, Consumer, ConsumerDeps};
use xueliang_dispatcher::routing::Router;
use xueliang_dispatcher::store::{SqliteStore, Synchronous};

/// The longest a child runs, whatever happens to its test.
const LIFETIME: Duration = Duration::from_secs(600);

struct Args {
    deployment: PathBuf,
    db: PathBuf,
    brokers: String,
    alerts_topic: String,
    dlq_topic: String,
    group_id: String,
    instance_id: String,
    opts: ConsumeOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut opts = ConsumeOptions::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--librdkafka" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--librdkafka {value}: expected KEY=VALUE"))?;
                opts.librdkafka.push((k.to_owned(), v.to_owned()));
            }
            "--batch-max" => {
                opts.batch_max = value
                    .parse()
                    .map_err(|e| format!("--batch-max {value}: {e}"))?;
            }
            "--batch-linger-ms" => {
                let ms = value
                    .parse()
                    .map_err(|e| format!("--batch-linger-ms {value}: {e}"))?;
                opts.batch_linger = Duration::from_millis(ms);
            }
            "--deployment" | "--db" | "--brokers" | "--alerts-topic" | "--dlq-topic"
            | "--group-id" | "--instance-id" => {
                flags.insert(flag, value);
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let mut take = |name: &str| flags.remove(name).ok_or_else(|| format!("missing {name}"));
    Ok(Args {
        deployment: take("--deployment")?.into(),
        db: take("--db")?.into(),
        brokers: take("--brokers")?,
        alerts_topic: take("--alerts-topic")?,
        dlq_topic: take("--dlq-topic")?,
        group_id: take("--group-id")?,
        instance_id: take("--instance-id")?,
        opts,
    })
}

/// The node configuration, inventory and router of a deployment directory (`xueliang.toml`,
/// `cameras.toml`, `jurisdictions.geojson`); camera credentials are not needed.
fn load(dir: &Path) -> Result<(NodeConfig, Inventory, Router), String> {
    let read = |f: &str| {
        let p = dir.join(f);
        std::fs::read_to_string(&p)
            .map(|t| (t, p.clone()))
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let (t, p) = read("xueliang.toml")?;
    let node = NodeConfig::parse(&t, &p).map_err(|e| e.to_string())?;
    let (t, p) = read("cameras.toml")?;
    let inventory =
        Inventory::parse(&t, &p, &|_| Some("test-secret".into())).map_err(|e| e.to_string())?;
    let (t, p) = read("jurisdictions.geojson")?;
    let jur = Jurisdictions::parse(&t, &p).map_err(|e| e.to_string())?;
    let router = Router::new(&node, &jur).map_err(|e| e.to_string())?;
    Ok((node, inventory, router))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xueliang-crash-child: {e}");
            return ExitCode::from(2);
        }
    };
    let (node, inventory, router) = match load(&args.deployment) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("xueliang-crash-child: {e}");
            return ExitCode::from(2);
        }
    };
    let mut kafka = node.kafka.clone();
    kafka.brokers = args.brokers;
    kafka.alerts_topic = args.alerts_topic;
    kafka.dlq_topic = args.dlq_topic;
    let mut disp = node.dispatcher.clone();
    disp.group_id = args.group_id;
    disp.instance_id = args.instance_id;
    let store = match SqliteStore::open(&args.db, Synchronous::Full) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("xueliang-crash-child: opening {}: {e}", args.db.display());
            return ExitCode::FAILURE;
        }
    };

    // Standard input closing means the test is gone: stop too.
    let (orphaned_tx, orphaned) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = orphaned_tx.send(());
    });

    let inventory = Arc::new(inventory);
    let deps = ConsumerDeps {
        router: Arc::new(router),
        cameras: Arc::new(move |id| inventory.camera(id).cloned()),
        store,
        hub: None,
        partitions: xueliang_dispatcher::consume::Partitions::All,
    };
    let consumer = match Consumer::start(&kafka, &disp, deps, args.opts, Shutdown::new()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xueliang-crash-child: starting the consumer: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Exit without dropping the runtime: its consumer threads need not wind down.
    let code = tokio::select! {
        r = consumer.join() => {
            eprintln!("xueliang-crash-child: the consumer stopped before it was killed: {r:?}");
            1
        }
        _ = orphaned => {
            eprintln!("xueliang-crash-child: standard input closed (the test ended); exiting");
            3
        }
        _ = tokio::time::sleep(LIFETIME) => {
            eprintln!("xueliang-crash-child: not killed within {LIFETIME:?}; exiting");
            4
        }
    };
    std::process::exit(code)
}
