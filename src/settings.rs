//! Settings the server runs with, resolved once at start-up from flags and
//! environment and then shared read-only.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL of the API and git, as clients reach it (`http://127.0.0.1:5000`).
    pub public_url: String,
    /// Apps are served at `http://APP.<apps_domain>:<router_port>/`.
    pub apps_domain: String,
    pub router_port: u16,
    pub data_dir: PathBuf,
    /// Host part of Message-IDs and the default sender.
    pub mail_domain: String,
    /// How long an invitation link stays valid.
    pub invitation_ttl_ms: i64,
    /// Whether builds and dynos run isolated: `on`, `off` or `unavailable`.
    pub isolation: &'static str,
}

impl Settings {
    pub fn git_url(&self, app_name: &str) -> String {
        format!("{}/{app_name}.git", self.public_url.trim_end_matches('/'))
    }

    /// The sign-up page an invitation links to.
    pub fn invitation_url(&self, token: &str) -> String {
        format!(
            "{}/invitations/{token}",
            self.public_url.trim_end_matches('/')
        )
    }

    pub fn web_url(&self, app_name: &str) -> String {
        if self.router_port == 80 {
            format!("http://{app_name}.{}/", self.apps_domain)
        } else {
            format!(
                "http://{app_name}.{}:{}/",
                self.apps_domain, self.router_port
            )
        }
    }
}
