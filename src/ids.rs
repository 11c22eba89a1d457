//! Newtype ids, so that a tenant id can never be passed where a source id is expected.
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($name:ident => $what:literal),* $(,)?) => {$(
        #[doc = concat!("Id of a ", $what, ".")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub const WHAT: &'static str = $what;
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                s.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map($name)
                    .ok_or_else(|| format!("{} id must be a positive integer, got {s:?}", $what))
            }
        }
    )*};
}

id_type! {
    TenantId => "tenant",
    SourceId => "source",
    TargetId => "target",
    RunId => "run",
    WarningId => "warning",
    SnapshotId => "snapshot",
    KeyId => "api key",
}

/// Whose records: a source's or a target's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Source(SourceId),
    Target(TargetId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ids() {
        assert_eq!("42".parse::<SourceId>(), Ok(SourceId(42)));
        assert!("0".parse::<SourceId>().is_err());
        assert!("-1".parse::<TenantId>().is_err());
        let err = "abc".parse::<TargetId>().unwrap_err();
        assert!(
            err.contains("target id must be a positive integer"),
            "{err}"
        );
    }
}
