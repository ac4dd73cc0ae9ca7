//! What operators plug in, against the real binary: `/metrics` on its own
//! loopback address (never the public port) whose counters and histograms
//! grow while load runs and move by exactly the load sent; request ids kept, replaced or made, and
//! named in the request's log lines; and the Grafana dashboard naming only
//! metrics a running server exports.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use test_support::binary::Server;
use test_support::paths::{fixture_catalog_path, workspace};
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

/// One sample of the exposition: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition's samples (comments skipped).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (name_end, labels, rest) = match line.find('{') {
                Some(open) => {
                    let (labels, close) = parse_labels(&line[open + 1..]);
                    (open, labels, &line[open + 1 + close + 1..])
                }
                None => {
                    let space = line.find(' ').expect("a value");
                    (space, BTreeMap::new(), &line[space..])
                }
            };
            let value = rest.split_whitespace().next().expect("a value");
            Sample {
                name: line[..name_end].to_string(),
                labels,
                value: value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line}")),
            }
        })
        .collect()
}

/// `k="v",k2="v2"}` → the labels and the index of the closing brace.
fn parse_labels(s: &str) -> (BTreeMap<String, String>, usize) {
    let mut labels = BTreeMap::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    loop {
        if bytes[i] == b'}' {
            return (labels, i);
        }
        if bytes[i] == b',' {
            i += 1;
            continue;
        }
        let eq = i + s[i..].find('=').expect("=");
        let key = s[i..eq].to_string();
        let mut value = String::new();
        let mut j = eq + 2; // past `="`
        while bytes[j] != b'"' {
            if bytes[j] == b'\\' {
                j += 1;
            }
            value.push(bytes[j] as char);
            j += 1;
        }
        labels.insert(key, value);
        i = j + 1;
    }
}

/// The value of the sample `name` with exactly these labels; 0 when absent (a
/// counter or histogram series that has not been touched yet).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map_or(0.0, |s| s.value)
}

fn sum(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// `curl -i`: status, response headers (lower-case names), body.
fn request(args: &[&str], url: &str) -> (u16, Vec<(String, String)>, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "60"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status from {url}: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn scrape(server: &Server) -> (String, Vec<Sample>) {
    let url = server.metrics.as_deref().expect("metrics are on");
    let (status, headers, body) = request(&[], url);
    assert_eq!(status, 200, "{body}");
    assert!(
        header(&headers, "content-type")[0].starts_with("application/openmetrics-text"),
        "{headers:?}"
    );
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    let parsed = samples(&body);
    (body, parsed)
}

#[test]
fn metrics_count_a_bounded_load_and_are_not_on_the_public_port() {
    let scratch = Scratch::new("metrics");
    let mut cmd = test_support::binary::command(BIN, &scratch);
    cmd.env("SEMREC_DEMO_CATALOG", fixture_catalog_path())
        // Five keyless API calls per address, then 429s.
        .env("SEMREC_API_RATE", "0.001")
        .env("SEMREC_API_BURST", "5")
        .env("SEMREC_MAX_IN_FLIGHT", "3");
    let server = Server::start(cmd);
    let metrics = server.metrics.clone().expect("metrics address logged");
    assert!(metrics.starts_with("http://127.0.0.1:"), "{metrics}");
    assert_ne!(
        metrics.trim_end_matches("/metrics"),
        server.base,
        "metrics share the public port"
    );

    let (_, before) = scrape(&server);
    // The public port has no /metrics (the web app's 404 page, not the metrics).
    let (status, _, body) = request(&[], &format!("{}/metrics", server.base));
    assert_eq!(status, 404);
    assert!(!body.contains("semrec_http"), "{body}");
    // The metrics address has nothing else.
    let other = metrics.replace("/metrics", "/api/v1/health/live");
    assert_eq!(request(&[], &other).0, 404);
    // A page that re-points its own name at 127.0.0.1 (DNS rebinding) is refused.
    assert_eq!(request(&["-H", "Host: evil.example:9464"], &metrics).0, 421);

    // A signed-in user's list: three server functions, the profile embedded.
    let jar = scratch.join("jar");
    server.sign_in_with_interests(&jar, "ada", "space exploration", "");
    let list = server.recommend(&jar);
    assert!(!list["items"].as_array().unwrap().is_empty(), "{list}");

    // 50 requests across routes: 20 + 5 answered, 10 API calls without a key
    // (5 × 401, then 5 × 429), 5 unknown pages, 10 sign-in pages.
    let base = &server.base;
    // The first 20 run beside repeated scrapes: counts read during the load
    // only ever grow, and the last one has them all.
    let live_count = |samples: &[Sample]| {
        value(
            samples,
            "semrec_http_request_duration_seconds_count",
            &[("route", "/api/v1/health/live"), ("method", "GET")],
        )
    };
    let start = live_count(&before);
    let loader = {
        let url = format!("{base}/api/v1/health/live");
        std::thread::spawn(move || {
            for _ in 0..20 {
                assert_eq!(request(&[], &url).0, 200);
            }
        })
    };
    let mut seen = vec![start];
    while !loader.is_finished() {
        seen.push(live_count(&scrape(&server).1));
    }
    loader.join().expect("the load");
    seen.push(live_count(&scrape(&server).1));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last().unwrap() - start, 20.0, "{seen:?}");
    eprintln!("live request counts seen during the load: {seen:?}");
    for _ in 0..5 {
        assert_eq!(request(&[], &format!("{base}/api/v1/openapi.json")).0, 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (status, _, _) = request(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                "{}",
            ],
            &format!("{base}/api/v1/recommendations"),
        );
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
    for i in 0..5 {
        assert_eq!(request(&[], &format!("{base}/no-such-page-{i}")).0, 404);
    }
    for _ in 0..10 {
        assert_eq!(request(&[], &format!("{base}/")).0, 200);
    }

    let (text, after) = scrape(&server);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let responses = "semrec_http_responses_total";
    let count = "semrec_http_request_duration_seconds_count";
    let live = [("route", "/api/v1/health/live"), ("method", "GET")];
    assert_eq!(
        delta(responses, &[live[0], live[1], ("status_class", "2xx")]),
        20.0
    );
    assert_eq!(delta(count, &live), 20.0);
    // Every observation falls in the +Inf bucket; the route's sum of seconds grew.
    let inf = [live[0], live[1], ("le", "+Inf")];
    assert_eq!(
        delta("semrec_http_request_duration_seconds_bucket", &inf),
        20.0
    );
    assert!(delta("semrec_http_request_duration_seconds_sum", &live) > 0.0);
    let openapi = [("route", "/api/v1/openapi.json"), ("method", "GET")];
    assert_eq!(delta(count, &openapi), 5.0);
    let rec = [("route", "/api/v1/recommendations"), ("method", "POST")];
    assert_eq!(
        delta(responses, &[rec[0], rec[1], ("status_class", "4xx")]),
        10.0
    );
    assert_eq!(
        delta("semrec_http_refusals_total", &[rec[0], ("status", "429")]),
        5.0
    );
    // Unknown paths share one label value (5 pages and the public /metrics).
    let unmatched = [("route", "unmatched"), ("method", "GET")];
    assert_eq!(
        delta(
            responses,
            &[unmatched[0], unmatched[1], ("status_class", "4xx")]
        ),
        6.0
    );
    assert_eq!(
        delta(
            responses,
            &[("route", "/"), ("method", "GET"), ("status_class", "2xx")]
        ),
        10.0
    );
    // Server functions by their endpoint.
    let fns = [("route", "/api/get_recommendations"), ("method", "POST")];
    assert_eq!(delta(count, &fns), 1.0);
    // Nothing else was counted: 50 + the public /metrics + 3 server functions.
    assert_eq!(sum(&after, responses) - sum(&before, responses), 54.0);
    assert_eq!(value(&after, "semrec_http_requests_in_flight", &[]), 0.0);

    // The profile was embedded: a batch through the queue, a cache miss.
    assert!(
        delta("semrec_embed_batch_texts_count", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        delta("semrec_embedding_cache_misses_total", &[]) >= 1.0,
        "{text}"
    );
    assert_eq!(value(&after, "semrec_embed_queue_depth", &[]), 0.0);
    assert_eq!(value(&after, "semrec_embed_queue_capacity", &[]), 64.0);
    assert_eq!(value(&after, "semrec_ranking_in_flight", &[]), 0.0);
    assert_eq!(value(&after, "semrec_ranking_in_flight_limit", &[]), 3.0);
    let requests = [("pool", "requests")];
    assert!(
        value(&after, "semrec_db_pool_connections", &requests) >= 1.0,
        "{text}"
    );
    assert!(
        value(&after, "semrec_db_pool_max", &requests) >= 3.0 * 2.0 + 4.0,
        "{text}"
    );
    // The interaction rate and drift are cached (30 s): the list shown since the
    // first scrape is not in them yet, so a scrape storm costs no queries.
    let shown = [("window", "recent")];
    assert_eq!(value(&before, "semrec_items_shown", &shown), 0.0);
    assert_eq!(value(&after, "semrec_items_shown", &shown), 0.0);
    assert_eq!(
        value(
            &after,
            "semrec_drift_alert",
            &[("signal", "interaction_rate")]
        ),
        0.0
    );
    assert!(text.contains("# TYPE semrec_http_request_duration_seconds histogram"));
    // No raw path became a label.
    assert!(!text.contains("no-such-page"), "{text}");
    server.stop();
}

#[test]
fn request_ids_are_kept_or_replaced_and_name_the_request_s_log_lines() {
    let scratch = Scratch::new("reqid");
    let server = Server::start(test_support::binary::command(BIN, &scratch));
    let live = format!("{}/api/v1/health/live", server.base);
    let id_of = |args: &[&str]| {
        let (status, headers, _) = request(args, &live);
        assert_eq!(status, 200);
        let ids = header(&headers, "x-request-id");
        assert_eq!(ids.len(), 1, "{headers:?}");
        ids[0].to_string()
    };
    let made = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());

    // A well-formed incoming id comes back as it was.
    assert_eq!(id_of(&["-H", "x-request-id: edge-7f3a:42"]), "edge-7f3a:42");
    let longest = "a".repeat(64);
    assert_eq!(id_of(&["-H", &format!("x-request-id: {longest}")]), longest);
    // Without one, or with one that is not kept, a fresh one is made.
    let (a, b) = (id_of(&[]), id_of(&[]));
    assert!(made(&a) && made(&b) && a != b, "{a} {b}");
    for bad in [
        "two words".to_string(),
        "a".repeat(65),
        "quote\"d".to_string(),
    ] {
        let id = id_of(&["-H", &format!("x-request-id: {bad}")]);
        assert!(made(&id), "{bad:?} gave {id}");
    }
    // Two ids in one request: neither is trusted.
    let id = id_of(&["-H", "x-request-id: one", "-H", "x-request-id: two"]);
    assert!(made(&id), "{id}");
    // Error answers carry it too.
    let (status, headers, _) = request(
        &["-H", "x-request-id: missing-1"],
        &format!("{}/api/v1/nothing-here", server.base),
    );
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "x-request-id"), ["missing-1"]);

    // A line logged while serving the request names its id: a refused
    // cross-origin write logs a warning from inside the handler stack.
    let (status, headers, _) = request(
        &[
            "-X",
            "POST",
            "-H",
            "x-request-id: trace-me-42",
            "-H",
            "Origin: http://evil.example",
            "-H",
            "Cookie: semrec_session=x",
            "-d",
            "handle=ada",
        ],
        &format!("{}/api/sign_in", server.base),
    );
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "x-request-id"), ["trace-me-42"]);
    let line = server
        .wait_log_line("refused a cross-origin write", Duration::from_secs(10))
        .expect("the refusal is logged");
    let line = without_ansi(&line);
    assert!(line.contains("id=trace-me-42"), "{line}");
    assert!(line.contains("route=/api/sign_in"), "{line}");
    server.stop();
}

/// The log line without its colour codes.
fn without_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The metric names a PromQL expression reads: identifiers that are not
/// functions (followed by `(`), keywords, label names (inside `{}` or a
/// `by (...)` list) or durations (inside `[]`).
fn promql_metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: [&str; 10] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
    ];
    // Aggregations may be followed by `by (...)` rather than their `(`.
    const AGGREGATIONS: [&str; 12] = [
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
    ];
    let mut names = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut grouping) = (0, false);
    while i < chars.len() {
        let c = chars[i];
        if c == '{' || c == '[' || c == '"' {
            let close = match c {
                '{' => '}',
                '[' => ']',
                _ => '"',
            };
            i += 1;
            while i < chars.len() && chars[i] != close {
                if chars[i] == '"' && close != '"' {
                    // A quoted label value may hold `}`.
                    i += 1;
                    while chars[i] != '"' {
                        i += 1;
                    }
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if KEYWORDS.contains(&word.as_str()) {
                // `by (a, b)`: the list that follows names labels.
                grouping = matches!(
                    word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                );
            } else if next == Some(&'(') || grouping || AGGREGATIONS.contains(&word.as_str()) {
                // A function, or a label of a grouping list.
            } else {
                names.insert(word);
            }
            continue;
        }
        if c == ')' {
            grouping = false;
        }
        if c.is_ascii_digit() || c == '.' {
            // A number literal (1e3 included).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    names
}

/// Every `expr` in the dashboard, however deeply nested.
fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn promql_names_are_read_as_metrics_only() {
    let names = promql_metric_names(
        r#"histogram_quantile(0.95, sum by (le, route) (rate(semrec_x_bucket{route=~"/api/.*}",job="a"}[$__rate_interval]))) / on(pool) semrec_y{pool="requests"} > 1e3"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["semrec_x_bucket", "semrec_y"]
    );
}

#[test]
fn the_grafana_dashboard_reads_only_exported_metrics() {
    let path = workspace().join("deploy/grafana/semrec.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the dashboard")).unwrap();
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    let referenced: BTreeSet<String> = all.iter().flat_map(|e| promql_metric_names(e)).collect();
    assert!(referenced.len() >= 12, "{referenced:?}");

    let scratch = Scratch::new("grafana");
    let mut cmd = test_support::binary::command(BIN, &scratch);
    cmd.env("SEMREC_API_RATE", "0.001")
        .env("SEMREC_API_BURST", "1");
    let server = Server::start(cmd);
    // A labelled family appears with its first series: one refusal (a keyless
    // API call after the burst of one) makes the refusals'.
    for want in [401, 429] {
        let (status, _, _) = request(
            &["-X", "POST", "-d", "{}"],
            &format!("{}/api/v1/recommendations", server.base),
        );
        assert_eq!(status, want);
    }
    let (text, _) = scrape(&server);
    server.stop();
    // A family is exported from its `# TYPE` line on, samples or not yet.
    let mut exported = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        let suffixes: &[&str] = match kind {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            _ => &[""],
        };
        for s in suffixes {
            exported.insert(format!("{name}{s}"));
        }
    }
    let missing: Vec<&String> = referenced.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "the dashboard reads metrics semrec does not export: {missing:?}"
    );
}

#[test]
fn the_metrics_address_is_checked_at_start_and_can_be_turned_off() {
    let scratch = Scratch::new("metricsaddr");
    let mut cmd = test_support::binary::command(BIN, &scratch);
    cmd.env("SEMREC_METRICS_ADDR", "0.0.0.0:0");
    let line = test_support::binary::expect_setup_error(cmd);
    assert!(line.contains("not a loopback address"), "{line}");
    assert!(line.contains("SEMREC_METRICS_PUBLIC"), "{line}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cmd = test_support::binary::command(BIN, &scratch);
    cmd.env("SEMREC_METRICS_ADDR", format!("127.0.0.1:{port}"));
    let line = test_support::binary::expect_setup_error(cmd);
    assert!(
        line.contains(&format!("metrics port {port} is already in use")),
        "{line}"
    );

    let mut cmd = test_support::binary::command(BIN, &scratch);
    cmd.env("SEMREC_METRICS_ADDR", "off");
    let server = Server::start(cmd);
    assert_eq!(server.metrics, None);
    server.stop();
}
