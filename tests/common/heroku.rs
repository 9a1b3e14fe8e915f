//! The official Heroku CLI (npm `heroku`, pinned in tests/heroku-cli/) run
//! against a test server over HTTPS.
//!
//! Every run gets a cleared environment: the server as `HEROKU_HOST`, the
//! test CA for node and git, and every variable that keeps the CLI from
//! calling anything else pointed at the server or switched off. A preloaded
//! hook (tests/heroku-cli/observe.js) refuses any non-loopback connection
//! and records each response the CLI read; after every run the records are
//! checked: a connection attempt elsewhere fails the test, and so does a
//! JSON body that does not fit the Platform API schema.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::schema::PlatformSchema;
use super::Server;

/// The folder with package.json, the lock file and node_modules.
pub fn cli_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/heroku-cli")
}

pub fn cli_bin() -> PathBuf {
    let bin = cli_dir().join("node_modules/.bin/heroku");
    assert!(
        bin.exists(),
        "the Heroku CLI is not installed in {}: run scripts/test, or \
         `npm ci --prefix tests/heroku-cli`",
        cli_dir().display()
    );
    bin
}

pub fn schema() -> &'static PlatformSchema {
    static SCHEMA: OnceLock<PlatformSchema> = OnceLock::new();
    SCHEMA.get_or_init(PlatformSchema::load)
}

/// The CLI as one user, with a home directory of its own.
pub struct HerokuCli<'a> {
    server: &'a Server,
    pub home: PathBuf,
    key: Option<String>,
    observe: PathBuf,
    seen_lines: Cell<usize>,
    /// Responses validated so far, per schema resource.
    pub validated: RefCell<BTreeMap<String, usize>>,
}

/// What one CLI run printed.
#[derive(Debug)]
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl<'a> HerokuCli<'a> {
    /// `key`: sent as `HEROKU_API_KEY`; None to use what `login` stored.
    pub fn new(server: &'a Server, user: &str, key: Option<&str>) -> HerokuCli<'a> {
        assert!(
            server.url.starts_with("https://localhost:"),
            "the Heroku CLI needs the server at https://localhost:PORT (Server::builder().tls())"
        );
        let home = server.dir.path().join(format!("heroku-home-{user}"));
        std::fs::create_dir_all(&home).unwrap();
        HerokuCli {
            server,
            observe: home.join("observed.jsonl"),
            home,
            key: key.map(str::to_string),
            seen_lines: Cell::new(0),
            validated: RefCell::default(),
        }
    }

    /// A `heroku` command with the suite's environment and nothing else.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cli_bin());
        cmd.args(args);
        self.apply_env(&mut cmd);
        cmd
    }

    /// Sets the environment every CLI (and git) process of the suite gets.
    pub fn apply_env(&self, cmd: &mut Command) {
        let ca = self.server.ca_path().expect("TLS server");
        let bin_dir = cli_bin().parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = &self.home;
        cmd.env_clear()
            .env("PATH", path)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .env("COLUMNS", "200")
            .env("HEROKU_HOST", &self.server.url)
            // Each of these would otherwise reach a host other than the server.
            .env("HEROKU_PARTICLEBOARD_URL", &self.server.url)
            .env("HEROKU_LOGIN_HOST", &self.server.url)
            .env("DISABLE_TELEMETRY", "true")
            .env("HEROKU_SKIP_ANALYTICS", "1")
            .env("HEROKU_SKIP_NEW_VERSION_CHECK", "true")
            .env("HEROKU_DISABLE_AUTOUPDATE", "true")
            .env("NODE_EXTRA_CA_CERTS", ca)
            .env("GIT_SSL_CAINFO", ca)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env(
                "NODE_OPTIONS",
                format!("--require {}", cli_dir().join("observe.js").display()),
            )
            .env("SLIPWAY_CLI_OBSERVE", &self.observe);
        if let Some(key) = &self.key {
            cmd.env("HEROKU_API_KEY", key);
        }
    }

    /// Runs `heroku ARGS` in `dir` (the home directory when None), with no
    /// stdin, then checks what it did on the wire.
    pub fn run_in(&self, dir: Option<&Path>, args: &[&str]) -> CliRun {
        let mut cmd = self.command(args);
        cmd.current_dir(dir.unwrap_or(&self.home));
        let run = run_bounded(cmd, &format!("heroku {}", args.join(" ")));
        self.check_observed(&format!("heroku {}", args.join(" ")));
        run
    }

    pub fn run(&self, args: &[&str]) -> CliRun {
        self.run_in(None, args)
    }

    /// Runs and asserts exit code 0.
    pub fn ok(&self, args: &[&str]) -> CliRun {
        let run = self.run(args);
        assert!(run.success(), "heroku {args:?} failed: {run:#?}");
        run
    }

    pub fn ok_in(&self, dir: &Path, args: &[&str]) -> CliRun {
        let run = self.run_in(Some(dir), args);
        assert!(run.success(), "heroku {args:?} failed: {run:#?}");
        run
    }

    /// Runs and asserts a non-zero exit code.
    pub fn fails(&self, args: &[&str]) -> CliRun {
        let run = self.run(args);
        assert!(
            !run.success(),
            "heroku {args:?} should have failed: {run:#?}"
        );
        run
    }

    /// Checks the records written since the last check: no connection
    /// attempt off loopback, every JSON body fits the schema.
    pub fn check_observed(&self, what: &str) {
        let text = std::fs::read_to_string(&self.observe).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let new = &lines[self.seen_lines.get().min(lines.len())..];
        self.seen_lines.set(lines.len());
        let mut problems = Vec::new();
        for line in new {
            let record: Value = serde_json::from_str(line).expect("observe record");
            if let Some(blocked) = record.get("blocked") {
                problems.push(format!("tried to connect to {blocked}"));
                continue;
            }
            if let Err(problem) = self.validate_record(&record) {
                problems.push(problem);
            }
        }
        assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
    }

    fn validate_record(&self, record: &Value) -> Result<(), String> {
        let host = record["host"].as_str().unwrap_or_default();
        if host != "localhost" && host != "127.0.0.1" {
            return Err(format!("response from unexpected host {host}"));
        }
        let json = record["content_type"]
            .as_str()
            .is_some_and(|t| t.contains("json"));
        let text = record["body"].as_str().unwrap_or_default();
        if !json || text.is_empty() {
            return Ok(());
        }
        let method = record["method"].as_str().unwrap_or("GET");
        let path = record["path"].as_str().unwrap_or("/");
        let status = record["status"].as_u64().unwrap_or(0) as u16;
        let body: Value = serde_json::from_str(text)
            .map_err(|e| format!("{method} {path}: body is not JSON ({e}): {text}"))?;
        let resource = schema().check_response(method, path, status, &body)?;
        *self.validated.borrow_mut().entry(resource).or_default() += 1;
        Ok(())
    }
}

impl Drop for HerokuCli<'_> {
    /// Says how many responses were validated, per resource (shown with
    /// `--nocapture`).
    fn drop(&mut self) {
        let counts = self.validated.borrow();
        let total: usize = counts.values().sum();
        eprintln!("heroku CLI responses validated against the schema: {total} {counts:?}");
    }
}

/// Runs a command with no stdin and kills it if it outlives two minutes.
pub fn run_bounded(mut cmd: Command, what: &str) -> CliRun {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("out");
    let err_path = out_dir.path().join("err");
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish in 120 s:\n{}\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    CliRun {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}
