//! `slipway serve --tls-cert --tls-key`: the API over HTTPS on the listen
//! address, with a certificate from a CA the test made.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Server, BIN};

#[test]
fn serves_the_api_over_https_and_stops_cleanly() {
    let mut server = Server::builder().tls().start();
    assert!(
        server.url.starts_with("https://localhost:"),
        "{}",
        server.url
    );
    let key = server.create_user("alice@example.com");

    // A client that connects and never says a word must not hold up others.
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let silent = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();

    let account = server.api(&key).get("/account");
    assert_eq!(account.status, 200, "{}", account.text);
    assert_eq!(account.body["email"], "alice@example.com");
    let apps = server
        .api(&key)
        .post("/apps", serde_json::json!({"name": "tls-app"}));
    assert_eq!(apps.status, 201, "{}", apps.text);
    assert_eq!(apps.body["git_url"], format!("{}/tls-app.git", server.url));

    // Plain HTTP on the TLS port gets no API answer.
    let mut plain = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /account HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"));
    drop(silent);

    let status = server.stop().expect("server stops on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(server.log().contains("slipway stopped"));
}

#[test]
fn refuses_to_start_with_an_unreadable_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SLIPWAY_TLS_CERT"), "{stderr}");
}
