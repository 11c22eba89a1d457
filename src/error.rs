//! The one error type of the service layer.
use crate::domain::stats::RecordError;
use sea_orm::DbErr;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or belongs to another tenant (indistinguishable on purpose).
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// Input that cannot be accepted; `reason` says what to fix.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The input is not well-formed (JSON syntax, the wrong shape) or could not be read.
    #[error("{0}")]
    Malformed(String),
    /// A strict import rejected the whole batch because of these records.
    #[error("strict import rejected the whole batch: {}; first: record {}: {}", crate::domain::words::count_of(.errors.len() as u64, "invalid record", "invalid records"), .errors.first().map(|e| e.index).unwrap_or(0), .errors.first().map(|e| e.reason.as_str()).unwrap_or(""))]
    Rejected { errors: Vec<RecordError> },
    /// The request is valid but refused in the current state (e.g. the mass-delete guard).
    #[error("{0}")]
    Conflict(String),
    /// Missing, unknown or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The database's disk is full: the operation was rolled back, nothing of it was written.
    #[error(
        "the database's disk is full, so nothing was written ({0}); free some space (old \
         snapshots go with `sync-manager cleanup`), then try again"
    )]
    StorageFull(String),
    /// The database failed; never caused by user input.
    #[error("database error: {0}")]
    Db(DbErr),
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        let text = e.to_string();
        if disk_full(&text) {
            AppError::StorageFull(text)
        } else {
            AppError::Db(e)
        }
    }
}

/// Whether a database error says its disk is full: SQLite's SQLITE_FULL (code 13),
/// PostgreSQL's `disk_full` (53100) or the system's ENOSPC in its message.
fn disk_full(text: &str) -> bool {
    text.contains("database or disk is full")
        || text.contains("(code: 13)")
        || text.contains("53100")
        || text.contains("No space left on device")
}

impl AppError {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        AppError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
