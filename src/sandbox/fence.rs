//! The loopback fence. Dynos keep the host's network so that the router can
//! reach them on `127.0.0.1:$PORT`; without a fence they could also open
//! connections to everything else listening on the host — the platform's
//! API, its PostgreSQL, other apps' dynos. An nftables table refuses every
//! new connection that a process of an app user opens over the loopback
//! interface (which also carries traffic to the host's own addresses).
//! Replies on connections that others opened to a dyno still flow, DNS to a
//! local resolver stays open, and traffic to other hosts is not touched,
//! except link-local addresses (169.254.0.0/16, fe80::/10), where clouds
//! answer with the machine's own credentials.
//!
//! The table is replaced whole in one nftables transaction, so several
//! servers on one machine may install it at once; it stays in place after
//! the server stops, matching only the app users' uid range.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::users::{APP_UID_MAX, APP_UID_MIN};

/// The nftables table that holds the fence.
pub const TABLE: &str = "inet slipway";

/// Whether dynos are kept off the host's loopback services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loopback {
    Fenced,
    /// The fence could not be installed; dynos can reach loopback services.
    Open(String),
}

impl Loopback {
    /// As the start-up line shows it.
    pub fn label(&self) -> &'static str {
        match self {
            Loopback::Fenced => "fenced",
            Loopback::Open(_) => "open",
        }
    }
}

/// The ruleset, as `nft -f` reads it: create the table if it is missing,
/// delete it, and create it afresh, all in one transaction.
fn ruleset() -> String {
    let users = format!("meta skuid {APP_UID_MIN}-{APP_UID_MAX}");
    format!(
        "table {TABLE}\n\
         delete table {TABLE}\n\
         table {TABLE} {{\n\
         \tchain app_users {{\n\
         \t\ttype filter hook output priority filter; policy accept;\n\
         \t\t{users} ip daddr 169.254.0.0/16 reject\n\
         \t\t{users} ip6 daddr fe80::/10 reject\n\
         \t\toifname \"lo\" {users} ct state established,related accept\n\
         \t\toifname \"lo\" {users} th dport 53 accept\n\
         \t\toifname \"lo\" {users} meta l4proto tcp reject with tcp reset\n\
         \t\toifname \"lo\" {users} reject\n\
         \t}}\n\
         }}\n"
    )
}

/// Installs the fence with `nft`; says why when it cannot.
pub async fn install() -> Loopback {
    match run_nft(&ruleset()).await {
        Ok(()) => Loopback::Fenced,
        Err(reason) => Loopback::Open(reason),
    }
}

async fn run_nft(rules: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run nft (Debian package nftables): {error}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(rules.as_bytes())
        .await
        .map_err(|error| format!("nft: {error}"))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|error| format!("nft: {error}"))?;
    if out.status.success() {
        return Ok(());
    }
    let detail = String::from_utf8_lossy(&out.stderr);
    let first = detail.lines().next().unwrap_or("failed").trim();
    Err(format!("nft: {first}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_replaces_its_table_and_names_the_app_users() {
        let rules = ruleset();
        let lines: Vec<&str> = rules.lines().collect();
        assert_eq!(lines[0], "table inet slipway");
        assert_eq!(lines[1], "delete table inet slipway");
        assert!(rules.contains("meta skuid 20000-59999 ct state established,related accept"));
        assert!(rules.contains("meta skuid 20000-59999 reject"));
        assert!(rules.contains("meta skuid 20000-59999 ip daddr 169.254.0.0/16 reject"));
    }
}
