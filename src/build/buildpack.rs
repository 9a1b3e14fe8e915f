//! Buildpacks in Heroku's format: `bin/detect BUILD`, `bin/compile BUILD
//! CACHE ENV`, and optionally `bin/release BUILD` for default process types.
//!
//! Each of them is the app's code, so each runs in the sandbox as the app's
//! own user: it may change the build dir and the app's cache, and read the
//! buildpack and the config vars (ENV_DIR); nothing else of the server shows.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::{internal, procfile, run_quietly, run_streaming, BuildError, BuildJob, Progress};
use crate::sandbox::{Job, Kind, Run, SandboxError, Sandboxed};

/// `PATH` of the buildpack's programs.
const BUILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The directories a buildpack's programs work with.
struct Dirs<'a> {
    buildpack: &'a Path,
    app: &'a Path,
    cache: &'a Path,
    env: &'a Path,
}

/// Runs the buildpack named by `url` on `app_dir`; returns its default
/// process types.
pub async fn run(
    job: &BuildJob<'_>,
    url: &str,
    scratch: &Path,
    app_dir: &Path,
    progress: &Progress,
) -> Result<BTreeMap<String, String>, BuildError> {
    let buildpack = fetch(job, url, scratch, progress).await?;
    let cache = job
        .layout
        .cache(job.app_id)
        .ok_or_else(|| internal("app id is not a UUID"))?;
    tokio::fs::create_dir_all(&cache).await.map_err(internal)?;
    let env_dir = write_env_dir(&job.config, scratch).await?;
    let dirs = Dirs {
        buildpack: &buildpack,
        app: app_dir,
        cache: &cache,
        env: &env_dir,
    };
    let name = detect(job, &dirs).await?;
    progress.step(format!("{name} app detected")).await;

    let (compile, run) = step(job, &dirs, "bin/compile", &[app_dir, &cache, &env_dir]).await?;
    if !run_streaming(compile, job.deadline, progress).await? {
        return Err(BuildError::Failed(failure(
            &run,
            &format!("Failed to compile {name} app."),
        )));
    }
    drop(run);

    if !buildpack.join("bin/release").is_file() {
        return Ok(BTreeMap::new());
    }
    let (release, run) = step(job, &dirs, "bin/release", &[app_dir]).await?;
    let yaml = run_quietly(release, job.deadline)
        .await
        .map_err(|_| BuildError::Failed(failure(&run, "The buildpack's bin/release failed.")))?;
    Ok(procfile::release_defaults(&String::from_utf8_lossy(&yaml)))
}

/// Why a step failed, naming the memory limit when that is what ended it.
fn failure(run: &Run, otherwise: &str) -> String {
    if run.memory_exceeded() {
        format!(
            "The build was stopped: it reached its memory limit of {} MB.",
            run.limits().memory_mb
        )
    } else {
        otherwise.to_string()
    }
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
        refuse_platform_path(job, local)?;
        return Ok(local.to_path_buf());
    }
    if let Ok(path) = url::Url::parse(url).and_then(|u| {
        if u.scheme() == "file" {
            u.to_file_path().map_err(|_| url::ParseError::EmptyHost)
        } else {
            Err(url::ParseError::EmptyHost)
        }
    }) {
        refuse_platform_path(job, &path)?;
    }
    let remote = url.starts_with("https://") || url.starts_with("http://");
    if !remote && !url.starts_with("file://") {
        return Err(BuildError::Failed(format!(
            "BUILDPACK_URL must be a directory on the server or an http(s):// or file:// git \
             URL, not {url:?}."
        )));
    }
    progress.step(format!("Fetching buildpack {url}")).await;
    let fetched = if remote {
        clone_in_sandbox(job, url, scratch).await
    } else {
        let dir = scratch.join("buildpack");
        let mut clone = job.env.command("git");
        clone
            .args(["clone", "--quiet", "--depth", "1", "--"])
            .arg(url)
            .arg(&dir);
        run_quietly(clone, job.deadline).await.map(|_| dir)
    };
    fetched.map_err(|error| match error {
        BuildError::TimedOut => BuildError::TimedOut,
        _ => BuildError::Failed(format!("Cannot fetch the buildpack {url}.")),
    })
}

/// Clones a buildpack over the network as the app's user, in the sandbox:
/// the URL is the app's to choose, so the request must not come from the
/// server, which could reach services on its own loopback or in its
/// private network that the app cannot.
async fn clone_in_sandbox(
    job: &BuildJob<'_>,
    url: &str,
    scratch: &Path,
) -> Result<PathBuf, BuildError> {
    let home = scratch.join("fetch");
    tokio::fs::create_dir_all(&home).await.map_err(internal)?;
    let dir = home.join("buildpack");
    let env = BTreeMap::from([
        ("PATH".to_string(), BUILD_PATH.to_string()),
        ("HOME".to_string(), home.display().to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("GIT_TERMINAL_PROMPT".to_string(), "0".to_string()),
        ("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string()),
    ]);
    let args = ["clone", "--quiet", "--depth", "1", "--", url]
        .into_iter()
        .map(OsString::from)
        .chain([dir.clone().into_os_string()])
        .collect();
    let fetch = Job {
        app_id: job.app_id,
        kind: Kind::Fetch,
        program: git_program(),
        args,
        workdir: &home,
        writable: vec![&home],
        readable: Vec::new(),
        env,
    };
    let (command, run) = in_sandbox(job, &fetch).await?;
    let fetched = run_quietly(command, job.deadline).await;
    drop(run);
    fetched.map(|_| dir)
}

/// The system's git, which the sandbox shows read-only under `/usr`.
fn git_program() -> &'static Path {
    ["/usr/bin/git", "/usr/local/bin/git"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .unwrap_or(Path::new("/usr/bin/git"))
}

/// A buildpack must not be taken from the data dir: that would hand the
/// build another app's repository or files.
fn refuse_platform_path(job: &BuildJob<'_>, path: &Path) -> Result<(), BuildError> {
    let data_dir = job.layout.data_dir();
    let inside = |p: &Path| p.starts_with(data_dir);
    let resolved = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if inside(path) || inside(&resolved) {
        return Err(BuildError::Failed(
            "BUILDPACK_URL cannot name a place inside the server's data dir.".into(),
        ));
    }
    Ok(())
}

/// Runs `bin/detect`; its first output line names the app's kind.
async fn detect(job: &BuildJob<'_>, dirs: &Dirs<'_>) -> Result<String, BuildError> {
    if !dirs.buildpack.join("bin/detect").is_file() {
        return Err(BuildError::Failed(
            "The buildpack has no bin/detect; it is not in the buildpack format.".into(),
        ));
    }
    let (cmd, run) = step(job, dirs, "bin/detect", &[dirs.app]).await?;
    let out = run_quietly(cmd, job.deadline)
        .await
        .map_err(|error| match error {
            BuildError::TimedOut => BuildError::TimedOut,
            _ => BuildError::Failed(failure(
                &run,
                "App not compatible with the buildpack (bin/detect refused it).",
            )),
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

/// One of the buildpack's programs, with the build's environment, ready to
/// run in the sandbox; the [`Run`] must live until it has ended.
async fn step(
    job: &BuildJob<'_>,
    dirs: &Dirs<'_>,
    program: &str,
    args: &[&Path],
) -> Result<(Command, Run), BuildError> {
    let program = dirs.buildpack.join(program);
    let app = dirs.app.display().to_string();
    let env = [
        ("PATH", BUILD_PATH),
        ("HOME", app.as_str()),
        ("LANG", "C.UTF-8"),
        ("STACK", "heroku-24"),
        ("SOURCE_VERSION", job.commit),
    ];
    let sandboxed = Job {
        app_id: job.app_id,
        kind: Kind::Build,
        program: &program,
        args: args.iter().map(|a| OsString::from(a.as_os_str())).collect(),
        workdir: dirs.app,
        writable: vec![dirs.app, dirs.cache],
        readable: vec![dirs.buildpack, dirs.env],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    in_sandbox(job, &sandboxed).await
}

/// The command that runs `sandboxed` for this build, its output piped; a
/// server that cannot isolate fails the build with its reason.
async fn in_sandbox(job: &BuildJob<'_>, sandboxed: &Job<'_>) -> Result<(Command, Run), BuildError> {
    let Sandboxed { mut command, run } =
        job.sandbox
            .command(sandboxed)
            .await
            .map_err(|error| match error {
                SandboxError::Unavailable(_) => BuildError::Failed(error.to_string()),
                other => internal(other),
            })?;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    Ok((command, run))
}
