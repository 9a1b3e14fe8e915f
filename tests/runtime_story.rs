//! What was pushed runs: a small Python web app (tests/fixtures/webapp) is
//! pushed with real git, answers through the router, scales to three dynos,
//! is replaced by a new version under steady traffic without a failed
//! request, comes back after a dyno is killed, writes its logs, survives a
//! restart of the server, and stops when the app is deleted.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::git::{url_with_key, GitUser};
use common::{run, stderr, stdout, wait_for, Follower, Server};
use serde_json::{json, Value};

const APP: &str = "web-demo";

/// The router's address and the Host header that names the app.
struct Router {
    addr: String,
    host: String,
    http: reqwest::blocking::Client,
}

impl Router {
    fn of(server: &Server, key: &str) -> Router {
        let app = server.api(key).get(&format!("/apps/{APP}"));
        let web_url = url::Url::parse(app.body["web_url"].as_str().unwrap()).unwrap();
        let port = web_url.port().unwrap();
        Router {
            addr: format!("127.0.0.1:{port}"),
            host: format!("{}:{port}", web_url.host_str().unwrap()),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http
            .request(method, format!("http://{}{path}", self.addr))
            .header("Host", &self.host)
    }

    /// The body of a 200 answer, or None.
    fn get(&self, path: &str) -> Option<String> {
        let response = self.request(reqwest::Method::GET, path).send().ok()?;
        if response.status() != 200 {
            return None;
        }
        response.text().ok()
    }

    /// Waits until some dyno answers `/` with a body containing `text`.
    fn wait_for_page(&self, text: &str, timeout: Duration) -> Option<String> {
        wait_for(timeout, || self.get("/").filter(|body| body.contains(text)))
    }

    /// The dynos that answer `/` over a number of requests.
    fn answering(&self, tries: usize) -> BTreeSet<String> {
        (0..tries).filter_map(|_| self.get("/")).collect()
    }
}

/// The test app in a fresh repository, at `version`.
fn app_repo(git: &GitUser, version: &str) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webapp");
    let dir = git.home.join("web-demo");
    std::fs::create_dir_all(&dir).unwrap();
    git.ok(&dir, &["init", "--quiet", "--initial-branch=main"]);
    for file in ["server.py", "Procfile"] {
        std::fs::copy(fixture.join(file), dir.join(file)).unwrap();
    }
    git.commit(&dir, "VERSION", version, &format!("version {version}"));
    dir
}

fn push(git: &GitUser, dir: &Path, url: &str) {
    let (ok, output) = git.push(dir, url, &["main"]);
    assert!(ok, "push failed:\n{output}");
}

fn dynos(server: &Server, key: &str) -> Vec<Value> {
    let list = server.api(key).get(&format!("/apps/{APP}/dynos"));
    assert_eq!(list.status, 200, "{}", list.text);
    list.body.as_array().cloned().unwrap_or_default()
}

fn states(dynos: &[Value]) -> Vec<String> {
    dynos
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["name"].as_str().unwrap(),
                d["state"].as_str().unwrap()
            )
        })
        .collect()
}

/// The host pid of the dyno process listening on `port`: the app sees
/// other pids inside its sandbox, so the test looks the process up itself.
fn host_pid(port: &str) -> Option<String> {
    let wanted = format!("PORT={port}\0");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().to_string_lossy().to_string();
            pid.chars().all(|c| c.is_ascii_digit()).then_some(())?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let is_app = String::from_utf8_lossy(&cmdline).contains("server.py");
            let has_port = String::from_utf8_lossy(&environ).contains(&wanted);
            (is_app && has_port).then_some(pid)
        })
}

/// Host pids of the dynos that answer through the router.
fn dyno_pids(router: &Router) -> BTreeSet<String> {
    (0..12)
        .filter_map(|_| router.get("/env"))
        .filter_map(|env| {
            let env: Value = serde_json::from_str(&env).ok()?;
            host_pid(env["PORT"].as_str()?)
        })
        .collect()
}

fn alive(pid: &str) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie ("Z") has ended; only its exit status is left to collect.
    !status.is_empty() && !status.split(") ").nth(1).unwrap_or("").starts_with('Z')
}

fn logs(server: &Server, key: &str, args: &[&str]) -> String {
    let out = run(server.cli(Some(key)).args(["logs", "-a", APP]).args(args));
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_pushed_app_runs_scales_rolls_over_recovers_and_stops() {
    let mut server = Server::start();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    assert_eq!(api.post("/apps", json!({ "name": APP })).status, 201);
    let set = api.patch(
        &format!("/apps/{APP}/config-vars"),
        json!({ "GREETING": "hi" }),
    );
    assert_eq!(set.status, 200, "{}", set.text);

    // Push v1 and get its page through the router.
    let git = GitUser::new("alice");
    let repo = app_repo(&git, "v1");
    let remote = url_with_key(&server.url, &alice, APP);
    let pushed = Instant::now();
    push(&git, &repo, &remote);
    let router = Router::of(&server, &alice);
    let page = router.wait_for_page("version v1", Duration::from_secs(60));
    assert_eq!(
        page.as_deref(),
        Some("hello from web.1 version v1\n"),
        "{}",
        server.log()
    );
    eprintln!("push to first response: {:?}", pushed.elapsed());

    // The dyno sees its config vars, PORT and DYNO, and nothing of the server's.
    let env: Value = serde_json::from_str(&router.get("/env").unwrap()).unwrap();
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["DYNO"], "web.1");
    assert!(env["PORT"].as_str().unwrap().parse::<u16>().is_ok());
    for key in env.as_object().unwrap().keys() {
        assert!(
            !key.starts_with("SLIPWAY") && key != "DATABASE_URL" && !key.starts_with("CARGO"),
            "the platform's {key} leaked into a dyno"
        );
    }

    // Forwarding headers and a request id reach the dyno.
    let headers: Value = serde_json::from_str(&router.get("/headers").unwrap()).unwrap();
    let header = |name: &str| {
        let found = headers
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        found
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("X-Forwarded-For"), "127.0.0.1");
    assert_eq!(header("X-Forwarded-Proto"), "http");
    assert_eq!(header("X-Forwarded-Host"), router.host);
    assert_eq!(
        header("X-Forwarded-Port"),
        router.addr.rsplit(':').next().unwrap()
    );
    assert_eq!(header("X-Request-Id").len(), 36, "{headers}");

    // A large body streams through both ways.
    let big: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let echoed = router
        .request(reqwest::Method::POST, "/echo")
        .body(big.clone())
        .send()
        .unwrap();
    assert_eq!(echoed.status(), 200);
    assert!(echoed.bytes().unwrap() == big, "the echoed body differs");

    // A websocket upgrade is spliced through.
    assert_eq!(
        upgrade_echo(&router, b"ping over the upgrade"),
        b"ping over the upgrade"
    );

    // Scaled to three, three dynos answer.
    let scale = run(server
        .cli(Some(&alice))
        .args(["ps:scale", "web=3", "-a", APP]));
    assert!(scale.status.success(), "{}", stderr(&scale));
    let three = wait_for(Duration::from_secs(30), || {
        let seen = router.answering(12);
        (seen.len() == 3).then_some(seen)
    });
    assert!(three.is_some(), "{:?}", states(&dynos(&server, &alice)));
    let ps = stdout(&run(server.cli(Some(&alice)).args(["ps", "-a", APP])));
    assert!(
        ps.contains("=== web (Basic): python3 server.py (3)"),
        "{ps}"
    );
    for name in ["web.1: up", "web.2: up", "web.3: up"] {
        assert!(ps.contains(name), "{ps}");
    }
    // Platform events are read while they are recent: the log keeps only
    // the last lines, and the traffic below writes many.
    let scaled = logs(&server, &alice, &["--dyno", "api", "-n", "1500"]);
    assert!(
        scaled.contains("app[api]: Scaled to web@3:Basic"),
        "{scaled}"
    );

    // Push v2 under a steady stream of requests: none fails.
    let traffic = Traffic::start(&router);
    let repo_v2 = {
        git.commit(&repo, "VERSION", "v2", "version v2");
        repo.clone()
    };
    push(&git, &repo_v2, &remote);
    let released = logs(&server, &alice, &["--dyno", "api", "-n", "1500"]);
    assert!(
        released.contains("app[api]: Release v2 created by user alice@example.com"),
        "{released}"
    );
    // Config changes make releases too, so the version number is not the
    // app's own: wait until three dynos of one release answer with v2.
    let all_v2 = wait_for(Duration::from_secs(60), || {
        let list = dynos(&server, &alice);
        let one_release = list.len() == 3
            && list.iter().all(|d| d["state"] == "up")
            && list
                .iter()
                .all(|d| d["release"]["version"] == list[0]["release"]["version"]);
        let answers = router.answering(9);
        let done = one_release && answers.len() == 3 && answers.iter().all(|b| b.contains("v2"));
        done.then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let (ok, failed) = traffic.stop();
    assert!(all_v2.is_some(), "{:?}", states(&dynos(&server, &alice)));
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during the release",
        ok + failed
    );
    assert!(ok > 20, "too little traffic to tell: {ok}");
    eprintln!("requests during the release: {ok} ok, {failed} failed");
    let answers = router.answering(6);
    assert!(
        answers.iter().all(|b| b.contains("version v2")),
        "{answers:?}"
    );

    // A killed dyno shows as crashed, comes back, and the crash is logged.
    let pid = dyno_pids(&router)
        .into_iter()
        .next()
        .expect("a dyno's host pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let crashed = wait_for(Duration::from_secs(10), || {
        dynos(&server, &alice)
            .iter()
            .any(|d| d["state"] == "crashed")
            .then_some(())
    });
    assert!(crashed.is_some(), "{:?}", states(&dynos(&server, &alice)));
    let recovered = wait_for(Duration::from_secs(20), || {
        let list = dynos(&server, &alice);
        (list.len() == 3 && list.iter().all(|d| d["state"] == "up")).then_some(())
    });
    assert!(recovered.is_some(), "{:?}", states(&dynos(&server, &alice)));

    // Logs: router lines, the app's own output, and the platform's events.
    let text = logs(&server, &alice, &["-n", "1500"]);
    assert!(
        text.contains("heroku[router]: at=info method=GET path=\"/\""),
        "{text}"
    );
    assert!(text.contains("app[web.1]: handled GET /"), "{text}");
    assert!(text.contains("State changed from up to crashed"), "{text}");
    let only_router = logs(&server, &alice, &["--dyno", "router", "-n", "5"]);
    assert_eq!(only_router.lines().count(), 5, "{only_router}");
    assert!(
        only_router.lines().all(|l| l.contains("heroku[router]:")),
        "{only_router}"
    );

    // `logs --tail` shows a request made after it started.
    assert_tail_shows_new_requests(&server, &alice, &router);

    // A restart of the server stops every dyno and brings the formation back.
    let before = dyno_pids(&router);
    assert!(!before.is_empty());
    server.restart();
    // The harness gives the restarted router a new ephemeral port.
    let router = Router::of(&server, &alice);
    for pid in &before {
        assert!(!alive(pid), "dyno process {pid} outlived the server");
    }
    let back = wait_for(Duration::from_secs(60), || {
        let seen = router.answering(12);
        (seen.len() == 3).then_some(seen)
    });
    assert!(back.is_some(), "{:?}", states(&dynos(&server, &alice)));
    assert!(back.unwrap().iter().all(|b| b.contains("version v2")));

    // Deleting the app stops its processes; the router no longer knows it.
    let running = dyno_pids(&router);
    assert!(!running.is_empty());
    assert_eq!(api.delete(&format!("/apps/{APP}")).status, 200);
    let stopped = wait_for(Duration::from_secs(20), || {
        running.iter().all(|pid| !alive(pid)).then_some(())
    });
    assert!(
        stopped.is_some(),
        "dynos still running after the app was deleted"
    );
    let gone = wait_for(Duration::from_secs(10), || {
        let status = router
            .request(reqwest::Method::GET, "/")
            .send()
            .ok()?
            .status();
        (status == 404).then_some(())
    });
    assert!(gone.is_some());
}

/// Requests `/` in a loop on two threads until stopped; counts answers.
struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(router: &Router) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let threads = (0..2)
            .map(|_| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let (addr, host) = (router.addr.clone(), router.host.clone());
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(20))
                        .build()
                        .unwrap();
                    // Bounded: at most two minutes, whatever happens.
                    let deadline = Instant::now() + Duration::from_secs(120);
                    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                        let answer = http
                            .get(format!("http://{addr}/"))
                            .header("Host", &host)
                            .send();
                        let answered = answer
                            .ok()
                            .filter(|r| r.status() == 200)
                            .and_then(|r| r.text().ok())
                            .is_some_and(|body| body.starts_with("hello from"));
                        let counter = if answered { &ok } else { &failed };
                        counter.fetch_add(1, Ordering::SeqCst);
                        // Steady, not flooding: the app's log keeps only
                        // its recent lines.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            })
            .collect();
        Traffic {
            stop,
            ok,
            failed,
            threads,
        }
    }

    fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            thread.join().unwrap();
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

/// Upgrades `/ws` through the router and returns what the app echoes.
fn upgrade_echo(router: &Router, message: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(&router.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        router.host
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    stream.write_all(message).unwrap();
    let mut echoed = vec![0; message.len()];
    reader.read_exact(&mut echoed).unwrap();
    echoed
}

fn assert_tail_shows_new_requests(server: &Server, key: &str, router: &Router) {
    let tail = Follower::spawn(
        server
            .cli(Some(key))
            .args(["logs", "--tail", "-n", "0", "-a", APP]),
    );
    let marker = format!("/tail-{}", std::process::id());
    let found = tail.until(
        Duration::from_secs(20),
        || {
            let _ = router.get(&marker);
        },
        |line| line.contains(&format!("path=\"{marker}\"")),
    );
    assert!(found, "logs --tail did not show the request");
}
