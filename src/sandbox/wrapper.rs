//! The command line of one sandboxed run, composed in [`command`]:
//!
//! ```text
//! sh -c JOIN CGROUP_PROCS... --            (root: joins the run's cgroups)
//!   prlimit --nofile --nproc [--as] --     (root: sets the rlimits)
//!   bwrap NAMESPACES VIEW --               (root: makes the namespaces and the view)
//!   setpriv --reuid APP --no-new-privs --  (drops to the app's user, no capabilities)
//!   sh -c '. /run/slipway/env && exec "$@"' slipway PROGRAM ARGS...
//! ```
//!
//! Only the last shell, already running as the app's user, reads the app's
//! environment; every process before it gets a fixed `PATH` and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::{AppUser, Job};

/// `PATH` of the wrapper processes, before the app's environment applies.
const TOOL_PATH: &str = "/usr/bin:/bin";

/// Where a run's environment file shows inside its sandbox.
const ENV_FILE: &str = "/run/slipway/env";

/// Joins each cgroup named before `--`, then runs what follows.
const JOIN_SCRIPT: &str =
    r#"while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@""#;

/// Loads the app's environment, then runs its program.
const LOAD_SCRIPT: &str = r#". /run/slipway/env && exec "$@""#;

/// System directories, shown read-only (or as the symlinks they are).
const SYSTEM: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// The few files of `/etc` that programs need to start, resolve names and
/// check certificates. `passwd` and `group` are the run's own.
const ETC: [&str; 16] = [
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/host.conf",
    "/etc/hosts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/protocols",
    "/etc/resolv.conf",
    "/etc/services",
    "/etc/ssl",
];

/// The programs the wrapper chain is made of.
#[derive(Debug, Clone)]
pub struct Tools {
    pub bwrap: PathBuf,
    pub setpriv: PathBuf,
    pub prlimit: PathBuf,
}

impl Tools {
    /// Looks for each tool in the system directories only.
    pub fn find() -> Result<Tools, String> {
        let find = |name: &str, package: &str| {
            ["/usr/bin", "/bin"]
                .iter()
                .map(|dir| Path::new(dir).join(name))
                .find(|path| path.is_file())
                .ok_or_else(|| format!("{name} is not installed (Debian package {package})"))
        };
        Ok(Tools {
            bwrap: find("bwrap", "bubblewrap")?,
            setpriv: find("setpriv", "util-linux")?,
            prlimit: find("prlimit", "util-linux")?,
        })
    }
}

/// Rlimits of every process of the run.
#[derive(Debug, Clone, Copy)]
pub struct Rlimits {
    pub open_files: u64,
    /// RLIMIT_NPROC: counted by the kernel over all processes of the user.
    pub processes: u64,
    /// RLIMIT_AS, where no memory cgroup limits the run.
    pub memory_bytes: Option<u64>,
}

/// Everything one run's command is made from.
pub struct Plan<'a> {
    pub tools: &'a Tools,
    pub user: &'a AppUser,
    /// `cgroup.procs` files the run joins before anything else.
    pub join: Vec<PathBuf>,
    pub rlimits: Rlimits,
    /// Keep the host's network; otherwise a network of its own with only
    /// loopback.
    pub network: bool,
    /// Size of the private `/tmp`.
    pub tmp_bytes: u64,
    /// The run's own files (environment, passwd, group), see [`write_run_files`].
    pub files: &'a Path,
    /// Host paths that must not show even inside a system directory.
    pub hidden: &'a [PathBuf],
    pub job: &'a Job<'a>,
}

/// The one place where a sandboxed command is composed.
pub fn command(plan: &Plan<'_>) -> Command {
    let mut args: Vec<OsString> = vec!["-c".into(), JOIN_SCRIPT.into(), "slipway-join".into()];
    args.extend(plan.join.iter().map(|p| p.as_os_str().to_owned()));
    args.push("--".into());

    args.push(plan.tools.prlimit.as_os_str().to_owned());
    args.push(format!("--nofile={0}:{0}", plan.rlimits.open_files).into());
    args.push(format!("--nproc={0}:{0}", plan.rlimits.processes).into());
    if let Some(bytes) = plan.rlimits.memory_bytes {
        args.push(format!("--as={bytes}:{bytes}").into());
    }
    args.push("--core=0:0".into());
    args.push("--".into());

    args.push(plan.tools.bwrap.as_os_str().to_owned());
    args.extend(bwrap_args(plan));
    args.push("--".into());

    args.push(plan.tools.setpriv.as_os_str().to_owned());
    args.extend(
        [
            format!("--reuid={}", plan.user.uid),
            format!("--regid={}", plan.user.gid),
            "--clear-groups".into(),
            "--inh-caps=-all".into(),
            "--bounding-set=-all".into(),
            "--no-new-privs".into(),
            "--".into(),
            "/bin/sh".into(),
            "-c".into(),
            LOAD_SCRIPT.into(),
            "slipway".into(),
        ]
        .map(OsString::from),
    );
    args.push(plan.job.program.as_os_str().to_owned());
    args.extend(plan.job.args.iter().cloned());

    let mut command = Command::new("/bin/sh");
    command
        .args(args)
        .env_clear()
        .env("PATH", TOOL_PATH)
        .current_dir("/")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// bubblewrap's part: namespaces, then the filesystem view, then the
/// working directory and a bare environment.
fn bwrap_args(plan: &Plan<'_>) -> Vec<OsString> {
    let mut view = View::default();
    // Not --unshare-all: it would add a user namespace, whose root maps to
    // ours, and setpriv could not switch to the app's user inside it.
    view.flags(&["--unshare-ipc", "--unshare-pid", "--unshare-uts"]);
    view.flags(&["--unshare-cgroup-try", "--die-with-parent", "--new-session"]);
    if !plan.network {
        view.flags(&["--unshare-net"]);
    }
    view.flags(&["--hostname", "slipway"]);

    view.system();
    view.flags(&["--proc", "/proc", "--dev", "/dev"]);
    let tmp_size = plan.tmp_bytes.to_string();
    for dir in ["/tmp", "/dev/shm"] {
        view.flags(&["--perms", "1777", "--size", &tmp_size, "--tmpfs", dir]);
        view.made.insert(PathBuf::from(dir));
    }
    for path in plan.hidden {
        view.hide(path);
    }

    let job = plan.job;
    for dir in &job.writable {
        view.bind("--bind", dir, dir);
    }
    for dir in &job.readable {
        view.bind("--ro-bind", dir, dir);
    }
    view.bind("--ro-bind", &plan.files.join("env"), Path::new(ENV_FILE));
    for name in ["passwd", "group"] {
        let inside = Path::new("/etc").join(name);
        view.bind("--ro-bind", &plan.files.join(name), &inside);
    }

    view.args.push("--chdir".into());
    view.args.push(job.workdir.as_os_str().to_owned());
    view.flags(&["--clearenv", "--setenv", "PATH", TOOL_PATH]);
    view.args
}

/// bubblewrap arguments for the filesystem view, and the directories made
/// in it so far.
#[derive(Default)]
struct View {
    args: Vec<OsString>,
    made: BTreeSet<PathBuf>,
}

impl View {
    fn flags(&mut self, flags: &[&str]) {
        self.args.extend(flags.iter().map(OsString::from));
    }

    fn path(&mut self, path: &Path) {
        self.args.push(path.as_os_str().to_owned());
    }

    /// The system directories read-only, and a minimal `/etc`.
    fn system(&mut self) {
        for dir in SYSTEM.map(Path::new) {
            let Ok(meta) = std::fs::symlink_metadata(dir) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                if let Ok(target) = std::fs::read_link(dir) {
                    self.flags(&["--symlink"]);
                    self.path(&target);
                    self.path(dir);
                }
            } else if meta.is_dir() {
                self.bind("--ro-bind", dir, dir);
            }
        }
        self.dir(Path::new("/etc"));
        for path in ETC.map(Path::new) {
            self.flags(&["--ro-bind-try"]);
            self.path(path);
            self.path(path);
        }
    }

    /// Covers a platform path that a system directory would show.
    fn hide(&mut self, path: &Path) {
        let shown = SYSTEM.iter().any(|dir| path.starts_with(dir))
            || ETC.iter().any(|dir| path.starts_with(dir));
        if !shown {
            return;
        }
        if path.is_dir() {
            self.flags(&["--tmpfs"]);
            self.path(path);
            self.made.insert(path.to_path_buf());
        } else {
            self.flags(&["--ro-bind", "/dev/null"]);
            self.path(path);
        }
    }

    /// Mounts `source` at `dest`, making the directories above it first
    /// (bubblewrap would make them readable by root only).
    fn bind(&mut self, how: &str, source: &Path, dest: &Path) {
        if let Some(parent) = dest.parent() {
            self.dir(parent);
        }
        self.flags(&[how]);
        self.path(source);
        self.path(dest);
        self.made.insert(dest.to_path_buf());
    }

    /// `dir` and the directories above it, open to read and search.
    fn dir(&mut self, dir: &Path) {
        let missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|d| d.parent().is_some() && !self.made.contains(*d))
            .collect();
        for dir in missing.into_iter().rev() {
            self.flags(&["--perms", "0755", "--dir"]);
            self.path(dir);
            self.made.insert(dir.to_path_buf());
        }
    }
}

/// Writes the run's environment, `passwd` and `group` into `files`, a
/// directory only root can enter; the sandbox shows each file read-only.
pub fn write_run_files(files: &Path, user: &AppUser, job: &Job<'_>) -> io::Result<()> {
    std::fs::create_dir_all(files)?;
    std::fs::set_permissions(files, std::fs::Permissions::from_mode(0o700))?;
    let home = job
        .env
        .get("HOME")
        .map(String::as_str)
        .unwrap_or("/nonexistent");
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n\
         {name}:x:{uid}:{gid}:app:{home}:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        name = user.name,
        uid = user.uid,
        gid = user.gid,
    );
    let group = format!(
        "root:x:0:\n{name}:x:{gid}:\nnogroup:x:65534:\n",
        name = user.name,
        gid = user.gid
    );
    for (name, text) in [
        ("env", render_env(&job.env)),
        ("passwd", passwd),
        ("group", group),
    ] {
        let path = files.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// The environment as `export NAME='value'` lines for `sh`. Names that are
/// not shell names, and values holding NUL, cannot be in an environment and
/// are left out.
pub fn render_env(env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (name, value) in env {
        let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || value.contains('\0') {
            continue;
        }
        let quoted = value.replace('\'', r"'\''");
        out.push_str(&format!("export {name}='{quoted}'\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_the_shell() {
        let env = BTreeMap::from([
            ("A".to_string(), "it's $HOME `x` \"y\"\nz".to_string()),
            ("BAD-NAME".to_string(), "x".to_string()),
            ("NUL".to_string(), "a\0b".to_string()),
        ]);
        assert_eq!(render_env(&env), "export A='it'\\''s $HOME `x` \"y\"\nz'\n");
    }
}
