//! The deployments for more than one machine, read as data: every YAML document of
//! `deploy/compose` and `deploy/kubernetes` parsed, the compose services with their commands,
//! environment and mounts (interpolated as `docker compose` does, with the values of
//! `deploy/compose/.env.example`), and the cluster topology compose runs — which
//! `tests/cluster.rs` runs as processes and `tests/deploy_manifests.rs` checks against the CLI
//! and `xueliang check-config`.
//!
//! Conventions of the image (deploy/docker): the configuration is mounted read-only at
//! [`CONFIG_MOUNT`] and the commands read it there ([`CONFIG_FILE`]): it holds no secret, so
//! nothing renders it (the image has no entrypoint); [`Compose::host_path`] follows a path in a
//! container back to the repository's file.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xueliang_core::config::{Inventory, NodeConfig};

/// Where the configuration is mounted, read-only, in every xueliang container (a bind mount, a
/// ConfigMap).
pub const CONFIG_MOUNT: &str = "/etc/xueliang";
/// The `xueliang.toml` the commands read (`--config`), and the image's scripts' default.
pub const CONFIG_FILE: &str = "/etc/xueliang/xueliang.toml";
/// The Dockerfile the compose file builds the xueliang image from, relative to the repository.
pub const DOCKERFILE: &str = "deploy/docker/Dockerfile";

/// `deploy/compose`.
pub fn compose_dir(repo: &Path) -> PathBuf {
    repo.join("deploy/compose")
}

/// `deploy/kubernetes`.
pub fn kubernetes_dir(repo: &Path) -> PathBuf {
    repo.join("deploy/kubernetes")
}

/// Every YAML document of `path` as JSON, with merge keys (`<<: *anchor`) applied, nested
/// ones included. Errors name the file.
pub fn yaml_documents(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    yaml_documents_in(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`yaml_documents`] of a text.
pub fn yaml_documents_in(text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let mut v = serde_yaml_ng::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if v.is_null() {
            continue; // an empty document (a trailing `---`)
        }
        // apply_merge resolves one level: a merged mapping that merges another brings its own
        // `<<` along, resolved by the next pass.
        for _ in 0..8 {
            v.apply_merge().map_err(|e| e.to_string())?;
        }
        let json = serde_json::to_value(&v).map_err(|e| e.to_string())?;
        if let Some(at) = find_merge_key(&json, "") {
            return Err(format!("merge key left unresolved at {at}"));
        }
        docs.push(json);
    }
    Ok(docs)
}

fn find_merge_key(v: &Value, at: &str) -> Option<String> {
    match v {
        Value::Object(m) => {
            if m.contains_key("<<") {
                return Some(at.to_string());
            }
            m.iter()
                .find_map(|(k, v)| find_merge_key(v, &format!("{at}.{k}")))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_merge_key(v, &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// The variables of an env file (`KEY=VALUE` lines, `#` comments).
pub fn env_file(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Compose's interpolation of one string: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`. A required variable that is not set
/// is an error naming it, as `docker compose` refuses to start.
pub fn interpolate(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
            let expr = &r[..end];
            rest = &r[end + 1..];
            let name_len = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            let value = env(name);
            let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
            let v = match op {
                "" => value.unwrap_or_default(),
                _ if op.starts_with(":-") => {
                    if set_nonempty {
                        value.unwrap()
                    } else {
                        op[2..].to_string()
                    }
                }
                _ if op.starts_with('-') => value.unwrap_or_else(|| op[1..].to_string()),
                _ if op.starts_with(":?") || op.starts_with('?') => {
                    let ok = if op.starts_with(':') {
                        set_nonempty
                    } else {
                        value.is_some()
                    };
                    if !ok {
                        return Err(format!(
                            "required variable {name} is not set: {}",
                            op.trim_start_matches(':').trim_start_matches('?')
                        ));
                    }
                    value.unwrap()
                }
                _ => return Err(format!("unsupported interpolation ${{{expr}}} in {s:?}")),
            };
            out.push_str(&v);
        } else {
            let n = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if n == 0 {
                out.push('$');
            } else {
                out.push_str(&env(&rest[..n]).unwrap_or_default());
                rest = &rest[n..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Every string of `v`, interpolated.
fn interpolate_value(v: &mut Value, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    match v {
        Value::String(s) => *s = interpolate(s, env)?,
        Value::Array(a) => {
            for v in a {
                interpolate_value(v, env)?;
            }
        }
        Value::Object(m) => {
            for v in m.values_mut() {
                interpolate_value(v, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A volume of a compose service (short syntax `SOURCE:TARGET[:ro]` or the long one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// A path (bind mount, relative to the compose file) or a named volume.
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

impl Mount {
    pub fn is_bind(&self) -> bool {
        self.source.starts_with('.') || self.source.starts_with('/')
    }
}

/// One service of the compose file, interpolated.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub image: String,
    /// The entrypoint, when the service replaces the image's.
    pub entrypoint: Vec<String>,
    pub command: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub volumes: Vec<Mount>,
    /// The healthcheck's `test`, `CMD`/`CMD-SHELL` included.
    pub healthcheck: Vec<String>,
    /// The whole service as written (after interpolation and merge keys).
    pub raw: Value,
}

impl Service {
    /// The arguments after `xueliang` when the command runs the xueliang binary.
    pub fn xueliang_args(&self) -> Option<&[String]> {
        match self.command.split_first() {
            Some((bin, args)) if bin == "xueliang" => Some(args),
            _ => None,
        }
    }

    /// The `--role` of an `xueliang run` service.
    pub fn role(&self) -> Option<&str> {
        let args = self.xueliang_args()?;
        (args.first()? == "run").then(|| flag(args, "--role"))?
    }

    /// The node name an `xueliang run` service runs as: `--node-name`, else
    /// `XUELIANG_NODE_NAME`.
    pub fn node_name(&self) -> Option<&str> {
        flag(self.xueliang_args()?, "--node-name").or_else(|| {
            self.environment
                .get("XUELIANG_NODE_NAME")
                .map(String::as_str)
        })
    }
}

/// The value of `name` in `args` (`--name VALUE` or `--name=VALUE`).
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(name)?.strip_prefix('=')
        }
    })
}

/// A command as compose writes it: a list, or a string split on whitespace.
fn words(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `deploy/compose/compose.yaml`, parsed and interpolated.
#[derive(Debug, Clone)]
pub struct Compose {
    pub file: PathBuf,
    pub services: BTreeMap<String, Service>,
    /// The top-level named volumes.
    pub volumes: Vec<String>,
    /// The whole file as written (interpolated).
    pub raw: Value,
}

impl Compose {
    /// The compose file interpolated with `deploy/compose/.env.example` (what a user gets by
    /// copying it to `.env`). Panics naming the file on any error.
    pub fn load(repo: &Path) -> Compose {
        let env = env_file(&compose_dir(repo).join(".env.example"));
        Compose::load_with(repo, &|k| env.get(k).cloned())
    }

    /// The compose file interpolated with `env`.
    pub fn load_with(repo: &Path, env: &dyn Fn(&str) -> Option<String>) -> Compose {
        let file = compose_dir(repo).join("compose.yaml");
        let fail = |e: String| -> ! { panic!("{}: {e}", file.display()) };
        let mut docs = yaml_documents(&file).unwrap_or_else(|e| panic!("{e}"));
        if docs.len() != 1 {
            fail(format!("{} YAML documents, expected one", docs.len()));
        }
        let mut raw = docs.remove(0);
        interpolate_value(&mut raw, env).unwrap_or_else(|e| fail(e));
        let mut services = BTreeMap::new();
        let Some(Value::Object(list)) = raw.get("services") else {
            fail("no services".into())
        };
        for (name, s) in list {
            let environment = match s.get("environment") {
                Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| {
                        let x = scalar(x);
                        match x.split_once('=') {
                            Some((k, v)) => (k.to_string(), v.to_string()),
                            None => (x, String::new()),
                        }
                    })
                    .collect(),
                _ => BTreeMap::new(),
            };
            let volumes = match s.get("volumes") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| match v {
                        Value::String(short) => {
                            let parts: Vec<&str> = short.split(':').collect();
                            Mount {
                                source: parts[0].to_string(),
                                target: parts.get(1).copied().unwrap_or(parts[0]).to_string(),
                                read_only: parts
                                    .get(2)
                                    .is_some_and(|o| o.split(',').any(|o| o == "ro")),
                            }
                        }
                        long => Mount {
                            source: long.get("source").map(scalar).unwrap_or_default(),
                            target: long.get("target").map(scalar).unwrap_or_default(),
                            read_only: long
                                .get("read_only")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        },
                    })
                    .collect(),
                _ => Vec::new(),
            };
            services.insert(
                name.clone(),
                Service {
                    name: name.clone(),
                    image: s.get("image").map(scalar).unwrap_or_default(),
                    entrypoint: words(s.get("entrypoint")),
                    command: words(s.get("command")),
                    environment,
                    volumes,
                    healthcheck: words(s.get("healthcheck").and_then(|h| h.get("test"))),
                    raw: s.clone(),
                },
            );
        }
        let volumes = raw
            .get("volumes")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        Compose {
            file,
            services,
            volumes,
            raw,
        }
    }

    /// The image the compose file builds from [`DOCKERFILE`]: the xueliang image.
    pub fn xueliang_image(&self) -> &str {
        let built: Vec<&Service> = self
            .services
            .values()
            .filter(|s| {
                s.raw
                    .get("build")
                    .and_then(|b| b.get("dockerfile"))
                    .is_some_and(|d| d == DOCKERFILE)
            })
            .collect();
        match built.as_slice() {
            [s] if !s.image.is_empty() => &s.image,
            _ => panic!(
                "{}: expected exactly one service that builds {DOCKERFILE} and names its image",
                self.file.display()
            ),
        }
    }

    /// The services that run the xueliang image.
    pub fn xueliang_services(&self) -> Vec<&Service> {
        let image = self.xueliang_image();
        self.services
            .values()
            .filter(|s| s.image == image)
            .collect()
    }

    /// The repository file a path inside `service`'s container comes from, through the
    /// service's bind mounts. `None` when no bind mount holds it.
    pub fn host_path(&self, service: &Service, container_path: &str) -> Option<PathBuf> {
        let base = self.file.parent().expect("the compose file is in a folder");
        service
            .volumes
            .iter()
            .filter(|m| m.is_bind())
            .find_map(|m| {
                let rest = container_path.strip_prefix(&m.target)?;
                if !(rest.is_empty() || rest.starts_with('/')) {
                    return None;
                }
                let src = base.join(&m.source);
                Some(match rest.trim_start_matches('/') {
                    "" => src,
                    r => src.join(r),
                })
            })
    }
}

/// What compose runs, for a test that runs the same cluster as processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The edges' node names (`xueliang run --role edge`), by service name.
    pub edges: Vec<String>,
    /// The dispatchers' node names (`xueliang run --role dispatcher`), by service name.
    pub dispatchers: Vec<String>,
    /// Cameras of the inventory that `xueliang cameras apply` publishes.
    pub cameras: usize,
    /// Cameras camsim serves (`--cameras`).
    pub camsim_cameras: usize,
    /// `kafka.partitions` of the configuration the roles run: the alert partitions.
    pub partitions: u32,
    /// The repository file of the `xueliang.toml` every edge and dispatcher runs.
    pub config: PathBuf,
    /// The repository file of the inventory `cameras apply` publishes.
    pub inventory: PathBuf,
}

/// The cluster `deploy/compose/compose.yaml` runs. Panics, naming the service, when the file
/// does not describe one (a role without a node name, no camsim, roles on different configs).
pub fn topology(repo: &Path) -> Topology {
    let compose = Compose::load(repo);
    let file = compose.file.display().to_string();
    let mut edges = Vec::new();
    let mut dispatchers = Vec::new();
    let mut configs = std::collections::BTreeSet::new();
    for s in compose.xueliang_services() {
        let Some(role) = s.role() else { continue };
        let name = s
            .node_name()
            .unwrap_or_else(|| panic!("{file}: service {} runs without a node name", s.name))
            .to_string();
        let args = s.xueliang_args().expect("a role runs xueliang");
        let config = flag(args, "--config")
            .unwrap_or_else(|| panic!("{file}: service {} has no --config", s.name));
        configs.insert(
            compose
                .host_path(s, config)
                .unwrap_or_else(|| panic!("{file}: {} of {} is not mounted", config, s.name)),
        );
        match role {
            "edge" => edges.push(name),
            "dispatcher" => dispatchers.push(name),
            other => panic!("{file}: service {} runs unknown role {other}", s.name),
        }
    }
    let config = match configs.len() {
        1 => configs.pop_first().unwrap(),
        n => panic!("{file}: the roles run {n} different configurations, expected one"),
    };
    let camsim_cameras = compose
        .xueliang_services()
        .into_iter()
        .find_map(|s| {
            let args = s.xueliang_args()?;
            (args.first()? == "camsim").then(|| flag(args, "--cameras"))?
        })
        .unwrap_or_else(|| panic!("{file}: no `xueliang camsim --cameras N` service"))
        .parse()
        .unwrap_or_else(|e| panic!("{file}: camsim --cameras: {e}"));
    let (apply, inventory) = compose
        .xueliang_services()
        .into_iter()
        .find_map(|s| match s.xueliang_args()? {
            [c, a, path, ..] if c == "cameras" && a == "apply" => Some((s, path.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{file}: no `xueliang cameras apply PATH` service"));
    let inventory = compose
        .host_path(apply, &inventory)
        .unwrap_or_else(|| panic!("{file}: {inventory} of {} is not mounted", apply.name));
    let read =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let node = NodeConfig::parse(&read(&config), &config).unwrap_or_else(|e| panic!("{e}"));
    let cameras = Inventory::parse(&read(&inventory), &inventory, &|_| {
        Some("test-secret".into())
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .cameras
    .len();
    Topology {
        edges,
        dispatchers,
        cameras,
        camsim_cameras,
        partitions: node.kafka.partitions,
        config,
        inventory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_follows_compose() {
        let env = |k: &str| match k {
            "A" => Some("a".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(interpolate("x${A}y$A", &env).unwrap(), "xaya");
        assert_eq!(
            interpolate("${B:-d}|${EMPTY:-d}|${EMPTY-d}", &env).unwrap(),
            "d|d|"
        );
        assert_eq!(interpolate("$$A ${A:?m}", &env).unwrap(), "$A a");
        let err = interpolate("${B:?set B}", &env).unwrap_err();
        assert!(err.contains("B") && err.contains("set B"), "{err}");
        assert!(interpolate("${EMPTY:?m}", &env).is_err());
    }

    #[test]
    fn nested_merge_keys_resolve() {
        let docs =
            yaml_documents_in("a: &a {x: 1, y: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n---\n")
                .unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["c"], serde_json::json!({"x": 1, "y": 2, "z": 3}));
    }

    #[test]
    fn flags_take_both_spellings() {
        let args: Vec<String> = ["run", "--role", "edge", "--node-name=e1"]
            .map(String::from)
            .to_vec();
        assert_eq!(flag(&args, "--role"), Some("edge"));
        assert_eq!(flag(&args, "--node-name"), Some("e1"));
        assert_eq!(flag(&args, "--config"), None);
    }

    #[test]
    fn the_compose_topology_is_a_cluster() {
        assert!(CONFIG_FILE.starts_with(&format!("{CONFIG_MOUNT}/")));
        let t = topology(&crate::deploy::repo());
        assert_eq!(t.edges.len(), 3, "{t:?}");
        assert_eq!(t.dispatchers.len(), 2, "{t:?}");
        assert!(t.cameras >= 24 && t.camsim_cameras >= t.cameras, "{t:?}");
    }
}
