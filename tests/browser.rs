//! The dashboard in a real browser: headless Chromium driven through chromedriver (fantoccini,
//! without a TLS stack) against the real server, as an agency employee would use it. No sleeps:
//! every step waits for the element the next page shows. Screenshots of the main pages go to
//! `target/ui-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (`.ci/run` installs Debian's `chromium` and
//! `chromium-driver`); without them the test is reported as ignored, except in CI (`CI=true`),
//! where their absence is a failure.
mod common;

use common::server::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The page (its whole text) once it holds `text`: waits for an element that contains it.
async fn wait_text(c: &Client, text: &str) -> String {
    let xpath = format!("//*[contains(normalize-space(.), {})]", xpath_literal(text));
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("the page never showed {text:?}: {e}"));
    c.source().await.unwrap()
}

fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("could not click {css}: {e}"));
}

/// Clicks a button that asks for confirmation with the script (`data-confirm`), and says yes.
async fn click_confirmed(c: &Client, css: &str) {
    click(c, css).await;
    if c.get_alert_text().await.is_ok() {
        c.accept_alert().await.unwrap();
    }
}

async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The browser sees the app at `http://localhost:PORT` (a secure context for cookies).
struct Site {
    server: Server,
    base: String,
    key: String,
}

impl Site {
    fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, json) = self.server.api(method, path, &self.key, body.as_ref());
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json}"
        );
        json
    }
}

/// A conflict on P1 (title and price), a record P2 whose title is a script, and two more
/// conflicts (P3, P4) for the bulk decision.
fn prepare(site: &Site) -> (i64, i64) {
    let s = site.api(
        "POST",
        "/sources",
        Some(json!({"name": "portal", "type": "scraped"})),
    )["id"]
        .as_i64()
        .unwrap();
    let t = site.api("POST", "/targets", Some(json!({"name": "website"})))["id"]
        .as_i64()
        .unwrap();
    let records = |price: u32, title: &str| {
        json!({"data": [
            {"id": "P1", "title": format!("Villa {title}"), "price": price},
            {"id": "P2", "title": "<script>alert('x')</script>", "price": 5},
            {"id": "P3", "title": format!("Flat {title}"), "price": price + 1},
            {"id": "P4", "title": format!("House {title}"), "price": price + 2},
        ]})
    };
    site.api(
        "POST",
        &format!("/sources/{s}/import"),
        Some(records(100, "one")),
    );
    site.api("POST", &format!("/sync/{s}/{t}"), None);
    for id in ["P1", "P3", "P4"] {
        site.api(
            "PATCH",
            &format!("/targets/{t}/properties/{id}"),
            Some(json!({"data": {"title": format!("{id} edited on the website"), "price": 1}})),
        );
    }
    site.api(
        "POST",
        &format!("/sources/{s}/import"),
        Some(records(200, "two")),
    );
    (s, t)
}

async fn run_scenarios(c: &Client, site: &Site, admin_key: &str, passed: &mut Vec<&'static str>) {
    let base = &site.base;
    let (s, t) = prepare(site);

    // 1. Log in with the agency's key.
    c.goto(&format!("{base}/ui/login")).await.unwrap();
    shot(c, "login").await;
    c.find(Locator::Css("#key"))
        .await
        .unwrap()
        .send_keys(&site.key)
        .await
        .unwrap();
    click(c, "#login button[type=submit]").await;
    wait_text(c, "Overview").await;
    passed.push("log in");

    // 2. A sync shows its plan, then raises the conflicts.
    c.goto(&format!("{base}/ui/targets/{t}")).await.unwrap();
    shot(c, "target").await;
    click(c, "#sync button[type=submit]").await;
    wait_text(c, "Nothing has been written yet").await;
    shot(c, "sync-plan").await;
    click(c, "#confirm button[type=submit]").await;
    wait_text(c, "synced:").await;
    // The result says where the conflicts are; its link leads to them, by title.
    wait_text(c, "3 conflicts need a decision →").await;
    shot(c, "sync-result").await;
    click(c, "p.flash a.next").await;
    let html = wait_text(c, "P1 edited on the website").await;
    assert!(html.contains("changed on both sides"), "kinds in words");
    assert!(html.contains("3 warnings."), "{html}");
    shot(c, "warnings").await;
    c.goto(&format!("{base}/ui")).await.unwrap();
    wait_text(c, "3 open warnings").await;
    shot(c, "overview").await;
    passed.push("see the warnings a conflicting sync raised");

    // 3. One warning, field by field: keep the website's title, take the source's price.
    let warnings = site.api("GET", "/warnings?status=open", None);
    let w1 = warnings
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["external_id"] == "P1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    c.goto(&format!("{base}/ui/warnings/{w1}")).await.unwrap();
    wait_text(c, "Website now").await;
    shot(c, "warning").await;
    click(c, "input[name='f:price'][value='take_source']").await;
    click(c, "#resolve button[type=submit]").await;
    wait_text(c, &format!("warning {w1} resolved")).await;
    let p1 = site.api("GET", &format!("/targets/{t}/properties/P1"), None);
    assert_eq!(p1["data"]["title"], "P1 edited on the website");
    assert_eq!(p1["data"]["price"], 200);
    passed.push("resolve one field each way");

    // 4. Bulk: tick the two others, take the source's values.
    c.goto(&format!("{base}/ui/warnings?status=open"))
        .await
        .unwrap();
    wait_text(c, "P3").await;
    for b in c.find_all(Locator::Css("input[name=ids]")).await.unwrap() {
        b.click().await.unwrap();
    }
    click(c, "button[name=action][value=take_source]").await;
    wait_text(c, "for 4 fields of 2 records").await;
    shot(c, "bulk-confirm").await;
    click(c, "#confirm button[type=submit]").await;
    wait_text(c, "2 warnings resolved").await;
    let p3 = site.api("GET", &format!("/targets/{t}/properties/P3"), None);
    assert_eq!(p3["data"]["title"], "Flat two");
    passed.push("bulk-resolve");

    // 5. Restore the version of P3 from before the bulk decision.
    c.goto(&format!("{base}/ui/targets/{t}/records/P3"))
        .await
        .unwrap();
    wait_text(c, "History").await;
    shot(c, "record").await;
    click_confirmed(c, ".timeline li:first-child form button").await;
    wait_text(c, "was restored").await;
    let p3 = site.api("GET", &format!("/targets/{t}/properties/P3"), None);
    assert_eq!(p3["data"]["title"], "P3 edited on the website");
    assert_eq!(p3["has_manual_changes"], true);
    passed.push("restore a snapshot");

    // 6. Import a file through the form: its preview first, then the import.
    let file = std::env::temp_dir().join(format!("sm-browser-{}.json", std::process::id()));
    std::fs::write(
        &file,
        r#"[{"id": "N1", "title": "New flat"}, {"title": "no id"}, {"id": "P1", "title": "Villa three", "price": 300}]"#,
    )
    .unwrap();
    c.goto(&format!("{base}/ui/sources/{s}")).await.unwrap();
    shot(c, "source").await;
    c.find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    click(c, "#import button[type=submit]").await;
    let preview = wait_text(c, "Nothing has been written yet").await;
    assert!(
        preview.contains("no &quot;external_id&quot;") || preview.contains("no \"external_id\"")
    );
    // The records it would change, by title, with what changes.
    assert!(
        preview.contains("Villa three") && preview.contains("price and title"),
        "{preview}"
    );
    assert!(preview.contains("New flat"), "{preview}");
    shot(c, "import-preview").await;
    let n1 = site.server.api(
        "GET",
        &format!("/sources/{s}/properties/N1"),
        &site.key,
        None,
    );
    assert_eq!(n1.0, 404, "nothing is imported before the confirmation");
    click(c, "#confirm button[type=submit]:not([name])").await;
    wait_text(c, "1 created, 1 updated").await;
    wait_text(c, "now sync it to website →").await;
    let n1 = site.server.api(
        "GET",
        &format!("/sources/{s}/properties/N1"),
        &site.key,
        None,
    );
    assert_eq!(n1.0, 200, "{n1:?}");
    shot(c, "run").await;
    passed.push("import a file through the form with its preview");

    // 7. Roll that import back.
    let import_run = site.api("GET", "/runs?limit=1", None)[0]["id"]
        .as_i64()
        .unwrap();
    c.goto(&format!("{base}/ui/runs/{import_run}/rollback"))
        .await
        .unwrap();
    wait_text(c, "Roll back run").await;
    shot(c, "rollback-confirm").await;
    click(c, "#confirm button[type=submit]").await;
    wait_text(c, &format!("run {import_run} was rolled back")).await;
    let n1 = site.server.api(
        "GET",
        &format!("/sources/{s}/properties/N1"),
        &site.key,
        None,
    );
    assert_eq!(n1.0, 404, "the record the import created is gone");
    passed.push("roll back a run");

    // 8. A record holding a script shows it as text (and runs nothing).
    c.goto(&format!("{base}/ui/targets/{t}/records/P2"))
        .await
        .unwrap();
    wait_text(c, "<script>alert('x')</script>").await;
    assert!(c.get_alert_text().await.is_err(), "no alert was raised");
    passed.push("a script in the data renders as text");

    // 9. A form posted from another site is refused.
    let evil = format!(
        "data:text/html,<form method=post action=\"{base}/ui/sources\"><input name=name \
         value=evil><input name=type value=json><button id=go>go</button></form>"
    );
    c.goto(&evil).await.unwrap();
    click(c, "#go").await;
    wait_text(c, "sent from another site").await;
    let sources = site.api("GET", "/sources", None);
    assert_eq!(sources.as_array().unwrap().len(), 1, "nothing was created");
    passed.push("a form from another origin is refused");

    // The other main pages, for the screenshots.
    for (name, path) in [
        ("sources", "/ui/sources".to_string()),
        ("targets", "/ui/targets".to_string()),
        ("records", format!("/ui/targets/{t}/records")),
        ("runs", "/ui/runs".to_string()),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        c.wait().for_element(Locator::Css("main h1")).await.unwrap();
        shot(c, name).await;
    }

    // 10. The admin: log out, log in with the admin key, the tenants page.
    click(c, "form.who button").await;
    wait_text(c, "You are logged out").await;
    c.find(Locator::Css("#key"))
        .await
        .unwrap()
        .send_keys(admin_key)
        .await
        .unwrap();
    click(c, "#login button[type=submit]").await;
    wait_text(c, "Create a tenant").await;
    shot(c, "admin").await;
    passed.push("log out, and in as the admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
)]
async fn the_dashboard_in_a_real_browser() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !found("chromedriver") || !found("chromium") {
        assert!(
            !ci,
            "CI needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: chromium or chromedriver is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("ui.db").display());
    let server = Server::start(&url, &[]);
    let admin_key = server
        .admin_key
        .clone()
        .expect("a new database prints the admin key");
    let (status, tenant) = server.api(
        "POST",
        "/admin/tenants",
        &admin_key,
        Some(&json!({"name": "Costa Homes"})),
    );
    assert_eq!(status, 201, "{tenant}");
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let site = Site {
        base: format!("http://localhost:{port}"),
        key: tenant["api_key"].as_str().unwrap().to_string(),
        server,
    };

    let driver_port = free_port();
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            "--window-size=1280,1024", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            format!("--user-data-dir={}", profile.path().display()),
        ]}),
    );
    let webdriver = format!("http://127.0.0.1:{driver_port}");
    // chromedriver takes a moment to listen.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", driver_port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&webdriver)
        .await;
    let client = client.expect("chromedriver starts a browser");
    let mut passed = Vec::new();
    let outcome =
        std::panic::AssertUnwindSafe(run_scenarios(&client, &site, &admin_key, &mut passed));
    let result = futures_util::FutureExt::catch_unwind(outcome).await;
    let _ = client.close().await;
    drop(driver);
    for name in &passed {
        eprintln!("browser scenario passed: {name}");
    }
    eprintln!("browser scenarios: {} passed", passed.len());
    // For `.ci/run`'s summary (test output is captured).
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("scenarios.txt"),
        format!("{} passed: {}\n", passed.len(), passed.join("; ")),
    );
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
