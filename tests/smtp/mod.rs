//! A real SMTP server for the mail tests: aiosmtpd, run by `tests/smtp/sink.py`
//! on 127.0.0.1 with an ephemeral port. Each accepted message is a JSON file
//! the tests read; a mode file makes the server refuse, defer or hang.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");

/// A running SMTP sink; killed when dropped.
pub struct SmtpSink {
    child: Option<Child>,
    dir: TempDir,
    pub port: u16,
    args: Vec<String>,
}

/// The Python that has aiosmtpd: Debian's, else the one on PATH.
fn python() -> &'static str {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate;
        }
    }
    panic!("aiosmtpd is needed for the mail tests: run scripts/test-deps (python3-aiosmtpd)");
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(&[])
    }

    /// Starts the sink with extra options (`--auth user:pass`, `--tls-cert ...`).
    pub fn start_with(args: &[&str]) -> SmtpSink {
        let mut sink = SmtpSink {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            port: 0,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        sink.spawn();
        sink
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let port_file = self.dir().join("port");
        let _ = std::fs::remove_file(&port_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("sink.log"))
            .unwrap();
        let child = Command::new(python())
            .arg(SCRIPT)
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the SMTP sink");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                self.port = text.trim().parse().expect("port number");
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("SMTP sink exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "SMTP sink did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("sink.log")).unwrap_or_default()
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server; connections to its port are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `accept`, `reject` (550), `tempfail` (451) or `hang`.
    pub fn set_mode(&self, mode: &str) {
        let tmp = self.dir().join("mode.tmp");
        std::fs::write(&tmp, mode).unwrap();
        std::fs::rename(tmp, self.dir().join("mode")).unwrap();
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with("msg-") && name.ends_with(".json")
            })
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Messages to `recipient` (by envelope).
    pub fn messages_to(&self, recipient: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m["rcpt_tos"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r.as_str() == Some(recipient)))
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived, and returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} messages, got {}: {messages:#?}",
                messages.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The sign-up link in an invitation's text.
pub fn signup_link(message: &Value) -> String {
    let text = message["text"].as_str().unwrap_or_default();
    text.split_whitespace()
        .find(|word| word.contains("/invitations/slwinv_"))
        .unwrap_or_else(|| panic!("no sign-up link in {text}"))
        .to_string()
}

/// The outbox as `slipway admin mail --all --json` shows it.
pub fn outbox(server: &crate::common::Server) -> Vec<Value> {
    let out = server.admin(&["mail", "--all", "--json"], None);
    assert!(
        out.status.success(),
        "admin mail: {}",
        crate::common::stderr(&out)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("admin mail --json prints JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until no message is waiting for delivery, and returns the outbox.
pub fn wait_until_settled(server: &crate::common::Server, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let messages = outbox(server);
        if messages
            .iter()
            .all(|m| m["state"] != "queued" && m["state"] != "sending")
        {
            return messages;
        }
        assert!(
            Instant::now() < deadline,
            "mail still queued: {messages:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A server whose mail goes to `sink`, sent as `Slipway Tests <slipway@mail.test>`.
pub fn server_for(sink: &SmtpSink) -> crate::common::ServerBuilder {
    crate::common::Server::builder()
        .env("SLIPWAY_SMTP_URL", &sink.url())
        .env("SLIPWAY_MAIL_FROM", "Slipway Tests <slipway@mail.test>")
        .env("SLIPWAY_SMTP_TIMEOUT", "2s")
}
