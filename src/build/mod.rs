//! Builds: a pushed commit becomes a slug (a tar.gz of the app's files, ready
//! to run) while the output streams to the pusher.
//!
//! Steps: export the commit's tree, drop what `.slugignore` names, run the
//! app's buildpack when it names one (`BUILDPACK_URL`), read the process types
//! from the `Procfile` (or the buildpack's defaults), and compress.

mod buildpack;
mod procfile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::git::process::ProcessEnv;
use crate::git::repo::Layout;
use crate::sandbox::Sandbox;

/// Lines of build output on their way to the pusher.
#[derive(Clone)]
pub struct Progress {
    tx: mpsc::Sender<String>,
}

impl Progress {
    pub fn channel() -> (Progress, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(256);
        (Progress { tx }, rx)
    }

    /// A line as it is. A pusher who went away does not stop the build.
    pub async fn raw(&self, line: impl Into<String>) {
        let _ = self.tx.send(line.into()).await;
    }

    /// `-----> Step`
    pub async fn step(&self, text: impl AsRef<str>) {
        self.raw(format!("-----> {}", text.as_ref())).await;
    }

    /// An indented detail under a step.
    pub async fn info(&self, text: impl AsRef<str>) {
        self.raw(format!("       {}", text.as_ref())).await;
    }

    /// ` !     Problem`
    pub async fn warn(&self, text: impl AsRef<str>) {
        self.raw(format!(" !     {}", text.as_ref())).await;
    }
}

/// What to build and where.
pub struct BuildJob<'a> {
    pub app_id: &'a str,
    pub commit: &'a str,
    pub repo: &'a Path,
    /// Makes the pushed (not yet accepted) objects readable.
    pub quarantine: &'a [(String, String)],
    pub layout: &'a Layout,
    pub env: &'a ProcessEnv,
    /// The app's config vars; `BUILDPACK_URL` among them picks the buildpack.
    pub config: BTreeMap<String, String>,
    pub deadline: Instant,
    /// Where the buildpack's programs run.
    pub sandbox: &'a Sandbox,
}

/// A finished slug, stored at `path`.
#[derive(Debug, Clone)]
pub struct BuiltSlug {
    pub id: String,
    pub path: PathBuf,
    pub size: u64,
    pub process_types: BTreeMap<String, String>,
    pub buildpack: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The app's build failed; the message is for the pusher.
    #[error("{0}")]
    Failed(String),
    /// Something on the server went wrong.
    #[error("build failed on the server: {0}")]
    Internal(String),
    #[error("the build took longer than allowed")]
    TimedOut,
}

fn internal(error: impl std::fmt::Display) -> BuildError {
    BuildError::Internal(error.to_string())
}

pub async fn build(job: &BuildJob<'_>, progress: &Progress) -> Result<BuiltSlug, BuildError> {
    let scratch = job.layout.builds().join(uuid::Uuid::new_v4().to_string());
    let result = build_in(&scratch, job, progress).await;
    if let Err(error) = tokio::fs::remove_dir_all(&scratch).await {
        tracing::warn!(%error, "cannot remove build dir {}", scratch.display());
    }
    result
}

async fn build_in(
    scratch: &Path,
    job: &BuildJob<'_>,
    progress: &Progress,
) -> Result<BuiltSlug, BuildError> {
    let app_dir = scratch.join("app");
    tokio::fs::create_dir_all(&app_dir)
        .await
        .map_err(internal)?;
    export_tree(job, scratch, &app_dir).await?;
    apply_slugignore(job, scratch, &app_dir, progress).await?;

    // The buildpack compiles; without one the tree is the slug as it is.
    let (buildpack, defaults) = match job.config.get("BUILDPACK_URL") {
        Some(url) => {
            let defaults = buildpack::run(job, url, scratch, &app_dir, progress).await?;
            (Some(url.clone()), defaults)
        }
        None => {
            progress
                .step("Procfile-only build (no BUILDPACK_URL set)")
                .await;
            (None, BTreeMap::new())
        }
    };
    let process_types = process_types(&app_dir, defaults, progress).await?;

    progress.step("Compressing...").await;
    let slug = compress(job, &app_dir).await?;
    progress
        .info(format!("Done: {}", human_size(slug.size)))
        .await;
    Ok(BuiltSlug {
        process_types,
        buildpack,
        ..slug
    })
}

/// Writes the commit's tree into `app_dir`.
async fn export_tree(job: &BuildJob<'_>, scratch: &Path, app_dir: &Path) -> Result<(), BuildError> {
    let archive = scratch.join("source.tar");
    let mut cmd = job.env.git(job.repo, job.quarantine);
    cmd.args(["archive", "--format=tar", "-o"])
        .arg(&archive)
        .arg(job.commit);
    run_quietly(cmd, job.deadline).await?;

    let mut cmd = job.env.command("tar");
    cmd.args(["-x", "--no-same-owner", "-f"])
        .arg(&archive)
        .arg("-C")
        .arg(app_dir);
    run_quietly(cmd, job.deadline).await?;
    tokio::fs::remove_file(&archive).await.map_err(internal)
}

/// Deletes the files that `.slugignore` names. Its patterns follow
/// `.gitignore` rules, so git itself matches them.
async fn apply_slugignore(
    job: &BuildJob<'_>,
    scratch: &Path,
    app_dir: &Path,
    progress: &Progress,
) -> Result<(), BuildError> {
    let patterns = app_dir.join(".slugignore");
    if !patterns.is_file() {
        return Ok(());
    }
    let index_repo = scratch.join("slugignore.git");
    let mut init = job.env.command("git");
    init.args(["init", "--quiet"]).arg(&index_repo);
    run_quietly(init, job.deadline).await?;

    let mut list = job.env.command("git");
    list.arg("--git-dir")
        .arg(index_repo.join(".git"))
        .arg("--work-tree")
        .arg(app_dir)
        .current_dir(app_dir)
        .args(["ls-files", "-z", "--others", "--ignored", "--exclude-from"])
        .arg(&patterns);
    let listed = run_quietly(list, job.deadline).await?;

    let mut removed = 0;
    for relative in listed.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let relative = String::from_utf8_lossy(relative);
        let path = app_dir.join(relative.as_ref());
        // git lists paths inside the work tree; check anyway before deleting.
        if path.starts_with(app_dir) && !relative.split('/').any(|part| part == "..") {
            tokio::fs::remove_file(&path).await.map_err(internal)?;
            removed += 1;
        }
    }
    progress
        .step(format!("Removed {removed} files named in .slugignore"))
        .await;
    Ok(())
}

/// The Procfile's process types over the buildpack's defaults.
async fn process_types(
    app_dir: &Path,
    defaults: BTreeMap<String, String>,
    progress: &Progress,
) -> Result<BTreeMap<String, String>, BuildError> {
    progress.step("Discovering process types").await;
    let mut types = defaults;
    match tokio::fs::read_to_string(app_dir.join("Procfile")).await {
        Ok(text) => types.extend(procfile::parse(&text).map_err(BuildError::Failed)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            progress.info("No Procfile found").await;
        }
        Err(_) => return Err(BuildError::Failed("Procfile cannot be read".into())),
    }
    let names: Vec<&str> = types.keys().map(String::as_str).collect();
    if names.is_empty() {
        progress.info("No process types declared").await;
    } else {
        progress
            .info(format!("Procfile declares types -> {}", names.join(", ")))
            .await;
    }
    Ok(types)
}

/// Packs `app_dir` into the app's slug directory.
async fn compress(job: &BuildJob<'_>, app_dir: &Path) -> Result<BuiltSlug, BuildError> {
    let dir = job
        .layout
        .slugs(job.app_id)
        .ok_or_else(|| internal("app id is not a UUID"))?;
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    let id = uuid::Uuid::new_v4().to_string();
    let path = dir.join(format!("{id}.tgz"));
    let mut cmd = job.env.command("tar");
    cmd.arg("-czf").arg(&path).arg("-C").arg(app_dir).arg(".");
    if let Err(error) = run_quietly(cmd, job.deadline).await {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(error);
    }
    let size = tokio::fs::metadata(&path).await.map_err(internal)?.len();
    Ok(BuiltSlug {
        id,
        path,
        size,
        process_types: BTreeMap::new(),
        buildpack: None,
    })
}

/// Runs a build step of ours (not the app's) and returns its stdout.
async fn run_quietly(mut cmd: Command, deadline: Instant) -> Result<Vec<u8>, BuildError> {
    let program = format!("{:?}", cmd.as_std().get_program());
    let child = cmd.spawn().map_err(internal)?;
    let out = tokio::time::timeout_at(deadline, child.wait_with_output())
        .await
        .map_err(|_| BuildError::TimedOut)?
        .map_err(internal)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(internal(format!("{program}: {}", stderr.trim())));
    }
    Ok(out.stdout)
}

/// Runs one of the app's build programs, passing each output line on as it
/// comes; true when it succeeded.
async fn run_streaming(
    mut cmd: Command,
    deadline: Instant,
    progress: &Progress,
) -> Result<bool, BuildError> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(internal)?;
    let stdout = child.stdout.take().ok_or_else(|| internal("no stdout"))?;
    let stderr = child.stderr.take().ok_or_else(|| internal("no stderr"))?;
    let run = async {
        tokio::join!(forward(stdout, progress), forward(stderr, progress));
        child.wait().await
    };
    let finished = tokio::time::timeout_at(deadline, run).await;
    match finished {
        Ok(status) => Ok(status.map_err(internal)?.success()),
        Err(_) => {
            let _ = child.kill().await;
            Err(BuildError::TimedOut)
        }
    }
}

async fn forward(reader: impl AsyncRead + Unpin, progress: &Progress) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                progress.raw(text.trim_end_matches(['\n', '\r'])).await;
            }
        }
    }
}

/// `1536` -> `1.5K`, as build output shows sizes.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "K", "M", "G"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", units[unit])
    }
}
