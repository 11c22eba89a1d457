//! The REST API in-process (poem's TestClient) with a tenant's key, and what a call returned.
use poem::Endpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use sync_manager::http::{AppState, build_app};
use sync_manager::service::tenants;

pub struct Api<E> {
    pub cli: TestClient<E>,
    pub key: String,
}

/// What a call returned.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub link: Option<String>,
    pub total: Option<u64>,
    pub body: Value,
}

impl<E: Endpoint> Api<E> {
    /// POSTs `{"name": name}` to `collection` (e.g. `/sources`) and returns the new id.
    pub async fn create(&self, collection: &str, name: &str) -> i64 {
        self.call("POST", collection, Some(json!({ "name": name })))
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.raw(
            method,
            path,
            body.map(|b| (b.to_string(), "application/json")),
            Some(&self.key),
        )
        .await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<(String, &str)>,
        key: Option<&str>,
    ) -> Reply {
        let mut req = match method {
            "GET" => self.cli.get(path),
            "POST" => self.cli.post(path),
            "PATCH" => self.cli.patch(path),
            "DELETE" => self.cli.delete(path),
            "PUT" => self.cli.put(path),
            other => panic!("method {other}"),
        };
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        if let Some((text, content_type)) = body {
            req = req.content_type(content_type).body(text);
        }
        let resp = req.send().await;
        let headers = resp.0.headers().clone();
        let status = resp.0.status();
        let text = resp.0.into_body().into_string().await.unwrap();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}: 500 {text}"
        );
        Reply {
            status,
            content_type: header("content-type").unwrap_or_default(),
            link: header("link"),
            total: header("x-total-count").and_then(|t| t.parse().ok()),
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }
}

impl Reply {
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self.body
    }

    /// Asserts a problem+json error with this status whose detail mentions `needle`.
    pub fn problem(self, status: u16, needle: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "{}",
            self.content_type
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string());
        let detail = self.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
    }
}

pub async fn setup(db: &DatabaseConnection) -> Api<impl Endpoint> {
    let (_, key) = tenants::create(db, "Agency", None).await.unwrap();
    Api {
        cli: TestClient::new(build_app(AppState::new(db.clone()))),
        key: key.key,
    }
}
