use super::error::{ConfigError, ConfigErrors, Errors, parse_toml};
use super::rules::{Rule, RuleRaw};
use super::secret::Secret;
use crate::contract::{CameraV1, GeoPoint, OwnerTier};
use crate::{CameraId, DeskId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryRaw {
    #[serde(default)]
    defaults: DefaultsRaw,
    #[serde(default)]
    camera: Vec<CameraRaw>,
}

/// Values every camera inherits unless it sets its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DefaultsRaw {
    sampling: String,
    transport: String,
    health: HealthRaw,
}

impl Default for DefaultsRaw {
    fn default() -> Self {
        DefaultsRaw {
            sampling: "keyframes".into(),
            transport: "tcp".into(),
            health: HealthRaw::default(),
        }
    }
}

/// Camera-health thresholds; unset keys inherit from `[defaults.health]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HealthRaw {
    /// No frame for this long → video_loss.
    video_loss_s: Option<f64>,
    /// Picture unchanged for this long → frozen_picture.
    frozen_s: Option<f64>,
    /// Picture dark or featureless for this long → lens_covered.
    covered_s: Option<f64>,
    /// Mean luma (0–255) below which a frame counts as black.
    dark_luma: Option<u8>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CameraRaw {
    /// GB/T 28181 20-digit code or another short ASCII id.
    id: String,
    /// Display name, e.g. 深南大道与福田路口东北角.
    name: String,
    /// rtsp:// URL. Credentials may be embedded; they are moved out and never logged.
    url: String,
    username: Option<String>,
    password: Option<String>,
    /// Name of an environment variable holding the password (preferred over `password`).
    password_env: Option<String>,
    /// "tcp" (interleaved, default) or "udp".
    transport: Option<String>,
    location: GeoPoint,
    grid: Option<String>,
    tier: OwnerTier,
    #[serde(default)]
    tags: Vec<String>,
    /// Route this camera's alerts to this desk regardless of jurisdiction polygons.
    desk: Option<String>,
    /// "keyframes", "all" or "<N>fps" (e.g. "1fps", "0.5fps").
    sampling: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    health: Option<HealthRaw>,
    #[serde(default)]
    rule: Vec<RuleRaw>,
}

fn yes() -> bool {
    true
}

impl CameraRaw {
    /// This camera with the file's `[defaults]` folded in, so a record stands alone.
    fn with_defaults(mut self, d: &DefaultsRaw) -> CameraRaw {
        self.sampling.get_or_insert_with(|| d.sampling.clone());
        self.transport.get_or_insert_with(|| d.transport.clone());
        let mut h = self.health.take().unwrap_or_default();
        h.video_loss_s = h.video_loss_s.or(d.health.video_loss_s);
        h.frozen_s = h.frozen_s.or(d.health.frozen_s);
        h.covered_s = h.covered_s.or(d.health.covered_s);
        h.dark_luma = h.dark_luma.or(d.health.dark_luma);
        self.health = Some(h);
        self
    }
}

/// One camera as published to the inventory topic: key = camera id, value = its entry of
/// the inventory file as JSON with the file's defaults folded in. The bytes are
/// deterministic, so comparing them tells whether a camera changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraRecord {
    pub id: CameraId,
    pub value: Vec<u8>,
}

/// Which decoded frames a camera sends to the analyzer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// Only IDR frames (cheapest: delta frames never reach the decoder).
    Keyframes,
    /// At most this many frames per second.
    Fps(f32),
    All,
}

impl Sampling {
    pub fn parse(s: &str) -> Option<Sampling> {
        match s {
            "keyframes" => Some(Sampling::Keyframes),
            "all" => Some(Sampling::All),
            _ => {
                let n: f32 = s.strip_suffix("fps")?.trim().parse().ok()?;
                (n.is_finite() && n > 0.0 && n <= 120.0).then_some(Sampling::Fps(n))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthThresholds {
    pub video_loss: Duration,
    pub frozen: Duration,
    pub covered: Duration,
    pub dark_luma: u8,
}

/// RTSP credentials; the password is a [`Secret`].
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// A validated camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    pub id: CameraId,
    pub name: String,
    /// The stream URL with any user-info removed: safe to log.
    pub url: String,
    pub credentials: Option<Credentials>,
    pub transport: Transport,
    pub location: GeoPoint,
    pub grid: Option<String>,
    pub tier: OwnerTier,
    pub tags: Vec<String>,
    pub desk_override: Option<DeskId>,
    pub sampling: Sampling,
    pub enabled: bool,
    pub health: HealthThresholds,
    pub rules: Vec<Rule>,
}

impl CameraConfig {
    /// The contract view of this camera (no URL, no credentials).
    pub fn to_contract(&self) -> CameraV1 {
        CameraV1 {
            id: self.id.clone(),
            name: self.name.clone(),
            location: self.location,
            grid: self.grid.clone(),
            tier: self.tier,
            tags: self.tags.clone(),
            desk_override: self.desk_override.clone(),
        }
    }
}

/// `cameras.toml`, validated.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub file: PathBuf,
    pub cameras: Vec<CameraConfig>,
}

impl Inventory {
    pub fn camera(&self, id: &CameraId) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| &c.id == id)
    }

    /// Parses the inventory. `env` resolves `password_env` (pass `|k| std::env::var(k).ok()`).
    pub fn parse(
        text: &str,
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Inventory, ConfigErrors> {
        let raw: InventoryRaw = parse_toml(text, file)?;
        Inventory::validate(raw, file, env)
    }

    /// Validates an inventory file for publishing to the inventory topic and returns one
    /// record per camera, ordered by id. `password_env` is not resolved here: the variable
    /// must exist on the edges that run the camera, not on the machine that publishes.
    pub fn records(text: &str, file: &Path) -> Result<Vec<CameraRecord>, ConfigErrors> {
        let raw: InventoryRaw = parse_toml(text, file)?;
        let defaults = raw.defaults.clone();
        let cameras = raw.camera.clone();
        Inventory::validate(raw, file, &|_| Some(String::new()))?;
        let mut records: Vec<CameraRecord> = cameras
            .into_iter()
            .map(|c| {
                let c = c.with_defaults(&defaults);
                CameraRecord {
                    id: CameraId::new(c.id.clone()).expect("validated above"),
                    value: serde_json::to_vec(&c).expect("a camera serialises to JSON"),
                }
            })
            .collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }

    /// Parses one record of the inventory topic (see [`Inventory::records`]) with the same
    /// validation as the file. `origin` names the record in errors (topic, key, offset).
    pub fn parse_record(
        value: &[u8],
        origin: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<CameraConfig, ConfigErrors> {
        let de = &mut serde_json::Deserializer::from_slice(value);
        let raw: CameraRaw = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            ConfigErrors(vec![
                ConfigError::new(
                    origin,
                    if key == "." { String::new() } else { key },
                    e.into_inner().to_string(),
                )
                .hint("publish cameras with `xueliang cameras apply`, which validates them"),
            ])
        })?;
        let raw = InventoryRaw {
            defaults: DefaultsRaw::default(),
            camera: vec![raw],
        };
        let mut inv = Inventory::validate(raw, origin, env).map_err(|mut errs| {
            for err in &mut errs.0 {
                if let Some(rest) = err.key.strip_prefix("camera[0]") {
                    err.key = rest.trim_start_matches('.').to_string();
                }
            }
            errs
        })?;
        Ok(inv.cameras.remove(0))
    }

    fn validate(
        raw: InventoryRaw,
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Inventory, ConfigErrors> {
        let mut e = Errors::new(file);
        let default_sampling = Sampling::parse(&raw.defaults.sampling).unwrap_or_else(|| {
            e.push(
                "defaults.sampling",
                format!("{:?} is not a sampling policy", raw.defaults.sampling),
                "use \"keyframes\", \"all\" or \"<N>fps\" such as \"1fps\"",
            );
            Sampling::Keyframes
        });
        let default_transport = transport(&mut e, "defaults.transport", &raw.defaults.transport);
        let mut seen = HashSet::new();
        let mut cameras = Vec::with_capacity(raw.camera.len());
        for (i, c) in raw.camera.into_iter().enumerate() {
            let key = format!("camera[{i}]");
            let id = match CameraId::new(c.id.clone()) {
                Ok(id) => id,
                Err(err) => {
                    e.push(
                        format!("{key}.id"),
                        format!("camera id {:?} {err}", c.id),
                        "",
                    );
                    continue;
                }
            };
            if !seen.insert(id.clone()) {
                e.push(
                    format!("{key}.id"),
                    format!("camera id `{id}` appears twice"),
                    "camera ids must be unique in the inventory",
                );
            }
            if c.name.trim().is_empty() {
                e.push(
                    format!("{key}.name"),
                    format!("camera {id} has no name"),
                    "",
                );
            }
            let (url, embedded) = match split_rtsp_url(&c.url) {
                Ok(v) => v,
                Err(msg) => {
                    e.push(
                        format!("{key}.url"),
                        format!("camera {id}: {msg}"),
                        "write it as rtsp://host[:port]/path (credentials in username/password_env)",
                    );
                    (String::new(), None)
                }
            };
            let password = match (&c.password, &c.password_env) {
                (Some(_), Some(_)) => {
                    e.push(
                        format!("{key}.password"),
                        "both password and password_env are set",
                        "keep only password_env",
                    );
                    None
                }
                (Some(p), None) => Some(Secret::new(p.clone())),
                (None, Some(var)) => match env(var) {
                    Some(p) => Some(Secret::new(p)),
                    None => {
                        e.push(
                            format!("{key}.password_env"),
                            format!("environment variable {var} is not set"),
                            &format!("export {var}=… before starting, or remove password_env"),
                        );
                        None
                    }
                },
                (None, None) => None,
            };
            let credentials = match (c.username, password, embedded) {
                (Some(_), _, Some(_)) => {
                    e.push(
                        format!("{key}.url"),
                        "credentials appear both in the URL and in username",
                        "remove them from the URL",
                    );
                    None
                }
                (Some(username), Some(password), None) => Some(Credentials { username, password }),
                (Some(username), None, None) => Some(Credentials {
                    username,
                    password: Secret::new(""),
                }),
                (None, Some(_), _) => {
                    e.push(
                        format!("{key}.username"),
                        "a password is set but no username",
                        "add username = \"…\"",
                    );
                    None
                }
                (None, None, embedded) => embedded,
            };
            let sampling = match &c.sampling {
                None => default_sampling,
                Some(s) => Sampling::parse(s).unwrap_or_else(|| {
                    e.push(
                        format!("{key}.sampling"),
                        format!("{s:?} is not a sampling policy"),
                        "use \"keyframes\", \"all\" or \"<N>fps\" such as \"1fps\"",
                    );
                    Sampling::Keyframes
                }),
            };
            let transport = match &c.transport {
                None => default_transport,
                Some(t) => transport(&mut e, &format!("{key}.transport"), t),
            };
            if !(-90.0..=90.0).contains(&c.location.lat)
                || !(-180.0..=180.0).contains(&c.location.lon)
            {
                e.push(
                    format!("{key}.location"),
                    format!(
                        "camera {id}: lat {} lon {} is not on Earth",
                        c.location.lat, c.location.lon
                    ),
                    "use WGS-84 degrees: location = { lat = 22.54, lon = 114.05 }",
                );
            }
            let desk_override = c.desk.as_ref().and_then(|d| match DeskId::new(d.clone()) {
                Ok(d) => Some(d),
                Err(err) => {
                    e.push(format!("{key}.desk"), format!("desk id {d:?} {err}"), "");
                    None
                }
            });
            let h = c.health.unwrap_or_default();
            let d = &raw.defaults.health;
            let secs = |v: Option<f64>, dv: Option<f64>, def: f64| {
                Duration::from_secs_f64(v.or(dv).unwrap_or(def).clamp(0.0, 86_400.0))
            };
            let health = HealthThresholds {
                video_loss: secs(h.video_loss_s, d.video_loss_s, 10.0),
                frozen: secs(h.frozen_s, d.frozen_s, 30.0),
                covered: secs(h.covered_s, d.covered_s, 10.0),
                dark_luma: h.dark_luma.or(d.dark_luma).unwrap_or(16),
            };
            let mut rule_ids = HashSet::new();
            let mut rules = Vec::new();
            for (j, r) in c.rule.into_iter().enumerate() {
                let rkey = format!("{key}.rule[{j}]");
                if let Some(rule) = r.validate(&rkey, &mut e) {
                    if !rule_ids.insert(rule.id.clone()) {
                        e.push(
                            format!("{rkey}.id"),
                            format!("rule id `{}` appears twice on camera {id}", rule.id),
                            "rule ids must be unique per camera",
                        );
                    }
                    rules.push(rule);
                }
            }
            cameras.push(CameraConfig {
                id,
                name: c.name,
                url,
                credentials,
                transport,
                location: c.location,
                grid: c.grid,
                tier: c.tier,
                tags: c.tags,
                desk_override,
                sampling,
                enabled: c.enabled,
                health,
                rules,
            });
        }
        e.finish(Inventory {
            file: file.to_path_buf(),
            cameras,
        })
    }
}

fn transport(e: &mut Errors<'_>, key: &str, t: &str) -> Transport {
    match t {
        "tcp" => Transport::Tcp,
        "udp" => Transport::Udp,
        other => {
            e.push(
                key,
                format!("unknown transport {other:?}"),
                "use \"tcp\" or \"udp\"",
            );
            Transport::Tcp
        }
    }
}

/// Splits `rtsp://user:pass@host/path` into a loggable URL and credentials.
/// The error message never repeats the URL, which may hold a password.
fn split_rtsp_url(url: &str) -> Result<(String, Option<Credentials>), String> {
    let rest = url
        .strip_prefix("rtsp://")
        .or_else(|| url.strip_prefix("rtsps://"))
        .ok_or("the URL does not start with rtsp://")?;
    let scheme = &url[..url.len() - rest.len()];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let creds = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        Credentials {
            username: user.to_string(),
            password: Secret::new(pass),
        }
    });
    Ok((format!("{scheme}{host}{path}"), creds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_moved_out_of_the_url() {
        let (url, c) = split_rtsp_url("rtsp://admin:s3cret@10.0.0.5:554/Streaming/101").unwrap();
        assert_eq!(url, "rtsp://10.0.0.5:554/Streaming/101");
        let c = c.unwrap();
        assert_eq!(c.username, "admin");
        assert_eq!(c.password.expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(split_rtsp_url("http://x/").is_err());
    }

    #[test]
    fn sampling_policies_parse() {
        assert_eq!(Sampling::parse("keyframes"), Some(Sampling::Keyframes));
        assert_eq!(Sampling::parse("0.5fps"), Some(Sampling::Fps(0.5)));
        assert_eq!(Sampling::parse("all"), Some(Sampling::All));
        assert_eq!(Sampling::parse("0fps"), None);
        assert_eq!(Sampling::parse("fast"), None);
    }
}
