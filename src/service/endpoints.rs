//! What sources and targets share: their fields and their validation.
use crate::error::{AppError, AppResult};
use serde_json::Value;

/// Fields of a new source or target.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub name: String,
    pub kind: String,
    pub config: Option<Value>,
}

/// Changes to a source or target; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub config: Option<Value>,
}

/// Parses a `type`.
pub(crate) fn parse_kind<K: std::str::FromStr<Err = String>>(kind: &str) -> AppResult<K> {
    kind.parse::<K>().map_err(|e| AppError::invalid("type", e))
}

/// Validates a `config` (default `{}`) for an endpoint of type `kind` with `check` and returns
/// its stored text.
pub(crate) fn validate_config<K: Copy, T>(
    kind: K,
    config: Option<Value>,
    check: impl Fn(K, &Value) -> Result<T, String>,
) -> AppResult<String> {
    let config = config.unwrap_or_else(|| Value::Object(Default::default()));
    check(kind, &config).map_err(|e| AppError::invalid("config", e))?;
    Ok(config.to_string())
}
