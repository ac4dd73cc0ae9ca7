//! Loopback HTTP load on the real `semrec serve` binary, on the recommendations
//! path of the web app (sign in, save a profile, then POST get_recommendations
//! as fast as the clients can), and the overload test of the embedding queue.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::corpus::read_catalog;
use crate::stats::{fmt_ms, Samples};

#[derive(clap::Args, Debug, Clone)]
pub struct HttpArgs {
    /// The server binary (built with `cargo build --release -p server`).
    #[arg(long, default_value = "target/release/semrec")]
    pub bin: PathBuf,
    /// Catalog the server imports on its first start (the text-rich subset keeps
    /// the start short, as in scripts/e2e.sh).
    #[arg(long, default_value = "data/movielens/plots/items.jsonl")]
    pub catalog: PathBuf,
    #[arg(
        long,
        env = "SEMREC_MODEL_DIR",
        default_value = "models/all-MiniLM-L6-v2"
    )]
    pub model_dir: PathBuf,
    /// Client concurrency levels of the throughput run.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    pub concurrency: Vec<usize>,
    /// Seconds measured per concurrency level (after a short warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Signed-in users the clients act as (each with its own profile).
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// SEMREC_EMBED_QUEUE of the server in the overload test.
    #[arg(long, default_value_t = 4)]
    pub overload_queue: usize,
    /// Clients during the overload burst.
    #[arg(long, default_value_t = 64)]
    pub overload_concurrency: usize,
    #[arg(long, default_value_t = 15)]
    pub overload_seconds: u64,
    #[arg(long, default_value_t = 10)]
    pub recovery_seconds: u64,
    /// How long a client waits after a 429 before it asks again: 20 ms is an impatient
    /// client; 1000 honours the server's `Retry-After: 1`.
    #[arg(long, default_value_t = 20)]
    pub busy_pause_ms: u64,
    /// Where to write the Markdown report (also printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Per-request timeout: a request that takes longer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Unrecorded run before each measured phase.
const WARM_UP: Duration = Duration::from_secs(2);
/// get_recommendations' arguments: the first page, no filters.
const RECOMMENDATIONS_FORM: &str = "offset=0&language=&source=";

/// The `semrec serve` process under test, with its own data dir and port.
struct ServerProcess {
    child: tokio::process::Child,
    base: String,
    log: PathBuf,
}

impl ServerProcess {
    async fn start(args: &HttpArgs, dir: &Path, extra_env: &[(&str, String)]) -> Result<Self> {
        let port = free_port()?;
        let log = dir.join(format!("server-{port}.log"));
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(&args.bin);
        cmd.arg("serve")
            .env_remove("DATABASE_URL")
            .env("SEMREC_DATA_DIR", dir.join("pg"))
            .env("SEMREC_PG_PORT", "0")
            .env("SEMREC_ADDR", format!("127.0.0.1:{port}"))
            // Any free port: runs side by side must not fight over the default.
            .env("SEMREC_METRICS_ADDR", "127.0.0.1:0")
            .env("SEMREC_DEMO_CATALOG", &args.catalog)
            .env("SEMREC_MODEL_DIR", &args.model_dir)
            .env(
                "SEMREC_ADMIN_PASSWORD",
                format!("bench-{}", std::process::id()),
            )
            .env("SEMREC_LOG", "warn")
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| {
            format!(
                "cannot start {}: build it with `cargo build --release -p server`",
                args.bin.display()
            )
        })?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> Result<()> {
        let client = client();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(600) {
            for path in ["/api/v1/health/ready", "/"] {
                let req = Request::get(format!("{}{path}", self.base)).body(Full::default())?;
                if let Ok(Ok(resp)) =
                    tokio::time::timeout(Duration::from_secs(2), client.request(req)).await
                {
                    if resp.status() == StatusCode::OK {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        bail!(
            "the server did not become ready in 600 s; see {}",
            self.log.display()
        )
    }

    /// SIGTERM (the server then stops its PostgreSQL cleanly), SIGKILL after 60 s.
    async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling a child process we started and have not reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("the server did not stop within 60 s of SIGTERM; killed it");
            }
        }
        Ok(())
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build_http()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// One answer as the load generator sees it.
struct Answer {
    status: StatusCode,
    retry_after: bool,
    set_cookie: Vec<String>,
    body: Bytes,
}

async fn post(
    client: &HttpClient,
    base: &str,
    fun: &str,
    body: String,
    cookie: Option<&str>,
) -> Result<Answer> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("{base}/api/{fun}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = tokio::time::timeout(
        REQUEST_TIMEOUT,
        client.request(req.body(Full::new(Bytes::from(body)))?),
    )
    .await
    .context("request timed out")??;
    let status = resp.status();
    let retry_after = resp.headers().contains_key(header::RETRY_AFTER);
    let set_cookie = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let body = tokio::time::timeout(REQUEST_TIMEOUT, resp.into_body().collect())
        .await
        .context("body timed out")??
        .to_bytes();
    Ok(Answer {
        status,
        retry_after,
        set_cookie,
        body,
    })
}

/// Signs in `n` users and gives each a profile of two genres and two liked titles.
async fn make_users(
    client: &HttpClient,
    base: &str,
    catalog: &Path,
    n: usize,
) -> Result<Vec<String>> {
    let parsed = read_catalog(catalog)?;
    let items: Vec<_> = parsed.items.into_iter().map(|(_, i)| i).collect();
    let ids: Vec<&str> = items.iter().map(|i| i.external_id.as_str()).collect();
    let genres = [
        "drama",
        "comedy",
        "thriller",
        "action",
        "romance",
        "adventure",
        "crime",
        "horror",
        "sci-fi",
        "fantasy",
        "documentary",
        "animation",
    ];
    let mut rng = StdRng::seed_from_u64(7);
    let mut cookies = Vec::with_capacity(n);
    for u in 0..n {
        let handle = format!("bench-user-{u}");
        let a = post(client, base, "sign_in", form(&[("handle", &handle)]), None).await?;
        ensure!(
            a.status == StatusCode::OK,
            "sign_in answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        let cookie = a
            .set_cookie
            .iter()
            .filter_map(|c| c.split(';').next())
            .find(|c| c.starts_with("semrec_session="))
            .context("sign_in set no semrec_session cookie")?
            .to_string();
        let interests = format!(
            "{}, {}",
            genres[rng.gen_range(0..genres.len())],
            genres[rng.gen_range(0..genres.len())]
        );
        // The form's chip format: one "item<TAB>external id" line per liked item.
        let history = format!(
            "item\t{}\nitem\t{}",
            ids[rng.gen_range(0..ids.len())],
            ids[rng.gen_range(0..ids.len())]
        );
        let a = post(
            client,
            base,
            "save_profile",
            form(&[
                ("interests", &interests),
                ("history", &history),
                ("classes", ""),
                ("about", ""),
            ]),
            Some(&cookie),
        )
        .await?;
        ensure!(
            a.status == StatusCode::OK,
            "save_profile answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        cookies.push(cookie);
    }
    // The path under test must really serve lists, not an empty answer.
    let a = post(
        client,
        base,
        "get_recommendations",
        RECOMMENDATIONS_FORM.into(),
        Some(&cookies[0]),
    )
    .await?;
    ensure!(
        a.status == StatusCode::OK && a.body.len() > 100,
        "get_recommendations answered {}: {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    Ok(cookies)
}

/// What a phase of load produced.
#[derive(Default)]
struct Phase {
    label: String,
    concurrency: usize,
    wall: Duration,
    ok: Samples,
    busy: Samples,
    busy_with_retry_after: usize,
    other: usize,
    errors: usize,
    first_error: Option<String>,
}

impl Phase {
    fn throughput(&self) -> f64 {
        self.ok.len() as f64 / self.wall.as_secs_f64()
    }
}

/// `concurrency` clients call get_recommendations back to back for `length`.
async fn load(
    client: &HttpClient,
    base: &str,
    cookies: &Arc<Vec<String>>,
    concurrency: usize,
    length: Duration,
    busy_pause: Duration,
    label: &str,
) -> Phase {
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::with_capacity(concurrency);
    for c in 0..concurrency {
        let (client, base, cookies) = (client.clone(), base.to_string(), cookies.clone());
        tasks.push(tokio::spawn(async move {
            let mut p = Phase::default();
            let cookie = &cookies[c % cookies.len()];
            while Instant::now() < deadline {
                let t = Instant::now();
                match post(
                    &client,
                    &base,
                    "get_recommendations",
                    RECOMMENDATIONS_FORM.into(),
                    Some(cookie),
                )
                .await
                {
                    Ok(a) if a.status == StatusCode::OK => p.ok.push(t.elapsed()),
                    Ok(a) if a.status == StatusCode::TOO_MANY_REQUESTS => {
                        p.busy.push(t.elapsed());
                        p.busy_with_retry_after += usize::from(a.retry_after);
                        tokio::time::sleep(busy_pause).await;
                    }
                    Ok(a) => {
                        p.other += 1;
                        p.first_error.get_or_insert_with(|| {
                            format!("{}: {}", a.status, String::from_utf8_lossy(&a.body))
                        });
                    }
                    Err(e) => {
                        p.errors += 1;
                        p.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            p
        }));
    }
    let mut phase = Phase {
        label: label.to_string(),
        concurrency,
        ..Default::default()
    };
    for t in tasks {
        if let Ok(p) = t.await {
            phase.ok.extend(&p.ok);
            phase.busy.extend(&p.busy);
            phase.busy_with_retry_after += p.busy_with_retry_after;
            phase.other += p.other;
            phase.errors += p.errors;
            if phase.first_error.is_none() {
                phase.first_error = p.first_error;
            }
        }
    }
    // Requests in flight at the deadline finish after it: count the real time.
    phase.wall = started.elapsed();
    if let Some(e) = &phase.first_error {
        tracing::warn!(label, "non-200/429 answers, first: {e}");
    }
    phase
}

pub async fn run(args: HttpArgs) -> Result<()> {
    ensure!(
        args.users > 0 && !args.concurrency.is_empty(),
        "need at least one user and one concurrency level"
    );
    let dir = std::env::temp_dir().join(format!("semrec-bench-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // PostgreSQL runs as the postgres user when we are root: it must reach the dir.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let result = run_in(&args, &dir).await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("server logs kept in {}", dir.display());
    }
    let report = result?;
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

async fn run_in(args: &HttpArgs, dir: &Path) -> Result<String> {
    let client = client();
    let seconds = Duration::from_secs(args.seconds);

    tracing::info!("starting the server (first start imports the catalog)");
    let t = Instant::now();
    let server = ServerProcess::start(args, dir, &[]).await?;
    let first_start = t.elapsed();
    let mut normal = Vec::new();
    let users = match make_users(&client, &server.base, &args.catalog, args.users).await {
        Ok(u) => Arc::new(u),
        Err(e) => {
            server.stop().await?;
            return Err(e);
        }
    };
    let pause = Duration::from_millis(args.busy_pause_ms);
    for &c in &args.concurrency {
        tracing::info!(concurrency = c, "load");
        load(&client, &server.base, &users, c, WARM_UP, pause, "warm-up").await;
        normal.push(
            load(
                &client,
                &server.base,
                &users,
                c,
                seconds,
                pause,
                "default queue",
            )
            .await,
        );
    }
    server.stop().await?;

    tracing::info!(
        queue = args.overload_queue,
        "restarting with a small embedding queue"
    );
    let server = ServerProcess::start(
        args,
        dir,
        &[("SEMREC_EMBED_QUEUE", args.overload_queue.to_string())],
    )
    .await?;
    load(&client, &server.base, &users, 1, WARM_UP, pause, "warm-up").await;
    let before = load(
        &client,
        &server.base,
        &users,
        1,
        Duration::from_secs(args.recovery_seconds),
        pause,
        "before the burst",
    )
    .await;
    let burst = load(
        &client,
        &server.base,
        &users,
        args.overload_concurrency,
        Duration::from_secs(args.overload_seconds),
        pause,
        "burst",
    )
    .await;
    let after = load(
        &client,
        &server.base,
        &users,
        1,
        Duration::from_secs(args.recovery_seconds),
        pause,
        "after the burst",
    )
    .await;
    server.stop().await?;

    Ok(report(args, first_start, &normal, &[before, burst, after]))
}

fn phase_row(p: &Phase) -> String {
    let total = p.ok.len() + p.busy.len() + p.other + p.errors;
    format!(
        "| {} | {} | {:.1} s | {} | {:.1} | {} / {} / {} | {} | {} | {} / {} | {} |",
        p.label,
        p.concurrency,
        p.wall.as_secs_f64(),
        total,
        p.throughput(),
        fmt_ms(p.ok.p50()),
        fmt_ms(p.ok.p99()),
        fmt_ms(p.ok.max()),
        p.busy.len(),
        if p.busy.is_empty() {
            "–".into()
        } else {
            format!("{} of {}", p.busy_with_retry_after, p.busy.len())
        },
        fmt_ms(p.busy.p50()),
        fmt_ms(p.busy.p99()),
        p.other + p.errors,
    )
}

fn report(args: &HttpArgs, first_start: Duration, normal: &[Phase], overload: &[Phase]) -> String {
    let mut s = String::new();
    let header = "| phase | clients | wall | requests | 200/s | 200 latency p50 / p99 / max ms | 429s | 429 with Retry-After | 429 latency p50 / p99 ms | other errors |\n|---|---|---|---|---|---|---|---|---|---|";
    let _ = writeln!(s, "#### Throughput and latency (default embedding queue {}, `POST /api/get_recommendations`)\n", 64);
    let _ = writeln!(s, "{header}");
    for p in normal {
        let _ = writeln!(s, "{}", phase_row(p));
    }
    let _ = writeln!(
        s,
        "\n#### Overload: `SEMREC_EMBED_QUEUE={}`, {} clients for {} s, then 1 client\n",
        args.overload_queue, args.overload_concurrency, args.overload_seconds
    );
    let _ = writeln!(s, "{header}");
    for p in overload {
        let _ = writeln!(s, "{}", phase_row(p));
    }
    let (before, burst, after) = (&overload[0], &overload[1], &overload[2]);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "- Overload answered with 429 + Retry-After: {} of {} answers were 429, {} of them with Retry-After → {}",
        burst.busy.len(),
        burst.ok.len() + burst.busy.len() + burst.other + burst.errors,
        burst.busy_with_retry_after,
        if !burst.busy.is_empty() && burst.busy_with_retry_after == burst.busy.len() { "**pass**" } else { "**miss**" }
    );
    let _ = writeln!(
        s,
        "- Accepted requests stay bounded: p99 {} ms (max {} ms) during the burst vs {} ms before it with one client; no request hit the {} s client timeout → {}",
        fmt_ms(burst.ok.p99()),
        fmt_ms(burst.ok.max()),
        fmt_ms(before.ok.p99()),
        REQUEST_TIMEOUT.as_secs(),
        if burst.errors == 0 { "**pass**" } else { "**miss**" }
    );
    let _ = writeln!(
        s,
        "- Recovery after the burst: {} of {} answers were 200 → {}",
        after.ok.len(),
        after.ok.len() + after.busy.len() + after.other + after.errors,
        if after.busy.is_empty() && after.other + after.errors == 0 && !after.ok.is_empty() {
            "**pass**"
        } else {
            "**miss**"
        }
    );
    if let Some(p) = normal
        .iter()
        .find(|p| p.concurrency == 64)
        .or(normal.last())
    {
        let _ = writeln!(
            s,
            "- For comparison, the default queue at {} clients: p99 {} ms — the waiting a bounded queue trades for 429s.",
            p.concurrency,
            fmt_ms(p.ok.p99())
        );
    }
    let _ = writeln!(
        s,
        "\nThe server is the release `semrec serve` with its own PostgreSQL (first start, including importing the {} catalog, took {:.0} s). {} signed-in users, each with a profile of two genres and two liked catalog titles; every request loads the profile, embeds it (the two interests and the concatenated profile text: 3 texts in one batch; liked catalog titles reuse their stored vectors), runs the recommendation query on the real database and records an impression. Each phase is preceded by a {} s unrecorded warm-up (except the burst and the phase after it). A client that gets a 429 waits {} ms and retries (`--busy-pause-ms`; Retry-After asks for 1000). The load generator runs on the same 2 cores as the server and its database.",
        args.catalog.display(),
        first_start.as_secs_f64(),
        args.users,
        WARM_UP.as_secs(),
        args.busy_pause_ms
    );
    s
}
