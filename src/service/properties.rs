//! The records of sources and targets (`records`) and edits by hand (`edits`), under the name
//! the library had before they were two modules.
pub use super::edits::{create_manual, delete_manual, patch_manual, patch_target};
pub use super::records::*;
pub use crate::ids::Owner;
pub use crate::store::live_counts::{fold_live_counts, recount_after_insert};
