//! One supervisor task per portal, whatever its credential (the private app's token, an OAuth install): it finishes
//! the portal's backfill (resuming an interrupted one), then runs the reconcile sweep and refreshes the reference data
//! on their schedules. A failure is retried with backoff; a disconnect stops the task, and so does the gateway's stop
//! (a backfill page or sweep in flight rolls back with its transaction and starts again from its saved place).
//! Replicas on one database share the work: only the one holding a portal's lease runs its task's body (see `leases`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use backon::{BackoffBuilder, ExponentialBuilder};
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};
use tokio::task::JoinHandle;

use super::{Progress, backfill, is_complete, reconcile, reference, token_portal};
use crate::{
    health::Health,
    hubspot::{HubSpot, credentials::Credentials},
    leases::Leases,
    mirror,
    stopping::Stopping,
};

/// How often each portal is swept and its reference data re-read, and how failures are retried.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub reconcile: Duration,
    pub reference: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            reconcile: Duration::from_secs(300),
            reference: Duration::from_secs(300),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
        }
    }
}

#[derive(Clone)]
pub struct Supervisor {
    db: DatabaseConnection,
    hubspot: HubSpot,
    health: Option<Health>,
    schedule: Schedule,
    leases: Leases,
    tasks: Arc<Mutex<HashMap<i64, JoinHandle<()>>>>,
    /// Its tasks end when this stop begins; by default one that never does.
    stopping: Stopping,
}

impl Supervisor {
    pub fn new(db: DatabaseConnection, hubspot: HubSpot, health: Option<Health>, schedule: Schedule) -> Self {
        Self {
            db,
            hubspot,
            health,
            schedule,
            leases: Leases::local(),
            tasks: Arc::default(),
            stopping: Stopping::default(),
        }
    }

    /// Its tasks tracked by `stopping`, and ended when it begins.
    pub fn stopped_by(self, stopping: Stopping) -> Self {
        Self { stopping, ..self }
    }

    /// Keeps each portal in step only while this replica holds the portal's lease (`sync:{portal}`), so replicas
    /// on one database backfill and sweep it once.
    pub fn with_leases(mut self, leases: Leases) -> Self {
        self.leases = leases;
        self
    }

    /// Starts keeping `portal` in step, unless it already is.
    pub fn supervise(&self, portal: i64) {
        let mut tasks = self.tasks.lock().expect("supervisor tasks");
        if tasks.get(&portal).is_some_and(|t| !t.is_finished()) {
            return;
        }
        tracing::info!(portal, "supervising the portal's sync");
        let this = self.clone();
        let kept = async move { this.leases.run(&format!("sync:{portal}"), || this.clone().keep(portal)).await };
        tasks.insert(portal, self.stopping.spawn_until_stopped("sync supervisor", kept));
    }

    /// Stops keeping `portal` in step (a disconnect). A backfill page or sweep in flight is rolled back with its
    /// transaction; its saved place stays for a later start.
    pub fn stop(&self, portal: i64) {
        if let Some(task) = self.tasks.lock().expect("supervisor tasks").remove(&portal) {
            task.abort();
            tracing::info!(portal, "stopped supervising the portal");
        }
    }

    /// The portals being kept in step, sorted.
    pub fn supervised(&self) -> Vec<i64> {
        let tasks = self.tasks.lock().expect("supervisor tasks");
        let mut portals: Vec<i64> = tasks.iter().filter(|(_, t)| !t.is_finished()).map(|(p, _)| *p).collect();
        portals.sort_unstable();
        portals
    }

    /// At start: every installed portal, and the private app's portal once HubSpot says which it is (asked again
    /// with backoff while it cannot: a failure at start does not turn syncing off).
    pub async fn start(&self, credentials: Arc<Credentials>) {
        match entities::oauth_token::Entity::find()
            .select_only()
            .column(entities::oauth_token::Column::PortalId)
            .into_tuple::<i64>()
            .all(&self.db)
            .await
        {
            Ok(installed) => installed.into_iter().for_each(|portal| self.supervise(portal)),
            Err(err) => tracing::error!(error = %err, "reading the installed portals; they are not synced"),
        }
        let Some(token) = credentials.private_app().map(str::to_owned) else { return };
        let this = self.clone();
        self.stopping.spawn_until_stopped("finding the private app's portal", async move {
            let mut waits = this.backoff();
            loop {
                match token_portal(&this.hubspot, &token).await {
                    Ok(portal) => {
                        credentials.private_portal_is(portal);
                        // Registered before the backfill starts, so requests already find the portal.
                        if let Err(err) = mirror::ensure_portal(&this.db, portal, &format!("Portal {portal}")).await {
                            tracing::error!(portal, error = %err, "registering the portal");
                        }
                        this.supervise(portal);
                        return;
                    }
                    Err(err) => {
                        let wait = waits.next().unwrap_or(this.schedule.retry_max);
                        tracing::error!(error = %err, ?wait, "cannot tell which portal HUBSPOT_ACCESS_TOKEN belongs to; asking again");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        });
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.schedule.retry_min)
            .with_max_delay(self.schedule.retry_max)
            .with_jitter()
            .without_max_times()
            .build()
    }

    async fn keep(self, portal: i64) {
        let backfilled = self.finish_backfill(portal).await;
        let mut sweep = tokio::time::interval(self.schedule.reconcile);
        let mut refresh = tokio::time::interval(self.schedule.reference);
        if backfilled {
            // A backfill just read everything: the first sweep and refresh wait a full period. After a restart
            // they run at once, for what changed while the gateway was down.
            sweep.tick().await;
            refresh.tick().await;
        }
        loop {
            tokio::select! {
                _ = sweep.tick() => match reconcile(&self.db, &self.hubspot, portal, self.health.as_ref()).await {
                    Ok(report) => tracing::info!(portal, ?report, "reconcile sweep done"),
                    Err(err) => tracing::warn!(portal, error = %err, "reconcile sweep failed; the next one starts where it stopped"),
                },
                _ = refresh.tick() => if let Err(err) = reference::refresh_all(&self.db, &self.hubspot, portal).await {
                    tracing::warn!(portal, error = %err, "refreshing reference data failed");
                },
            }
        }
    }

    /// Backfills until every type is done, waiting longer after each failure; whether there was anything to do.
    async fn finish_backfill(&self, portal: i64) -> bool {
        let mut waits = self.backoff();
        let mut ran = false;
        loop {
            let outcome = match is_complete(&self.db, portal).await {
                Ok(true) => return ran,
                Ok(false) => {
                    ran = true;
                    tracing::info!(portal, "backfilling the mirror from HubSpot");
                    backfill(&self.db, &self.hubspot, portal, false, &Progress::for_terminal()).await.map(|report| {
                        tracing::info!(portal, objects = report.objects, calls = report.calls, "backfill done");
                    })
                }
                Err(err) => Err(err.into()),
            };
            if let Err(err) = outcome {
                let wait = waits.next().unwrap_or(self.schedule.retry_max);
                tracing::error!(portal, error = %err, ?wait, "backfill stopped; it resumes after a wait");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
