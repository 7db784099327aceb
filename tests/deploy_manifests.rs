//! The deployments for more than one machine — deploy/docker (the image), deploy/compose and
//! deploy/kubernetes — checked without running a container (none can run on these machines):
//! every manifest parses and every Kubernetes object is well-formed; every configuration file
//! the manifests mount holds no secret and passes `xueliang check-config` with the environment
//! of the container that reads it, and the processes that open the database find its password
//! in their own environment; each container carries the variables its process reads and no
//! others (no camera password outside the edges); every command, flag and environment variable
//! the manifests and the image's scripts use exists in the CLI; the compose topology is the
//! cluster tests/cluster.rs runs; the Kubernetes objects agree with the configuration and the
//! resource figures with benches/RESULTS.md; the Dockerfile installs what ./xl installs.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use xueliang_testkit::compose::{
    self, CONFIG_FILE, CONFIG_MOUNT, Compose, Service, flag, yaml_documents,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xueliang"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn toml_table(p: &Path) -> toml::Table {
    read(p)
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `a.b.c` of a JSON value.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---- the configuration the manifests name ---------------------------------------------------

/// The compose/Kubernetes configuration: deploy/compose/config/xueliang.toml as written.
struct ClusterConfig {
    dir: PathBuf,
    node: toml::Table,
}

impl ClusterConfig {
    fn load() -> ClusterConfig {
        let dir = compose::compose_dir(&repo()).join("config");
        let node = toml_table(&dir.join("xueliang.toml"));
        ClusterConfig { dir, node }
    }

    fn get(&self, path: &str) -> &toml::Value {
        let mut parts = path.split('.');
        let first = parts.next().unwrap();
        let v = self
            .node
            .get(first)
            .unwrap_or_else(|| panic!("xueliang.toml has no {path}"));
        parts.fold(v, |v, k| {
            v.get(k)
                .unwrap_or_else(|| panic!("xueliang.toml has no {path}"))
        })
    }

    fn str(&self, path: &str) -> &str {
        self.get(path).as_str().unwrap()
    }

    fn int(&self, path: &str) -> i64 {
        self.get(path).as_integer().unwrap()
    }

    /// The port of an `IP:PORT` setting.
    fn port(&self, path: &str) -> u16 {
        let addr: std::net::SocketAddr = self.str(path).parse().unwrap();
        addr.port()
    }

    /// Every `${…}` in the configuration files, with its file. The files are read as mounted
    /// (nothing renders them), so a placeholder would reach xueliang as written.
    fn placeholders(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in std::fs::read_dir(&self.dir).unwrap() {
            let f = f.unwrap().path();
            let t = read(&f);
            for part in t.split("${").skip(1) {
                let name = part.split('}').next().unwrap_or(part);
                out.push(format!("{}: ${{{name}}}", f.display()));
            }
        }
        out
    }

    /// The cameras' `password_env` variables.
    fn password_envs(&self) -> BTreeSet<String> {
        let inv = toml_table(&self.dir.join(self.str("inventory.cameras")));
        inv["camera"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.get("password_env")?.as_str().map(String::from))
            .collect()
    }

    /// `dispatcher.database_password_env`: the variable with the PostgreSQL password.
    fn database_password_env(&self) -> &str {
        self.str("dispatcher.database_password_env")
    }
}

// ---- what a container runs -------------------------------------------------------------------

/// The image's own scripts (deploy/docker/*.sh), by the name the Dockerfile installs them as.
fn image_scripts() -> BTreeMap<String, String> {
    let repo = repo();
    let dockerfile = read(&repo.join(compose::DOCKERFILE));
    let mut scripts = BTreeMap::new();
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && l.contains("deploy/docker/"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let src = words
            .iter()
            .find(|w| w.starts_with("deploy/docker/"))
            .unwrap();
        let dst = words.last().unwrap();
        let name = dst.rsplit('/').next().unwrap().to_string();
        scripts.insert(name, read(&repo.join(src)));
    }
    scripts
}

/// The `xueliang` invocations (the words after `xueliang`) a container's command line makes:
/// itself, or those of the image's script it runs.
fn invocations(command: &[String], scripts: &BTreeMap<String, String>) -> Vec<Vec<String>> {
    match command.split_first() {
        Some((b, args)) if b == "xueliang" => vec![args.to_vec()],
        Some((b, _)) if scripts.contains_key(b) => xueliang_in_script(&scripts[b]),
        _ => Vec::new(),
    }
}

/// The roles an `xueliang run` invocation runs: each `--role`, or every role without one.
fn run_roles(args: &[String]) -> Option<BTreeSet<String>> {
    if args.first().map(String::as_str) != Some("run") {
        return None;
    }
    let mut roles = BTreeSet::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--role" {
            roles.insert(args.get(i + 1).cloned().unwrap_or_default());
        } else if let Some(r) = a.strip_prefix("--role=") {
            roles.insert(r.to_string());
        }
    }
    if roles.is_empty() {
        roles.extend(["edge".to_string(), "dispatcher".to_string()]);
    }
    Some(roles)
}

/// Whether a container runs the edge role: the one process that connects to cameras, and so
/// resolves their `password_env` variables.
fn runs_edge(invocations: &[Vec<String>]) -> bool {
    invocations
        .iter()
        .any(|a| run_roles(a).is_some_and(|r| r.contains("edge")))
}

/// Whether a container opens the dispatcher's database, and so reads the password that
/// `dispatcher.database_password_env` names: the dispatcher role and `xueliang users`.
fn opens_database(invocations: &[Vec<String>]) -> bool {
    invocations.iter().any(|a| {
        run_roles(a).is_some_and(|r| r.contains("dispatcher"))
            || a.first().is_some_and(|c| c == "users")
    })
}

/// The configuration file (a path in the container) a container's processes read: `--config`
/// of an `xueliang` command line (or `XUELIANG_CONFIG`, clap's env for it), the mounted
/// [`CONFIG_FILE`] for the image's scripts (whose default it is: checked here).
fn config_in_container(
    origin: &str,
    command: &[String],
    env: &BTreeMap<String, String>,
    scripts: &BTreeMap<String, String>,
) -> String {
    let from_env = env.get("XUELIANG_CONFIG").cloned();
    match command.split_first() {
        Some((b, args)) if b == "xueliang" => flag(args, "--config")
            .map(String::from)
            .or(from_env)
            .unwrap_or_else(|| {
                panic!("{origin}: no --config (it would read the CLI's default, not the mount)")
            }),
        Some((b, _)) if scripts.contains_key(b) => {
            assert!(
                scripts[b].contains(&format!("${{XUELIANG_CONFIG:-{CONFIG_FILE}}}")),
                "{origin}: {b} does not default to {CONFIG_FILE}"
            );
            from_env.unwrap_or_else(|| CONFIG_FILE.to_string())
        }
        _ => panic!("{origin}: runs {command:?}, neither xueliang nor one of the image's scripts"),
    }
}

// ---- check-config and the database, with a container's environment --------------------------

/// `xueliang check-config` of a configuration file with exactly `env`: must pass and describe
/// the cluster's 24 cameras.
fn check_config(config: &Path, env: &BTreeMap<String, String>, what: &str) {
    let out = bin()
        .arg("check-config")
        .arg(config)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}: check-config {} failed:\n{stdout}{}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(": OK") && stdout.contains("24 (24 enabled"),
        "{what}: {stdout}"
    );
}

/// The environment `check-config` runs with for a container: the container's own, and for a
/// container that runs no edge the cameras' password variables too, stood in. check-config
/// checks what an edge needs, so it resolves every camera's `password_env`; a process without
/// the edge role does not (`run --role dispatcher` and `users` load the inventory with
/// `CameraCredentials::NotNeeded`, `cameras apply` publishes the variable names as written),
/// and those containers deliberately carry no camera password (checked in
/// every_command_flag_and_variable_exists_in_the_cli). An edge's check-config runs with its
/// own environment only, so an edge without a camera's password fails here.
fn check_env(
    invocations: &[Vec<String>],
    env: &BTreeMap<String, String>,
    cfg: &ClusterConfig,
) -> BTreeMap<String, String> {
    let mut env = env.clone();
    if !runs_edge(invocations) {
        for var in cfg.password_envs() {
            env.entry(var)
                .or_insert_with(|| "not-needed-without-the-edge-role".into());
        }
    }
    env
}

/// A one-connection stand-in for PostgreSQL on 127.0.0.1: it asks the client that connects for
/// its password in clear text (AuthenticationCleartextPassword), closes the connection and
/// returns the password — `None` if no client sent one within 20 s.
fn password_catcher() -> (u16, std::thread::JoinHandle<Option<String>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let catch = move || -> Option<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(_) => return None,
            }
        };
        conn.set_nonblocking(false).ok()?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .ok()?;
        let read_n = |conn: &mut std::net::TcpStream, n: usize| -> Option<Vec<u8>> {
            let mut b = vec![0; n];
            conn.read_exact(&mut b).ok()?;
            Some(b)
        };
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        // The startup message (after an SSLRequest, answered "no TLS", if the client sends one).
        loop {
            let len = be(&read_n(&mut conn, 4)?);
            let body = read_n(&mut conn, len.checked_sub(4)?)?;
            if body.len() >= 4 && be(&body) == 80877103 {
                conn.write_all(b"N").ok()?;
                continue;
            }
            break;
        }
        conn.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).ok()?;
        let tag = read_n(&mut conn, 1)?;
        let len = be(&read_n(&mut conn, 4)?);
        let body = read_n(&mut conn, len.checked_sub(4)?)?;
        (tag == b"p")
            .then(|| String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(&body)).into_owned())
    };
    (port, std::thread::spawn(catch))
}

/// The password a process of this container sends to PostgreSQL: `xueliang users list`, which
/// loads the configuration as the dispatcher role does (camera passwords not resolved) and
/// reads the password from the variable `dispatcher.database_password_env` names, run with
/// exactly the container's `env` on a copy of the configuration whose database is a
/// [`password_catcher`] (and whose data_dir is a temporary folder). Fails, with the process's
/// error, when it sends none: a camera's or the database's variable missing, a URL that is
/// not the database's.
fn database_password_sent(config: &Path, env: &BTreeMap<String, String>, what: &str) -> String {
    let cfg_text = read(config);
    let node: toml::Table = cfg_text.parse().unwrap();
    let url = node["dispatcher"]["database"].as_str().unwrap();
    let data_dir = node["node"]["data_dir"].as_str().unwrap();
    let host = url
        .split_once('@')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or_else(|| panic!("{what}: {url} has no host"));
    let (port, caught) = password_catcher();
    let local_url = url.replace(&format!("@{host}/"), &format!("@127.0.0.1:{port}/"));
    assert_ne!(local_url, url);
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(config.parent().unwrap()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, tmp.path().join(f.file_name().unwrap())).unwrap();
        }
    }
    let replace_once = |t: &str, from: &str, to: &str| {
        assert_eq!(
            t.matches(from).count(),
            1,
            "{what}: {from:?} in xueliang.toml"
        );
        t.replace(from, to)
    };
    let local = replace_once(
        &cfg_text,
        &format!("\"{url}\""),
        &format!("\"{local_url}\""),
    );
    let local = replace_once(
        &local,
        &format!("\"{data_dir}\""),
        &format!("{:?}", tmp.path().join("data").display().to_string()),
    );
    let copy = tmp.path().join(config.file_name().unwrap());
    std::fs::write(&copy, local).unwrap();
    let out = bin()
        .args(["users", "list", "--config"])
        .arg(&copy)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    // The process has exited: if it never connected, this connection ends the catcher's wait.
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    let sent = caught.join().unwrap();
    assert!(!out.status.success(), "{what}: the stand-in is no database");
    sent.unwrap_or_else(|| {
        panic!(
            "{what}: `xueliang users list` with the container's env sent no password to the \
             database:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

// ---- the CLI ---------------------------------------------------------------------------------

/// The binary's help, by subcommand path, and what it says.
#[derive(Default)]
struct Cli {
    helps: BTreeMap<Vec<String>, String>,
}

impl Cli {
    fn help(&mut self, path: &[String]) -> &str {
        self.helps.entry(path.to_vec()).or_insert_with(|| {
            let out = bin().args(path).arg("--help").output().unwrap();
            assert!(
                out.status.success(),
                "xueliang {} --help failed",
                path.join(" ")
            );
            String::from_utf8(out.stdout).unwrap()
        })
    }

    fn subcommands(&mut self, path: &[String]) -> Vec<String> {
        let help = self.help(path);
        help.lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    }

    /// `--long` options of a help text.
    fn options(help: &str) -> BTreeSet<String> {
        help.lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with('-'))
            .flat_map(|l| {
                l.split([' ', ',', '='])
                    .filter(|w| w.starts_with("--"))
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The `[env: NAME=]` variables of a subcommand's help.
    fn env_vars_of(&mut self, path: &[String]) -> BTreeSet<String> {
        self.help(path)
            .split("[env: ")
            .skip(1)
            .filter_map(|p| p.split(['=', ']']).next().map(String::from))
            .collect()
    }

    /// Checks one invocation (the words after `xueliang`): each subcommand exists, each
    /// `--flag` is in that subcommand's help, and clap accepts the whole line (values included)
    /// when `--help` is appended. Returns the subcommand path.
    fn check(&mut self, origin: &str, args: &[String]) -> Vec<String> {
        let mut path: Vec<String> = Vec::new();
        for a in args {
            if a.starts_with('-') {
                break;
            }
            if self.subcommands(&path).contains(a) {
                path.push(a.clone());
            } else {
                break;
            }
        }
        assert!(
            !path.is_empty(),
            "{origin}: `xueliang {}` names no subcommand",
            args.join(" ")
        );
        assert!(
            self.subcommands(&path).is_empty(),
            "{origin}: `xueliang {}` stops at a group of subcommands",
            path.join(" ")
        );
        let options = Cli::options(self.help(&path));
        for a in args.iter().filter(|a| a.starts_with("--")) {
            let name = a.split('=').next().unwrap();
            assert!(
                options.contains(name),
                "{origin}: `xueliang {}` has no {name} (it has {options:?})",
                path.join(" ")
            );
        }
        let out = bin().args(args).arg("--help").output().unwrap();
        assert!(
            out.status.success(),
            "{origin}: clap refuses `xueliang {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }
}

/// The words of one shell command line (quotes removed; `$…` kept as written).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '#') if cur.is_empty() && !any => break,
            (None, ';') => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
                words.push(";".into());
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Every `xueliang …` invocation of a shell script: the words after `xueliang` up to the end
/// of its command (`;`, `&&`, `|`, a redirection, `&`).
fn xueliang_in_script(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let words = shell_words(line);
        let mut i = 0;
        while i < words.len() {
            let starts = i == 0
                || ["exec", ";", "&&", "||", "|", "then", "do"].contains(&words[i - 1].as_str());
            if words[i] == "xueliang" && starts {
                let args: Vec<String> = words[i + 1..]
                    .iter()
                    .take_while(|w| {
                        ![";", "&&", "||", "|", "&"].contains(&w.as_str())
                            && !w.starts_with('>')
                            && !w.starts_with('<')
                            && !w.starts_with("2>")
                    })
                    .cloned()
                    .collect();
                i += args.len();
                out.push(args);
            }
            i += 1;
        }
    }
    out
}

/// Shell and Kubernetes variable references in an argument, replaced by a plain value: these
/// are secrets and loop variables, whose values clap does not type.
fn placeholder(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut s = arg.to_string();
    for (k, v) in env {
        s = s.replace(&format!("$({k})"), v);
    }
    if s.contains('$') {
        "placeholder".into()
    } else {
        s
    }
}

// ---- Kubernetes ------------------------------------------------------------------------------

/// The objects deploy/kubernetes/kustomization.yaml applies, each with its file; and the
/// ConfigMaps its generators make, with their files.
struct Kustomized {
    objects: Vec<(PathBuf, Value)>,
    files: Vec<PathBuf>,
    config_maps: BTreeMap<String, Vec<PathBuf>>,
}

fn kustomize(dir: &Path, out: &mut Kustomized) {
    let k = dir.join("kustomization.yaml");
    let docs = yaml_documents(&k).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(docs.len(), 1, "{}", k.display());
    let doc = &docs[0];
    assert_eq!(doc["kind"], "Kustomization", "{}", k.display());
    out.files.push(k.clone());
    for r in doc["resources"].as_array().into_iter().flatten() {
        let p = dir.join(r.as_str().unwrap());
        if p.is_dir() {
            assert!(
                p.join("kustomization.yaml").is_file(),
                "{}: resource {} is a folder without kustomization.yaml",
                k.display(),
                p.display()
            );
            kustomize(&p, out);
        } else {
            assert!(
                p.is_file(),
                "{}: resource {} does not exist",
                k.display(),
                p.display()
            );
            out.files.push(p.clone());
            for d in yaml_documents(&p).unwrap_or_else(|e| panic!("{e}")) {
                out.objects.push((p.clone(), d));
            }
        }
    }
    for g in doc["configMapGenerator"].as_array().into_iter().flatten() {
        let files: Vec<PathBuf> = g["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let f = f.as_str().unwrap();
                assert!(
                    !f.contains('='),
                    "{}: keyed files are not resolved here",
                    k.display()
                );
                let p = dir.join(f);
                assert!(
                    p.is_file(),
                    "{}: generator file {} does not exist",
                    k.display(),
                    p.display()
                );
                p
            })
            .collect();
        out.config_maps.insert(text(&g["name"]), files);
    }
}

fn kustomized() -> Kustomized {
    let mut k = Kustomized {
        objects: Vec::new(),
        files: Vec::new(),
        config_maps: BTreeMap::new(),
    };
    kustomize(&compose::kubernetes_dir(&repo()), &mut k);
    k
}

fn object<'a>(k: &'a Kustomized, kind: &str, name: &str) -> &'a Value {
    k.objects
        .iter()
        .map(|(_, o)| o)
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("deploy/kubernetes has no {kind} {name}"))
}

/// Every container of every pod template, with the object it belongs to.
fn containers(k: &Kustomized) -> Vec<(&Value, &Value)> {
    k.objects
        .iter()
        .map(|(_, o)| o)
        .filter(|o| {
            ["StatefulSet", "Deployment", "Job", "DaemonSet"]
                .contains(&o["kind"].as_str().unwrap_or(""))
        })
        .flat_map(|o| {
            at(o, "spec.template.spec.containers")
                .as_array()
                .unwrap()
                .iter()
                .map(move |c| (o, c))
        })
        .collect()
}

/// The Secret of secret.example.yaml: name → its keys and (placeholder) values.
fn example_secret() -> (String, BTreeMap<String, String>) {
    let p = compose::kubernetes_dir(&repo()).join("secret.example.yaml");
    let docs = yaml_documents(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "Secret");
    let keys = docs[0]["stringData"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    (text(&docs[0]["metadata"]["name"]), keys)
}

/// What a pod reads from key `key` of the Secret here: the example's placeholder and the key,
/// so that each key has a value of its own.
fn secret_value(key: &str) -> String {
    let (_, keys) = example_secret();
    let v = keys
        .get(key)
        .unwrap_or_else(|| panic!("key {key} is not in secret.example.yaml"));
    format!("{v}-{key}")
}

/// A container's environment as the pod would see it: literal values, Secret keys
/// ([`secret_value`]), the pod's name from the downward API.
fn container_env(o: &Value, c: &Value) -> BTreeMap<String, String> {
    let (secret, keys) = example_secret();
    let pod = match o["kind"].as_str().unwrap() {
        "StatefulSet" => format!("{}-0", text(&o["metadata"]["name"])),
        _ => format!("{}-7d9c5-x2x4q", text(&o["metadata"]["name"])),
    };
    let mut env = BTreeMap::new();
    for e in c["env"].as_array().into_iter().flatten() {
        let name = text(&e["name"]);
        let value = if let Some(v) = e.get("value") {
            text(v)
        } else if let Some(r) = e.get("valueFrom").and_then(|v| v.get("secretKeyRef")) {
            assert_eq!(
                text(&r["name"]),
                secret,
                "{name} reads another Secret than {secret}"
            );
            let key = text(&r["key"]);
            assert!(
                keys.contains_key(&key),
                "{name}: key {key} is not in secret.example.yaml"
            );
            secret_value(&key)
        } else if let Some(f) = e.get("valueFrom").and_then(|v| v.get("fieldRef")) {
            assert_eq!(f["fieldPath"], "metadata.name", "{name}");
            pod.clone()
        } else {
            panic!("{name}: an env source this test does not know");
        };
        env.insert(name, value);
    }
    env
}

fn is_xueliang_image(image: &str) -> bool {
    image == "xueliang" || image.starts_with("xueliang:")
}

/// The mount path of the volume `volume` in a container.
fn mount_of<'a>(c: &'a Value, volume: &str) -> Option<&'a str> {
    c["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == volume)
        .and_then(|m| m["mountPath"].as_str())
}

/// The pod volume mounted at `path` in a container.
fn volume_at<'a>(o: &'a Value, c: &Value, path: &str) -> Option<&'a Value> {
    let name = c["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["mountPath"] == path)?["name"]
        .clone();
    at(o, "spec.template.spec.volumes")
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
}

/// A container's volume mount at `path` (`null` when there is none).
fn mount_at<'a>(c: &'a Value, path: &str) -> &'a Value {
    c["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mountPath"] == path))
        .unwrap_or(&Value::Null)
}

/// Whether a container may write at `path`: a mount there, not read-only, of an emptyDir or of
/// one of the StatefulSet's volume claims.
fn writable_at(o: &Value, c: &Value, path: &str) -> bool {
    let m = mount_at(c, path);
    if m.is_null() || m["readOnly"] == true {
        return false;
    }
    let claims = at(o, "spec.volumeClaimTemplates").as_array();
    volume_at(o, c, path).is_some_and(|v| v.get("emptyDir").is_some())
        || claims.is_some_and(|cs| cs.iter().any(|t| t["metadata"]["name"] == m["name"]))
}

fn container_port(c: &Value, port: &Value) -> u16 {
    if let Some(n) = port.as_u64() {
        return n as u16;
    }
    c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == *port)
        .unwrap_or_else(|| panic!("no container port named {port}"))["containerPort"]
        .as_u64()
        .unwrap() as u16
}

/// A Kubernetes or compose quantity in MiB ("512Mi", "1Gi", "1g", "512m" for compose memory).
fn mib(q: &str) -> f64 {
    let (n, unit) = q.split_at(q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len()));
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("quantity {q:?}"));
    n * match unit {
        "Ki" | "k" | "K" => 1.0 / 1024.0,
        "Mi" | "m" | "M" => 1.0,
        "Gi" | "g" | "G" => 1024.0,
        "" => 1.0 / (1024.0 * 1024.0),
        _ => panic!("quantity {q:?}"),
    }
}

fn cores(q: &str) -> f64 {
    match q.strip_suffix('m') {
        Some(m) => m.parse::<f64>().unwrap() / 1000.0,
        None => q.parse().unwrap_or_else(|_| panic!("cpu {q:?}")),
    }
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let want = selector["matchLabels"].as_object().unwrap();
    !want.is_empty() && want.iter().all(|(k, v)| labels[k] == *v)
}

// ---- the tests -------------------------------------------------------------------------------

#[test]
fn every_manifest_parses_and_every_object_is_well_formed() {
    let repo = repo();
    let mut docs = 0;
    for dir in [compose::compose_dir(&repo), compose::kubernetes_dir(&repo)] {
        let files = yaml_files(&dir);
        assert!(!files.is_empty(), "{}", dir.display());
        for f in files {
            let parsed = yaml_documents(&f).unwrap_or_else(|e| panic!("{e}"));
            assert!(!parsed.is_empty(), "{}: no YAML document", f.display());
            let in_compose =
                f.starts_with(compose::compose_dir(&repo)) && !f.ends_with("kustomization.yaml");
            for d in parsed {
                docs += 1;
                if in_compose {
                    continue; // the compose file: checked by the tests below
                }
                if d["kind"] == "Kustomization" {
                    assert_eq!(
                        d["apiVersion"],
                        "kustomize.config.k8s.io/v1beta1",
                        "{}",
                        f.display()
                    );
                    continue;
                }
                for key in ["apiVersion", "kind", "metadata.name"] {
                    assert!(
                        at(&d, key).as_str().is_some_and(|s| !s.is_empty()),
                        "{}: an object without {key}: {d}",
                        f.display()
                    );
                }
            }
        }
    }
    assert!(docs >= 15, "{docs} documents");

    // Everything under deploy/kubernetes is applied, but the example Secret (never applied:
    // it holds placeholders).
    let k = kustomized();
    for f in yaml_files(&compose::kubernetes_dir(&repo)) {
        let applied = k.files.contains(&f);
        if f.ends_with("secret.example.yaml") {
            assert!(!applied, "the example Secret must not be applied");
        } else {
            assert!(
                applied,
                "{} is not in kustomization.yaml's resources",
                f.display()
            );
        }
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (_, o) in &k.objects {
        *kinds.entry(text(&o["kind"])).or_default() += 1;
    }
    for (kind, n) in [
        ("Namespace", 1),
        ("StatefulSet", 1),
        ("Deployment", 2),
        ("Service", 4),
        ("PodDisruptionBudget", 2),
        ("Job", 3),
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) >= n,
            "{kind}: {kinds:?}"
        );
    }
    assert_eq!(k.config_maps.len(), 1, "{:?}", k.config_maps);
    assert!(k.config_maps.contains_key("xueliang-config"));

    // Where kubectl is installed, its kustomize builds the same thing: one ConfigMap, named with
    // its content hash, that every pod mounting it refers to; every object in the namespace.
    let built = Command::new("kubectl")
        .arg("kustomize")
        .arg(compose::kubernetes_dir(&repo))
        .output();
    match built {
        Err(_) => eprintln!("kubectl not installed: `kubectl kustomize` not run"),
        Ok(out) => {
            assert!(
                out.status.success(),
                "kubectl kustomize deploy/kubernetes: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let objects =
                compose::yaml_documents_in(&String::from_utf8(out.stdout).unwrap()).unwrap();
            assert_eq!(objects.len(), k.objects.len() + k.config_maps.len());
            let cms: Vec<&Value> = objects
                .iter()
                .filter(|o| o["kind"] == "ConfigMap")
                .collect();
            assert_eq!(cms.len(), 1);
            let cm_name = text(&cms[0]["metadata"]["name"]);
            assert!(cm_name.starts_with("xueliang-config-"), "{cm_name}");
            let keys: BTreeSet<&String> = cms[0]["data"].as_object().unwrap().keys().collect();
            let files: BTreeSet<String> = k.config_maps["xueliang-config"]
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(keys, files.iter().collect());
            let mut refs = 0;
            for o in &objects {
                if o["kind"] != "Namespace" {
                    assert_eq!(
                        o["metadata"]["namespace"], "xueliang",
                        "{}",
                        o["metadata"]["name"]
                    );
                }
                for v in at(o, "spec.template.spec.volumes")
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = v.get("configMap") {
                        assert_eq!(text(&n["name"]), cm_name);
                        refs += 1;
                    }
                }
            }
            assert!(refs >= 4, "{refs} pods mount the ConfigMap");
        }
    }
}

#[test]
fn every_mounted_configuration_passes_check_config_with_its_containers_env() {
    let repo = repo();
    let cfg = ClusterConfig::load();
    let compose = Compose::load(&repo);
    let scripts = image_scripts();
    let db_var = cfg.database_password_env();
    let postgres_password = &compose.services["postgres"].environment["POSTGRES_PASSWORD"];
    let (mut checked, mut databases) = (0, 0);

    // compose: each xueliang service that mounts ./config at /etc/xueliang, checked where it is
    // mounted (the file the container reads) with the service's environment.
    for s in compose.xueliang_services() {
        let origin = format!("compose {}", s.name);
        if compose.host_path(s, CONFIG_MOUNT).is_none() {
            assert!(
                !s.command.iter().any(|a| a.starts_with(CONFIG_MOUNT)),
                "{origin}: reads {CONFIG_MOUNT} but mounts no configuration"
            );
            continue;
        }
        let invocations = invocations(&s.command, &scripts);
        let config = config_in_container(&origin, &s.command, &s.environment, &scripts);
        let local = compose
            .host_path(s, &config)
            .unwrap_or_else(|| panic!("{origin}: {config} is not in a bind mount"));
        check_config(
            &local,
            &check_env(&invocations, &s.environment, &cfg),
            &origin,
        );
        if opens_database(&invocations) {
            // The database password, in the variable the configuration names, is PostgreSQL's.
            assert_eq!(
                s.environment.get(db_var),
                Some(postgres_password),
                "{origin}: {db_var} (dispatcher.database_password_env) is not POSTGRES_PASSWORD"
            );
            assert_eq!(
                &database_password_sent(&local, &s.environment, &origin),
                postgres_password,
                "{origin}: the password it sends to PostgreSQL"
            );
            databases += 1;
        }
        checked += 1;
    }
    assert!(checked >= 7, "{checked} compose services checked");
    assert!(
        databases >= 3,
        "{databases} compose services open the database"
    );

    // Kubernetes: the ConfigMap holds only its generator's files, all from one folder (the
    // files beside xueliang.toml that it names); each xueliang container that mounts it at
    // /etc/xueliang, checked with the container's env.
    let k = kustomized();
    let files = &k.config_maps["xueliang-config"];
    let secret_db_password = secret_value("db-password");
    let folders: BTreeSet<&Path> = files.iter().map(|f| f.parent().unwrap()).collect();
    assert_eq!(folders.len(), 1, "{files:?}");
    let (mut checked, mut databases) = (0, 0);
    for (o, c) in containers(&k) {
        if !is_xueliang_image(c["image"].as_str().unwrap()) {
            continue;
        }
        let Some(v) = volume_at(o, c, CONFIG_MOUNT) else {
            continue;
        };
        assert_eq!(text(&v["configMap"]["name"]), "xueliang-config");
        let origin = format!("kubernetes {}", text(&o["metadata"]["name"]));
        let env = container_env(o, c);
        let args: Vec<String> = c["args"].as_array().unwrap().iter().map(text).collect();
        let invocations = invocations(&args, &scripts);
        let config = config_in_container(&origin, &args, &env, &scripts);
        let name = config
            .strip_prefix(&format!("{CONFIG_MOUNT}/"))
            .unwrap_or_else(|| panic!("{origin}: {config} is not in {CONFIG_MOUNT}"));
        let local = files
            .iter()
            .find(|f| f.file_name().is_some_and(|n| n == name))
            .unwrap_or_else(|| panic!("{origin}: {config} is not in the ConfigMap"));
        check_config(local, &check_env(&invocations, &env, &cfg), &origin);
        if opens_database(&invocations) {
            assert!(
                env.get(db_var).is_some_and(|v| !v.is_empty()),
                "{origin}: no {db_var} (dispatcher.database_password_env)"
            );
            assert_eq!(
                database_password_sent(local, &env, &origin),
                secret_db_password,
                "{origin}: the password it sends to PostgreSQL is not db-password of the Secret"
            );
            databases += 1;
        }
        checked += 1;
    }
    assert!(checked >= 4, "{checked} Kubernetes containers checked");
    assert!(
        databases >= 2,
        "{databases} Kubernetes containers open the database"
    );

    // The configuration is a cluster's: cameras from the inventory topic, a shared PostgreSQL,
    // endpoints other containers can reach, the brokers and database by the names compose and
    // Kubernetes give them.
    assert_eq!(cfg.str("cluster.cameras"), "kafka");
    let db = cfg.str("dispatcher.database");
    assert!(db.starts_with("postgres://"), "{db}");
    for key in ["http.listen", "dispatcher.listen"] {
        assert!(
            cfg.str(key).starts_with("0.0.0.0:"),
            "{key} = {}",
            cfg.str(key)
        );
    }
    let broker_host = cfg
        .str("kafka.brokers")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let db_host = db
        .rsplit('@')
        .next()
        .unwrap()
        .split([':', '/'])
        .next()
        .unwrap()
        .to_string();
    for host in [&broker_host, &db_host] {
        assert!(
            compose.services.contains_key(host.as_str()),
            "compose has no service {host}"
        );
        object(&k, "Service", host);
    }
    // No secret in the files, and nothing to fill in: they are read as mounted. The database
    // URL has no password (it comes from dispatcher.database_password_env's variable), the
    // cameras use password_env.
    assert_eq!(cfg.placeholders(), Vec::<String>::new(), "placeholders");
    let user = db["postgres://".len()..]
        .split(['/', '?'])
        .next()
        .unwrap()
        .rsplit_once('@')
        .map(|(user, _)| user)
        .unwrap_or_else(|| panic!("{db}: no user"));
    assert!(!user.contains(':'), "a password in dispatcher.database");
    assert_eq!(db_var, "XUELIANG_DB_PASSWORD");
    let inventory = read(&cfg.dir.join(cfg.str("inventory.cameras")));
    assert!(
        !inventory
            .lines()
            .any(|l| l.trim_start().starts_with("password ")),
        "a password in cameras.toml"
    );
    assert!(
        !inventory.contains("rtsp://admin:"),
        "credentials in a camera URL"
    );
}

#[test]
fn every_command_flag_and_variable_exists_in_the_cli() {
    let repo = repo();
    let cfg = ClusterConfig::load();
    let compose = Compose::load(&repo);
    let mut cli = Cli::default();
    let dockerfile = read(&repo.join(compose::DOCKERFILE));
    let scripts = image_scripts();
    assert!(
        scripts.contains_key("xueliang-add-users"),
        "{:?}",
        scripts.keys()
    );
    // No ENTRYPOINT: a container's command line (compose's `command`, Kubernetes' `args`) is
    // all that runs, so it is all there is to check.
    assert!(
        !dockerfile
            .lines()
            .any(|l| l.trim_start().starts_with("ENTRYPOINT")),
        "the image has an ENTRYPOINT: the commands below would run through it"
    );

    // Checks a container's command line; returns the subcommand paths of the xueliang
    // invocations it makes (itself, or the script's).
    let mut subcommands = BTreeSet::new();
    let mut check_command = |cli: &mut Cli,
                             origin: &str,
                             command: &[String],
                             env: &BTreeMap<String, String>|
     -> Vec<Vec<String>> {
        let command: Vec<String> = command.iter().map(|a| placeholder(a, env)).collect();
        let mut paths = Vec::new();
        match command.split_first() {
            Some((b, args)) if b == "xueliang" => paths.push(cli.check(origin, args)),
            Some((b, _)) if scripts.contains_key(b) => {
                let found = xueliang_in_script(&scripts[b]);
                assert!(!found.is_empty(), "{origin}: {b} runs no xueliang command");
                for args in found {
                    let args: Vec<String> = args.iter().map(|a| placeholder(a, env)).collect();
                    paths.push(cli.check(&format!("{origin} ({b})"), &args));
                }
                // The variables a script requires (`${NAME:?…}`) are set.
                for part in scripts[b].split("${").skip(1) {
                    if let Some((name, rest)) = part.split_once(":?")
                        && !rest.starts_with("usage")
                        && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    {
                        assert!(env.contains_key(name), "{origin}: {b} needs {name}");
                    }
                }
            }
            _ => panic!(
                "{origin}: runs {command:?}, neither xueliang nor one of the image's scripts"
            ),
        }
        for p in &paths {
            subcommands.insert(p.join(" "));
        }
        paths
    };

    // Each container: where it comes from, its command line, its environment, the subcommands
    // it runs, and the variables Kubernetes expands in its args ($(NAME)).
    struct Run {
        origin: String,
        command: Vec<String>,
        env: BTreeMap<String, String>,
        paths: Vec<Vec<String>>,
        expanded: BTreeSet<String>,
    }
    let mut runs = Vec::new();

    // compose: the commands of the xueliang services, which set no entrypoint (nor has the
    // image one): each command is the whole command line.
    for s in compose.xueliang_services() {
        let origin = format!("compose {}", s.name);
        assert!(
            s.entrypoint.is_empty(),
            "{origin}: sets an entrypoint (the command checked here would not be what runs)"
        );
        let paths = check_command(&mut cli, &origin, &s.command, &s.environment);
        // Every file a command names is a configuration file, in the service's mount of
        // ./config (the image holds none, and nothing writes one).
        for a in s.command.iter().filter(|a| a.starts_with('/')) {
            assert!(
                a.starts_with(&format!("{CONFIG_MOUNT}/")),
                "{origin}: names {a}, outside {CONFIG_MOUNT}"
            );
            let host = compose
                .host_path(s, a)
                .unwrap_or_else(|| panic!("{origin}: {a} is not in a bind mount"));
            assert!(
                host.is_file(),
                "{origin}: {a} is {}, which does not exist",
                host.display()
            );
        }
        // Healthchecks probe this process's /healthz on http.listen's port.
        if s.role().is_some() {
            let url = s
                .healthcheck
                .iter()
                .find(|w| w.starts_with("http://"))
                .unwrap_or_else(|| panic!("{origin}: no HTTP healthcheck"));
            assert_eq!(
                url,
                &format!("http://127.0.0.1:{}/healthz", cfg.port("http.listen")),
                "{origin}"
            );
            assert!(
                dockerfile.contains(" curl "),
                "the healthcheck's curl is not installed"
            );
        }
        runs.push(Run {
            origin,
            command: s.command.clone(),
            env: s.environment.clone(),
            paths,
            expanded: BTreeSet::new(),
        });
    }

    // Kubernetes: args only, as compose's `command` (both replace the image's CMD; a `command`
    // would be read by nothing here); $(VAR) references are to the container's own env.
    let k = kustomized();
    let cm_files: BTreeSet<String> = k.config_maps["xueliang-config"]
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for (o, c) in containers(&k) {
        let origin = format!(
            "kubernetes {} {}",
            text(&o["metadata"]["name"]),
            text(&c["name"])
        );
        let env = container_env(o, c);
        let args: Vec<String> = c["args"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        let mut expanded = BTreeSet::new();
        for a in &args {
            for part in a.split("$(").skip(1) {
                let name = part.split(')').next().unwrap();
                assert!(
                    env.contains_key(name),
                    "{origin}: $({name}) is not in its env"
                );
                expanded.insert(name.to_string());
            }
        }
        if !is_xueliang_image(c["image"].as_str().unwrap()) {
            continue;
        }
        assert!(
            c.get("command").is_none(),
            "{origin}: sets `command`; give the command line as `args`"
        );
        let paths = check_command(&mut cli, &origin, &args, &env);
        for a in args.iter().filter(|a| a.starts_with('/')) {
            let name = a
                .strip_prefix(&format!("{CONFIG_MOUNT}/"))
                .unwrap_or_else(|| panic!("{origin}: names {a}, outside {CONFIG_MOUNT}"));
            assert!(
                cm_files.contains(name),
                "{origin}: {a} is not a file of the ConfigMap ({cm_files:?})"
            );
        }
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let Some(p) = c.get(probe) else { continue };
            if let Some(h) = p.get("httpGet") {
                assert_eq!(h["path"], "/healthz", "{origin} {probe}");
                assert_eq!(
                    container_port(c, &h["port"]),
                    cfg.port("http.listen"),
                    "{origin} {probe}"
                );
            }
        }
        runs.push(Run {
            origin,
            command: args,
            env,
            paths,
            expanded,
        });
    }
    // The image's scripts, including those only the build runs (make-clip).
    for (name, script) in &scripts {
        for args in xueliang_in_script(script) {
            let args: Vec<String> = args
                .iter()
                .map(|a| placeholder(a, &BTreeMap::new()))
                .collect();
            cli.check(&format!("deploy/docker script {name}"), &args);
        }
    }
    for want in ["run", "camsim", "cameras apply", "users add"] {
        assert!(
            subcommands.contains(want),
            "no manifest runs `xueliang {want}`: {subcommands:?}"
        );
    }

    // What the binary reads outside clap, where this test says it does: the model cache, the
    // password of `users add`, the database password from the variable
    // dispatcher.database_password_env names; and the processes without the edge role load
    // the inventory without resolving camera passwords (database_password_sent runs one).
    for (file, what) in [
        ("core/src/paths.rs", "\"XUELIANG_CACHE\""),
        ("src/cmd/users.rs", "\"XUELIANG_PASSWORD\""),
        (
            "core/src/config/node.rs",
            "database_password_env: Option<String>",
        ),
        ("dispatcher/src/store/mod.rs", "pub fn database_password("),
        ("src/cmd/users.rs", "store::database_password("),
        ("src/cmd/users.rs", "CameraCredentials::NotNeeded"),
        ("src/cmd/run.rs", "CameraCredentials::NotNeeded"),
    ] {
        assert!(
            read(&repo.join(file)).contains(what),
            "{file} no longer has {what}"
        );
    }
    let db_var = cfg.database_password_env().to_string();
    let camera_vars = cfg.password_envs();
    assert!(!camera_vars.is_empty());

    // Each container: the secrets its process needs, and only variables its process reads.
    let (mut edges, mut databases) = (0, 0);
    for r in &runs {
        let inv = invocations(&r.command, &scripts);
        // What it reads: clap's `[env: …]` of the subcommands it runs, the cameras'
        // password_env where it runs an edge, the database password where it opens the
        // database, XUELIANG_PASSWORD for `users add`, the model cache for `run` and `camsim`,
        // the variables of the image script it runs, and those Kubernetes expands into its args.
        let mut reads: BTreeSet<String> = r.expanded.clone();
        for p in &r.paths {
            reads.extend(cli.env_vars_of(p));
            match p.join(" ").as_str() {
                "users add" => {
                    reads.insert("XUELIANG_PASSWORD".into());
                }
                "run" | "camsim" => {
                    reads.insert("XUELIANG_CACHE".into());
                }
                _ => {}
            }
        }
        if runs_edge(&inv) {
            reads.extend(camera_vars.iter().cloned());
        }
        if opens_database(&inv) {
            reads.insert(db_var.clone());
        }
        if let Some(s) = r.command.first().and_then(|b| scripts.get(b)) {
            for part in s.split('$').skip(1) {
                let name: String = part
                    .trim_start_matches('{')
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if name.len() > 1 && !name.ends_with('_') {
                    reads.insert(name); // an environment variable, not a shell one
                }
            }
        }

        // The secrets reach the processes that need them, and no others: each edge every
        // camera's password, each process that opens the database (the dispatchers, the users
        // job) the database password; a container that runs no edge no camera password — a
        // dispatcher connects to no camera — unless Kubernetes expands it into its args
        // (camsim's --auth).
        if runs_edge(&inv) {
            edges += 1;
            for var in &camera_vars {
                assert!(r.env.contains_key(var), "{}: {var} missing", r.origin);
            }
        } else {
            for var in camera_vars.iter().filter(|v| !r.expanded.contains(*v)) {
                assert!(
                    !r.env.contains_key(var),
                    "{}: runs no edge, yet carries the camera password {var}",
                    r.origin
                );
            }
        }
        if opens_database(&inv) {
            databases += 1;
            assert!(
                r.env.get(&db_var).is_some_and(|v| !v.is_empty()),
                "{}: {db_var} (dispatcher.database_password_env) missing",
                r.origin
            );
        }
        // Every XUELIANG_* variable given to it is one of those.
        for var in r.env.keys().filter(|k| k.starts_with("XUELIANG_")) {
            assert!(
                reads.contains(var),
                "{}: nothing in it reads {var} (it reads {reads:?})",
                r.origin
            );
        }
    }
    assert!(
        cli.env_vars_of(&["run".to_string()])
            .contains("XUELIANG_NODE_NAME"),
        "`xueliang run` no longer takes the pods' names from XUELIANG_NODE_NAME"
    );
    // compose: three edges; dispatchers 2 + users; Kubernetes: the edge StatefulSet; the
    // dispatcher Deployment + the users Job.
    assert_eq!(edges, 4, "containers that run an edge");
    assert_eq!(databases, 5, "containers that open the database");
}

#[test]
fn compose_runs_the_cluster_the_cluster_test_runs() {
    let repo = repo();
    let cfg = ClusterConfig::load();
    let compose = Compose::load(&repo);
    let t = compose::topology(&repo);

    // Three edges and two dispatchers, each with its own stable name.
    assert_eq!(t.edges.len(), 3, "{t:?}");
    assert_eq!(t.dispatchers.len(), 2, "{t:?}");
    let names: BTreeSet<&String> = t.edges.iter().chain(&t.dispatchers).collect();
    assert_eq!(names.len(), 5, "node names must be distinct: {t:?}");
    assert_eq!(t.config, cfg.dir.join("xueliang.toml"));
    assert_eq!(t.partitions as i64, cfg.int("kafka.partitions"));
    assert!(
        t.partitions as usize >= t.dispatchers.len(),
        "fewer alert partitions than dispatchers"
    );

    let service = |name: &str| -> &Service {
        compose
            .services
            .get(name)
            .unwrap_or_else(|| panic!("compose has no service {name}"))
    };
    let roles: Vec<&Service> = compose
        .xueliang_services()
        .into_iter()
        .filter(|s| s.role().is_some())
        .collect();
    let mut data_volumes = BTreeSet::new();
    for s in &roles {
        let deps = s.raw["depends_on"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no depends_on", s.name));
        assert_eq!(
            deps["kafka-topics"]["condition"], "service_completed_successfully",
            "{}",
            s.name
        );
        if s.role() == Some("edge") {
            // Each edge its own volume for the spool at node.data_dir.
            let v = s
                .volumes
                .iter()
                .find(|m| m.target == cfg.str("node.data_dir"))
                .unwrap_or_else(|| panic!("{}: no volume at node.data_dir", s.name));
            assert!(
                !v.is_bind() && compose.volumes.contains(&v.source),
                "{}: {v:?}",
                s.name
            );
            assert!(
                data_volumes.insert(v.source.clone()),
                "{}: shares {}",
                s.name,
                v.source
            );
        } else {
            assert_eq!(
                deps["postgres"]["condition"], "service_healthy",
                "{}",
                s.name
            );
        }
    }
    assert_eq!(data_volumes.len(), 3);

    // PostgreSQL 16, with the database, user and password of dispatcher.database.
    let pg = service("postgres");
    assert!(pg.image.starts_with("postgres:16"), "{}", pg.image);
    // The URL is postgres://USER@HOST:PORT/DB; the password is in the variable that
    // dispatcher.database_password_env names, given to every service that opens the database
    // (the dispatchers and `users`): PostgreSQL's own.
    let db = cfg.str("dispatcher.database");
    let (user, rest) = db
        .strip_prefix("postgres://")
        .unwrap()
        .split_once('@')
        .unwrap();
    assert_eq!(pg.environment["POSTGRES_USER"], user);
    assert_eq!(
        pg.environment["POSTGRES_DB"],
        rest.rsplit('/').next().unwrap()
    );
    let scripts = image_scripts();
    let db_var = cfg.database_password_env();
    let openers: Vec<&Service> = compose
        .xueliang_services()
        .into_iter()
        .filter(|s| opens_database(&invocations(&s.command, &scripts)))
        .collect();
    let names: BTreeSet<&str> = openers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["dispatcher-1", "dispatcher-2", "users"]),
        "the services that open the database"
    );
    for s in openers {
        assert_eq!(
            s.environment.get(db_var),
            Some(&pg.environment["POSTGRES_PASSWORD"]),
            "{}: {db_var}",
            s.name
        );
    }

    // Apache Kafka in KRaft mode: one combined broker + controller, no ZooKeeper, topics only
    // on purpose; it advertises the address the configuration names.
    let kafka = service("kafka");
    assert!(kafka.image.starts_with("apache/kafka:"), "{}", kafka.image);
    let e = &kafka.environment;
    let roles_kraft: BTreeSet<&str> = e["KAFKA_PROCESS_ROLES"].split(',').collect();
    assert_eq!(roles_kraft, BTreeSet::from(["broker", "controller"]));
    assert!(e["KAFKA_CONTROLLER_QUORUM_VOTERS"].starts_with(&format!("{}@", e["KAFKA_NODE_ID"])));
    assert!(!e.keys().any(|k| k.contains("ZOOKEEPER")));
    assert_eq!(e["KAFKA_AUTO_CREATE_TOPICS_ENABLE"], "false");
    assert_eq!(
        e["CLUSTER_ID"].len(),
        22,
        "CLUSTER_ID must be a base64 UUID"
    );
    assert!(
        e["KAFKA_ADVERTISED_LISTENERS"]
            .split(',')
            .any(|l| l.ends_with(&format!("://{}", cfg.str("kafka.brokers")))),
        "kafka advertises {} but xueliang.toml dials {}",
        e["KAFKA_ADVERTISED_LISTENERS"],
        cfg.str("kafka.brokers")
    );
    // With auto-creation off, the topics nothing in xueliang creates are created first: the
    // alerts topic with kafka.partitions, and the dead letters.
    let topics = service("kafka-topics");
    let script = topics.command.join("\n");
    let created: BTreeMap<String, i64> = script
        .lines()
        .filter(|l| l.contains("kafka-topics.sh") && l.contains("--create"))
        .map(|l| {
            let w: Vec<String> = l.split_whitespace().map(String::from).collect();
            (
                flag(&w, "--topic").unwrap().to_string(),
                flag(&w, "--partitions").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        created.get(cfg.str("kafka.alerts_topic")),
        Some(&cfg.int("kafka.partitions")),
        "{created:?}"
    );
    assert!(
        created.contains_key(cfg.str("kafka.dlq_topic")),
        "{created:?}"
    );
    assert!(script.contains(&format!("--bootstrap-server {}", cfg.str("kafka.brokers"))));

    // camsim serves at least 24 cameras, and every camera of the inventory is one of them.
    assert!(t.cameras >= 24 && t.camsim_cameras >= t.cameras, "{t:?}");
    let camsim = service("camsim");
    let args = camsim.xueliang_args().unwrap();
    assert_eq!(flag(args, "--listen"), Some("0.0.0.0"));
    let port = flag(args, "--port").unwrap();
    let inv = toml_table(&t.inventory);
    let cams = inv["camera"].as_array().unwrap();
    assert_eq!(cams.len(), t.cameras);
    let mut paths = BTreeSet::new();
    for c in cams {
        let url = c["url"].as_str().unwrap();
        let i: usize = url
            .strip_prefix(&format!("rtsp://camsim:{port}/cam/"))
            .unwrap_or_else(|| panic!("{url} is not on the camsim service"))
            .parse()
            .unwrap();
        assert!(
            i < t.camsim_cameras,
            "{url}: camsim serves {}",
            t.camsim_cameras
        );
        assert!(paths.insert(i), "{url} twice");
        // camsim's credentials are the cameras' (user in the file, password from the env).
        let (user, pass) = flag(args, "--auth").unwrap().split_once(':').unwrap();
        assert_eq!(c["username"].as_str(), Some(user), "{url}");
        let var = c["password_env"].as_str().unwrap();
        for s in roles.iter().filter(|s| s.role() == Some("edge")) {
            assert_eq!(
                s.environment.get(var).map(String::as_str),
                Some(pass),
                "{}: {var}",
                s.name
            );
        }
    }
}

#[test]
fn kubernetes_objects_agree_with_the_configuration_and_the_measurements() {
    let cfg = ClusterConfig::load();
    let k = kustomized();
    let edge = object(&k, "StatefulSet", "xueliang-edge");
    let disp = object(&k, "Deployment", "xueliang-dispatcher");
    let c0 = |o: &'_ Value| at(o, "spec.template.spec.containers")[0].clone();
    let (ec, dc) = (c0(edge), c0(disp));
    let arg_list =
        |c: &Value| -> Vec<String> { c["args"].as_array().unwrap().iter().map(text).collect() };
    assert_eq!(flag(&arg_list(&ec)[1..], "--role"), Some("edge"));
    assert_eq!(flag(&arg_list(&dc)[1..], "--role"), Some("dispatcher"));

    // Edges: a stable node name (the pod's) and a persistent volume for the spool at data_dir.
    assert!(edge["spec"]["replicas"].as_u64().unwrap() >= 3);
    let node_name = ec["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "XUELIANG_NODE_NAME")
        .expect("the edge's node name");
    assert_eq!(
        at(node_name, "valueFrom.fieldRef.fieldPath"),
        "metadata.name"
    );
    let claim = &at(edge, "spec.volumeClaimTemplates")[0];
    let claim_name = text(&claim["metadata"]["name"]);
    assert_eq!(mount_of(&ec, &claim_name), Some(cfg.str("node.data_dir")));
    let storage = mib(at(claim, "spec.resources.requests.storage")
        .as_str()
        .unwrap());
    assert!(
        storage >= cfg.int("analyzer.spool_max_mb") as f64,
        "the spool volume ({storage} MiB) is smaller than analyzer.spool_max_mb"
    );
    // The edges' camera passwords are the ones camsim serves with (--auth USER:$(VAR)): the
    // same key of the Secret.
    let camsim = object(&k, "Deployment", "camsim");
    let cc = c0(camsim);
    let camsim_args = arg_list(&cc);
    let (user, pass) = flag(&camsim_args, "--auth")
        .and_then(|a| a.split_once(':'))
        .expect("camsim --auth USER:PASS");
    let pass_var = pass
        .strip_prefix("$(")
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or_else(|| panic!("camsim's password is not from its env: {pass}"));
    let camsim_pass = container_env(camsim, &cc)[pass_var].clone();
    let edge_env = container_env(edge, &ec);
    let inv = toml_table(&cfg.dir.join(cfg.str("inventory.cameras")));
    for c in inv["camera"].as_array().unwrap() {
        assert_eq!(c["username"].as_str(), Some(user), "{}", c["id"]);
        let var = c["password_env"].as_str().unwrap();
        assert_eq!(
            edge_env.get(var),
            Some(&camsim_pass),
            "xueliang-edge: {var}"
        );
    }
    let headless = object(&k, "Service", edge["spec"]["serviceName"].as_str().unwrap());
    assert_eq!(headless["spec"]["clusterIP"], "None");
    let pod_labels = |o: &Value| at(o, "spec.template.metadata.labels").clone();
    assert!(
        headless["spec"]["selector"]
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| pod_labels(edge)[k] == *v)
    );

    // Dispatchers: at least two, on the shared database, behind a Service on dispatcher.listen.
    let replicas = disp["spec"]["replicas"].as_u64().unwrap();
    assert!(replicas >= 2);
    let svc = object(&k, "Service", "xueliang-dispatcher");
    let http = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "http")
        .unwrap();
    assert_eq!(
        container_port(&dc, &http["targetPort"]),
        cfg.port("dispatcher.listen")
    );
    assert!(
        svc["spec"]["selector"]
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| pod_labels(disp)[k] == *v)
    );

    // Disruption budgets: one edge at a time, a dispatcher always up.
    let pdbs: Vec<&Value> = k
        .objects
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o["kind"] == "PodDisruptionBudget")
        .collect();
    let pdb_for = |o: &Value| {
        *pdbs
            .iter()
            .find(|p| labels_match(&p["spec"]["selector"], &pod_labels(o)))
            .unwrap_or_else(|| panic!("no PodDisruptionBudget for {}", o["metadata"]["name"]))
    };
    assert_eq!(pdb_for(edge)["spec"]["maxUnavailable"], 1);
    let min = pdb_for(disp)["spec"]["minAvailable"].as_u64().unwrap();
    assert!(
        min >= 1 && min < replicas,
        "minAvailable {min} of {replicas}"
    );

    // Both roles may drain for shutdown.drain_timeout_s + the 3 s deadline grace of `run`.
    for o in [edge, disp] {
        let grace = at(o, "spec.template.spec.terminationGracePeriodSeconds")
            .as_i64()
            .unwrap();
        assert!(
            grace > cfg.int("shutdown.drain_timeout_s") + 3,
            "{}: {grace} s",
            o["metadata"]["name"]
        );
    }

    // Every xueliang container runs as the image's user on a read-only root file system, and
    // has a volume wherever its process writes: GStreamer's plugin registry (GST_REGISTRY of
    // the image) where it decodes or serves video (an edge, camsim), node.data_dir where it
    // creates it (`run`, `users`). The configuration is the ConfigMap, mounted read-only, where
    // a command names a file of it.
    let dockerfile = read(&repo().join(compose::DOCKERFILE));
    let registry = dockerfile
        .split("GST_REGISTRY=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the image sets GST_REGISTRY");
    let registry_dir = Path::new(registry).parent().unwrap().to_str().unwrap();
    assert_eq!(registry_dir, "/tmp", "GST_REGISTRY={registry}");
    let scripts = image_scripts();
    for (o, c) in containers(&k) {
        if !is_xueliang_image(c["image"].as_str().unwrap()) {
            continue;
        }
        let name = format!("{} {}", text(&o["metadata"]["name"]), text(&c["name"]));
        assert_eq!(
            at(o, "spec.template.spec.securityContext.runAsUser"),
            10001,
            "{name}"
        );
        assert_eq!(
            at(c, "securityContext.readOnlyRootFilesystem"),
            true,
            "{name}: the root file system is not read-only"
        );
        let args: Vec<String> = c["args"].as_array().unwrap().iter().map(text).collect();
        let inv = invocations(&args, &scripts);
        if args.iter().any(|a| a.starts_with(CONFIG_MOUNT)) {
            assert!(
                volume_at(o, c, CONFIG_MOUNT).is_some_and(|v| v.get("configMap").is_some()),
                "{name}: no ConfigMap at {CONFIG_MOUNT}"
            );
            assert_eq!(
                mount_at(c, CONFIG_MOUNT)["readOnly"],
                true,
                "{name}: {CONFIG_MOUNT} is writable"
            );
        }
        let camsim = inv.iter().any(|a| a.first().is_some_and(|c| c == "camsim"));
        if runs_edge(&inv) || camsim {
            assert!(
                writable_at(o, c, registry_dir),
                "{name}: GST_REGISTRY ({registry}) is on the read-only root"
            );
        }
        let data_dir = cfg.str("node.data_dir");
        if inv
            .iter()
            .any(|a| a.first().is_some_and(|c| c == "run" || c == "users"))
        {
            assert!(
                writable_at(o, c, data_dir),
                "{name}: node.data_dir ({data_dir}) is on the read-only root"
            );
        }
    }

    // The Secret is the example's: the keys the pods read, and only placeholders in it.
    let (_, keys) = example_secret();
    assert!(keys.values().all(|v| v == "CHANGE-ME"), "{keys:?}");

    // Resources from benches/RESULTS.md. The figures the manifests cite must still be there:
    // when the measurements are re-run, re-derive the requests in edge.yaml and compose.yaml.
    let results = read(&repo().join("benches/RESULTS.md"));
    for figure in [
        "**38 / 18 / 5**",
        "| keyframes (0.5 fps) | **71** |",
        "10.0 MiB per camera",
        "93 MiB for an edge with no camera",
    ] {
        assert!(
            results.contains(figure),
            "benches/RESULTS.md no longer says {figure:?}"
        );
    }
    const CAMERAS_PER_2_CORE_NODE_AT_KEYFRAMES: i64 = 38; // the lower of 71 and 38
    const MIB_PER_CAMERA: f64 = 10.0;
    const MIB_PER_EDGE: f64 = 93.0;
    let capacity = cfg.int("cluster.capacity");
    assert!(
        capacity <= CAMERAS_PER_2_CORE_NODE_AT_KEYFRAMES,
        "cluster.capacity {capacity} is more than a 2-core edge was measured to analyse"
    );
    let res = &ec["resources"];
    let cpu = |p: &str| cores(&text(at(res, p)));
    assert_eq!(
        cpu("requests.cpu"),
        2.0,
        "the measurements are per 2-core node"
    );
    assert_eq!(
        cpu("limits.cpu"),
        2.0,
        "the CPU limit sizes the edge's thread pools"
    );
    let need = MIB_PER_EDGE + MIB_PER_CAMERA * capacity as f64;
    let (req, lim) = (
        mib(&text(at(res, "requests.memory"))),
        mib(&text(at(res, "limits.memory"))),
    );
    assert!(
        req >= need && lim >= req,
        "edge memory {req}/{lim} MiB for {need} MiB"
    );
    // compose gives each edge the same.
    let compose = Compose::load(&repo());
    for s in compose
        .xueliang_services()
        .into_iter()
        .filter(|s| s.role() == Some("edge"))
    {
        let r = at(&s.raw, "deploy.resources");
        assert_eq!(cores(&text(at(r, "limits.cpus"))), 2.0, "{}", s.name);
        assert_eq!(mib(&text(at(r, "limits.memory"))), lim, "{}", s.name);
        assert_eq!(mib(&text(at(r, "reservations.memory"))), req, "{}", s.name);
    }
}

#[test]
fn the_cluster_configuration_keeps_the_single_node_desks_routes_and_areas() {
    let repo = repo();
    let cfg = ClusterConfig::load();
    let single = toml_table(&repo.join("deploy/single-node/xueliang.toml"));
    assert_eq!(cfg.node["desk"], single["desk"]);
    assert_eq!(
        cfg.node["dispatcher"]["route"],
        single["dispatcher"]["route"]
    );
    // Kustomize reads no file above its folder, so the areas are a copy: the same bytes.
    assert_eq!(
        read(&cfg.dir.join(cfg.str("inventory.jurisdictions"))),
        read(&repo.join("deploy/single-node/jurisdictions.geojson"))
    );
    // The first six cameras are the single node's, on camsim.
    let inv = toml_table(&cfg.dir.join(cfg.str("inventory.cameras")));
    let single_inv = toml_table(&repo.join("deploy/single-node/cameras.toml"));
    for (a, b) in single_inv["camera"]
        .as_array()
        .unwrap()
        .iter()
        .zip(inv["camera"].as_array().unwrap())
    {
        let (mut a, mut b) = (a.as_table().unwrap().clone(), b.as_table().unwrap().clone());
        for t in [&mut a, &mut b] {
            for key in ["url", "username", "password_env"] {
                t.remove(key);
            }
        }
        assert_eq!(a, b);
    }
    // The demo users belong to desks of the configuration.
    let desks: BTreeSet<&str> = cfg.node["desk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let users = read(&cfg.dir.join("users.tsv"));
    let mut n = 0;
    for line in users
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(w.len(), 3, "users.tsv: {line:?}");
        assert!(desks.contains(w[1]), "users.tsv: no desk {}", w[1]);
        n += 1;
    }
    assert_eq!(n, desks.len(), "one demo user per desk");
}

#[test]
fn the_dockerfile_builds_on_bookworm_with_what_xl_installs() {
    let repo = repo();
    let df = read(&repo.join(compose::DOCKERFILE));
    let xl = read(&repo.join("xl"));
    let arg = |text: &str, name: &str, sep: &str| -> String {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}{sep}")))
            .unwrap_or_else(|| panic!("{name} not found"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    // Every base image is Debian bookworm (or an earlier stage); Rust is the workspace's.
    let args: BTreeMap<String, String> = df
        .lines()
        .filter_map(|l| l.strip_prefix("ARG "))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut stages = BTreeSet::new();
    for l in df.lines().filter(|l| l.starts_with("FROM ")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        let image = w[1]
            .strip_prefix("${")
            .and_then(|v| v.strip_suffix('}'))
            .map(|v| args[v].clone())
            .unwrap_or_else(|| w[1].to_string());
        assert!(
            image.contains("bookworm") || stages.contains(&image),
            "FROM {image}"
        );
        if let Some(name) = w.get(3) {
            stages.insert(name.to_string());
        }
    }
    let cargo = toml_table(&repo.join("Cargo.toml"));
    let rust = cargo["package"]["rust-version"].as_str().unwrap();
    assert!(
        args["RUST_IMAGE"].starts_with(&format!("rust:{rust}-bookworm")),
        "{}",
        args["RUST_IMAGE"]
    );
    assert!(df.contains("cargo build --release --locked -p xueliang"));
    for m in [
        "--mount=type=cache,target=/usr/local/cargo/registry",
        "--mount=type=cache,target=/src/target",
    ] {
        assert!(df.contains(m), "no BuildKit cache mount {m}");
    }
    // ONNX Runtime: the version, wheel and checksum ./xl installs and the analyzer loads.
    for name in ["ORT_VERSION", "ORT_WHEEL", "ORT_WHEEL_SHA256"] {
        assert_eq!(args[name], arg(&xl, name, "="), "{name}");
    }
    let model_rs = read(&repo.join("analyzer/src/model.rs"));
    assert!(model_rs.contains(&format!(
        "pub const ORT_VERSION: &str = \"{}\";",
        args["ORT_VERSION"]
    )));
    assert!(df.contains("ORT_DYLIB_PATH=/opt/onnxruntime/libonnxruntime.so.${ORT_VERSION}"));
    // GStreamer: the plugin packages ./xl installs, in the runtime image.
    let runtime = df
        .split("AS runtime")
        .nth(1)
        .unwrap()
        .split("\nFROM ")
        .next()
        .unwrap();
    let xl_packages = xl
        .split("APT_PACKAGES=(")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    for p in xl_packages
        .split_whitespace()
        .filter(|p| p.starts_with("gstreamer1.0-") && *p != "gstreamer1.0-tools")
    {
        assert!(runtime.contains(p), "the runtime image lacks {p}");
    }
    assert!(
        runtime.contains(" curl "),
        "the runtime image lacks curl (the healthchecks)"
    );
    // The copied files exist. Nothing renders the configuration (it is read as mounted), and
    // there is no entrypoint (every_command_flag_and_variable_exists_in_the_cli checks that).
    for l in df
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let src = l
            .split_whitespace()
            .find(|w| w.starts_with("deploy/") || w.starts_with("models/"));
        if let Some(src) = src {
            assert!(repo.join(src).exists(), "COPY {src}: no such file");
        }
    }
    for gone in ["envsubst", "gettext-base", "/run/xueliang"] {
        assert!(
            !df.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| l.contains(gone)),
            "the Dockerfile still has {gone}"
        );
    }
    assert!(df.contains("USER 10001:10001"));
    let cfg = ClusterConfig::load();
    let exposed: BTreeSet<u16> = df
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    for key in ["http.listen", "dispatcher.listen"] {
        assert!(exposed.contains(&cfg.port(key)), "EXPOSE lacks {key}");
    }
    // The build context leaves out build output, history and local secrets.
    let ignore = read(&repo.join(".dockerignore"));
    for p in ["target", ".git", "deploy/compose/.env"] {
        assert!(ignore.lines().any(|l| l == p), ".dockerignore lacks {p}");
    }
    assert!(
        read(&compose::compose_dir(&repo).join(".gitignore"))
            .lines()
            .any(|l| l == ".env")
    );
}

#[test]
fn the_script_reader_finds_xueliang_commands() {
    let found = xueliang_in_script(
        "set -eu\nexec xueliang run --role edge \\\n  --config \"$c\" # comment\nx=1; xueliang camsim --port 0 >\"$log\" 2>&1 &\necho xueliang\n",
    );
    assert_eq!(
        found,
        vec![
            ["run", "--role", "edge", "--config", "$c"]
                .map(String::from)
                .to_vec(),
            ["camsim", "--port", "0"].map(String::from).to_vec(),
        ]
    );
    // And the CLI check refuses what the CLI refuses.
    let mut cli = Cli::default();
    let bad = ["run", "--role", "edgy"].map(String::from);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli.check("test", &bad)));
    assert!(res.is_err(), "an unknown role passed");
    let bad = ["run", "--no-such-flag"].map(String::from);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli.check("test", &bad)));
    assert!(res.is_err(), "an unknown flag passed");
    let bad = ["cameras", "--config", "x"].map(String::from);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli.check("test", &bad)));
    assert!(res.is_err(), "a subcommand group passed");
}
