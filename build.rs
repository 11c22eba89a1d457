//! Tells the tests whether a PostgreSQL server was given (`SYNC_MANAGER_TEST_PG`) when they
//! were built: without one, the PostgreSQL half of the suite is reported as ignored, not as
//! passed; whether they run as root (the disk-full test needs it); and whether a browser is
//! installed.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rerun-if-env-changed=SYNC_MANAGER_TEST_PG");
    // The disk-full test mounts a small tmpfs, which needs root.
    println!("cargo::rustc-check-cfg=cfg(as_root)");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:"));
    if uid.and_then(|l| l.split_whitespace().nth(2)) == Some("0") {
        println!("cargo::rustc-cfg=as_root");
    }
    // The browser test needs chromium and chromedriver; without them (outside CI, where their
    // absence is an error) it is reported as ignored. Installing a package changes /usr/bin.
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-changed=/usr/bin");
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if ci || (on_path("chromium") && on_path("chromedriver")) {
        println!("cargo::rustc-cfg=browser_tests");
    }
    if std::env::var("SYNC_MANAGER_TEST_PG").is_ok_and(|u| u.starts_with("postgres")) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}
