//! Tells the tests whether a PostgreSQL server was given (`SYNC_MANAGER_TEST_PG`) when they
//! were built: without one, the PostgreSQL half of the suite is reported as ignored, not as
//! passed.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rerun-if-env-changed=SYNC_MANAGER_TEST_PG");
    if std::env::var("SYNC_MANAGER_TEST_PG").is_ok_and(|u| u.starts_with("postgres")) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}
