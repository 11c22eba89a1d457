//! Records as the API shows them: the DTOs of the OpenAPI document, and serialisers that write
//! a list's records straight from their rows (the stored JSON as it is, not parsed again).
use crate::entity::{source_properties, target_properties};
use crate::service::properties::{ListedProperty, has_manual_changes};
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A record of a source.
#[derive(Debug, Object)]
pub struct SourcePropertyDto {
    pub id: i64,
    pub source_id: i64,
    pub external_id: String,
    pub data: Value,
    /// sha256 of the canonical JSON of `data`.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<source_properties::Model> for SourcePropertyDto {
    fn from(m: source_properties::Model) -> Self {
        SourcePropertyDto {
            id: m.id,
            source_id: m.source_id,
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            external_id: m.external_id,
            hash: m.hash,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

/// A record of a target.
#[derive(Debug, Object)]
pub struct TargetPropertyDto {
    pub id: i64,
    pub target_id: i64,
    pub external_id: String,
    pub data: Value,
    pub hash: String,
    /// Hash of what the last sync wrote.
    pub synced_hash: Option<String>,
    /// True when someone edited the record since the last sync (`hash != synced_hash`).
    pub has_manual_changes: bool,
    /// The source record it was synced from.
    pub source_property_id: Option<i64>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<target_properties::Model> for TargetPropertyDto {
    fn from(m: target_properties::Model) -> Self {
        TargetPropertyDto {
            has_manual_changes: has_manual_changes(&m),
            id: m.id,
            target_id: m.target_id,
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            external_id: m.external_id,
            hash: m.hash,
            synced_hash: m.synced_hash,
            source_property_id: m.source_property_id,
            last_synced_at: m.last_synced_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

/// The stored JSON text of a record's data, checked but not parsed into a tree; `None`
/// (written as `null`, as the DTOs do) if it is not JSON.
fn stored_json(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
}

/// A source record written as `SourcePropertyDto` is, straight from the row.
pub struct SourcePropertyJson<'a>(pub &'a ListedProperty);

impl Serialize for SourcePropertyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut o = serializer.serialize_map(Some(8))?;
        o.serialize_entry("created_at", &m.created_at.to_rfc3339())?;
        o.serialize_entry("data", &stored_json(&m.data))?;
        o.serialize_entry("deleted_at", &m.deleted_at.map(|t| t.to_rfc3339()))?;
        o.serialize_entry("external_id", &m.external_id)?;
        o.serialize_entry("hash", &m.hash)?;
        o.serialize_entry("id", &m.id)?;
        o.serialize_entry("source_id", &m.owner_id)?;
        o.serialize_entry("updated_at", &m.updated_at.to_rfc3339())?;
        o.end()
    }
}

/// A target record written as `TargetPropertyDto` is, straight from the row.
pub struct TargetPropertyJson<'a>(pub &'a ListedProperty);

impl Serialize for TargetPropertyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut o = serializer.serialize_map(Some(12))?;
        o.serialize_entry("created_at", &m.created_at.to_rfc3339())?;
        o.serialize_entry("data", &stored_json(&m.data))?;
        o.serialize_entry("deleted_at", &m.deleted_at.map(|t| t.to_rfc3339()))?;
        o.serialize_entry("external_id", &m.external_id)?;
        o.serialize_entry("has_manual_changes", &m.has_manual_changes())?;
        o.serialize_entry("hash", &m.hash)?;
        o.serialize_entry("id", &m.id)?;
        o.serialize_entry("last_synced_at", &m.last_synced_at.map(|t| t.to_rfc3339()))?;
        o.serialize_entry("source_property_id", &m.source_property_id)?;
        o.serialize_entry("synced_hash", &m.synced_hash)?;
        o.serialize_entry("target_id", &m.owner_id)?;
        o.serialize_entry("updated_at", &m.updated_at.to_rfc3339())?;
        o.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::paging;
    use poem_openapi::types::ToJSON;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn written(item: &impl Serialize) -> Value {
        let mut out = Vec::new();
        paging::write_json(&mut out, item);
        serde_json::from_slice(&out).unwrap()
    }

    /// The list endpoints write records straight from the rows; what they write must be what
    /// the documented DTOs would have written, field by field, for every kind of value.
    #[test]
    fn records_are_written_as_their_dtos() {
        let datas = [
            r#"{"id":"P1","n":1.5,"s":"\u00e9\"","a":[null,{}]}"#,
            "not json",
            "[]",
        ];
        for (i, data) in datas.into_iter().enumerate() {
            let edited = i % 2 == 1;
            let t = target_properties::Model {
                id: 7,
                tenant_id: 1,
                target_id: 3,
                external_id: "P 1/é".into(),
                source_property_id: (!edited).then_some(9),
                data: data.into(),
                hash: "h1".into(),
                synced_hash: Some(if edited { "h0" } else { "h1" }.into()),
                base_data: Some("{}".into()),
                last_synced_at: edited.then(|| at("2026-11-22T03:06:46.380903Z")),
                created_run_id: None,
                run_id: Some(2),
                created_at: at("2026-11-21T10:00:00Z"),
                updated_at: at("2026-11-22T03:06:46.5+01:00"),
                deleted_at: edited.then(|| at("2026-11-22T04:00:00.000001Z")),
            };
            let dto = TargetPropertyDto::from(t.clone()).to_json().unwrap();
            let listed = ListedProperty::from(t.clone());
            assert_eq!(written(&TargetPropertyJson(&listed)), dto, "{data}");
            let s = source_properties::Model {
                id: 9,
                tenant_id: 1,
                source_id: 4,
                external_id: t.external_id.clone(),
                data: data.into(),
                hash: "h2".into(),
                raw_hash: Some("r".into()),
                created_run_id: Some(1),
                run_id: None,
                created_at: t.created_at,
                updated_at: t.updated_at,
                deleted_at: t.deleted_at,
            };
            let dto = SourcePropertyDto::from(s.clone()).to_json().unwrap();
            let listed = ListedProperty::from(s.clone());
            assert_eq!(written(&SourcePropertyJson(&listed)), dto, "{data}");
        }
    }
}
