//! Where an app's repository, slugs and build cache live on disk, and the few
//! questions asked of a repository.
//!
//! Every path below the data dir is derived from an app id that the store
//! generated (a UUID, checked again here), never from a name or a request.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, ProcessEnv};

const SHORT: Duration = Duration::from_secs(60);

/// The layout of git-related data under the data dir.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(data_dir: &Path) -> Layout {
        Layout {
            root: data_dir.to_path_buf(),
        }
    }

    /// The bare repository of the app; None for anything that is not an id.
    pub fn repo(&self, app_id: &str) -> Option<PathBuf> {
        let id = checked_id(app_id)?;
        Some(self.root.join("repos").join(format!("{id}.git")))
    }

    pub fn slugs(&self, app_id: &str) -> Option<PathBuf> {
        Some(self.root.join("slugs").join(checked_id(app_id)?))
    }

    pub fn cache(&self, app_id: &str) -> Option<PathBuf> {
        Some(self.root.join("build-cache").join(checked_id(app_id)?))
    }

    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// Scratch space for builds, emptied as each build ends.
    pub fn builds(&self) -> PathBuf {
        self.root.join("builds")
    }

    pub fn hooks(&self) -> PathBuf {
        self.root.join("git").join("hooks")
    }

    /// HOME of the git and build processes.
    pub fn home(&self) -> PathBuf {
        self.root.join("git").join("home")
    }
}

/// The id in its canonical form, when it is a UUID.
fn checked_id(app_id: &str) -> Option<String> {
    uuid::Uuid::parse_str(app_id)
        .ok()
        .map(|id| id.hyphenated().to_string())
        .filter(|id| id == app_id)
}

/// The hooks every push runs: both hand over to `slipway git-hook`, which
/// asks the server (see [`super::hook`]).
pub fn install_hooks(layout: &Layout) -> io::Result<()> {
    std::fs::create_dir_all(layout.hooks())?;
    std::fs::create_dir_all(layout.home())?;
    for hook in ["pre-receive", "post-receive"] {
        let path = layout.hooks().join(hook);
        let script = format!("#!/bin/sh\nexec \"$SLIPWAY_HOOK_BIN\" git-hook {hook}\n");
        std::fs::write(&path, script)?;
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    Ok(())
}

/// The app's repository, created (empty, on `main`) when it does not exist.
pub async fn ensure(env: &ProcessEnv, layout: &Layout, app_id: &str) -> io::Result<PathBuf> {
    let path = layout
        .repo(app_id)
        .ok_or_else(|| io::Error::other("app id is not a UUID"))?;
    if path.is_dir() {
        return Ok(path);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent).await?;

    // Built beside its final place and renamed, so nobody sees half a repo.
    let scratch = parent.join(format!(".init-{}", uuid::Uuid::new_v4()));
    let mut init = env.command("git");
    init.args(["init", "--quiet", "--bare", "--initial-branch=main"])
        .arg(&scratch);
    process::checked(init, SHORT)
        .await
        .map_err(io::Error::other)?;
    let mut config = env.git(&scratch, &[]);
    config.args(["config", "core.logAllRefUpdates", "always"]);
    process::checked(config, SHORT)
        .await
        .map_err(io::Error::other)?;
    if tokio::fs::rename(&scratch, &path).await.is_err() {
        // Someone else created it first; theirs is as good as ours.
        let _ = tokio::fs::remove_dir_all(&scratch).await;
        if !path.is_dir() {
            return Err(io::Error::other("cannot create the repository"));
        }
    }
    Ok(path)
}

/// Removes the app's repository, slugs and build cache.
pub async fn remove_app_data(layout: &Layout, app_id: &str) {
    let dirs = [
        layout.repo(app_id),
        layout.slugs(app_id),
        layout.cache(app_id),
    ];
    for dir in dirs.into_iter().flatten() {
        if let Err(error) = tokio::fs::remove_dir_all(&dir).await {
            if error.kind() != io::ErrorKind::NotFound {
                tracing::warn!(app.id = app_id, %error, "cannot remove {}", dir.display());
            }
        }
    }
}

/// The commit a ref points at, None when it does not exist.
pub async fn ref_tip(env: &ProcessEnv, repo: &Path, refname: &str) -> io::Result<Option<String>> {
    let mut cmd = env.git(repo, &[]);
    cmd.args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{refname}^{{commit}}"));
    let out = process::output(cmd, SHORT)
        .await
        .map_err(io::Error::other)?;
    let tip = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success() && !tip.is_empty()).then_some(tip))
}

/// The branch that deploys: `master` in repositories that have it and no
/// `main`, otherwise `main`.
pub async fn deploy_branch(env: &ProcessEnv, repo: &Path) -> io::Result<&'static str> {
    let has_main = ref_tip(env, repo, "refs/heads/main").await?.is_some();
    let has_master = ref_tip(env, repo, "refs/heads/master").await?.is_some();
    Ok(if has_master && !has_main {
        "master"
    } else {
        "main"
    })
}

/// Whether `old` is an ancestor of `new` (a fast-forward), with the pushed
/// objects reachable through `quarantine`.
pub async fn is_ancestor(
    env: &ProcessEnv,
    repo: &Path,
    quarantine: &[(String, String)],
    old: &str,
    new: &str,
) -> io::Result<bool> {
    let mut cmd = env.git(repo, quarantine);
    cmd.args(["merge-base", "--is-ancestor", old, new]);
    let out = process::output(cmd, SHORT)
        .await
        .map_err(io::Error::other)?;
    Ok(out.status.success())
}

/// Bytes taken by everything under `path`.
pub fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| disk_size(&entry.path()))
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_ids_become_paths() {
        let layout = Layout::new(Path::new("/data"));
        let id = "0b6a3c1e-4f5d-4e2a-9c3b-1a2b3c4d5e6f";
        assert_eq!(
            layout.repo(id).unwrap(),
            Path::new("/data/repos/0b6a3c1e-4f5d-4e2a-9c3b-1a2b3c4d5e6f.git")
        );
        for bad in [
            "..",
            "../x",
            "demo-app",
            "",
            "/etc",
            &id.to_uppercase(),
            &format!("{id}/.."),
        ] {
            assert!(layout.repo(bad).is_none(), "{bad}");
            assert!(layout.slugs(bad).is_none(), "{bad}");
        }
    }
}
