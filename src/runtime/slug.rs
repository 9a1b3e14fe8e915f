//! Where releases and dynos live on disk: each release's slug is unpacked
//! once under `<runtime dir>/releases/<app id>/v<version>/`, and each dyno
//! gets a copy of it under `<runtime dir>/dynos/<app id>/<dyno id>/` as a
//! working directory of its own. Paths are made from ids only.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct Dirs {
    root: PathBuf,
}

impl Dirs {
    pub fn new(root: PathBuf) -> Self {
        Dirs { root }
    }

    fn app_releases(&self, app_id: &str) -> io::Result<PathBuf> {
        Ok(self.root.join("releases").join(checked_id(app_id)?))
    }

    fn app_dynos(&self, app_id: &str) -> io::Result<PathBuf> {
        Ok(self.root.join("dynos").join(checked_id(app_id)?))
    }

    /// Unpacks the release's slug, unless that was done already, and returns
    /// the directory that holds the app.
    pub async fn unpack(&self, app_id: &str, version: i64, slug: &Path) -> io::Result<PathBuf> {
        let dir = self.app_releases(app_id)?.join(format!("v{version}"));
        if dir.is_dir() {
            return Ok(app_root(dir));
        }
        let partial = self
            .app_releases(app_id)?
            .join(format!(".v{version}-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::create_dir_all(&partial).await?;
        let result = run_tool(
            Command::new("tar")
                .arg("-xzf")
                .arg(slug)
                .arg("-C")
                .arg(&partial)
                .arg("--no-same-owner"),
        )
        .await;
        if let Err(error) = result {
            let _ = tokio::fs::remove_dir_all(&partial).await;
            return Err(error);
        }
        // Another deploy of the same version may have won the race; either
        // copy is the same.
        if tokio::fs::rename(&partial, &dir).await.is_err() {
            let _ = tokio::fs::remove_dir_all(&partial).await;
        }
        Ok(app_root(dir))
    }

    /// A fresh working directory for one dyno, holding a copy of the app.
    pub async fn dyno_workdir(
        &self,
        app_id: &str,
        dyno_id: &str,
        app: &Path,
    ) -> io::Result<PathBuf> {
        let dir = self.app_dynos(app_id)?.join(checked_id(dyno_id)?);
        if dir.exists() {
            tokio::fs::remove_dir_all(&dir).await?;
        }
        tokio::fs::create_dir_all(&dir).await?;
        let mut source = app.as_os_str().to_owned();
        source.push("/.");
        run_tool(Command::new("cp").arg("-a").arg(source).arg(&dir)).await?;
        Ok(dir)
    }

    pub async fn remove_workdir(&self, dir: &Path) {
        if let Err(error) = tokio::fs::remove_dir_all(dir).await {
            tracing::warn!(dir = %dir.display(), %error, "could not remove a dyno's directory");
        }
    }

    /// Removes unpacked releases of the app other than the versions in `keep`.
    pub async fn prune_releases(&self, app_id: &str, keep: &[i64]) {
        let Ok(dir) = self.app_releases(app_id) else {
            return;
        };
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            return;
        };
        let keep: Vec<String> = keep.iter().map(|v| format!("v{v}")).collect();
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                let _ = tokio::fs::remove_dir_all(entry.path()).await;
            }
        }
    }

    /// Removes everything the app left on disk.
    pub async fn remove_app(&self, app_id: &str) {
        for dir in [self.app_releases(app_id), self.app_dynos(app_id)]
            .into_iter()
            .flatten()
        {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
    }

    /// Removes the dyno directories a previous run left behind.
    pub fn clear_dynos(&self) {
        let _ = std::fs::remove_dir_all(self.root.join("dynos"));
    }
}

/// A slug holds the app either at its top or inside `app/`, as Heroku's do.
fn app_root(dir: PathBuf) -> PathBuf {
    let inner = dir.join("app");
    let only_app = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().count() == 1)
        .unwrap_or(false);
    if only_app && inner.is_dir() {
        inner
    } else {
        dir
    }
}

/// Ids become path segments: only letters, digits and dashes pass.
fn checked_id(id: &str) -> io::Result<&str> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(id)
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, "not an id"))
    }
}

async fn run_tool(command: &mut Command) -> io::Result<()> {
    let output = command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await?;
    if output.status.success() {
        Ok(())
    } else {
        let message = String::from_utf8_lossy(&output.stderr);
        Err(io::Error::other(
            message.trim().chars().take(500).collect::<String>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_become_paths() {
        assert!(checked_id("3f2a-9b").is_ok());
        for bad in ["", "..", "a/b", "a b", &"x".repeat(65)] {
            assert!(checked_id(bad).is_err(), "{bad:?}");
        }
    }
}
