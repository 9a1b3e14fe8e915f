//! `~/.netrc`: where `slipway login` keeps the API key, so that plain `git`
//! (through curl) finds it too. Entries are keyed by bare host name, the way
//! curl matches them.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub machine: String,
    pub login: String,
    pub password: String,
}

pub fn path() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("NETRC") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".netrc"))
}

/// Parses the `machine`/`login`/`password` entries; other tokens are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut tokens = text.split_whitespace();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                entries.extend(current.take());
                current = tokens.next().map(|m| Entry {
                    machine: m.to_string(),
                    login: String::new(),
                    password: String::new(),
                });
            }
            "default" => entries.extend(current.take()),
            "login" | "password" => {
                let value = tokens.next().unwrap_or_default().to_string();
                if let Some(entry) = current.as_mut() {
                    if token == "login" {
                        entry.login = value;
                    } else {
                        entry.password = value;
                    }
                }
            }
            _ => {}
        }
    }
    entries.extend(current);
    entries
}

pub fn find(machine: &str) -> Option<Entry> {
    let text = fs::read_to_string(path()?).ok()?;
    parse(&text).into_iter().find(|e| e.machine == machine)
}

/// Rewrites the file with `machine`'s entry replaced (or removed when `entry`
/// is None), keeping every other line as it was.
pub fn store(machine: &str, entry: Option<&Entry>) -> std::io::Result<()> {
    let Some(path) = path() else {
        return Err(std::io::Error::other("HOME is not set"));
    };
    let text = fs::read_to_string(&path).unwrap_or_default();
    let mut kept = remove_machine(&text, machine);
    if let Some(entry) = entry {
        if !kept.is_empty() && !kept.ends_with('\n') {
            kept.push('\n');
        }
        kept.push_str(&format!(
            "machine {}\n  login {}\n  password {}\n",
            entry.machine, entry.login, entry.password
        ));
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    file.write_all(kept.as_bytes())?;
    #[cfg(unix)]
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// Drops the lines of `machine`'s entry (its `machine` line and the
/// `login`/`password` lines that follow it).
fn remove_machine(text: &str, machine: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("machine") => skipping = words.next() == Some(machine),
            Some("default") | Some("macdef") => skipping = false,
            _ => {}
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_line_and_multi_line_entries() {
        let text = "machine a.io login x password y\nmachine 127.0.0.1\n  login me@x.io\n  password slw_1\n";
        let entries = parse(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].login, "me@x.io");
        assert_eq!(entries[1].password, "slw_1");
    }

    #[test]
    fn removing_an_entry_keeps_the_others() {
        let text = "machine a.io login x password y\nmachine 127.0.0.1\n  login me\n  password p\nmachine b.io login z password w\n";
        let out = remove_machine(text, "127.0.0.1");
        let machines: Vec<_> = parse(&out).into_iter().map(|e| e.machine).collect();
        assert_eq!(machines, ["a.io", "b.io"]);
    }
}
