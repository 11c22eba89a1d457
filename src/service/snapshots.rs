//! Snapshots (`history`) and rolling runs back (`rollback`), under the name the library had
//! before they were two modules.
pub use super::history::*;
pub use super::rollback::*;
pub use crate::store::snapshot_rows::snapshot_ids;

/// Which table a property lives in (the name the library used before `ids::Side`).
pub use crate::ids::Side as PropertyKind;
