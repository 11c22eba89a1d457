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

impl Owner {
    /// Which side it is.
    pub fn side(self) -> Side {
        match self {
            Owner::Source(_) => Side::Source,
            Owner::Target(_) => Side::Target,
        }
    }

    /// Its id, whatever side.
    pub fn id(self) -> i64 {
        match self {
            Owner::Source(s) => s.0,
            Owner::Target(t) => t.0,
        }
    }

    /// The owner of `side` with this id.
    pub fn of(side: Side, id: i64) -> Owner {
        match side {
            Side::Source => Owner::Source(SourceId(id)),
            Side::Target => Owner::Target(TargetId(id)),
        }
    }
}

/// "Source or target": the one name for which of the two a record, a page or a snapshot is
/// about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Source,
    Target,
}

impl Side {
    /// `source` or `target` (as stored in `snapshots.property_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }

    /// One of them, in words: `source` or `target`.
    pub fn one(self) -> &'static str {
        self.as_str()
    }

    /// Several, in words (and in paths): `sources` or `targets`.
    pub fn many(self) -> &'static str {
        match self {
            Side::Source => "sources",
            Side::Target => "targets",
        }
    }

    /// A stored side: `target` is a target, anything else a source (what was always read).
    pub fn from_stored(s: &str) -> Side {
        if s == "target" {
            Side::Target
        } else {
            Side::Source
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

    #[test]
    fn sides_and_owners() {
        assert_eq!(Side::from_stored("target"), Side::Target);
        assert_eq!(Side::from_stored("anything"), Side::Source);
        assert_eq!(
            (Side::Target.one(), Side::Target.many()),
            ("target", "targets")
        );
        let o = Owner::of(Side::Source, 3);
        assert_eq!(
            (o, o.side(), o.id()),
            (Owner::Source(SourceId(3)), Side::Source, 3)
        );
    }
}
