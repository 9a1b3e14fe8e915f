//! Git helpers for the tests: the real `git` client with a home of its own, a
//! raw HTTP request that no client normalises, and a loopback proxy that can
//! hold a push in the middle of its upload.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::Server;

/// One person's git: their own HOME (and `~/.netrc`), identity and checkouts.
pub struct GitUser {
    pub home: PathBuf,
    _dir: tempfile::TempDir,
}

impl GitUser {
    pub fn new(name: &str) -> GitUser {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join(name);
        std::fs::create_dir_all(&home).unwrap();
        GitUser { home, _dir: dir }
    }

    /// `git ARGS` in `dir`, as this user.
    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(dir)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env_remove("GIT_DIR")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir, args).output().expect("run git")
    }

    /// Runs git and returns its trimmed stdout; panics when it fails.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new repository at `home/<name>` with a Procfile and one commit.
    pub fn new_repo(&self, name: &str) -> PathBuf {
        let dir = self.home.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.ok(&dir, &["init", "--quiet", "--initial-branch=main"]);
        std::fs::write(dir.join("Procfile"), "web: ./run-web\n").unwrap();
        self.commit(&dir, "README", "first\n", "first commit");
        dir
    }

    /// Writes a file, commits it, and returns the new commit id.
    pub fn commit(&self, dir: &Path, file: &str, content: &str, message: &str) -> String {
        std::fs::write(dir.join(file), content).unwrap();
        self.ok(dir, &["add", "-A"]);
        self.ok(dir, &["commit", "--quiet", "-m", message]);
        self.ok(dir, &["rev-parse", "HEAD"])
    }

    /// Clones `url` into `home/<name>`.
    pub fn clone(&self, url: &str, name: &str) -> PathBuf {
        self.ok(&self.home, &["clone", "--quiet", url, name]);
        self.home.join(name)
    }

    /// `git push URL REFSPECS...`; the combined output and whether it succeeded.
    pub fn push(&self, dir: &Path, url: &str, refspecs: &[&str]) -> (bool, String) {
        let mut args = vec!["push", url];
        args.extend_from_slice(refspecs);
        let out = self.run(dir, &args);
        (out.status.success(), combined(&out))
    }
}

pub fn combined(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The app's git URL on `base` with `key` as the Basic-auth password.
pub fn url_with_key(base: &str, key: &str, app: &str) -> String {
    let host = base.trim_start_matches("http://");
    format!("http://git:{key}@{host}/{app}.git")
}

/// What `refs/heads/main` is on the server, read straight from the
/// repository on disk (None when the branch does not exist).
pub fn server_main(server: &Server, app_id: &str) -> Option<String> {
    let repo = server.data_dir.join("repos").join(format!("{app_id}.git"));
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(&repo)
        .args(["rev-parse", "--verify", "--quiet", "refs/heads/main"])
        .output()
        .unwrap();
    let tip = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !tip.is_empty()).then_some(tip)
}

pub fn server_repo(server: &Server, app_id: &str) -> PathBuf {
    server.data_dir.join("repos").join(format!("{app_id}.git"))
}

/// Sends one HTTP/1.1 request exactly as written (no path normalisation)
/// and returns the status code and the body.
pub fn raw_request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_length = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if method == "POST" {
        if !has_length {
            request.push_str("Content-Length: 4\r\n");
        }
        request.push_str("\r\n0000");
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn basic_auth(key: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("git:{key}"));
    format!("Basic {encoded}")
}

/// A loopback TCP proxy in front of the server that forwards freely until
/// `pause_after` bytes went from clients to the server, then holds the
/// client's further bytes until [`GateProxy::open`] (or drops every
/// connection on [`GateProxy::abort`]).
pub struct GateProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<GateState>,
    changed: Condvar,
    stop: AtomicBool,
}

#[derive(Default)]
struct GateState {
    open: bool,
    aborted: bool,
    paused: bool,
    forwarded: usize,
    pause_after: usize,
    sockets: Vec<TcpStream>,
}

/// Longest anything in the proxy waits, so no test can hang on it.
const PROXY_LIMIT: Duration = Duration::from_secs(120);

impl GateProxy {
    pub fn start(server_url: &str, pause_after: usize) -> GateProxy {
        let target = server_url.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            state: Mutex::new(GateState {
                pause_after,
                ..GateState::default()
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            while !accepting.stop.load(Ordering::SeqCst) && started.elapsed() < PROXY_LIMIT {
                match listener.accept() {
                    Ok((client, _)) => connect(&accepting, client, &target),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        GateProxy { port, shared }
    }

    /// The app's git URL through this proxy.
    pub fn url(&self, key: &str, app: &str) -> String {
        format!("http://git:{key}@127.0.0.1:{}/{app}.git", self.port)
    }

    /// Waits until a client's upload is being held.
    pub fn wait_paused(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap();
        while !state.paused {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
        true
    }

    pub fn open(&self) {
        self.shared.state.lock().unwrap().open = true;
        self.shared.changed.notify_all();
    }

    /// Cuts every connection, as a client that died would.
    pub fn abort(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.aborted = true;
        for socket in &state.sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        drop(state);
        self.shared.changed.notify_all();
    }
}

impl Drop for GateProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.open();
    }
}

fn connect(shared: &Arc<Shared>, client: TcpStream, target: &str) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    {
        let mut state = shared.state.lock().unwrap();
        state.sockets.push(client.try_clone().unwrap());
        state.sockets.push(server.try_clone().unwrap());
    }
    let (client_read, server_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = shared.clone();
    std::thread::spawn(move || forward_gated(&upstream, client_read, server_write));
    std::thread::spawn(move || forward(server, client));
}

fn forward(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

fn forward_gated(shared: &Shared, mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = vec![0u8; 16 * 1024];
    let started = Instant::now();
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut state = shared.state.lock().unwrap();
        while !state.open && !state.aborted && state.forwarded >= state.pause_after {
            state.paused = true;
            shared.changed.notify_all();
            if started.elapsed() > PROXY_LIMIT {
                state.open = true;
            }
            state = shared
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap()
                .0;
        }
        if state.aborted {
            break;
        }
        state.forwarded += n;
        drop(state);
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Starts `git push` in the background.
pub fn spawn_push(user: &GitUser, dir: &Path, url: &str, refspec: &str) -> Child {
    user.command(dir, &["push", url, refspec])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start git push")
}

/// Writes `bytes` of random data to `dir/file` (incompressible, so the pack
/// is as large as the file).
pub fn random_file(dir: &Path, file: &str, bytes: usize) {
    let mut data = vec![0u8; bytes];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ bytes as u64 ^ nanos;
    for chunk in data.chunks_mut(8) {
        // xorshift64*: fast, and random enough that zlib cannot shrink it.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let value = seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        chunk.copy_from_slice(&value[..chunk.len()]);
    }
    std::fs::write(dir.join(file), data).unwrap();
}
