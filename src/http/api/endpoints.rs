//! What `/sources` and `/targets` share: the resource, the bodies, the answers (the OpenAPI
//! schema names are the same for both).
use crate::http::strict::Strict;
use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde_json::Value;

/// A source or a target.
#[derive(Debug, Clone, Object)]
pub struct EndpointDto {
    pub id: i64,
    pub name: String,
    /// Sources: json, scraped, manual, api (records are imported into each; nothing is fetched
    /// yet; CSV import is not there yet). Targets: website (your website reads the records
    /// through this API), database, api, webhook, file (for now the records are kept here;
    /// nothing is sent yet).
    #[oai(rename = "type")]
    pub kind: String,
    /// Settings: sources understand `max_delete_fraction`, targets `conflict_policy` (merge,
    /// keep_target, overwrite) and `delete_policy` (mark, ignore); other keys are refused (422).
    pub config: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointDto {
    /// The stored config as JSON (null if it is not JSON, which nothing writes).
    fn of(
        id: i64,
        name: String,
        kind: String,
        config: &str,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        EndpointDto {
            id,
            config: serde_json::from_str(config).unwrap_or(Value::Null),
            name,
            kind,
            created_at,
            updated_at,
        }
    }
}

impl From<crate::entity::sources::Model> for EndpointDto {
    fn from(m: crate::entity::sources::Model) -> Self {
        EndpointDto::of(m.id, m.name, m.kind, &m.config, m.created_at, m.updated_at)
    }
}

impl From<crate::entity::targets::Model> for EndpointDto {
    fn from(m: crate::entity::targets::Model) -> Self {
        EndpointDto::of(m.id, m.name, m.kind, &m.config, m.created_at, m.updated_at)
    }
}

/// A new source or target.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct CreateBody {
    pub name: Strict<String>,
    /// The type (sources default to `json`, targets to `website`).
    #[oai(rename = "type")]
    pub kind: Option<Strict<String>>,
    /// A JSON object of settings (default `{}`); a key the type does not understand is
    /// refused (422).
    pub config: Option<Value>,
}

impl poem_openapi::types::Example for CreateBody {
    fn example() -> Self {
        CreateBody {
            name: Strict("Listings portal".into()),
            kind: Some(Strict("scraped".into())),
            config: Some(serde_json::json!({"max_delete_fraction": 0.2})),
        }
    }
}

/// A JSON merge patch of a source or target: fields present are replaced.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PatchBody {
    pub name: Option<Strict<String>>,
    #[oai(rename = "type")]
    pub kind: Option<Strict<String>>,
    /// Replaces the whole config object.
    pub config: Option<Value>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// Created.
    #[oai(status = 201)]
    Created(Json<EndpointDto>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted, with all its properties.
    #[oai(status = 204)]
    Deleted,
}

impl poem_openapi::types::Example for PatchBody {
    fn example() -> Self {
        PatchBody {
            name: None,
            kind: None,
            config: Some(serde_json::json!({"conflict_policy": "keep_target"})),
        }
    }
}
