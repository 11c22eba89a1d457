//! The OpenAPI document as the server behaves: what poem-openapi derives from the handlers, plus
//! what its attributes cannot say and the services check themselves (with messages in the
//! user's terms): parameter bounds and formats, name and retention limits, source and target
//! types, `additionalProperties: false` on the bodies that refuse unknown fields, and
//! `nullable` on the response fields that can be null. `.ci/schemathesis` holds the server to
//! this document.
use crate::domain::kinds::{ConflictPolicy, DeletePolicy, SourceKind, TargetKind};
use crate::domain::warning::WarningStatus;
use serde_json::{Value, json};

/// Request bodies that refuse unknown fields (`#[oai(deny_unknown_fields)]`).
const CLOSED_BODIES: &[&str] = &[
    "CreateBody",
    "PatchBody",
    "ImportBody",
    "NewKeyBody",
    "TenantPatch",
    "NewTenantBody",
    "ResolveBody",
];

/// Optional fields that are never null: left out of responses, refused in requests.
const ABSENT_NOT_NULL: &[(&str, &str)] = &[
    ("Problem", "errors"),
    ("ResolveBody", "resolution"),
    ("ResolveBody", "fields"),
];

/// A name: 1 to 200 characters, not only spaces, no control characters
/// (`service::scope::validate_name`).
fn name_schema() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    })
}

/// The constraints of a parameter, by where it is and its name (`path` is the operation's).
fn parameter_constraints(path: &str, location: &str, name: &str) -> Option<Value> {
    Some(match (location, name) {
        ("query", "limit") => json!({"minimum": 1, "maximum": super::paging::MAX_LIMIT}),
        ("query", "days") => json!({"minimum": 0, "maximum": 36500}),
        ("query", "status") => json!({"enum": WarningStatus::ALL}),
        ("query", "changed_since") => json!({"format": "date-time"}),
        // Property lists page by external id, every other list by id (`paging`).
        ("query", "cursor") if path.ends_with("/properties") => {
            json!({"pattern": "^[^\\u0000]*$"})
        }
        ("query", "cursor") => json!({"pattern": "^[1-9][0-9]{0,17}$"}),
        ("path", "id" | "source_id" | "target_id") => json!({"minimum": 1}),
        ("header", "Idempotency-Key") => json!({
            "minLength": 1,
            "maxLength": crate::service::idempotency::MAX_KEY_LEN,
            "pattern": "^[!-~]+$"
        }),
        _ => return None,
    })
}

/// The document poem-openapi writes (`spec`), completed.
pub fn document(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_string();
    };
    complete_operations(&mut doc);
    complete_bodies(&mut doc);
    complete_nullable(&mut doc);
    serde_json::to_string(&doc).unwrap_or_else(|_| spec.to_string())
}

fn complete_operations(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, ops) in paths.iter_mut() {
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            // (`get_mut`: indexing a missing key would insert a null.)
            let params = op.get_mut("parameters").and_then(Value::as_array_mut);
            for param in params.into_iter().flatten() {
                let location = param["in"].as_str().unwrap_or("").to_string();
                let name = param["name"].as_str().unwrap_or("").to_string();
                if let Some(Value::Object(extra)) = parameter_constraints(path, &location, &name)
                    && let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut)
                {
                    schema.extend(extra);
                }
            }
            if let Some(schema) = body_schema(path, method) {
                let contents = op
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(Value::as_object_mut);
                for content in contents.into_iter().flat_map(|c| c.values_mut()) {
                    let body = content["schema"].take();
                    content["schema"] = schema(body);
                }
            }
        }
    }
}

/// What an operation's body schema (`body`) becomes, where poem-openapi's is not all of it.
fn body_schema(path: &str, method: &str) -> Option<fn(Value) -> Value> {
    Some(match (path, method) {
        // Sources and targets share their body types; types and settings differ.
        ("/sources" | "/sources/{id}", "post" | "patch") => |body| {
            endpoint_body(
                body,
                SourceKind::ALL,
                json!({"max_delete_fraction":
                    {"type": "number", "minimum": 0, "maximum": 1, "nullable": true}}),
            )
        },
        ("/targets" | "/targets/{id}", "post" | "patch") => |body| {
            endpoint_body(
                body,
                TargetKind::ALL,
                json!({
                    "conflict_policy": {"type": "string", "nullable": true,
                        "enum": nullable_enum(ConflictPolicy::ALL)},
                    "delete_policy": {"type": "string", "nullable": true,
                        "enum": nullable_enum(DeletePolicy::ALL)}
                }),
            )
        },
        // The records alone, as an array, are an upsert of them.
        ("/sources/{id}/import", "post") => {
            |body| json!({"anyOf": [body, {"type": "array", "items": {}}]})
        }
        // The body is the record.
        ("/sources/{id}/properties", "post") => |_| record_schema(),
        // A merge patch of the property resource: only `data` is writable.
        (
            "/sources/{id}/properties/{external_id}" | "/targets/{id}/properties/{external_id}",
            "patch",
        ) => |_| {
            json!({"type": "object", "additionalProperties": false,
                "properties": {"data": {"type": "object"}}})
        },
        _ => return None,
    })
}

/// A source's or target's body (`body`, shared by both) with the `type` values and `config`
/// settings of one of them.
fn endpoint_body(body: Value, kinds: &[&str], settings: Value) -> Value {
    json!({"allOf": [body, {"type": "object", "properties": {
        "type": {"type": "string", "enum": nullable_enum(kinds), "nullable": true},
        "config": {"type": "object", "nullable": true, "properties": settings,
            "additionalProperties": false}
    }}]})
}

/// A record: a JSON object with an `external_id`, or else an `id`: a string of 1 to 512
/// characters without NUL, or an integer (`domain::identity`).
fn record_schema() -> Value {
    let id = json!({"oneOf": [
        {"type": "string", "minLength": 1, "maxLength": crate::domain::identity::MAX_ID_CHARS,
            "pattern": "^[^\\u0000]*$"},
        {"type": "integer", "minimum": i64::MIN, "maximum": u64::MAX}
    ]});
    json!({"type": "object", "anyOf": [
        {"required": ["external_id"], "properties": {"external_id": id}},
        {"required": ["id"], "properties": {
            "id": id, "external_id": {"nullable": true, "enum": [null]}
        }}
    ]})
}

/// An enum's values, and null (which means the default).
fn nullable_enum(values: &[&str]) -> Value {
    let mut all: Vec<Value> = values.iter().map(|v| json!(v)).collect();
    all.push(Value::Null);
    Value::Array(all)
}

/// The document's `components.schemas`.
fn schemas_of(doc: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    doc.get_mut("components")?
        .get_mut("schemas")?
        .as_object_mut()
}

fn complete_bodies(doc: &mut Value) {
    let Some(schemas) = schemas_of(doc) else {
        return;
    };
    for name in CLOSED_BODIES {
        let Some(schema) = schemas.get_mut(*name).and_then(Value::as_object_mut) else {
            continue;
        };
        schema.insert("additionalProperties".into(), Value::Bool(false));
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(p) = props.get_mut("name") {
            merge(p, name_schema());
        }
        if let Some(p) = props.get_mut("retention_days") {
            merge(p, json!({"minimum": 1, "maximum": 36500}));
        }
    }
    // A resolution for all fields or one per field: exactly one of the two, never null.
    if let Some(resolve) = schemas
        .get_mut("ResolveBody")
        .and_then(Value::as_object_mut)
    {
        resolve.insert(
            "oneOf".into(),
            json!([{"required": ["resolution"]}, {"required": ["fields"]}]),
        );
    }
}

/// Optional fields can be null: in responses they are null when they have no value (`Option`
/// without `skip_serializing_if`), in requests null means the default, as if left out.
fn complete_nullable(doc: &mut Value) {
    let Some(schemas) = schemas_of(doc) else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, prop) in props.iter_mut() {
            if required.contains(field) {
                continue;
            }
            if ABSENT_NOT_NULL.contains(&(name.as_str(), field.as_str())) {
                if let Some(p) = prop.as_object_mut() {
                    p.remove("nullable");
                }
                continue;
            }
            if prop.get("$ref").is_some() {
                // OpenAPI 3.0 ignores siblings of `$ref`.
                *prop = json!({"allOf": [prop.take()], "nullable": true});
            } else if let Some(p) = prop.as_object_mut() {
                p.insert("nullable".into(), Value::Bool(true));
            }
        }
    }
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        t.extend(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_parameters_bodies_and_responses() {
        let spec = json!({
            "paths": {
                "/sources": {"get": {"parameters": [
                    {"in": "query", "name": "limit", "schema": {"type": "integer"}},
                    {"in": "query", "name": "cursor", "schema": {"type": "string"}}
                ]}, "post": {"requestBody": {"content": {"application/json": {"schema":
                    {"$ref": "#/components/schemas/CreateBody"}}}}}},
                "/sources/{id}/properties": {"get": {"parameters": [
                    {"in": "path", "name": "id", "schema": {"type": "integer"}},
                    {"in": "query", "name": "cursor", "schema": {"type": "string"}}
                ]}}
            },
            "components": {"schemas": {
                "CreateBody": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "type": {"type": "string"}}},
                "KeyDto": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "integer"}, "revoked_at": {"type": "string"},
                    "owner": {"$ref": "#/components/schemas/X"}}},
                "Problem": {"type": "object", "properties": {"errors": {"type": "array"}}}
            }}
        });
        let doc: Value = serde_json::from_str(&document(&spec.to_string())).unwrap();
        let list = &doc["paths"]["/sources"]["get"]["parameters"];
        assert_eq!(list[0]["schema"]["maximum"], 1000);
        assert_eq!(list[1]["schema"]["pattern"], "^[1-9][0-9]{0,17}$");
        let props = &doc["paths"]["/sources/{id}/properties"]["get"]["parameters"];
        assert_eq!(props[0]["schema"]["minimum"], 1);
        assert_eq!(props[1]["schema"]["pattern"], "^[^\\u0000]*$");
        let body = &doc["paths"]["/sources"]["post"]["requestBody"]["content"]["application/json"];
        assert_eq!(
            body["schema"]["allOf"][1]["properties"]["type"]["enum"][0],
            "json"
        );
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["CreateBody"]["additionalProperties"], false);
        assert_eq!(
            schemas["CreateBody"]["properties"]["name"]["maxLength"],
            200
        );
        assert!(schemas["CreateBody"]["properties"]["name"]["nullable"].is_null());
        assert_eq!(
            schemas["CreateBody"]["properties"]["type"]["nullable"],
            true
        );
        assert_eq!(
            schemas["KeyDto"]["properties"]["revoked_at"]["nullable"],
            true
        );
        assert!(schemas["KeyDto"]["properties"]["id"]["nullable"].is_null());
        assert_eq!(schemas["KeyDto"]["properties"]["owner"]["nullable"], true);
        assert!(schemas["Problem"]["properties"]["errors"]["nullable"].is_null());
    }
}
