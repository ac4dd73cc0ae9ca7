//! Two semrec instances on one database, as two stores (each with its own pools)
//! over one real PostgreSQL cluster: the admin sign-in and new-handle throttles
//! count once for both, a click through one on a list the other served counts
//! even before the other's impression queue has written it, and a periodic job
//! runs on one of them at a time, under its lease, moving to the other when the
//! holder dies.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::leased_job::{LeasedJob, Tick};
use engine::throttle::{Throttle, NEW_HANDLES_PER_HOUR, SIGN_IN_FREE_ATTEMPTS};
use engine::Store;

/// Two instances' stores on one new cluster (returned so it lives as long).
async fn two_instances() -> (impl Sized, Store, Store) {
    let cluster = test_support::db::cluster().await;
    let a = Store::connect(cluster.database_url(), 8).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::connect(cluster.database_url(), 8).await.unwrap();
    (cluster, a, b)
}

#[tokio::test]
async fn admin_sign_in_failures_count_once_across_instances() {
    let (_cluster, a, b) = two_instances().await;
    let attacker: IpAddr = "192.0.2.66".parse().unwrap();
    // A burst of parallel guesses, half to each instance: the address gets its
    // free attempts once in all, not once per instance.
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..20 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        burst.spawn(async move { store.begin_admin_sign_in(attacker, "admin").await });
    }
    let mut allowed = 0;
    while let Some(r) = burst.join_next().await {
        if r.unwrap().unwrap() == Throttle::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, SIGN_IN_FREE_ATTEMPTS, "free attempts across both");
    for store in [&a, &b] {
        assert!(
            matches!(
                store.begin_admin_sign_in(attacker, "admin").await.unwrap(),
                Throttle::Wait(_)
            ),
            "refused on both instances"
        );
    }
    // Another address is not affected on either.
    let other: IpAddr = "192.0.2.67".parse().unwrap();
    assert_eq!(
        b.begin_admin_sign_in(other, "admin").await.unwrap(),
        Throttle::Allowed
    );
}

#[tokio::test]
async fn new_handles_per_address_count_once_across_instances() {
    let (_cluster, a, b) = two_instances().await;
    let ip: IpAddr = "198.51.100.9".parse().unwrap();
    for n in 0..NEW_HANDLES_PER_HOUR {
        let store = if n % 2 == 0 { &a } else { &b };
        assert_eq!(store.take_new_handle(ip).await.unwrap(), Throttle::Allowed);
    }
    for store in [&a, &b] {
        assert!(matches!(
            store.take_new_handle(ip).await.unwrap(),
            Throttle::Wait(s) if s > 3000
        ));
    }
}

#[tokio::test]
async fn racing_instances_get_a_free_lease_exactly_once() {
    let (_cluster, a, b) = two_instances().await;
    let mut race = tokio::task::JoinSet::new();
    for n in 0..20 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        race.spawn(async move {
            store
                .acquire_lease("race", &format!("holder-{n}"), Duration::from_secs(60))
                .await
        });
    }
    let mut granted = 0;
    while let Some(r) = race.join_next().await {
        granted += usize::from(r.unwrap().unwrap().is_some());
    }
    assert_eq!(granted, 1);
}

/// The job of the lease tests: counts runs per instance and the most runs at
/// once, taking `takes` each.
#[derive(Clone, Default)]
struct Probe {
    running: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
    runs: [Arc<AtomicUsize>; 2],
}

struct Decrement(Arc<AtomicUsize>);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Probe {
    fn spawn(&self, store: &Store, instance: usize, ttl: Duration) -> tokio::task::JoinHandle<()> {
        let job = LeasedJob::new(
            "probe",
            &format!("instance-{instance}"),
            ttl,
            Duration::ZERO,
        );
        let probe = self.clone();
        let store = store.clone();
        tokio::spawn(async move {
            job.run_forever(store, move || {
                let p = probe.clone();
                async move {
                    let now = p.running.fetch_add(1, Ordering::SeqCst) + 1;
                    // Ends the run's count however the run ends (a killed holder's too).
                    let _running = Decrement(p.running.clone());
                    p.most_at_once.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    p.runs[instance].fetch_add(1, Ordering::SeqCst);
                }
            })
            .await
        })
    }

    fn runs(&self, instance: usize) -> usize {
        self.runs[instance].load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn one_instance_runs_a_job_and_the_other_takes_over_after_the_lease_expires() {
    let (_cluster, a, b) = two_instances().await;
    let ttl = Duration::from_secs(3);
    let probe = Probe::default();
    let tasks = [probe.spawn(&a, 0, ttl), probe.spawn(&b, 1, ttl)];
    tokio::time::sleep(Duration::from_secs(4)).await;
    let first = if probe.runs(0) > 0 { 0 } else { 1 };
    let other = 1 - first;
    assert!(
        probe.runs(first) >= 3,
        "the holder runs the job: {}",
        probe.runs(first)
    );
    assert_eq!(probe.runs(other), 0, "the other instance never ran it");
    // The holder dies (its task is gone, its lease stays until it expires).
    let [t0, t1] = tasks;
    let (dead, alive) = if first == 0 { (t0, t1) } else { (t1, t0) };
    dead.abort();
    let _ = dead.await;
    let died = Instant::now();
    let store = [&a, &b][other];
    while probe.runs(other) == 0 {
        assert!(
            died.elapsed() < ttl + Duration::from_secs(10),
            "no takeover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = died.elapsed();
    // Not before the dead holder's lease expired: its last renewal was at most a
    // third of the lifetime before it died.
    assert!(
        took >= ttl / 2,
        "taken over after {took:?}, before the lease expired"
    );
    assert_eq!(
        store.lease_holder("probe").await.unwrap().as_deref(),
        Some(format!("instance-{other}").as_str())
    );
    assert_eq!(
        probe.most_at_once.load(Ordering::SeqCst),
        1,
        "never two runs at once"
    );
    alive.abort();
}

#[tokio::test]
async fn a_run_whose_lease_is_lost_is_cancelled() {
    let (_cluster, a, b) = two_instances().await;
    let job = LeasedJob::new("lost", "instance-0", Duration::from_secs(3), Duration::ZERO);
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (started, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (s, d) = (started.clone(), dropped.clone());
    let mut long_run = move || {
        let (s, guard) = (s.clone(), Dropped(d.clone()));
        async move {
            let _guard = guard;
            s.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    };
    let stealing = tokio::spawn(async move {
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Another instance holds the lease now (as after an expiry and a takeover).
        sqlx::query("UPDATE job_leases SET holder = 'instance-1' WHERE job = 'lost'")
            .execute(b.pool())
            .await
            .unwrap();
    });
    let began = Instant::now();
    assert_eq!(job.tick(&a, &mut long_run).await.unwrap(), Tick::Lost);
    stealing.await.unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the run was dropped");
    // Its end was not recorded as a run.
    let last: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_run_at FROM job_leases WHERE job = 'lost'")
            .fetch_one(a.pool())
            .await
            .unwrap();
    assert_eq!(last, None);
}

#[tokio::test]
async fn a_released_lease_moves_at_once_and_keeps_the_schedule() {
    let (_cluster, a, b) = two_instances().await;
    let hour = Duration::from_secs(3600);
    let ttl = Duration::from_secs(60);
    let on_a = LeasedJob::new("hourly", "instance-0", ttl, hour);
    let on_b = LeasedJob::new("hourly", "instance-1", ttl, hour);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let mut job = move || {
        let r = r.clone();
        async move {
            r.fetch_add(1, Ordering::SeqCst);
        }
    };
    assert_eq!(on_a.tick(&a, &mut job).await.unwrap(), Tick::Ran);
    assert_eq!(on_b.tick(&b, &mut job).await.unwrap(), Tick::NotHolder);
    assert_eq!(on_a.tick(&a, &mut job).await.unwrap(), Tick::NotDue);
    // Instance 0 shuts down: its lease is released, not left to expire.
    assert_eq!(a.release_leases("instance-0").await.unwrap(), 1);
    assert_eq!(a.lease_holder("hourly").await.unwrap(), None);
    // Instance 1 holds it at once, and does not run a job that ran a moment ago.
    assert_eq!(on_b.tick(&b, &mut job).await.unwrap(), Tick::NotDue);
    assert_eq!(
        a.lease_holder("hourly").await.unwrap().as_deref(),
        Some("instance-1")
    );
    assert_eq!(on_a.tick(&a, &mut job).await.unwrap(), Tick::NotHolder);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_click_through_one_instance_finds_the_list_the_other_still_queues() {
    use engine::events::{ClickOutcome, ImpressionContext};
    use engine::impression_queue::QueueSettings;
    let db = test_support::db::engine().await;
    let a = &db.engine;
    a.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let b_store = Store::connect(db._cluster.database_url(), 8).await.unwrap();
    let b = engine::Engine::new(
        b_store,
        test_support::model::fake_embedder(),
        engine::EngineSettings::default(),
    );
    let settings = QueueSettings {
        capacity: 100,
        flush_interval: Duration::from_millis(300),
    };
    a.start_impression_queue(settings);
    b.start_impression_queue(settings);
    let profile = engine::profile::Profile {
        interests: vec!["jazz".into()],
        ..Default::default()
    };
    let opts = engine::recommend::RecommendOptions {
        k: 3,
        ..Default::default()
    };
    let list = a
        .recommend_for_profile(None, &profile, &opts, ImpressionContext::Api)
        .await
        .unwrap();
    let first = list.items[0].item.external_id.clone();
    // At once, through the other instance: A's queue has not written it yet.
    assert_eq!(
        b.record_click(list.impression_id, &first, None)
            .await
            .unwrap(),
        ClickOutcome::Recorded
    );
    // An item the list did not show is still refused, within the bounded wait.
    let started = Instant::now();
    assert!(b
        .record_click(list.impression_id, "not-shown", None)
        .await
        .is_err());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
