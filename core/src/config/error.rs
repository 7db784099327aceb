use std::fmt;
use std::path::{Path, PathBuf};

/// One configuration problem: which file, which key, what is wrong, and what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line of the offending text, when the parser knows it.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `camera[2].rule[0].zone`.
    pub key: String,
    pub message: String,
    /// What the user should change.
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: key.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " — {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in a configuration, reported together so the user fixes them in one go.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} configuration error{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Collects errors while validating, so one bad key does not hide the next.
#[derive(Debug)]
pub(crate) struct Errors<'a> {
    pub file: &'a Path,
    pub list: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    pub fn new(file: &'a Path) -> Self {
        Errors {
            file,
            list: Vec::new(),
        }
    }

    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>, hint: &str) {
        let mut e = ConfigError::new(self.file, key, message);
        if !hint.is_empty() {
            e.hint = Some(hint.to_string());
        }
        self.list.push(e);
    }

    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.list))
        }
    }
}

/// Deserialises TOML into a raw config struct, turning serde's error into a [`ConfigError`]
/// with the full key path (including the unknown key itself) and the line number.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &Path,
) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, file, "", e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        toml_error(text, file, &path, e.into_inner())
    })
}

fn toml_error(text: &str, file: &Path, path: &str, e: toml::de::Error) -> ConfigError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let message = e.message().trim().to_string();
    let mut key = path.to_string();
    let mut hint = None;
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        // serde_path_to_error usually ends the path with the unknown key already.
        if key.is_empty() {
            key = unknown.to_string();
        } else if !key.ends_with(unknown) {
            key = format!("{key}.{unknown}");
        }
        hint = Some(format!(
            "`{unknown}` is not a known key here; remove it or fix its spelling"
        ));
    }
    ConfigError {
        file: file.to_path_buf(),
        line,
        key,
        message,
        hint,
    }
}
