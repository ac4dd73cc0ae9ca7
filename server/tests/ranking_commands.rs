//! `semrec recommend` (as the README's examples run it) and `semrec train`: the real
//! binary, a real local PostgreSQL and the real model, on the fixture catalogue.

use std::process::{Command, Output};

use test_support::paths::fixture_catalog_path;
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

fn semrec(scratch: &Scratch, args: &[&str]) -> Output {
    let mut cmd: Command = test_support::binary::command(BIN, scratch);
    cmd.args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The ids of a `--json` list, in order.
fn ids(out: &Output) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&ok(out)).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn recommend_prints_what_the_engine_serves_and_records_nothing() {
    let scratch = Scratch::new("recommend-cli");
    let catalog = fixture_catalog_path();
    ok(&semrec(&scratch, &["import", catalog.to_str().unwrap()]));

    // A profile's list: aviation first for an aviation interest, in a table.
    let table = ok(&semrec(
        &scratch,
        &["recommend", "--interest", "aircraft", "-k", "3"],
    ));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "a header and 3 rows: {table}");
    assert!(
        lines[0].contains("title") && lines[0].contains("because"),
        "{table}"
    );
    assert!(lines[1].trim_start().starts_with("1 "), "{table}");
    assert!(
        table.contains("aircraft"),
        "explained by the interest: {table}"
    );

    let json = ids(&semrec(
        &scratch,
        &["recommend", "--interest", "aircraft", "-k", "4", "--json"],
    ));
    assert_eq!(json.len(), 4);
    assert!(
        json[..2]
            .iter()
            .any(|id| ["planes", "jets", "glider"].contains(&id.as_str())),
        "{json:?}"
    );

    // History by id and by title: both are consumed, so neither comes back.
    let history = ids(&semrec(
        &scratch,
        &[
            "recommend",
            "--history-item",
            "planes",
            "--history",
            "How jet engines work",
            "--json",
        ],
    ));
    assert!(!history.contains(&"planes".into()) && !history.contains(&"jets".into()));

    // Similar items: the item itself is left out; --before ranks too.
    let similar = ids(&semrec(
        &scratch,
        &["recommend", "--similar", "planes", "--json"],
    ));
    assert!(
        !similar.is_empty() && !similar.contains(&"planes".into()),
        "{similar:?}"
    );
    let before = ids(&semrec(
        &scratch,
        &[
            "recommend",
            "--before",
            "--interest",
            "aircraft",
            "-k",
            "4",
            "--json",
        ],
    ));
    assert_eq!(before.len(), 4);

    // Bad input: one clear line and a failing exit code.
    for (args, says) in [
        (vec!["recommend"], "profile"),
        (
            vec!["recommend", "--history-item", "no-such-item"],
            "no-such-item",
        ),
        (
            vec!["recommend", "--similar", "no-such-item"],
            "no-such-item",
        ),
        (vec!["recommend", "--interest", "x", "-k", "0"], "k"),
    ] {
        let out = semrec(&scratch, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("semrec: error:") && last.contains(says),
            "{args:?}: {err}"
        );
    }

    // Training with no clicks logged: exit code 2, and how many are needed.
    let out = semrec(&scratch, &["train"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("0 clicks") && said.contains("1000 needed"),
        "{said}"
    );

    // Nothing was recorded: previews write no impression.
    let impressions = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let cluster =
            pg_local::LocalCluster::start(pg_local::ClusterOptions::new(scratch.pgdata()))
                .await
                .unwrap();
        let pool = sqlx::PgPool::connect(cluster.database_url()).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM impressions")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    });
    assert_eq!(impressions, 0);
}
