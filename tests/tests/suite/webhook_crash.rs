//! Nothing acknowledged is lost: the gateway (the `server` binary, on Postgres) is killed with SIGKILL in the middle
//! of a burst of 10,000 changes at the simulator and started again; once the simulator's retries are done, the
//! mirror equals HubSpot's state exactly. The reconcile sweep is kept out of it, so only webhooks can get it there.

use std::time::Duration;

use entities::webhook_event;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tests::{
    Backend, TestDb,
    convergence::differences,
    process::ServerProcess,
    sim::{Running, webhooks::WebhookSettings},
    wait_for,
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "crash-secret";
const CHANGES: u64 = 10_000;

fn start(db: &TestDb, sim: &Running, port: u16) -> ServerProcess {
    let env = [
        ("HUBSPOT_CLIENT_SECRET", SECRET.to_owned()),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("WEBHOOK_LEASE_SECS", "2".to_owned()),
    ];
    ServerProcess::start(db, sim, port, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_burst_loses_nothing() {
    let port = tests::free_port();
    let webhooks = WebhookSettings {
        retry_base: Duration::from_millis(100),
        duplicate_rate: 0.05,
        shuffle: true,
        ..WebhookSettings::new(format!("http://127.0.0.1:{port}/webhooks/hubspot"), SECRET)
    };
    let sim = Running::delivering(PORTAL, webhooks).await;
    let db = TestDb::migrated(Backend::Postgres).await;
    let mut gateway = start(&db, &sim, port);
    wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;

    sim.mutate(CHANGES, 2_500.0, 3).await;
    // Kill it once deliveries are flowing, keep it down while the burst goes on, then start it again.
    wait_for("deliveries", 30, async || sim.sim.sender.snapshot().acknowledged > 1_000).await;
    gateway.kill();
    let acknowledged_before = sim.sim.sender.snapshot().acknowledged;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sim.sim.sender.snapshot().failed_attempts > 0, "deliveries failed while the gateway was down");
    let _gateway = start(&db, &sim, port);

    wait_for("the burst", 60, async || sim.sim.changes_made.load(std::sync::atomic::Ordering::Relaxed) == CHANGES)
        .await;
    let settled = async || {
        let pending = webhook_event::Entity::find()
            .filter(webhook_event::Column::State.eq("pending"))
            .count(&db.db)
            .await
            .unwrap();
        sim.sim.unsent() == 0 && sim.sim.sender.snapshot().outstanding() == 0 && pending == 0
    };
    wait_for("every delivery acknowledged and applied", 180, settled).await;
    let sent = sim.sim.sender.snapshot();
    assert!(sent.acknowledged > acknowledged_before && sent.queued >= CHANGES, "{sent:?}");
    assert_eq!(sent.dropped, 0, "{sent:?}");
    let diff = differences(&db.db, &sim.sim, PORTAL).await;
    assert!(diff.is_empty(), "{} differences, first: {:#?}", diff.len(), &diff[..diff.len().min(20)]);
    let dead =
        webhook_event::Entity::find().filter(webhook_event::Column::State.eq("dead")).count(&db.db).await.unwrap();
    assert_eq!(dead, 0);
}
