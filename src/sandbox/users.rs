//! One Unix user per app, created the first time the app runs anything.
//!
//! The name comes from the app's id only (`slipway-` and 16 hex digits of
//! it), and the user's comment carries the whole id, so that two apps can
//! never share a user: a name taken by anything else is refused.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;
use tokio::sync::Mutex;

use super::{setup, SandboxError};

/// App users take ids from a range of their own: the system range (below
/// 1000) holds only about 900 ids, which a busy machine's apps would use up.
/// The loopback fence matches this range.
pub const APP_UID_MIN: u32 = 20000;
pub const APP_UID_MAX: u32 = 59999;

/// The user a sandboxed run becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl AppUser {
    /// For the start-up trial run, which runs no app.
    pub fn nobody() -> AppUser {
        AppUser {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
        }
    }
}

/// The user name of an app, for a canonical UUID only.
pub fn name_for(app_id: &str) -> Option<String> {
    let id = uuid::Uuid::parse_str(app_id).ok()?;
    if id.hyphenated().to_string() != app_id {
        return None;
    }
    Some(format!("slipway-{}", &id.simple().to_string()[..16]))
}

fn comment_for(app_id: &str) -> String {
    format!("slipway app {app_id}")
}

/// The apps' users, looked up or created once each.
#[derive(Default)]
pub struct Users {
    // Held while a user is created, so two runs never race to add it.
    known: Mutex<HashMap<String, AppUser>>,
}

impl Users {
    pub async fn ensure(&self, app_id: &str) -> Result<AppUser, SandboxError> {
        let name = name_for(app_id).ok_or(SandboxError::BadAppId)?;
        let mut known = self.known.lock().await;
        if let Some(user) = known.get(app_id) {
            return Ok(user.clone());
        }
        let user = match lookup(&name, app_id).await? {
            Some(user) => user,
            None => {
                // Another server on this machine may have added it meanwhile.
                let created = create(&name, app_id).await;
                match lookup(&name, app_id).await? {
                    Some(user) => user,
                    None => {
                        return Err(created
                            .err()
                            .unwrap_or_else(|| setup("useradd made no user")))
                    }
                }
            }
        };
        if user.uid == 0 || user.gid == 0 {
            return Err(setup(format!("user {name} has root's id")));
        }
        known.insert(app_id.to_string(), user.clone());
        Ok(user)
    }
}

impl Users {
    /// Removes the app's user once the app is gone. A user that still runs
    /// something (a build that outlived its app) is left, and said so.
    pub async fn remove(&self, app_id: &str) {
        let Some(name) = name_for(app_id) else { return };
        let mut known = self.known.lock().await;
        known.remove(app_id);
        match lookup(&name, app_id).await {
            Ok(Some(_)) => {}
            // Gone already (another node on this machine removed it), or
            // not this app's: nothing to do.
            Ok(None) | Err(_) => return,
        }
        match tool("userdel").arg(&name).output().await {
            Ok(out) if out.status.success() => {
                tracing::info!(app.id = %app_id, user = %name, "removed the app's user");
            }
            Ok(out) => tracing::warn!(
                app.id = %app_id,
                user = %name,
                error = %String::from_utf8_lossy(&out.stderr).trim(),
                "cannot remove the app's user"
            ),
            Err(error) => {
                tracing::warn!(app.id = %app_id, user = %name, %error, "cannot run userdel")
            }
        }
    }
}

/// The user named `name`, when it exists and belongs to this app.
async fn lookup(name: &str, app_id: &str) -> Result<Option<AppUser>, SandboxError> {
    let out = tool("getent")
        .args(["passwd", name])
        .output()
        .await
        .map_err(setup)?;
    // getent answers 2 for "no such user".
    if out.status.code() == Some(2) {
        return Ok(None);
    }
    if !out.status.success() {
        return Err(setup(format!("getent passwd {name} failed")));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim_end().split(':').collect();
    let [_, _, uid, gid, comment, ..] = fields.as_slice() else {
        return Err(setup(format!("cannot read the passwd entry of {name}")));
    };
    if *comment != comment_for(app_id) {
        return Err(setup(format!("user {name} exists and is not this app's")));
    }
    let number = |text: &str| text.parse::<u32>().map_err(setup);
    Ok(Some(AppUser {
        name: name.to_string(),
        uid: number(uid)?,
        gid: number(gid)?,
    }))
}

async fn create(name: &str, app_id: &str) -> Result<(), SandboxError> {
    let out = tool("useradd")
        .args(["--user-group", "--no-create-home"])
        .arg("-K")
        .arg(format!("UID_MIN={APP_UID_MIN}"))
        .arg("-K")
        .arg(format!("UID_MAX={APP_UID_MAX}"))
        .arg("-K")
        .arg(format!("GID_MIN={APP_UID_MIN}"))
        .arg("-K")
        .arg(format!("GID_MAX={APP_UID_MAX}"))
        .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
        .arg("--comment")
        .arg(comment_for(app_id))
        .arg(name)
        .output()
        .await
        .map_err(setup)?;
    if out.status.success() {
        tracing::info!(app.id = %app_id, user = %name, "created the app's user");
        return Ok(());
    }
    Err(setup(format!(
        "useradd {name}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Makes `dir` and everything in it the app user's, without following
/// symlinks, so that the run can write there.
pub async fn hand_over(dir: &Path, user: &AppUser) -> Result<(), SandboxError> {
    let out = tool("chown")
        .args(["-R", "-h", "-P"])
        .arg(format!("{}:{}", user.uid, user.gid))
        .arg("--")
        .arg(dir)
        .output()
        .await
        .map_err(setup)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(setup(format!(
            "chown {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A system tool with a bare environment.
fn tool(name: &str) -> Command {
    let mut command = Command::new(name);
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_canonical_ids_only() {
        assert_eq!(
            name_for("0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10").as_deref(),
            Some("slipway-0b8f8f8e2d7c4c63")
        );
        for bad in [
            "",
            "demo",
            "0B8F8F8E-2D7C-4C63-9B55-4B7B8F7D7F10",
            "0b8f8f8e2d7c4c639b554b7b8f7d7f10",
            "../0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10",
        ] {
            assert_eq!(name_for(bad), None, "{bad:?}");
        }
    }
}
