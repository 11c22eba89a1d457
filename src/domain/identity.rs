//! Record identity: `external_id` if present, else `id` (SPEC §3).
use serde_json::Value;

/// Why a record could not be given an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    NotAnObject,
    Missing,
    Invalid(&'static str),
}

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityError::NotAnObject => write!(f, "record is not a JSON object"),
            IdentityError::Missing => {
                write!(f, "record has no \"external_id\" or \"id\" field")
            }
            IdentityError::Invalid(what) => write!(
                f,
                "record identity must be a non-empty string or an integer, got {what}"
            ),
        }
    }
}

/// Extracts the external id of a record.
pub fn extract_external_id(record: &Value) -> Result<String, IdentityError> {
    let Value::Object(map) = record else {
        return Err(IdentityError::NotAnObject);
    };
    identity_of(identity_field(|key| map.get(key), Value::is_null)?)
}

/// The field that gives a record its identity: `external_id`, unless it is missing or null,
/// else `id` (`get` reads a field of the record, whatever it was parsed into).
pub fn identity_field<'v, V: 'v>(
    get: impl Fn(&str) -> Option<&'v V>,
    is_null: impl Fn(&V) -> bool,
) -> Result<&'v V, IdentityError> {
    match get("external_id") {
        Some(v) if !is_null(v) => Ok(v),
        _ => get("id").ok_or(IdentityError::Missing),
    }
}

/// The longest external id, in characters (as JSON Schema's `maxLength` counts): at most
/// 2,048 bytes, which fits PostgreSQL's index entries (about 2,700 bytes).
pub const MAX_ID_CHARS: usize = 512;

/// Whether `id` can be stored as an external id on every backend: PostgreSQL's text cannot
/// hold a NUL character, and its index entries limit the length.
pub fn storable_id(id: &str) -> bool {
    !id.is_empty() && !id.contains('\0') && id.chars().count() <= MAX_ID_CHARS
}

/// The external id a record's `external_id` (or `id`) field gives.
pub fn identity_of(field: &Value) -> Result<String, IdentityError> {
    match field {
        Value::String(s) if s.is_empty() => Err(IdentityError::Invalid("an empty string")),
        Value::String(s) if s.contains('\0') => Err(IdentityError::Invalid(
            "a string with a NUL character (\\u0000), which cannot be stored",
        )),
        Value::String(s) if s.chars().count() > MAX_ID_CHARS => Err(IdentityError::Invalid(
            "a string longer than 512 characters",
        )),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Value::Number(_) => Err(IdentityError::Invalid("a float")),
        Value::Null => Err(IdentityError::Missing),
        Value::Bool(_) => Err(IdentityError::Invalid("a boolean")),
        Value::Array(_) => Err(IdentityError::Invalid("an array")),
        Value::Object(_) => Err(IdentityError::Invalid("an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_table() {
        let cases = vec![
            (json!({"id": "P1"}), Ok("P1".to_string())),
            (
                json!({"external_id": "E1", "id": "P1"}),
                Ok("E1".to_string()),
            ),
            (
                json!({"external_id": null, "id": "P1"}),
                Ok("P1".to_string()),
            ),
            (json!({"id": 42}), Ok("42".to_string())),
            (json!({"id": -7}), Ok("-7".to_string())),
            (
                json!({"id": 18446744073709551615u64}),
                Ok("18446744073709551615".to_string()),
            ),
            (json!({"external_id": 5}), Ok("5".to_string())),
            (json!({"id": "ünï"}), Ok("ünï".to_string())),
            (json!({"title": "x"}), Err(IdentityError::Missing)),
            (json!({"id": null}), Err(IdentityError::Missing)),
            (
                json!({"id": ""}),
                Err(IdentityError::Invalid("an empty string")),
            ),
            (
                json!({"id": true}),
                Err(IdentityError::Invalid("a boolean")),
            ),
            (json!({"id": 1.5}), Err(IdentityError::Invalid("a float"))),
            (
                json!({"id": "nul\u{0}id"}),
                Err(IdentityError::Invalid(
                    "a string with a NUL character (\\u0000), which cannot be stored",
                )),
            ),
            (
                json!({"id": "x".repeat(513)}),
                Err(IdentityError::Invalid(
                    "a string longer than 512 characters",
                )),
            ),
            (json!({"id": "x".repeat(512)}), Ok("x".repeat(512))),
            // Characters, not bytes, as the OpenAPI document's maxLength counts.
            (json!({"id": "é".repeat(512)}), Ok("é".repeat(512))),
            (
                json!({"id": "é".repeat(513)}),
                Err(IdentityError::Invalid(
                    "a string longer than 512 characters",
                )),
            ),
            (json!({"id": [1]}), Err(IdentityError::Invalid("an array"))),
            (
                json!({"id": {"a": 1}}),
                Err(IdentityError::Invalid("an object")),
            ),
            (
                json!({"external_id": "", "id": "P1"}),
                Err(IdentityError::Invalid("an empty string")),
            ),
            (json!([1, 2]), Err(IdentityError::NotAnObject)),
            (json!("P1"), Err(IdentityError::NotAnObject)),
            (json!(null), Err(IdentityError::NotAnObject)),
        ];
        for (record, expected) in cases {
            assert_eq!(extract_external_id(&record), expected, "record {record}");
        }
    }

    #[test]
    fn error_messages_say_what_to_fix() {
        assert!(IdentityError::Missing.to_string().contains("external_id"));
        assert!(
            IdentityError::Invalid("a float")
                .to_string()
                .contains("a float")
        );
    }
}
