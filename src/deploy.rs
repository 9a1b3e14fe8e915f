//! Keeps the runtime in step with the store: each app's current release
//! runs with its config vars and formation. The store is the truth; this
//! task reads it once a second, and at once when nudged after a release or a
//! scale, and tells the runtime what changed. After a restart of the server,
//! its first pass brings every app's formation back.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::runtime::logs::LogBook;
use crate::runtime::{default_quantity, Formation, ReleaseSpec, SharedRuntime};
use crate::store::deployments::{self, CurrentRelease};
use crate::store::{Store, StoreResult};

const POLL: Duration = Duration::from_secs(1);

/// Wakes the deployer so that a change shows without waiting for its poll.
#[derive(Clone, Default)]
pub struct Deployer {
    nudge: Arc<Notify>,
}

impl Deployer {
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }
}

/// What was last handed to the runtime for an app.
struct Deployed {
    version: i64,
    formation: Formation,
}

struct Task {
    store: Store,
    runtime: SharedRuntime,
    logs: LogBook,
    data_dir: PathBuf,
    deployed: HashMap<String, Deployed>,
    first_pass: bool,
    warned: bool,
}

pub async fn run(
    deployer: Deployer,
    store: Store,
    runtime: SharedRuntime,
    logs: LogBook,
    data_dir: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut task = Task {
        store,
        runtime,
        logs,
        data_dir,
        deployed: HashMap::new(),
        first_pass: true,
        warned: false,
    };
    loop {
        match task.reconcile().await {
            Ok(()) => task.first_pass = false,
            Err(error) if !task.warned => {
                tracing::warn!(%error, "cannot read what should run; retrying");
                task.warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = deployer.nudge.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

impl Task {
    async fn reconcile(&mut self) -> StoreResult<()> {
        let (releases, formations) = {
            let mut conn = self.store.read().await?;
            let releases = deployments::current_releases(&mut conn).await?;
            // Without a formation table every app runs its defaults.
            let formations = deployments::formations(&mut conn).await.unwrap_or_default();
            (releases, formations)
        };

        let mut seen = Vec::with_capacity(releases.len());
        for release in releases {
            seen.push(release.app_id.clone());
            let types = process_types(&release);
            let formation = formation_for(&types, formations.get(&release.app_id));
            self.apply(release, types, formation).await?;
        }
        self.forget_missing(&seen);
        Ok(())
    }

    async fn apply(
        &mut self,
        release: CurrentRelease,
        types: BTreeMap<String, String>,
        formation: Formation,
    ) -> StoreResult<()> {
        let app_id = release.app_id.clone();
        match self.deployed.get_mut(&app_id) {
            Some(done) if done.version == release.version => {
                if done.formation != formation {
                    self.logs
                        .event(&app_id, &format!("Scaled to {}", describe(&formation)));
                    self.runtime.scale(&app_id, formation.clone());
                    done.formation = formation;
                }
            }
            _ => {
                let spec = self.spec(&release, types).await?;
                self.logs.event(&app_id, &self.release_event(&release));
                self.runtime.deploy(Arc::new(spec), formation.clone());
                self.deployed.insert(
                    app_id,
                    Deployed {
                        version: release.version,
                        formation,
                    },
                );
            }
        }
        Ok(())
    }

    fn release_event(&self, release: &CurrentRelease) -> String {
        if self.first_pass {
            format!(
                "Starting release v{} after a platform restart",
                release.version
            )
        } else {
            format!(
                "Release v{} created by user {}: {}",
                release.version, release.actor_email, release.description
            )
        }
    }

    async fn spec(
        &self,
        release: &CurrentRelease,
        process_types: BTreeMap<String, String>,
    ) -> StoreResult<ReleaseSpec> {
        let env = {
            let mut conn = self.store.read().await?;
            deployments::config_vars(&mut conn, &release.app_id)
                .await
                .unwrap_or_default()
        };
        Ok(ReleaseSpec {
            id: release.id.clone(),
            app_id: release.app_id.clone(),
            app_name: release.app_name.clone(),
            version: release.version,
            slug_path: slug_path(&self.data_dir, &release.app_id, &release.slug_id),
            process_types,
            env,
        })
    }

    /// Stops the dynos of apps that no longer exist.
    fn forget_missing(&mut self, seen: &[String]) {
        let gone: Vec<String> = self
            .deployed
            .keys()
            .filter(|id| !seen.contains(id))
            .cloned()
            .collect();
        for app_id in gone {
            self.deployed.remove(&app_id);
            self.runtime.stop_app(&app_id);
            self.logs.forget(&app_id);
        }
    }
}

/// Where the build left the slug. Ids come from the store, never from input;
/// anything else yields a path that does not exist.
fn slug_path(data_dir: &std::path::Path, app_id: &str, slug_id: &str) -> PathBuf {
    let is_id = |s: &str| uuid::Uuid::parse_str(s).is_ok();
    if is_id(app_id) && is_id(slug_id) {
        data_dir
            .join("slugs")
            .join(app_id)
            .join(format!("{slug_id}.tgz"))
    } else {
        data_dir.join("slugs").join("invalid")
    }
}

fn process_types(release: &CurrentRelease) -> BTreeMap<String, String> {
    serde_json::from_str(&release.process_types).unwrap_or_else(|error| {
        tracing::error!(app.id = %release.app_id, %error, "a slug's process types are unreadable");
        BTreeMap::new()
    })
}

/// The quantity of each process type: as scaled, else the default.
pub fn formation_for(
    types: &BTreeMap<String, String>,
    scaled: Option<&BTreeMap<String, i64>>,
) -> Formation {
    types
        .keys()
        .map(|t| {
            let quantity = scaled
                .and_then(|s| s.get(t))
                .map(|q| u32::try_from(*q).unwrap_or(0))
                .unwrap_or_else(|| default_quantity(t));
            (t.clone(), quantity)
        })
        .collect()
}

/// `web@2:Basic worker@1:Basic`
fn describe(formation: &Formation) -> String {
    formation
        .iter()
        .map(|(t, q)| format!("{t}@{q}:Basic"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_runs_once_by_default_and_scaling_wins() {
        let types = BTreeMap::from([
            ("web".to_string(), "python3 app.py".to_string()),
            ("worker".to_string(), "sh work.sh".to_string()),
        ]);
        let defaults = formation_for(&types, None);
        assert_eq!(
            defaults,
            Formation::from([("web".into(), 1), ("worker".into(), 0)])
        );
        let scaled = BTreeMap::from([("web".to_string(), 3), ("clock".to_string(), 2)]);
        let formation = formation_for(&types, Some(&scaled));
        assert_eq!(
            formation,
            Formation::from([("web".into(), 3), ("worker".into(), 0)])
        );
        assert_eq!(describe(&formation), "web@3:Basic worker@0:Basic");
    }

    #[test]
    fn slug_paths_come_from_ids_only() {
        let root = std::path::Path::new("/d");
        let app = "0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10";
        let slug = "5a0e4f7e-8f1a-4f0e-bb3f-6f9c7b0c1d2e";
        assert_eq!(
            slug_path(root, app, slug),
            root.join("slugs").join(app).join(format!("{slug}.tgz"))
        );
        assert_eq!(slug_path(root, "../x", slug), root.join("slugs/invalid"));
    }
}
