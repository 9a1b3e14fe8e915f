//! Buildpacks in Heroku's format: `bin/detect BUILD`, `bin/compile BUILD
//! CACHE ENV`, and optionally `bin/release BUILD` for default process types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::{internal, procfile, run_quietly, run_streaming, BuildError, BuildJob, Progress};

/// Runs the buildpack named by `url` on `app_dir`; returns its default
/// process types.
pub async fn run(
    job: &BuildJob<'_>,
    url: &str,
    scratch: &Path,
    app_dir: &Path,
    progress: &Progress,
) -> Result<BTreeMap<String, String>, BuildError> {
    let dir = fetch(job, url, scratch, progress).await?;
    let name = detect(job, &dir, app_dir).await?;
    progress.step(format!("{name} app detected")).await;

    let cache = job
        .layout
        .cache(job.app_id)
        .ok_or_else(|| internal("app id is not a UUID"))?;
    tokio::fs::create_dir_all(&cache).await.map_err(internal)?;
    let env_dir = write_env_dir(&job.config, scratch).await?;
    let mut compile = buildpack_command(job, &dir.join("bin/compile"));
    compile.arg(app_dir).arg(&cache).arg(&env_dir);
    if !run_streaming(compile, job.deadline, progress).await? {
        return Err(BuildError::Failed(format!("Failed to compile {name} app.")));
    }

    let release = dir.join("bin/release");
    if !release.is_file() {
        return Ok(BTreeMap::new());
    }
    let mut cmd = buildpack_command(job, &release);
    cmd.arg(app_dir);
    let yaml = run_quietly(cmd, job.deadline)
        .await
        .map_err(|_| BuildError::Failed("The buildpack's bin/release failed.".into()))?;
    Ok(procfile::release_defaults(&String::from_utf8_lossy(&yaml)))
}

/// The buildpack's directory: a local path as given, or a shallow clone.
async fn fetch(
    job: &BuildJob<'_>,
    url: &str,
    scratch: &Path,
    progress: &Progress,
) -> Result<PathBuf, BuildError> {
    let local = Path::new(url);
    if local.is_absolute() && local.is_dir() {
        return Ok(local.to_path_buf());
    }
    let allowed = ["https://", "http://", "file://"];
    if !allowed.iter().any(|scheme| url.starts_with(scheme)) {
        return Err(BuildError::Failed(format!(
            "BUILDPACK_URL must be a directory on the server or an http(s):// or file:// git \
             URL, not {url:?}."
        )));
    }
    progress.step(format!("Fetching buildpack {url}")).await;
    let dir = scratch.join("buildpack");
    let mut clone = job.env.command("git");
    clone
        .args(["clone", "--quiet", "--depth", "1", "--"])
        .arg(url)
        .arg(&dir);
    run_quietly(clone, job.deadline)
        .await
        .map_err(|_| BuildError::Failed(format!("Cannot fetch the buildpack {url}.")))?;
    Ok(dir)
}

/// Runs `bin/detect`; its first output line names the app's kind.
async fn detect(job: &BuildJob<'_>, dir: &Path, app_dir: &Path) -> Result<String, BuildError> {
    let script = dir.join("bin/detect");
    if !script.is_file() {
        return Err(BuildError::Failed(
            "The buildpack has no bin/detect; it is not in the buildpack format.".into(),
        ));
    }
    let mut cmd = buildpack_command(job, &script);
    cmd.arg(app_dir);
    let out = run_quietly(cmd, job.deadline)
        .await
        .map_err(|error| match error {
            BuildError::TimedOut => BuildError::TimedOut,
            _ => BuildError::Failed(
                "App not compatible with the buildpack (bin/detect refused it).".into(),
            ),
        })?;
    let name = String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    Ok(if name.is_empty() { "App".into() } else { name })
}

/// One file per config var, as `bin/compile` expects its ENV_DIR.
async fn write_env_dir(
    config: &BTreeMap<String, String>,
    scratch: &Path,
) -> Result<PathBuf, BuildError> {
    let dir = scratch.join("env");
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    for (key, value) in config {
        let safe = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with(|c: char| c.is_ascii_digit());
        if safe {
            tokio::fs::write(dir.join(key), value)
                .await
                .map_err(internal)?;
        }
    }
    Ok(dir)
}

/// A buildpack program with the build's environment.
fn buildpack_command(job: &BuildJob<'_>, program: &Path) -> Command {
    let mut cmd = job.env.command(&program.to_string_lossy());
    cmd.env("STACK", "heroku-24")
        .env("SOURCE_VERSION", job.commit);
    cmd
}
