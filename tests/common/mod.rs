//! Test harness: starts the real `slipway` binary on loopback with an
//! ephemeral port and a temporary data dir, and drives it over HTTP, with the
//! CLI, and with git.
//!
//! The store is SQLite inside the data dir unless `SLIPWAY_TEST_DATABASE_URL`
//! names a PostgreSQL server; then every server gets a fresh database there,
//! dropped again when the server is dropped.

#![allow(dead_code)]

pub mod cast;
pub mod git;
pub mod heroku;
pub mod inspect;
pub mod schema;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_slipway");

/// A running `slipway serve`; stopped when dropped.
pub struct Server {
    run_as: Option<u32>,
    child: Option<Child>,
    pub url: String,
    pub dir: TempDir,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// The database this server created for itself, dropped with it.
    own_database: Option<TestDatabase>,
    log_path: PathBuf,
    extra_env: Vec<(String, String)>,
    extra_args: Vec<String>,
    listen: String,
    /// Set when the server speaks HTTPS with a certificate from a test CA.
    pub tls: Option<TestCa>,
}

#[derive(Default)]
pub struct ServerBuilder {
    env: Vec<(String, String)>,
    args: Vec<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    tls: bool,
    run_as: Option<u32>,
}

impl ServerBuilder {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Uses this database instead of a fresh one (two nodes, one store).
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_string());
        self
    }

    /// Uses this data dir instead of a fresh one (two nodes, one data dir).
    pub fn data_dir(mut self, path: &Path) -> Self {
        self.data_dir = Some(path.to_path_buf());
        self
    }

    /// Runs the server (and `slipway admin`) as this user id instead of
    /// the test's own; needs root.
    pub fn run_as(mut self, uid: u32) -> Self {
        self.run_as = Some(uid);
        self
    }

    /// Serves HTTPS at `https://localhost:PORT` with a certificate signed by
    /// a CA made for this server (`Server::tls`).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    pub fn start(mut self) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = self.data_dir.unwrap_or_else(|| dir.path().join("data"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let (database_url, own_database) = match self.database_url {
            Some(url) => (Some(url), None),
            None => match TestDatabase::create() {
                Some(db) => (Some(db.url.clone()), Some(db)),
                None => (std::env::var("SLIPWAY_TEST_DATABASE_URL").ok(), None),
            },
        };
        let mut listen = "127.0.0.1:0".to_string();
        let tls = self.tls.then(|| TestCa::create(&dir.path().join("tls")));
        if let Some(ca) = &tls {
            // The certificate names `localhost`, so the public URL must too;
            // that needs the port before the server starts.
            let port = free_port();
            listen = format!("127.0.0.1:{port}");
            self.args.extend([
                "--tls-cert".to_string(),
                ca.cert.display().to_string(),
                "--tls-key".to_string(),
                ca.key.display().to_string(),
                "--public-url".to_string(),
                format!("https://localhost:{port}"),
            ]);
        }
        if let Some(uid) = self.run_as {
            let owner = format!("{uid}:{uid}");
            let chown = Command::new("chown")
                .args(["-R", &owner])
                .arg(dir.path())
                .status();
            assert!(chown.unwrap().success());
            let chmod = Command::new("chmod").arg("755").arg(dir.path()).status();
            assert!(chmod.unwrap().success());
        }
        let mut server = Server {
            run_as: self.run_as,
            child: None,
            url: String::new(),
            log_path: dir.path().join("serve.log"),
            data_dir,
            dir,
            database_url,
            own_database,
            extra_env: self.env,
            extra_args: self.args,
            listen,
            tls,
        };
        server.spawn();
        server
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A throwaway certificate authority and a server certificate it signed for
/// `localhost` and `127.0.0.1`, made with the `openssl` command.
pub struct TestCa {
    /// The CA certificate (PEM): what clients are told to trust.
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn create(dir: &Path) -> TestCa {
        std::fs::create_dir_all(dir).unwrap();
        let path = |name: &str| dir.join(name);
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            dir,
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=Slipway Test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        openssl(
            dir,
            &[
                &["req"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            path("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n\
             basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        TestCa {
            ca_cert: path("ca.pem"),
            cert: path("server.pem"),
            key: path("server.key"),
        }
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command is needed for TLS tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The PostgreSQL server the suite runs on, when it runs on PostgreSQL.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("SLIPWAY_TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
}

/// Prefix of every database the harness creates; the creation time follows
/// it, so that databases left behind by a killed run can be recognised.
const TEST_DB_PREFIX: &str = "slipway_t_";
/// Databases older than this are leftovers of a killed run.
const STALE_AFTER_SECS: u64 = 3 * 3600;

/// A fresh PostgreSQL database, dropped when this value is dropped.
pub struct TestDatabase {
    pub url: String,
    base: String,
    name: String,
}

impl TestDatabase {
    /// A new, empty database when the suite runs on PostgreSQL.
    pub fn create() -> Option<TestDatabase> {
        let base = postgres_base_url()?;
        drop_stale_databases(&base);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let name = format!("{TEST_DB_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
        psql(&base, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(&base).expect("SLIPWAY_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(TestDatabase {
            url: url.to_string(),
            base,
            name,
        })
    }

    /// Runs SQL in this database with psql and returns its unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE: a node killed by a test may still hold a connection.
        let _ = Command::new("psql")
            .arg(&self.base)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .status();
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .expect("psql is needed for PostgreSQL test runs");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Drops test databases left behind by runs that were killed before their
/// servers were dropped; once per test process.
fn drop_stale_databases(base: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let names = psql(
            base,
            &format!("SELECT datname FROM pg_database WHERE datname LIKE '{TEST_DB_PREFIX}%'"),
        );
        for name in names.lines() {
            let created = name
                .strip_prefix(TEST_DB_PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|secs| secs.parse::<u64>().ok());
            // Names without a time come from older harnesses: stale too.
            if created.is_none_or(|secs| secs + STALE_AFTER_SECS < now) {
                let _ = Command::new("psql")
                    .arg(base)
                    .args([
                        "-q",
                        "-c",
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ])
                    .stdout(Stdio::null())
                    .status();
            }
        }
    });
}

/// Whether `slipway serve` can isolate builds and dynos here.
pub fn can_isolate() -> bool {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root && Path::new("/usr/bin/bwrap").exists()
}

impl Server {
    pub fn start() -> Server {
        ServerBuilder::default().start()
    }

    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    fn base_command(&self) -> Command {
        let mut cmd = match self.run_as {
            Some(uid) => {
                let mut cmd = Command::new("setpriv");
                cmd.args([format!("--reuid={uid}"), format!("--regid={uid}")])
                    .args(["--clear-groups", "--", BIN]);
                cmd
            }
            None => Command::new(BIN),
        };
        // Isolated where the machine allows it (root with bubblewrap, as in
        // CI); elsewhere the tests run builds and dynos without it.
        if can_isolate() {
            cmd.env_remove("SLIPWAY_NO_SANDBOX");
        } else {
            cmd.env("SLIPWAY_NO_SANDBOX", "1");
        }
        cmd.env("SLIPWAY_DATA_DIR", &self.data_dir)
            .env_remove("SLIPWAY_API_KEY")
            .env_remove("SLIPWAY_SMTP_URL")
            .env_remove("DATABASE_URL")
            .env("HOME", self.home());
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let start_len = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let mut cmd = self.base_command();
        cmd.arg("serve")
            .args(["--listen", &self.listen])
            .args(["--router-listen", "127.0.0.1:0"])
            .args(&self.extra_args)
            .env("SLIPWAY_LOG", "info,slipway=debug,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("start slipway serve"));

        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            let text = &text[start_len.min(text.len())..];
            if let Some(pos) = text.find("slipway listening api=") {
                let rest = &text[pos + "slipway listening api=".len()..];
                self.url = rest.split_whitespace().next().unwrap().to_string();
                // Restarts keep the same port, so URLs handed out stay valid.
                if self.listen.ends_with(":0") {
                    let port = self.url.rsplit(':').next().unwrap();
                    self.listen = format!("127.0.0.1:{port}");
                }
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("slipway serve exited with {status}:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "slipway serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// `on`, `off` or `unavailable`, as the start-up line says.
    pub fn isolation(&self) -> String {
        let log = self.log();
        let line = log
            .lines()
            .rfind(|l| l.contains("slipway listening api="))
            .expect("start-up line");
        let field = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("sandbox="))
            .expect("sandbox= in the start-up line");
        field.to_string()
    }

    /// Stops the server with SIGTERM and waits for it; None when it had to
    /// be killed (or was not running).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().ok().flatten() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Sets an environment variable of `slipway serve` for the next (re)start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.retain(|(k, _)| k != key);
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Kills the server with SIGKILL, as a crash or the OOM killer would,
    /// and starts it again on the same data.
    pub fn crash_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A home directory for CLI and git runs against this server.
    pub fn home(&self) -> PathBuf {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        home
    }

    /// `slipway admin ARGS` on this server's data, to be spawned by the caller.
    pub fn admin_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.base_command();
        cmd.arg("admin").args(args);
        cmd
    }

    /// Runs `slipway admin ARGS` on this server's data.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.base_command();
        cmd.arg("admin").args(args);
        run_with_stdin(cmd, stdin)
    }

    /// Creates an active account with password `pw-<email>` and returns its API key.
    pub fn create_user(&self, email: &str) -> String {
        let password = format!("pw-{email}");
        let out = self.admin(&["create-user", email, "--password-stdin"], Some(&password));
        assert!(
            out.status.success(),
            "create-user {email} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Creates an active account with no password and returns its API key.
    pub fn create_key_only_user(&self, email: &str) -> String {
        let out = self.admin(&["create-user", email], None);
        assert!(
            out.status.success(),
            "create-user {email} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn api(&self, key: &str) -> Api {
        Api::with_ca(&self.url, Some(key.to_string()), self.ca_path())
    }

    pub fn anonymous(&self) -> Api {
        Api::with_ca(&self.url, None, self.ca_path())
    }

    /// The test CA's certificate, when the server speaks HTTPS.
    pub fn ca_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|ca| ca.ca_cert.as_path())
    }

    /// The `slipway` client pointed at this server, as `key` (None: from ~/.netrc).
    pub fn cli(&self, key: Option<&str>) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("SLIPWAY_API_URL", &self.url)
            .env("HOME", self.home())
            .env_remove("SLIPWAY_APP")
            .env_remove("SLIPWAY_API_KEY")
            .env_remove("NETRC");
        if let Some(key) = key {
            cmd.env("SLIPWAY_API_KEY", key);
        }
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- slipway serve log ---\n{}", self.log());
        }
    }
}

pub fn run_with_stdin(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn command");
    let input = stdin.unwrap_or("").to_string();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().expect("wait for command");
    let _ = writer.join();
    output
}

/// Runs a command and returns its output, with no stdin.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run command")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// An HTTP response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The error id of an `{id, message}` body.
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// An API client as one caller.
pub struct Api {
    base: String,
    key: Option<String>,
    http: reqwest::blocking::Client,
}

impl Api {
    pub fn new(base: &str, key: Option<String>) -> Api {
        Api::with_ca(base, key, None)
    }

    /// A client that trusts only `ca` (when given) for HTTPS.
    pub fn with_ca(base: &str, key: Option<String>, ca: Option<&Path>) -> Api {
        let mut http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).expect("read the test CA");
            http = http
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        Api {
            base: base.trim_end_matches('/').to_string(),
            key,
            http: http.build().unwrap(),
        }
    }

    pub fn request(&self, method: &str, path: &str) -> reqwest::blocking::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Accept", "application/vnd.heroku+json; version=3");
        if let Some(key) = &self.key {
            builder = builder.bearer_auth(key);
        }
        builder
    }

    pub fn send(&self, builder: reqwest::blocking::RequestBuilder) -> Resp {
        let response = builder.send().expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send(self.request("GET", path))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send(self.request("DELETE", path))
    }

    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.request("POST", path).json(&body))
    }

    pub fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(self.request("PATCH", path).json(&body))
    }

    /// Sends raw bytes as the body (malformed JSON, huge bodies).
    pub fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> Resp {
        self.send(
            self.request(method, path)
                .header("Content-Type", "application/json")
                .body(body),
        )
    }
}

/// Files under `dir` with the extension `ext`.
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect()
}

/// Polls `check` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A log follower (`logs --tail`) started with a piped stdout: its lines
/// are read on a thread of their own, so the test can keep making requests
/// while it waits for one of them to show up.
pub struct Follower {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    pub fn spawn(command: &mut Command) -> Follower {
        use std::io::BufRead;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the log follower");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Follower {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Calls `poke` (which makes a request), then reads what arrives, until
    /// a line passes `wanted`; false once `timeout` has passed without one.
    pub fn until(
        &self,
        timeout: Duration,
        mut poke: impl FnMut(),
        wanted: impl Fn(&str) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            poke();
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
                if wanted(&line) {
                    return true;
                }
            }
        }
        false
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
