//! Typed identifiers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; at most 64 are allowed")]
    TooLong(usize),
    #[error("contains {0:?}; use only ASCII letters, digits, '-', '_' and '.'")]
    BadChar(char),
}

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > 64 {
        return Err(IdError::TooLong(s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(IdError::BadChar(c));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(#[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))] String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(s.clone())
                    .map_err(|e| serde::de::Error::custom(format!("id {s:?} {e}")))
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// A camera's id. GB/T 28181 20-digit device codes (e.g. `44030500001320000001`) are the
    /// norm in 雪亮工程 inventories and are recognised by [`CameraId::gb28181`], but any short
    /// ASCII id is accepted so that non-GB cameras can be added.
    CameraId
);
string_id!(
    /// A desk that receives incidents: a police station's 三中心合一 desk, the district
    /// command centre, or a work queue such as video-monitoring maintenance.
    DeskId
);

/// The parts of a GB/T 28181-2016 20-digit device code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gb28181Code<'a> {
    /// Digits 1–8: administrative division (province, city, county, grass-roots unit).
    pub centre: &'a str,
    /// Digits 9–10: industry code (e.g. `00` public security).
    pub industry: &'a str,
    /// Digits 11–13: device type (`131` camera, `132` IP camera, …).
    pub device_type: &'a str,
    /// Digit 14: network identifier.
    pub network: &'a str,
    /// Digits 15–20: serial number.
    pub serial: &'a str,
}

impl CameraId {
    /// Splits a 20-digit GB/T 28181 code into its fields; `None` for other ids.
    pub fn gb28181(&self) -> Option<Gb28181Code<'_>> {
        let s = self.as_str();
        if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Gb28181Code {
            centre: &s[0..8],
            industry: &s[8..10],
            device_type: &s[10..13],
            network: &s[13..14],
            serial: &s[14..20],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb28181_codes_split_into_fields() {
        let id = CameraId::new("44030500001320000001").unwrap();
        let code = id.gb28181().unwrap();
        assert_eq!(code.centre, "44030500");
        assert_eq!(code.industry, "00");
        assert_eq!(code.device_type, "132");
        assert_eq!(code.serial, "000001");
        assert!(CameraId::new("cam-1").unwrap().gb28181().is_none());
    }

    #[test]
    fn bad_ids_are_rejected_with_reason() {
        assert_eq!(CameraId::new(""), Err(IdError::Empty));
        assert_eq!(CameraId::new("a b"), Err(IdError::BadChar(' ')));
        let err = serde_json::from_str::<DeskId>("\"x/y\"").unwrap_err();
        assert!(err.to_string().contains("'/'"), "{err}");
    }
}
