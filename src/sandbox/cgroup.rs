//! A cgroup per run for its memory and process limits: cgroup v2 where the
//! machine offers the `memory` and `pids` controllers there, else the v1
//! `memory` and `pids` hierarchies. Each run's group lives under a `slipway`
//! group and is named by a fresh UUID.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Limits;

/// Where the run groups are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    V2 { parent: PathBuf },
    V1 { memory: PathBuf, pids: PathBuf },
}

const ROOT: &str = "/sys/fs/cgroup";

impl Hierarchy {
    /// The hierarchy of this machine, with the `slipway` group made; None
    /// when neither is usable. Groups are not swept at start-up: several
    /// servers may share the machine, and a fresh group is empty until its
    /// run joins it.
    pub fn detect() -> Option<Hierarchy> {
        let found = Self::v2(Path::new(ROOT)).or_else(|| Self::v1(Path::new(ROOT)));
        match found {
            Some(Ok(hierarchy)) => Some(hierarchy),
            Some(Err(error)) => {
                tracing::warn!(%error, "cgroups are mounted but cannot be used; limits use rlimits");
                None
            }
            None => None,
        }
    }

    /// cgroup v2 at `root`, when it offers both controllers.
    pub fn v2(root: &Path) -> Option<io::Result<Hierarchy>> {
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).ok()?;
        let offered: Vec<&str> = controllers.split_whitespace().collect();
        if !offered.contains(&"memory") || !offered.contains(&"pids") {
            return None;
        }
        let parent = root.join("slipway");
        let made = (|| {
            enable_controllers(root)?;
            std::fs::create_dir_all(&parent)?;
            enable_controllers(&parent)?;
            Ok(Hierarchy::V2 { parent })
        })();
        Some(made)
    }

    /// cgroup v1, when `memory` and `pids` are mounted under `root`.
    pub fn v1(root: &Path) -> Option<io::Result<Hierarchy>> {
        let memory = root.join("memory");
        let pids = root.join("pids");
        if !memory.join("memory.limit_in_bytes").is_file() || !pids.join("cgroup.procs").is_file() {
            return None;
        }
        let (memory, pids) = (memory.join("slipway"), pids.join("slipway"));
        let made = std::fs::create_dir_all(&memory)
            .and_then(|_| std::fs::create_dir_all(&pids))
            .map(|_| Hierarchy::V1 { memory, pids });
        Some(made)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Hierarchy::V2 { .. } => "cgroup v2",
            Hierarchy::V1 { .. } => "cgroup v1",
        }
    }

    fn parents(&self) -> Vec<&Path> {
        match self {
            Hierarchy::V2 { parent } => vec![parent],
            Hierarchy::V1 { memory, pids } => vec![memory, pids],
        }
    }

    /// A group for one run, named `id` (a UUID), with its limits set.
    pub fn create(&self, id: &str, limits: &Limits) -> io::Result<Group> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a run id"));
        }
        let memory = (limits.memory_mb << 20).to_string();
        let processes = limits.processes.to_string();
        let group = match self {
            Hierarchy::V2 { parent } => Group {
                dirs: vec![parent.join(id)],
                version: 2,
            },
            Hierarchy::V1 { memory, pids } => Group {
                dirs: vec![memory.join(id), pids.join(id)],
                version: 1,
            },
        };
        match group.configure(&memory, &processes) {
            Ok(()) => Ok(group),
            Err(error) => {
                group.remove();
                Err(error)
            }
        }
    }
}

/// Turns on `memory` and `pids` for the groups below `dir`.
fn enable_controllers(dir: &Path) -> io::Result<()> {
    std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids")
}

/// One run's cgroup (one directory in v2, one per controller in v1).
#[derive(Debug)]
pub struct Group {
    dirs: Vec<PathBuf>,
    version: u8,
}

impl Group {
    fn configure(&self, memory: &str, processes: &str) -> io::Result<()> {
        for dir in &self.dirs {
            std::fs::create_dir(dir)?;
        }
        let dir = &self.dirs[0];
        if self.version == 2 {
            std::fs::write(dir.join("memory.max"), memory)?;
            // No swap: the limit is the memory the run may use.
            write_if_present(&dir.join("memory.swap.max"), "0")?;
            std::fs::write(dir.join("pids.max"), processes)?;
        } else {
            std::fs::write(dir.join("memory.limit_in_bytes"), memory)?;
            write_if_present(&dir.join("memory.memsw.limit_in_bytes"), memory)?;
            std::fs::write(self.dirs[1].join("pids.max"), processes)?;
        }
        Ok(())
    }

    /// The files a process writes its pid to, to join the group.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// How many times the kernel killed a process here for want of memory.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.version {
            2 => "memory.events",
            _ => "memory.oom_control",
        };
        let text = std::fs::read_to_string(self.dirs[0].join(file)).unwrap_or_default();
        counter(&text, "oom_kill")
    }

    /// The processes in the group, as the host numbers them.
    pub fn pids(&self) -> Vec<i32> {
        let text = std::fs::read_to_string(self.dirs[0].join("cgroup.procs")).unwrap_or_default();
        text.lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Removes the group. A group can only go once its processes are gone,
    /// which the kernel finishes shortly after the run's end, so a busy group
    /// is tried again a few times in the background.
    pub fn remove(self) {
        if self.try_remove() {
            return;
        }
        std::thread::spawn(move || {
            for _ in 0..50 {
                std::thread::sleep(Duration::from_millis(100));
                if self.try_remove() {
                    return;
                }
            }
            tracing::warn!(group = %self.dirs[0].display(), "a run's cgroup is still busy");
        });
    }

    fn try_remove(&self) -> bool {
        self.dirs
            .iter()
            .all(|dir| !dir.exists() || std::fs::remove_dir(dir).is_ok())
    }
}

fn write_if_present(path: &Path, value: &str) -> io::Result<()> {
    if path.exists() {
        std::fs::write(path, value)?;
    }
    Ok(())
}

/// `name N` from a flat-keyed cgroup file.
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_oom_kill_counter_of_either_version() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(counter(v1, "oom_kill"), 3);
        assert_eq!(counter(v2, "oom_kill"), 1);
        assert_eq!(counter("", "oom_kill"), 0);
    }

    #[test]
    fn v2_is_used_only_where_it_offers_both_controllers() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu io\n").unwrap();
        assert!(Hierarchy::v2(root.path()).is_none());

        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let made = Hierarchy::v2(root.path()).unwrap().unwrap();
        assert_eq!(
            made,
            Hierarchy::V2 {
                parent: root.path().join("slipway")
            }
        );
        let enabled = std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap();
        assert_eq!(enabled, "+memory +pids");
        assert!(Hierarchy::v1(root.path()).is_none());
    }

    #[test]
    fn a_v2_group_gets_its_limits() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = Hierarchy::V2 {
            parent: root.path().to_path_buf(),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let limits = Limits {
            memory_mb: 64,
            processes: 32,
            open_files: 100,
        };
        assert!(hierarchy.create("../x", &limits).is_err());
        // Plain files stand in for the kernel's.
        let group = hierarchy.create(&id, &limits).unwrap();
        let read = |name: &str| std::fs::read_to_string(root.path().join(&id).join(name)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("pids.max"), "32");
        assert_eq!(
            group.procs_files(),
            [root.path().join(&id).join("cgroup.procs")]
        );
    }
}
