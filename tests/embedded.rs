//! The example of using sync-manager inside another Rust service (`examples/embedded.rs`):
//! its services called directly, and its app mounted under `/sync` with every link, redirect
//! and the OpenAPI document's server still under that prefix.
mod common;

#[allow(dead_code)]
#[path = "../examples/embedded.rs"]
mod embedded;

use poem::http::StatusCode;
use poem::test::TestClient;
use sea_orm::DatabaseConnection;

backend_tests!(the_embedded_example_works_under_its_prefix);

async fn the_embedded_example_works_under_its_prefix(db: &DatabaseConnection) {
    let (_, key) = embedded::nightly(db).await.unwrap();
    let cli = TestClient::new(embedded::app(db.clone()));
    // The host app's own page.
    cli.get("/").send().await.assert_status_is_ok();
    // The API under /sync, with what the nightly job did.
    let resp = cli
        .get("/sync/targets/1/properties")
        .header("X-API-Key", &key)
        .send()
        .await;
    resp.assert_status_is_ok();
    let body: serde_json::Value = resp.json().await.value().deserialize();
    assert_eq!(body.as_array().unwrap().len(), 2);
    // The OpenAPI document names the prefix as its server.
    let spec = cli.get("/sync/openapi.json").send().await;
    spec.assert_status_is_ok();
    let spec: serde_json::Value = spec.json().await.value().deserialize();
    assert_eq!(spec["servers"][0]["url"], "/sync", "{}", spec["servers"]);
    // The dashboard's redirects and links stay under /sync.
    let root = cli.get("/sync/").send().await;
    root.assert_status(StatusCode::SEE_OTHER);
    root.assert_header("location", "/sync/ui");
    let gate = cli.get("/sync/ui/warnings").send().await;
    gate.assert_header("location", "/sync/ui/login");
    let login = cli
        .post("/sync/ui/login")
        .content_type("application/x-www-form-urlencoded")
        .body(format!("key={key}"))
        .send()
        .await;
    login.assert_status(StatusCode::SEE_OTHER);
    login.assert_header("location", "/sync/ui");
    let cookie = login
        .0
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("Path=/sync/"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let page = cli.get("/sync/ui").header("cookie", &session).send().await;
    page.assert_status_is_ok();
    let html = page.0.into_body().into_string().await.unwrap();
    for href in html.split("href=\"").skip(1) {
        let link = href.split('"').next().unwrap();
        assert!(
            link.starts_with("/sync/") || link.starts_with('#'),
            "a link out of the prefix: {link}"
        );
    }
    for action in html.split("action=\"").skip(1) {
        let to = action.split('"').next().unwrap();
        assert!(to.starts_with("/sync/"), "a form out of the prefix: {to}");
    }
    let css = html
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    cli.get(css).send().await.assert_status_is_ok();
}
