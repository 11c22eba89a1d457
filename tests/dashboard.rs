//! The dashboard in-process (poem's TestClient), on SQLite and (when enabled) PostgreSQL:
//! every page's status and headers, escaping, login and logout, a revoked key's session,
//! CSRF and cross-site refusals on every form, the assets' caching, and the forms that change
//! things (import with its preview, per-field and bulk resolution, restore, rollback, admin).
mod common;

use common::api::{Api, setup};
use poem::Endpoint;
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use sync_manager::http::{AppState, build_app};
use sync_manager::service::keys;

backend_tests!(
    every_page_renders_with_its_headers_and_escapes_data,
    login_logout_and_a_revoked_key,
    forms_need_their_token_and_this_site,
    assets_are_cached_by_content,
    a_conflict_is_resolved_field_by_field_in_the_browser_forms,
    imports_are_previewed_then_confirmed,
    bulk_restore_rollback_and_settings,
    the_admin_manages_tenants_and_keys,
    staff_see_listings_not_ids,
);

/// A logged-in browser: its session cookie and the CSRF token of its forms.
struct Browser<'a, E> {
    cli: &'a TestClient<E>,
    cookie: String,
    csrf: String,
}

fn set_cookie(resp: &TestResponse, name: &str) -> Option<String> {
    resp.0
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

async fn login<'a, E: Endpoint>(cli: &'a TestClient<E>, key: &str) -> Browser<'a, E> {
    let resp = cli
        .post("/ui/login")
        .content_type("application/x-www-form-urlencoded")
        .body(format!("key={key}"))
        .send()
        .await;
    resp.assert_status(StatusCode::SEE_OTHER);
    let cookie = set_cookie(&resp, "sm_session").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let landing = resp
        .0
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let mut b = Browser {
        cli,
        cookie,
        csrf: String::new(),
    };
    let page = b.get(&landing).await;
    b.csrf = csrf_of(&page.1);
    b
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token")
        + 19;
    html[at..at + 64].to_string()
}

impl<E: Endpoint> Browser<'_, E> {
    async fn get(&self, path: &str) -> (StatusCode, String, TestResponse) {
        let resp = self
            .cli
            .get(path)
            .header("cookie", &self.cookie)
            .send()
            .await;
        let status = resp.0.status();
        let headers = resp.0.headers().clone();
        let body = resp.0.into_body().into_string().await.unwrap();
        let mut rebuilt = poem::Response::builder().status(status);
        for (k, v) in headers.iter() {
            rebuilt = rebuilt.header(k, v);
        }
        (status, body.clone(), TestResponse(rebuilt.body(body)))
    }

    /// Posts a form (with the session's token unless `fields` has one); (status, Location).
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut body: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            body.push(("csrf".into(), self.csrf.clone()));
        }
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(body)
            .finish();
        let resp = self
            .cli
            .post(path)
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .content_type("application/x-www-form-urlencoded")
            .body(encoded)
            .send()
            .await;
        let status = resp.0.status();
        let location = resp
            .0
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, location)
    }

    /// Posts a form answered by a page (200), e.g. a preview: the page.
    async fn post_and_follow_page(&self, path: &str, fields: &[(&str, &str)]) -> String {
        let mut body: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        body.push(("csrf".into(), self.csrf.clone()));
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(body)
            .finish();
        let resp = self
            .cli
            .post(path)
            .header("cookie", &self.cookie)
            .content_type("application/x-www-form-urlencoded")
            .body(encoded)
            .send()
            .await;
        assert_eq!(resp.0.status(), StatusCode::OK, "{path}");
        resp.0.into_body().into_string().await.unwrap()
    }

    /// Follows a 303 with its flash cookie: the page it leads to.
    async fn post_and_follow(&self, path: &str, fields: &[(&str, &str)]) -> String {
        let mut body: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        body.push(("csrf".into(), self.csrf.clone()));
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(body)
            .finish();
        let resp = self
            .cli
            .post(path)
            .header("cookie", &self.cookie)
            .content_type("application/x-www-form-urlencoded")
            .body(encoded)
            .send()
            .await;
        assert_eq!(resp.0.status(), StatusCode::SEE_OTHER, "{path}");
        let location = resp
            .0
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let flash = set_cookie(&resp, "sm_flash").map(|c| c.split(';').next().unwrap().to_string());
        let cookie = match flash {
            Some(f) => format!("{}; {f}", self.cookie),
            None => self.cookie.clone(),
        };
        let page = self
            .cli
            .get(&location)
            .header("cookie", cookie)
            .send()
            .await;
        page.0.into_body().into_string().await.unwrap()
    }
}

/// A tenant with a conflict: P1's title changed in the source and by hand on the website,
/// and a record whose title holds a script.
async fn conflict<E: Endpoint>(api: &Api<E>) -> (i64, i64, i64) {
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "website").await;
    let import = format!("/sources/{s}/import");
    api.call(
        "POST",
        &import,
        Some(json!({"data": [
            {"id": "P1", "title": "Villa", "price": 100},
            {"id": "P2", "title": "<script>alert('x')</script>", "price": 5}
        ]})),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    api.call(
        "PATCH",
        &format!("/targets/{t}/properties/P1"),
        Some(json!({"data": {"title": "Villa with sea view", "price": 95}})),
    )
    .await
    .expect(200);
    api.call(
        "POST",
        &import,
        Some(json!({"data": [{"id": "P1", "title": "Big villa", "price": 120}]})),
    )
    .await
    .expect(200);
    let sync = api
        .call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let w = sync["warnings"][0]["id"].as_i64().unwrap();
    (s, t, w)
}

fn app(db: &DatabaseConnection) -> TestClient<impl Endpoint> {
    TestClient::new(build_app(AppState::new(db.clone())))
}

async fn every_page_renders_with_its_headers_and_escapes_data(db: &DatabaseConnection) {
    let api = setup(db).await;
    let (s, t, w) = conflict(&api).await;
    let cli = app(db);
    let b = login(&cli, &api.key).await;
    for path in [
        "/ui".to_string(),
        "/ui/warnings".into(),
        "/ui/warnings?status=resolved".into(),
        "/ui/warnings?status=all&kind=conflict&q=P".into(),
        format!("/ui/warnings/{w}"),
        "/ui/sources".into(),
        format!("/ui/sources/{s}"),
        format!("/ui/sources/{s}/records"),
        format!("/ui/sources/{s}/records/P2"),
        format!("/ui/sources/{s}/delete"),
        "/ui/targets".into(),
        format!("/ui/targets/{t}"),
        format!("/ui/targets/{t}/records?manual=1"),
        format!("/ui/targets/{t}/records?q=P1"),
        format!("/ui/targets/{t}/records/P1"),
        format!("/ui/targets/{t}/records/P2"),
        "/ui/runs".into(),
        "/ui/runs/1".into(),
        "/ui/runs/2/rollback".into(),
    ] {
        let (status, html, resp) = b.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        resp.assert_content_type("text/html; charset=utf-8");
        let csp = resp
            .0
            .headers()
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("http"), "no other origin: {csp}");
        resp.assert_header("cache-control", "no-store");
        resp.assert_header("x-content-type-options", "nosniff");
        assert!(resp.0.headers().get("referrer-policy").is_some());
        assert!(
            !html.contains("<script>alert"),
            "{path} renders tenant data unescaped"
        );
        assert!(!html.contains(" style="), "{path} has an inline style");
    }
    let (_, html, _) = b.get(&format!("/ui/targets/{t}/records/P2")).await;
    assert!(
        html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"),
        "{html}"
    );
    // The overview shows the open warning (no "all good" while it is open).
    let (_, html, _) = b.get("/ui").await;
    assert!(
        html.contains("1 open warning")
            && html.contains("1 conflict.")
            && !html.contains("No open warnings"),
        "{html}"
    );
    // The warning page labels each choice with the value it keeps.
    let (_, html, _) = b.get(&format!("/ui/warnings/{w}")).await;
    assert!(html.contains("website: “Villa with sea view”"), "{html}");
    assert!(html.contains("source: “Big villa”"), "{html}");
    // Unknown things are pages too, not JSON.
    let (status, html, _) = b.get("/ui/runs/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("run 999 not found"));
    // `/` leads to the dashboard.
    let root = cli.get("/").send().await;
    root.assert_status(StatusCode::SEE_OTHER);
    root.assert_header("location", "/ui");
}

async fn login_logout_and_a_revoked_key(db: &DatabaseConnection) {
    let api = setup(db).await;
    let cli = app(db);
    // Without a session every page leads to the login page.
    let resp = cli.get("/ui/warnings").send().await;
    resp.assert_status(StatusCode::SEE_OTHER);
    resp.assert_header("location", "/ui/login");
    let page = cli.get("/ui/login").send().await;
    page.assert_status_is_ok();
    let wrong = cli
        .post("/ui/login")
        .content_type("application/x-www-form-urlencoded")
        .body("key=sm_0000000000000000000000000000000000000000000000000")
        .send()
        .await;
    wrong.assert_status(StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .0
            .into_body()
            .into_string()
            .await
            .unwrap()
            .contains("not valid")
    );
    // Log in, log out: the old cookie no longer works.
    let b = login(&cli, &api.key).await;
    let (status, location) = b.post("/ui/logout", &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/ui/login")
    );
    let (status, _, resp) = b.get("/ui").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    resp.assert_header("location", "/ui/login");
    // Each login is a new session; revoking the key ends them at once.
    let b = login(&cli, &api.key).await;
    assert_eq!(b.get("/ui").await.0, StatusCode::OK);
    let tenant = sync_manager::ids::TenantId(1);
    let key = keys::list(db, tenant).await.unwrap().remove(0);
    keys::revoke(db, tenant, sync_manager::ids::KeyId(key.id))
        .await
        .unwrap();
    assert_eq!(b.get("/ui").await.0, StatusCode::SEE_OTHER);
}

async fn forms_need_their_token_and_this_site(db: &DatabaseConnection) {
    let api = setup(db).await;
    let (s, t, w) = conflict(&api).await;
    let cli = app(db);
    let b = login(&cli, &api.key).await;
    let posts = [
        "/ui/logout".to_string(),
        "/ui/sources".into(),
        format!("/ui/sources/{s}"),
        format!("/ui/sources/{s}/delete"),
        format!("/ui/sources/{s}/import/confirm"),
        "/ui/targets".into(),
        format!("/ui/targets/{t}"),
        format!("/ui/targets/{t}/delete"),
        "/ui/snapshots/1/restore".into(),
        "/ui/sync/preview".into(),
        "/ui/sync".into(),
        "/ui/warnings/bulk".into(),
        "/ui/warnings/bulk/resolve".into(),
        format!("/ui/warnings/{w}/resolve"),
        "/ui/runs/1/rollback".into(),
        "/ui/admin/tenants".into(),
        "/ui/admin/tenants/1/keys".into(),
        "/ui/admin/tenants/1/keys/1/revoke".into(),
    ];
    for path in &posts {
        let (status, _) = b.post(path, &[("csrf", "0000")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} without its token");
        let (status, _) = b.post(path, &[("csrf", "")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} with an empty token");
    }
    // The import form is multipart: its token is checked too.
    let resp = cli
        .post(format!("/ui/sources/{s}/import"))
        .header("cookie", &b.cookie)
        .multipart(
            poem::test::TestForm::new()
                .text("csrf", "nope")
                .bytes("file", b"[]".to_vec()),
        )
        .send()
        .await;
    resp.assert_status(StatusCode::FORBIDDEN);
    // Sent from another site, with a valid token: refused all the same.
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let resp = cli
            .post("/ui/sources")
            .header("cookie", &b.cookie)
            .header("host", "localhost:8000")
            .header(header, value)
            .content_type("application/x-www-form-urlencoded")
            .body(format!("csrf={}&name=x&type=json", b.csrf))
            .send()
            .await;
        resp.assert_status(StatusCode::FORBIDDEN);
    }
    // Nothing of the above happened.
    let sources = api.call("GET", "/sources", None).await.expect(200);
    assert_eq!(sources.as_array().unwrap().len(), 1);
    // With the token, from this site: done.
    let (status, location) = b
        .post("/ui/sources", &[("name", "desk"), ("type", "manual")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/ui/sources/"), "{location}");
}

async fn assets_are_cached_by_content(db: &DatabaseConnection) {
    let api = setup(db).await;
    let cli = app(db);
    let b = login(&cli, &api.key).await;
    let (_, html, _) = b.get("/ui").await;
    let at = html.find("/ui/static/").unwrap();
    let url = html[at..].split('"').next().unwrap().to_string();
    assert!(url.ends_with("/app.css"), "{url}");
    let resp = cli.get(&url).send().await;
    resp.assert_status_is_ok();
    resp.assert_content_type("text/css");
    resp.assert_header("cache-control", "public, max-age=31536000, immutable");
    let etag = resp
        .0
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = cli.get(&url).header("if-none-match", &etag).send().await;
    again.assert_status(StatusCode::NOT_MODIFIED);
    let old = cli.get("/ui/static/0000/app.css").send().await;
    old.assert_status_is_ok();
    old.assert_header("cache-control", "no-cache");
    for bad in ["/ui/static/x/../Cargo.toml", "/ui/static/x/nothing.css"] {
        cli.get(bad)
            .send()
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
}

async fn a_conflict_is_resolved_field_by_field_in_the_browser_forms(db: &DatabaseConnection) {
    let api = setup(db).await;
    let (_, t, w) = conflict(&api).await;
    let cli = app(db);
    let b = login(&cli, &api.key).await;
    // A choice for one field only is refused with the reason on the page.
    let page = b
        .post_and_follow(
            &format!("/ui/warnings/{w}/resolve"),
            &[("f:title", "keep_target")],
        )
        .await;
    assert!(page.contains("missing: price"), "{page}");
    let page = b
        .post_and_follow(
            &format!("/ui/warnings/{w}/resolve"),
            &[("f:title", "keep_target"), ("f:price", "take_source")],
        )
        .await;
    assert!(page.contains(&format!("warning {w} resolved")), "{page}");
    let record = api
        .call("GET", &format!("/targets/{t}/properties/P1"), None)
        .await
        .expect(200);
    assert_eq!(record["data"]["title"], "Villa with sea view");
    assert_eq!(record["data"]["price"], 120);
    let runs = api.call("GET", "/runs", None).await.expect(200);
    assert_eq!(runs[0]["kind"], "resolve");
    assert!(runs[0]["actor"].as_str().unwrap().ends_with("(dashboard)"));
}

async fn imports_are_previewed_then_confirmed(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let cli = app(db);
    let b = login(&cli, &api.key).await;
    let file = br#"[{"id": "A1", "title": "One"}, {"title": "no id"}, {"id": "A2"}]"#;
    let resp = cli
        .post(format!("/ui/sources/{s}/import"))
        .header("cookie", &b.cookie)
        .multipart(
            poem::test::TestForm::new()
                .text("csrf", b.csrf.clone())
                .text("mode", "upsert")
                .field(
                    poem::test::TestFormField::bytes(file.to_vec())
                        .name("file")
                        .filename("day1.json"),
                ),
        )
        .send()
        .await;
    resp.assert_status_is_ok();
    let html = resp.0.into_body().into_string().await.unwrap();
    assert!(html.contains("Nothing has been written yet"), "{html}");
    assert!(
        html.contains("no &#34;external_id&#34; or &#34;id&#34;"),
        "{html}"
    );
    // Nothing imported yet.
    let records = api
        .call("GET", &format!("/sources/{s}/properties"), None)
        .await;
    assert_eq!(records.total, Some(0));
    let at = html.find("name=\"upload\" value=\"").unwrap() + 21;
    let upload: String = html[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let page = b
        .post_and_follow(
            &format!("/ui/sources/{s}/import/confirm"),
            &[("upload", &upload), ("mode", "upsert")],
        )
        .await;
    assert!(page.contains("2 created"), "{page}");
    let records = api
        .call("GET", &format!("/sources/{s}/properties"), None)
        .await;
    assert_eq!(records.total, Some(2));
    // The upload was used up.
    let (status, _) = b
        .post(
            &format!("/ui/sources/{s}/import/confirm"),
            &[("upload", &upload), ("mode", "upsert")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A file that is not JSON: the reason next to the form, nothing kept.
    let resp = cli
        .post(format!("/ui/sources/{s}/import"))
        .header("cookie", &b.cookie)
        .multipart(
            poem::test::TestForm::new()
                .text("csrf", b.csrf.clone())
                .field(
                    poem::test::TestFormField::bytes(b"not json".to_vec())
                        .name("file")
                        .filename("x.json"),
                ),
        )
        .send()
        .await;
    resp.assert_status(StatusCode::SEE_OTHER);
    resp.assert_header("location", format!("/ui/sources/{s}#import"));
}

async fn bulk_restore_rollback_and_settings(db: &DatabaseConnection) {
    let api = setup(db).await;
    let (s, t, w) = conflict(&api).await;
    let cli = app(db);
    let b = login(&cli, &api.key).await;
    // Bulk: the confirmation says what it touches, then resolves.
    let w_str = w.to_string();
    let resp = cli
        .post("/ui/warnings/bulk")
        .header("cookie", &b.cookie)
        .content_type("application/x-www-form-urlencoded")
        .body(format!("csrf={}&ids={w}&action=take_source", b.csrf))
        .send()
        .await;
    resp.assert_status_is_ok();
    let html = resp.0.into_body().into_string().await.unwrap();
    assert!(
        html.contains("take the source&#39;s values</strong> for 2 fields of 1 record"),
        "{html}"
    );
    let page = b
        .post_and_follow(
            "/ui/warnings/bulk/resolve",
            &[("ids", &w_str), ("action", "take_source")],
        )
        .await;
    assert!(page.contains("1 warning resolved"), "{page}");
    let record = api
        .call("GET", &format!("/targets/{t}/properties/P1"), None)
        .await
        .expect(200);
    assert_eq!(record["data"]["title"], "Big villa");
    // Restore the version before the resolution from the record's page.
    let history = api
        .call(
            "GET",
            &format!("/targets/{t}/properties/P1/snapshots"),
            None,
        )
        .await
        .expect(200);
    let snap = history[0]["id"].as_i64().unwrap();
    let page = b
        .post_and_follow(&format!("/ui/snapshots/{snap}/restore"), &[])
        .await;
    assert!(page.contains("was restored"), "{page}");
    let record = api
        .call("GET", &format!("/targets/{t}/properties/P1"), None)
        .await
        .expect(200);
    assert_eq!(record["data"]["title"], "Villa with sea view");
    // Roll back the first import: its records are removed; the one changed since is skipped.
    let (status, html, _) = b.get("/ui/runs/1/rollback").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("is skipped") || html.contains("are skipped"),
        "{html}"
    );
    let page = b.post_and_follow("/ui/runs/1/rollback", &[]).await;
    assert!(page.contains("run 1 was rolled back"), "{page}");
    // Settings: the policy chosen on the form is stored.
    let page = b
        .post_and_follow(
            &format!("/ui/targets/{t}"),
            &[
                ("name", "website"),
                ("type", "website"),
                ("conflict_policy", "keep_target"),
                ("delete_policy", "ignore"),
            ],
        )
        .await;
    assert!(page.contains("settings were saved"), "{page}");
    let target: Value = api
        .call("GET", &format!("/targets/{t}"), None)
        .await
        .expect(200);
    assert_eq!(target["config"]["conflict_policy"], "keep_target");
    // A setting it does not understand is refused, as in the API, and nothing is saved.
    let page = b
        .post_and_follow(
            &format!("/ui/targets/{t}"),
            &[
                ("name", "website"),
                ("type", "website"),
                ("conflict_policy", "merge"),
                ("other", "{\"region\": \"south\"}"),
            ],
        )
        .await;
    assert!(
        page.contains("&#34;region&#34; is not a setting of a website target"),
        "{page}"
    );
    let target: Value = api
        .call("GET", &format!("/targets/{t}"), None)
        .await
        .expect(200);
    assert_eq!(target["config"]["conflict_policy"], "keep_target");
    let page = b
        .post_and_follow(
            &format!("/ui/sources/{s}"),
            &[("name", "portal"), ("other", "[1]")],
        )
        .await;
    assert!(page.contains("must be a JSON object"), "{page}");
    // Deleting asks first, then deletes.
    let page = b
        .post_and_follow(&format!("/ui/sources/{s}/delete"), &[])
        .await;
    assert!(page.contains("was deleted"), "{page}");
    api.call("GET", &format!("/sources/{s}"), None)
        .await
        .problem(404, "not found");
}

async fn the_admin_manages_tenants_and_keys(db: &DatabaseConnection) {
    let api = setup(db).await;
    let admin = keys::ensure_admin_key(db).await.unwrap().unwrap().key;
    let cli = app(db);
    let b = login(&cli, &admin).await;
    let (status, html, _) = b.get("/ui/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Agency"), "{html}");
    // A tenant's page is not the admin's, and the admin's not a tenant's.
    assert_eq!(b.get("/ui/warnings").await.0, StatusCode::FORBIDDEN);
    let tenant_browser = login(&cli, &api.key).await;
    assert_eq!(
        tenant_browser.get("/ui/admin").await.0,
        StatusCode::FORBIDDEN
    );
    // Create a tenant: its key is shown once.
    let resp = cli
        .post("/ui/admin/tenants")
        .header("cookie", &b.cookie)
        .content_type("application/x-www-form-urlencoded")
        .body(format!("csrf={}&name=Second+agency", b.csrf))
        .send()
        .await;
    resp.assert_status(StatusCode::SEE_OTHER);
    let secret = set_cookie(&resp, "sm_new_key").expect("the key for the next page");
    let flash = set_cookie(&resp, "sm_flash").unwrap();
    let cookie = format!(
        "{}; {}; {}",
        b.cookie,
        secret.split(';').next().unwrap(),
        flash.split(';').next().unwrap()
    );
    let page = cli.get("/ui/admin").header("cookie", &cookie).send().await;
    let cleared = set_cookie(&page, "sm_new_key").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let html = page.0.into_body().into_string().await.unwrap();
    let at = html.find("<code class=\"key\">").unwrap() + 18;
    let new_key = &html[at..at + 51];
    assert!(new_key.starts_with("sm_"), "{new_key}");
    // The new key logs in to its tenant.
    let second = login(&cli, new_key).await;
    let (_, html, _) = second.get("/ui").await;
    assert!(html.contains("Second agency"));
    // Its keys: create one, revoke it (after a confirmation page).
    let (status, html, _) = b.get("/ui/admin/tenants/2").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let (status, _) = b
        .post("/ui/admin/tenants/2/keys", &[("name", "cron")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let listed = keys::list(db, sync_manager::ids::TenantId(2))
        .await
        .unwrap();
    let cron = listed.iter().find(|k| k.name == "cron").unwrap().id;
    let (status, html, _) = b
        .get(&format!("/ui/admin/tenants/2/keys/{cron}/revoke"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("stops working at once"));
    let (status, _) = b
        .post(&format!("/ui/admin/tenants/2/keys/{cron}/revoke"), &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let listed = keys::list(db, sync_manager::ids::TenantId(2))
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .find(|k| k.id == cron)
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// Uploads `bytes` as `name` to a source's import form; the preview page (or the redirect).
async fn upload<E: Endpoint>(
    b: &Browser<'_, E>,
    source: i64,
    name: &str,
    bytes: Vec<u8>,
    mode: &str,
) -> TestResponse {
    b.cli
        .post(format!("/ui/sources/{source}/import"))
        .header("cookie", &b.cookie)
        .multipart(
            poem::test::TestForm::new()
                .text("csrf", b.csrf.clone())
                .text("mode", mode.to_string())
                .field(
                    poem::test::TestFormField::bytes(bytes)
                        .name("file")
                        .filename(name.to_string()),
                ),
        )
        .send()
        .await
}

/// The value of `name="upload"` on a preview page.
fn upload_id(html: &str) -> String {
    let at = html.find("name=\"upload\" value=\"").unwrap() + 21;
    html[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect()
}

/// Issue 20 §1, §7, §8, §9: staff see listings by their titles and in words (the import's
/// records before it is written, the sync's plan, its result with a link to the conflicts it
/// raised, the warnings, a run), numbers with separators and plurals right, what each type
/// of target does today, and the dashboard takes and refuses the files the API does.
async fn staff_see_listings_not_ids(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "website").await;
    let import = format!("/sources/{s}/import");
    api.call(
        "POST",
        &import,
        Some(json!([
            {"id": "P1", "title": "Villa", "price": 100},
            {"id": "P2", "title": "Flat", "price": 50},
            {"id": "P3", "title": "Loft", "price": 70, "location": {"city": "Marbella"}}
        ])),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    // Edited on the website: P1's and P3's titles.
    for (id, title) in [
        ("P1", "Villa with sea view"),
        ("P3", "Loft in the old town"),
    ] {
        api.call(
            "PATCH",
            &format!("/targets/{t}/properties/{id}"),
            Some(json!({"data": {"title": title}})),
        )
        .await
        .expect(200);
    }
    let cli = app(db);
    let b = login(&cli, &api.key).await;

    // The import's preview: every record it would change, by title, with its fields.
    let mut file = vec![
        json!({"id": "P1", "title": "Big villa", "price": 120}),
        json!({"id": "P3", "title": "Loft, renovated", "price": 70, "location": {"city": "Marbella"}}),
    ];
    file.extend((0..1200).map(|i| json!({"id": format!("N{i:04}"), "name": format!("New {i}")})));
    let resp = upload(
        &b,
        s,
        "day2.json",
        serde_json::to_vec(&file).unwrap(),
        "full",
    )
    .await;
    resp.assert_status_is_ok();
    let html = resp.0.into_body().into_string().await.unwrap();
    assert!(
        html.contains("<dd>1,200</dd>"),
        "thousands separators: {html}"
    );
    assert!(
        html.contains("<td>P1</td><td>Big villa</td><td><span class=\"badge import-updated\">changed</span></td><td>price and title</td>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<td>P2</td><td>Flat</td><td><span class=\"badge import-deleted\">deleted</span></td>"
        ),
        "the record a full import deletes is listed: {html}"
    );
    assert!(html.contains("<td>New 0</td>"), "{html}");
    assert!(html.contains("more records"), "{html}");
    let page = b
        .post_and_follow(
            &format!("/ui/sources/{s}/import/confirm"),
            &[("upload", &upload_id(&html)), ("mode", "full")],
        )
        .await;
    assert!(page.contains("1,200 created"), "{page}");
    // What comes next is offered, and leads to the sync form with the source chosen.
    let next = format!("/ui/targets/{t}?source={s}#sync");
    assert!(
        page.contains(&format!(
            "href=\"{next}\" class=\"next\">now sync it to website →</a>"
        )),
        "{page}"
    );
    let (_, target_page, _) = b.get(&next).await;
    assert!(
        target_page.contains(&format!("<option value=\"{s}\" selected>")),
        "{target_page}"
    );
    assert!(target_page.contains("What this target does: your website reads these records"));

    // The sync's plan names records and says what happens in words.
    let plan = b
        .post_and_follow_page(
            "/ui/sync/preview",
            &[("source", &s.to_string()), ("target", &t.to_string())],
        )
        .await;
    assert!(plan.contains("<td>P2</td><td>Flat</td>"), "{plan}");
    assert!(plan.contains(">changed on both sides</span>"), "{plan}");
    // The sync's result links to the conflicts it raised.
    let done = b
        .post_and_follow(
            "/ui/sync",
            &[("source", &s.to_string()), ("target", &t.to_string())],
        )
        .await;
    assert!(done.contains("2 new warnings"), "{done}");
    assert!(
        done.contains(&format!(
            "href=\"/ui/warnings?status=open&#38;target={t}\" class=\"next\">2 conflicts need a decision →</a>"
        )),
        "{done}"
    );
    // The warnings, with the records' titles and their kinds in words.
    let (_, warnings, _) = b.get(&format!("/ui/warnings?status=open&target={t}")).await;
    assert!(warnings.contains("<p>2 warnings.</p>"), "{warnings}");
    assert!(
        warnings.contains("<span class=\"title\">Villa with sea view</span>"),
        "{warnings}"
    );
    assert!(
        warnings.contains(">changed on both sides</span>"),
        "{warnings}"
    );
    assert!(!warnings.contains(">conflict</span>"), "{warnings}");
    // The sync's run: by the key's name; P3, where only the conflicting field changed, was
    // not written and says so; P1's fields in sub-rows; no "(s)".
    let runs = api.call("GET", "/runs?limit=1", None).await.expect(200);
    let run = runs[0]["id"].as_i64().unwrap();
    let (_, run_page, _) = b.get(&format!("/ui/runs/{run}")).await;
    assert!(
        run_page.contains("By key “default” in the dashboard"),
        "{run_page}"
    );
    let p3 = run_page.find(">P3</a>").expect("P3 is listed");
    let p3_line = &run_page[run_page[..p3].rfind("<li>").unwrap()..p3];
    assert!(p3_line.contains("nothing written: warning #"), "{p3_line}");
    assert!(p3_line.contains("(changed on both sides)"), "{p3_line}");
    assert!(!run_page.contains("(s)"), "{run_page}");
    let (_, runs_page, _) = b.get("/ui/runs").await;
    assert!(
        runs_page.contains("<td class=\"nowrap\">import</td>"),
        "{runs_page}"
    );
    // Each type says what it does today.
    let (_, targets_page, _) = b.get("/ui/targets").await;
    assert!(
        targets_page.contains("webhook — records are kept here; nothing is sent yet"),
        "{targets_page}"
    );
    // The files the API refuses, refused the same way.
    for (name, bytes, said) in [
        (
            "one.json",
            &b"{\"id\": \"X1\", \"title\": \"Villa\"}\n"[..],
            "this is a single object",
        ),
        (
            "export.csv",
            &b"id,title\nX1,Villa\n"[..],
            "this file looks like CSV",
        ),
    ] {
        let resp = upload(&b, s, name, bytes.to_vec(), "upsert").await;
        resp.assert_status(StatusCode::SEE_OTHER);
        let flash = set_cookie(&resp, "sm_flash").unwrap();
        let flash: String = form_urlencoded::parse(flash.split(';').next().unwrap().as_bytes())
            .map(|(_, v)| v.into_owned())
            .collect();
        assert!(flash.contains(said), "{name}: {flash}");
    }
    let records = api
        .call("GET", &format!("/sources/{s}/properties?limit=1"), None)
        .await;
    assert_eq!(records.total, Some(1202), "nothing of them was imported");
}
