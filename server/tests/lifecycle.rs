//! The `semrec` binary as an operator runs it: bad set-ups fail with one clear
//! line, a stop + restart keeps the catalog, profiles and clicks (and finishes a
//! demo catalog load a stopped start left unfinished), and CLI commands beside
//! the server leave its PostgreSQL running.
//!
//! These run the real binary against a real local PostgreSQL cluster (in a
//! temporary data directory) and the real model; HTTP goes through `curl`.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use pg_local::{ClusterOptions, LocalCluster};
use sqlx::{Connection, PgConnection};
use test_support::binary::{expect_setup_error, Server};
use test_support::paths::{fixture_catalog_path, model_dir};
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

fn semrec(scratch: &Scratch) -> Command {
    test_support::binary::command(BIN, scratch)
}

/// `semrec serve` with this demo catalog and these environment variables set
/// (`None`: removed), once ready.
fn serve(scratch: &Scratch, catalog: &Path, env: &[(&str, Option<&str>)]) -> Server {
    let mut cmd = semrec(scratch);
    cmd.env("SEMREC_DEMO_CATALOG", catalog);
    for (key, value) in env {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    Server::start(cmd)
}

#[test]
fn missing_model_is_one_clear_line() {
    let scratch = Scratch::new("nomodel");
    let empty = scratch.join("empty-model");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_MODEL_DIR", &empty);
    let line = expect_setup_error(cmd);
    assert!(line.contains("scripts/fetch-model.sh"), "{line}");
    assert!(line.contains(&empty.display().to_string()), "{line}");
    // The local cluster it started for the attempt was stopped again.
    assert!(!scratch.join("pgdata/postmaster.pid").exists());
}

#[test]
fn model_file_with_wrong_hash_is_one_clear_line() {
    let scratch = Scratch::new("badhash");
    let model = scratch.join("model");
    // Link the real weights, but carry a tampered config.json.
    link_tree(&model_dir(), &model);
    let config = model.join("config.json");
    let mut text = std::fs::read_to_string(&config).unwrap();
    std::fs::remove_file(&config).unwrap();
    text.push('\n');
    std::fs::write(&config, text).unwrap();
    assert!(
        model.join("SHA256SUMS").exists(),
        "the model folder has no SHA256SUMS: run scripts/fetch-model.sh"
    );
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_MODEL_DIR", &model);
    let line = expect_setup_error(cmd);
    assert!(line.contains("wrong sha256"), "{line}");
    assert!(line.contains("config.json"), "{line}");
    assert!(line.contains("scripts/fetch-model.sh"), "{line}");
}

#[test]
fn port_in_use_is_one_clear_line() {
    let scratch = Scratch::new("port");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_ADDR", format!("127.0.0.1:{port}"));
    let line = expect_setup_error(cmd);
    assert!(
        line.contains(&format!("port {port} is already in use")),
        "{line}"
    );
    assert!(line.contains("SEMREC_ADDR"), "{line}");
    // Refused before anything slow: no cluster was created.
    assert!(!scratch.join("pgdata").exists());
}

#[test]
fn unreachable_database_url_is_one_clear_line() {
    let scratch = Scratch::new("nodb");
    // A port nobody listens on: bind, note it, release it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = semrec(&scratch);
    cmd.env(
        "DATABASE_URL",
        format!("postgres://semrec:secret@127.0.0.1:{port}/semrec"),
    );
    let line = expect_setup_error(cmd);
    assert!(line.contains("cannot reach PostgreSQL"), "{line}");
    assert!(line.contains("DATABASE_URL"), "{line}");
    assert!(!line.contains("secret"), "the password leaked: {line}");
}

#[test]
fn postgres_without_pgvector_is_one_clear_line() {
    let scratch = Scratch::new("novector");
    let Some(bin) = test_support::postgres::without_pgvector(&scratch.join("pg")) else {
        eprintln!("skipped: no pg_config");
        return;
    };
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_PG_BIN", bin);
    let line = expect_setup_error(cmd);
    assert!(line.contains("pgvector"), "{line}");
    assert!(line.contains("scripts/setup.sh"), "{line}");
}

#[test]
fn empty_or_short_admin_password_is_one_clear_line() {
    // Empty (common in env and compose files), whitespace only, and short.
    for (password, says) in [
        ("", "is set but empty"),
        ("   ", "is set but empty"),
        ("a", "too short (1 characters)"),
        ("elevenchars", "too short (11 characters)"),
    ] {
        let scratch = Scratch::new("adminpw");
        let mut cmd = semrec(&scratch);
        cmd.env("SEMREC_ADMIN_PASSWORD", password);
        let line = expect_setup_error(cmd);
        assert!(line.contains("SEMREC_ADMIN_PASSWORD"), "{line}");
        assert!(line.contains(says), "{password:?}: {line}");
        assert!(line.contains("at least 12"), "{line}");
        // Refused before anything started: no database cluster was created.
        assert!(!scratch.join("pgdata").exists(), "{password:?}");
    }
}

#[test]
fn restart_keeps_catalog_profiles_and_clicks() {
    let scratch = Scratch::new("restart");
    let catalog = fixture_catalog_path();

    let server = serve(&scratch, &catalog, &[]);
    let ready = server.get_json("/api/v1/health/ready");
    let catalog_size = ready["catalog_size"].as_i64().unwrap();
    assert!(catalog_size >= 10, "demo catalog not imported: {ready}");

    let jar = scratch.join("cookies.txt");
    server.sign_in_with_interests(&jar, "restart-tester", "aircraft, jazz", "I like planes");
    let recs = server.recommend(&jar);
    server.open_first(&jar, &recs);
    let admin_jar = scratch.join("admin-cookies.txt");
    server.call(
        &admin_jar,
        "admin_sign_in",
        &[("user", "admin"), ("password", "test-admin-password")],
    );
    let before = server.call(&admin_jar, "get_dashboard", &[]);
    assert_eq!(before["clicks"], 1, "{before}");

    // A CLI command beside the running server uses its PostgreSQL and leaves it running.
    let out = semrec(&scratch).args(["api-key", "list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ready = server.get_json("/api/v1/health/ready");
    assert_eq!(
        ready["catalog_size"].as_i64(),
        Some(catalog_size),
        "the server lost its database: {ready}"
    );

    let pgdata = scratch.join("pgdata");
    server.stop();
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "the local PostgreSQL was left running"
    );

    // As if the first start had been stopped mid-import: part of the catalog
    // (items never shown, so the events stay), the demo load not completed.
    let removed = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let cluster = LocalCluster::start(ClusterOptions::new(pgdata.clone()))
            .await
            .unwrap();
        let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
        let reset = sqlx::query(
            "UPDATE catalog_seeds SET completed_at = NULL WHERE name = 'demo' AND completed_at IS NOT NULL",
        )
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(reset, 1, "the first start recorded its completed demo load");
        let removed = sqlx::query(
            "DELETE FROM items WHERE id NOT IN (SELECT item_id FROM impression_items)",
        )
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
        conn.close().await.unwrap();
        cluster.stop().await.unwrap();
        removed
    });
    assert!(removed > 0, "no item was left out of every list");

    let server = serve(&scratch, &catalog, &[]);
    let ready = server.get_json("/api/v1/health/ready");
    assert_eq!(
        ready["catalog_size"].as_i64(),
        Some(catalog_size),
        "the unfinished demo load was resumed: {ready}"
    );
    // Same cookie jar: the user session, the profile and the click survived.
    let profile = server.call(&jar, "get_profile", &[]);
    assert_eq!(profile["handle"], "restart-tester", "{profile}");
    assert_eq!(profile["interests"][0], "aircraft", "{profile}");
    assert_eq!(profile["about"], "I like planes", "{profile}");
    let after = server.call(&admin_jar, "get_dashboard", &[]);
    assert_eq!(after["clicks"], 1, "{after}");
    assert_eq!(after["impressions"], before["impressions"], "{after}");
    server.stop();
}

#[test]
fn admin_sessions_end_when_the_server_restarts_with_another_password() {
    let scratch = Scratch::new("adminsession");
    let catalog = fixture_catalog_path();
    let jar = scratch.join("admin-cookies.txt");
    let server = serve(
        &scratch,
        &catalog,
        &[("SEMREC_ADMIN_PASSWORD", Some("the-first-password"))],
    );
    server.call(
        &jar,
        "admin_sign_in",
        &[("user", "admin"), ("password", "the-first-password")],
    );
    assert_eq!(server.status_of(&jar, "get_dashboard"), "200");
    server.stop();

    // Restarted with a new password: the old cookie no longer opens the dashboard.
    let server = serve(
        &scratch,
        &catalog,
        &[("SEMREC_ADMIN_PASSWORD", Some("the-second-password"))],
    );
    assert_eq!(server.status_of(&jar, "get_dashboard"), "401");
    server.call(
        &jar,
        "admin_sign_in",
        &[("user", "admin"), ("password", "the-second-password")],
    );
    assert_eq!(server.status_of(&jar, "get_dashboard"), "200");
    server.stop();

    // Restarted without a password: the one generated ends them too.
    let server = serve(&scratch, &catalog, &[("SEMREC_ADMIN_PASSWORD", None)]);
    assert_eq!(server.status_of(&jar, "get_dashboard"), "401");
    server.stop();
}

/// Mirrors real links of every file of `src` into `dst`.
fn link_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let target = dst.join(entry.file_name());
        if path.is_dir() {
            link_tree(&path, &target);
        } else {
            std::os::unix::fs::symlink(&path, &target).unwrap();
        }
    }
}
