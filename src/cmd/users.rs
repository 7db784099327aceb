//! `xueliang users add|list`: desk users in the dispatcher's database.

use crate::cli::UsersAction;
use anyhow::{Context, bail};
use std::io::BufRead;
use xueliang::config_load;
use xueliang_core::DeskId;
use xueliang_dispatcher::api::auth::hash_password;
use xueliang_dispatcher::policy::Policy;
use xueliang_dispatcher::store::{self, Store, StoreOptions, User, UserRecord};

fn open(
    config: &std::path::Path,
) -> anyhow::Result<(xueliang_core::config::Settings, store::SqlStore)> {
    let settings = config_load::load_for(config, config_load::CameraCredentials::NotNeeded)?;
    let node = &settings.node;
    std::fs::create_dir_all(&node.data_dir)
        .with_context(|| format!("creating data_dir {}", node.data_dir.display()))?;
    let password = store::database_password(&node.dispatcher)?;
    let st = store::open(
        &node.dispatcher.database,
        password.as_ref(),
        &node.data_dir,
        StoreOptions {
            policy: Policy::from_config(node),
            ..StoreOptions::default()
        },
    )?;
    Ok((settings, st))
}

pub async fn run(action: UsersAction) -> anyhow::Result<()> {
    match action {
        UsersAction::Add {
            config,
            username,
            desk,
            display_name,
            replace,
        } => {
            let (settings, st) = open(&config)?;
            let desk_id =
                DeskId::new(desk.clone()).map_err(|e| anyhow::anyhow!("--desk {desk:?}: {e}"))?;
            if settings.node.desk(&desk_id).is_none() {
                let known: Vec<_> = settings
                    .node
                    .desks
                    .iter()
                    .map(|d| d.id.to_string())
                    .collect();
                bail!(
                    "--desk {desk:?} is not a desk of {} (known: {})",
                    config.display(),
                    known.join(", ")
                );
            }
            if username.trim().is_empty() || username.chars().any(char::is_whitespace) {
                bail!("--username must be one word without spaces");
            }
            let password = match std::env::var("XUELIANG_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if password.chars().count() < 8 {
                bail!(
                    "the password must have at least 8 characters (set XUELIANG_PASSWORD or pipe it on stdin)"
                );
            }
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await?
                .map_err(|e| anyhow::anyhow!(e))?;
            st.put_user(
                UserRecord {
                    user: User {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username: username.clone(),
                        desk_id,
                    },
                    password_hash: hash,
                },
                replace,
            )
            .await?;
            println!("user {username} at desk {desk} saved in {}", st.describe());
        }
        UsersAction::List { config } => {
            let (_, st) = open(&config)?;
            for u in st.list_users().await? {
                println!("{}\t{}\t{}", u.username, u.desk_id, u.display_name);
            }
        }
    }
    Ok(())
}
