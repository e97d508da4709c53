//! Replicas that cooperate (the `server` binary, two processes on one Postgres): migrations run once however many
//! start together; singleton work (a portal's backfill and sweeps, the full scoring pass, the purge) runs on the
//! replica holding its lease, and when that replica is killed with SIGKILL the other takes the leases over and
//! finishes the work; webhooks delivered to both replicas across the kill are each applied once.

use std::{net::SocketAddr, time::Duration};

use entities::{lease, webhook_event};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tests::{
    Backend, TestDb,
    balancer::Balancer,
    convergence::differences,
    process::ServerProcess,
    sim::{Running, SimConfig, limits::Chaos, webhooks::WebhookSettings},
    small_spec, wait_for,
};

const PORTAL: i64 = 100_001;
/// Short, so a takeover is quick; renewed every second.
const LEASE_SECS: u64 = 3;

async fn answers(port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}/healthz");
    reqwest::get(url).await.is_ok_and(|r| r.status().is_success())
}

/// The process id in each lease's holder (`host:pid:random`), by lease name.
async fn holders(db: &TestDb) -> Vec<(String, u32)> {
    let rows = lease::Entity::find().all(&db.db).await.unwrap();
    let pid = |holder: &str| holder.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    rows.into_iter().map(|l| (l.name.clone(), pid(&l.holder))).collect()
}

/// Every singleton lease (the portal's sync, scoring, purge, retention) is held by `pid`.
async fn all_held_by(db: &TestDb, pid: u32) -> bool {
    let held = holders(db).await;
    held.len() == 4 && held.iter().all(|(_, holder)| *holder == pid)
}

async fn sync_holder(db: &TestDb) -> Option<u32> {
    holders(db).await.into_iter().find(|(name, _)| *name == format!("sync:{PORTAL}")).map(|(_, pid)| pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_started_together_on_a_fresh_database_both_come_up() {
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::empty(Backend::Postgres).await;
    let (a, b) = (tests::free_port(), tests::free_port());
    let _first = ServerProcess::start(&db, &sim, a, &[]);
    let _second = ServerProcess::start(&db, &sim, b, &[]);
    wait_for("both replicas answering", 30, async || answers(a).await && answers(b).await).await;
    // Each migration was applied once, and none is left.
    let applied = Migrator::get_applied_migrations(&db.db).await.unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    assert!(Migrator::get_pending_migrations(&db.db).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_backfills_and_the_other_takes_over_when_it_is_killed() {
    // Each replica calls its own simulator of the same portal, so each simulator's count is one replica's calls;
    // each call waits a while, so the backfill is still going at the kill.
    let slow = || SimConfig {
        portals: vec![small_spec(PORTAL)],
        rate_limit: 100_000,
        chaos: Chaos { latency_ms: 200, ..Chaos::default() },
        ..SimConfig::default()
    };
    let sims = [Running::start(slow()).await.unwrap(), Running::start(slow()).await.unwrap()];
    let db = TestDb::migrated(Backend::Postgres).await;
    let env = [("LEASE_SECS", LEASE_SECS.to_string())];
    let mut replicas = [
        ServerProcess::start(&db, &sims[0], tests::free_port(), &env),
        ServerProcess::start(&db, &sims[1], tests::free_port(), &env),
    ];

    wait_for("every lease taken", 30, async || holders(&db).await.len() == 4).await;
    let holder = sync_holder(&db).await.unwrap();
    let (h, other) = if replicas[0].id() == holder { (0, 1) } else { (1, 0) };
    assert_eq!(replicas[h].id(), holder, "the portal's lease names a replica");
    // The other replica calls nothing while the holder backfills (the simulator does not count token look-ups).
    let calls = sims[h].sim.stats().requests;
    wait_for("the holder's backfill going on", 30, async || sims[h].sim.stats().requests > calls + 20).await;
    assert_eq!(sims[other].sim.stats().requests, 0, "the other replica made no call");
    assert!(!server::sync::is_complete(&db.db, PORTAL).await.unwrap(), "killed before the backfill ended");

    replicas[h].kill();
    let survivor = replicas[other].id();
    wait_for("the survivor holding every lease", LEASE_SECS + 5, async || all_held_by(&db, survivor).await).await;
    sims[other].sim.set_chaos(Chaos::default());
    wait_for("the backfill finished by the survivor", 45, async || {
        server::sync::is_complete(&db.db, PORTAL).await.unwrap()
    })
    .await;
    assert!(sims[other].sim.stats().requests > 0, "the survivor called its HubSpot");
    let diff = differences(&db.db, &sims[other].sim, PORTAL).await;
    assert!(diff.is_empty(), "{} differences, first: {:#?}", diff.len(), &diff[..diff.len().min(20)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_delivered_to_both_replicas_across_a_kill_are_each_applied_once() {
    const SECRET: &str = "replicas-secret";
    const CHANGES: u64 = 2_000;
    let ports = [tests::free_port(), tests::free_port()];
    let backends = ports.map(|p| SocketAddr::from(([127, 0, 0, 1], p))).to_vec();
    let balancer = Balancer::start(backends).await;
    let front = balancer.addr;
    let target = format!("http://{front}/webhooks/hubspot");
    let webhooks = WebhookSettings {
        retry_base: Duration::from_millis(100),
        duplicate_rate: 0.05,
        shuffle: true,
        ..WebhookSettings::new(target, SECRET)
    };
    let sim = Running::delivering(PORTAL, webhooks).await;
    let db = TestDb::migrated(Backend::Postgres).await;
    // Signatures cover the URL HubSpot calls: the balancer's.
    let env = [
        ("HUBSPOT_CLIENT_SECRET", SECRET.to_owned()),
        ("PUBLIC_URL", format!("http://{front}")),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("WEBHOOK_LEASE_SECS", "2".to_owned()),
        ("LEASE_SECS", LEASE_SECS.to_string()),
    ];
    let mut replicas = ports.map(|port| ServerProcess::start(&db, &sim, port, &env));
    wait_for("the backfill", 60, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;

    sim.mutate(CHANGES, 1_000.0, 5).await;
    let both = async || balancer.connections(0) > 0 && balancer.connections(1) > 0;
    wait_for("deliveries to both replicas", 30, async || sim.sim.sender.snapshot().acknowledged > 300 && both().await)
        .await;
    replicas[0].kill();

    let settled = async || {
        let pending =
            webhook_event::Entity::find().filter(webhook_event::Column::State.ne("applied")).count(&db.db).await;
        sim.sim.changes_made.load(std::sync::atomic::Ordering::Relaxed) == CHANGES
            && sim.sim.unsent() == 0
            && sim.sim.sender.snapshot().outstanding() == 0
            && pending.unwrap() == 0
    };
    wait_for("every delivery acknowledged and applied", 50, settled).await;
    let sent = sim.sim.sender.snapshot();
    assert_eq!(sent.dropped, 0, "{sent:?}");
    // Each event is in the log once (its dedupe key once), applied, and the mirror is HubSpot's state.
    let events = webhook_event::Entity::find().all(&db.db).await.unwrap();
    let keys: std::collections::BTreeSet<&str> = events.iter().map(|e| e.dedupe_key.as_str()).collect();
    assert_eq!(keys.len(), events.len(), "no event logged twice");
    assert!(events.len() as u64 >= CHANGES, "{} events logged", events.len());
    assert!(events.iter().all(|e| e.state == "applied" && e.applied_at.is_some()));
    let diff = differences(&db.db, &sim.sim, PORTAL).await;
    assert!(diff.is_empty(), "{} differences, first: {:#?}", diff.len(), &diff[..diff.len().min(20)]);
}
