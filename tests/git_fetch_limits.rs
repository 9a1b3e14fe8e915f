//! A fetch request is streamed into git and capped as it inflates: a gzip
//! bomb gets 413 and leaves the server's memory as it was, while real
//! fetches, whose larger negotiations git gzips, go on working.

mod common;

use std::io::Write;

use common::git::{combined, raw_request, url_with_key, GitUser};
use common::Server;
use serde_json::json;

const MB: u64 = 1024 * 1024;

/// A server with demo-app pushed once by alice; her key and git remote URL.
fn server_with_app(alice: &GitUser) -> (Server, String, String) {
    let server = Server::start();
    let key = server.create_user("alice@example.com");
    let created = server
        .api(&key)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    let url = url_with_key(&server.url, &key, "demo-app");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url, &["main"]);
    assert!(ok, "{out}");
    (server, key, url)
}

/// `VmRSS` and `VmHWM` (peak) of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn gzipped_zeros(len: u64) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; MB as usize];
    for _ in 0..len / MB {
        encoder.write_all(&block).unwrap();
    }
    encoder.finish().unwrap()
}

#[test]
fn a_gzip_bomb_fetch_request_is_refused_without_growing_the_server() {
    let alice = GitUser::new("alice");
    let (server, key, url) = server_with_app(&alice);
    // One clone first, so that what a fetch normally takes is in the baseline.
    alice.clone(&url, "before");

    // About a megabyte on the wire, 300 MB of zeros once inflated.
    let bomb = gzipped_zeros(300 * MB);
    assert!(bomb.len() < 4 * MB as usize, "{}", bomb.len());
    let api = server.api(&key);
    let (rss_before, peak_before) = memory(server.pid());
    for _ in 0..3 {
        let resp = api.send(
            api.request("POST", "/demo-app.git/git-upload-pack")
                .header("Content-Type", "application/x-git-upload-pack-request")
                .header("Content-Encoding", "gzip")
                .body(bomb.clone()),
        );
        assert_eq!(resp.status, 413, "{}", resp.text);
        assert!(
            resp.text
                .contains("Fetch request rejected: it is larger than the limit of"),
            "{}",
            resp.text
        );
    }
    let (rss_after, peak_after) = memory(server.pid());
    assert!(
        rss_after.saturating_sub(rss_before) < 64 * MB,
        "RSS grew from {rss_before} to {rss_after}"
    );
    assert!(
        peak_after.saturating_sub(peak_before) < 64 * MB,
        "peak RSS grew from {peak_before} to {peak_after}"
    );

    // A request declaring more than the cap is refused before it is read.
    let (status, body) = raw_request(
        &server.url,
        "POST",
        "/demo-app.git/git-upload-pack",
        &[
            ("Authorization", &common::git::basic_auth(&key)),
            ("Content-Length", &(33 * MB).to_string()),
        ],
    );
    assert_eq!(status, 413, "{body}");

    // The server is up and serves git and the API as before.
    let copy = alice.clone(&url, "after");
    assert_eq!(
        alice.ok(&copy, &["rev-parse", "HEAD"]),
        alice.ok(&alice.home.join("before"), &["rev-parse", "HEAD"])
    );
    assert_eq!(api.get("/account").status, 200);
    assert!(!server.log().contains("http.status=500"));
}

#[test]
fn a_fetch_whose_negotiation_git_gzips_still_works() {
    let alice = GitUser::new("alice");
    let (_server, _key, url) = server_with_app(&alice);
    let bob = GitUser::new("bob");
    let checkout = bob.clone(&url, "checkout");
    // Newer local commits the server lacks come first among bob's `have`s:
    // the first round of 16 finds nothing in common, so the second sends 32,
    // over the kilobyte past which git gzips a request.
    for i in 0..60 {
        let date = format!("{} +0000", 4_000_000_000u64 + i);
        let message = format!("local {i}");
        let args = ["commit", "--quiet", "--allow-empty", "-m", &message];
        let out = bob
            .command(&checkout, &args)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_AUTHOR_DATE", &date)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", combined(&out));
    }
    let work = alice.home.join("work");
    let tip = alice.commit(&work, "news.txt", "news\n", "news");
    let (ok, out) = alice.push(&work, &url, &["main"]);
    assert!(ok, "{out}");

    let fetch = bob
        .command(&checkout, &["fetch", "origin"])
        .env("GIT_TRACE_CURL", "1")
        .env("GIT_TRACE_CURL_NO_DATA", "1")
        .output()
        .unwrap();
    let trace = combined(&fetch);
    assert!(fetch.status.success(), "{trace}");
    assert!(
        trace.contains("Content-Encoding: gzip"),
        "git did not gzip the negotiation:\n{trace}"
    );
    assert_eq!(bob.ok(&checkout, &["rev-parse", "origin/main"]), tip);
}
