//! The router and the dyno and log endpoints before anything was pushed:
//! unknown apps get a 404 page, apps without web dynos a 503 page, the app's
//! web_url names the router's real port, and the logs show platform events.

mod common;

use std::time::Duration;

use common::{run, stderr, stdout, Server};
use serde_json::json;

/// Sends `GET path` to the router as a request for `host`.
fn through_router(web_url: &str, host_app: &str, path: &str) -> (u16, String) {
    let url = url::Url::parse(web_url).unwrap();
    let port = url.port().unwrap();
    let host = format!(
        "{host_app}.{}:{port}",
        url.host_str().unwrap().split_once('.').unwrap().1
    );
    let response = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Host", host)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().unwrap())
}

#[test]
fn router_pages_web_url_and_logs_without_a_release() {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let eve = server.create_user("eve@example.com");
    let api = server.api(&alice);
    let created = api.post("/apps", json!({ "name": "quiet-app" }));
    assert_eq!(created.status, 201, "{}", created.text);

    // web_url points at the router's real, ephemeral port.
    let web_url = created.body["web_url"].as_str().unwrap().to_string();
    assert!(
        web_url.starts_with("http://quiet-app.localhost:"),
        "{web_url}"
    );
    assert!(
        !web_url.ends_with(":8080/") && !web_url.ends_with(":0/"),
        "{web_url}"
    );
    assert!(server.log().contains("slipway listening api="));

    let (status, page) = through_router(&web_url, "no-such-app", "/");
    assert_eq!(status, 404);
    assert!(page.contains("No such app"), "{page}");
    let (status, page) = through_router(&web_url, "quiet-app", "/");
    assert_eq!(status, 503);
    assert!(page.contains("Application error"), "{page}");

    // No dynos yet; restarting is allowed for the owner, refused to strangers.
    let dynos = api.get("/apps/quiet-app/dynos");
    assert_eq!((dynos.status, dynos.body.clone()), (200, json!([])));
    let ps = run(server.cli(Some(&alice)).args(["ps", "-a", "quiet-app"]));
    assert_eq!(
        stdout(&ps).trim(),
        "No dynos on quiet-app",
        "{}",
        stderr(&ps)
    );
    assert_eq!(api.delete("/apps/quiet-app/dynos").status, 202);
    let refused = server.api(&eve).delete("/apps/quiet-app/dynos");
    assert_eq!(refused.status, 403);
    let missing = api.delete("/apps/quiet-app/dynos/web.7");
    assert_eq!((missing.status, missing.id()), (404, "not_found"));

    // The router's refusal and the restart are in the logs.
    let logs = run(server.cli(Some(&alice)).args(["logs", "-a", "quiet-app"]));
    assert!(logs.status.success(), "{}", stderr(&logs));
    let text = stdout(&logs);
    assert!(text.contains("heroku[router]: at=error code=H14"), "{text}");
    assert!(
        text.contains("app[api]: Restart all dynos by user alice@example.com"),
        "{text}"
    );

    // Log sessions: strangers are refused, bad input is a 422, the stream
    // URL works without credentials and a made-up one is not found.
    let refused = server
        .api(&eve)
        .post("/apps/quiet-app/log-sessions", json!({}));
    assert_eq!(refused.status, 403);
    let bad = api.post("/apps/quiet-app/log-sessions", json!({ "lines": 100000 }));
    assert_eq!((bad.status, bad.id()), (422, "invalid_params"));
    let bad = api.post("/apps/quiet-app/log-sessions", json!({ "dyno": "../x y" }));
    assert_eq!(bad.status, 422);
    let session = api.post(
        "/apps/quiet-app/log-sessions",
        json!({ "lines": 10, "source": "heroku", "tail": false }),
    );
    assert_eq!(session.status, 201, "{}", session.text);
    let url = session.body["logplex_url"].as_str().unwrap();
    let stream = server.anonymous().send(
        server
            .anonymous()
            .request("GET", url.trim_start_matches(&server.url)),
    );
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.headers["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert!(stream.text.contains("data: "), "{}", stream.text);
    assert!(
        !stream.text.contains("app[api]"),
        "source filter: {}",
        stream.text
    );
    let forged = server.anonymous().get("/log-streams/slw_not-a-token");
    assert_eq!(forged.status, 404);
}

/// `logs --tail` of a collaborator who is removed ends within the stream's
/// recheck, with the server's refusal on stderr and a failing exit code.
#[test]
fn a_tail_ends_with_the_reason_when_access_is_removed() {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    let api = server.api(&alice);
    assert_eq!(
        api.post("/apps", json!({ "name": "quiet-app" })).status,
        201
    );
    let shared = api.post(
        "/apps/quiet-app/collaborators",
        json!({ "user": "bob@example.com", "silent": true }),
    );
    assert_eq!(shared.status, 201, "{}", shared.text);

    let mut tail = server
        .cli(Some(&bob))
        .args(["logs", "--tail", "-a", "quiet-app"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The stream is open once the session is in the server's log.
    let opened = common::wait_for(Duration::from_secs(10), || {
        server.log().contains("/log-streams/").then_some(())
    });
    assert!(opened.is_some(), "{}", server.log());
    let removed = api.delete("/apps/quiet-app/collaborators/bob@example.com");
    assert_eq!(removed.status, 200);

    let ended = common::wait_for(Duration::from_secs(20), || tail.try_wait().unwrap());
    let Some(status) = ended else {
        let _ = tail.kill();
        let _ = tail.wait();
        panic!("logs --tail kept running after bob was removed");
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut tail.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!status.success(), "exit {status:?}: {said}");
    assert!(said.contains("access"), "{said}");
}
