//! Bad input of every kind gets a 4xx `{id, message}` that says what is
//! wrong, never a 5xx, and changes nothing: malformed JSON, wrong types,
//! huge bodies, unknown fields, invalid emails and names, and paths with
//! percent-encoded tricks. Includes CASES K22 and the API half of K15.

mod common;

use std::io::{Read, Write};

use common::cast::Cast;
use common::inspect::assert_unchanged;
use common::{run, stderr, Resp};
use serde_json::{json, Value};

/// Every body-taking endpoint of accounts, apps and sharing.
const BODY_ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/apps"),
    ("PATCH", "/apps/demo-app"),
    ("POST", "/apps/demo-app/collaborators"),
    ("POST", "/oauth/authorizations"),
];

/// A 4xx with a JSON `{id, message}` body; returns the response for more checks.
fn assert_client_error(resp: &Resp, what: &str) {
    assert!(
        (400..500).contains(&resp.status),
        "{what}: status {} ({})",
        resp.status,
        resp.text
    );
    assert!(
        !resp.id().is_empty(),
        "{what}: no error id in {:?}",
        resp.text
    );
    assert!(
        !resp.message().is_empty(),
        "{what}: no message in {:?}",
        resp.text
    );
    let content_type = resp
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
}

fn assert_invalid(resp: &Resp, status: u16, message: &str, what: &str) {
    assert_client_error(resp, what);
    assert_eq!(resp.status, status, "{what}: {}", resp.text);
    assert_eq!(resp.id(), "invalid_params", "{what}: {}", resp.text);
    assert!(
        resp.message().contains(message),
        "{what}: message {:?} lacks {message:?}",
        resp.message()
    );
}

/// Client mistakes are not the server's errors: none is logged at ERROR.
fn assert_no_error_logged(cast: &Cast) {
    let log = cast.server.log();
    assert!(
        !log.lines().any(|line| line.contains(" ERROR ")),
        "an error was logged:\n{log}"
    );
}

/// K22: each bad collaborator body is refused with a message about the
/// field, and creates no row, no invited account and no mail.
#[test]
fn k22_invalid_collaborator_input_is_refused_and_creates_nothing() {
    let cast = Cast::start();
    let alice = cast.alice();
    let long_address = format!("{}@example.com", "a".repeat(320 - "@example.com".len()));
    assert_eq!(long_address.len(), 320);
    let huge = "b".repeat(64 * 1024);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{}".to_vec(), 422, "user"),
        (br#"{"user":""}"#.to_vec(), 422, "email address is empty"),
        (
            br#"{"user":"not-an-email"}"#.to_vec(),
            422,
            "not an email address",
        ),
        (
            json_bytes(json!({ "user": long_address })),
            422,
            "the limit is 254",
        ),
        (json_bytes(json!({ "user": huge })), 422, "the limit is 254"),
        (br#"{"user":null}"#.to_vec(), 422, "Invalid param user"),
        (
            br#"{"user":["bob@example.com"]}"#.to_vec(),
            422,
            "Invalid param user",
        ),
        (
            br#"{"user":"bob@example.com","permissions":["deploy"]}"#.to_vec(),
            422,
            "Unknown params: permissions",
        ),
        (
            br#"{"user":"bob@example.com""#.to_vec(),
            400,
            "not valid JSON",
        ),
        (
            br#"{"user":"bob@example.com","silent":"yes"}"#.to_vec(),
            422,
            "Invalid param silent",
        ),
    ];
    let before = cast.server.snapshot();
    for (body, status, message) in cases {
        let what = format!(
            "body {}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        let resp = alice.raw("POST", "/apps/demo-app/collaborators", body);
        assert_invalid(&resp, status, message, &what);
    }
    assert_unchanged(&before, &cast.server.snapshot(), "K22 bodies");
    assert!(cast.server.outbox().is_empty());
    assert_eq!(
        cast.collaborator_emails(&alice, "demo-app"),
        ["alice@example.com"]
    );
    assert_no_error_logged(&cast);
}

fn json_bytes(value: Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap()
}

/// K22: `sharing:add` with no email prints its usage and fails.
#[test]
fn k22_sharing_add_without_an_argument_prints_usage() {
    let cast = Cast::start();
    let before = cast.server.snapshot();
    let out = run(cast
        .server
        .cli(Some(&cast.alice))
        .args(["sharing:add", "-a", "demo-app"]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Usage:"), "{}", stderr(&out));
    assert!(stderr(&out).contains("<EMAIL>"), "{}", stderr(&out));
    assert_unchanged(
        &before,
        &cast.server.snapshot(),
        "sharing:add without email",
    );
}

/// Bodies over the cap are refused with 413 before they are parsed, whether
/// they declare their length or arrive chunked.
#[test]
fn huge_bodies_are_413_json_on_every_endpoint() {
    let cast = Cast::start();
    let alice = cast.alice();
    let before = cast.server.snapshot();
    for (method, path) in BODY_ENDPOINTS {
        for size in [257 * 1024, 4 * 1024 * 1024] {
            let padded = format!(r#"{{"user":"{}"}}"#, "a".repeat(size));
            let what = format!("{method} {path} with {size} bytes");
            let resp = alice.raw(method, path, padded.into_bytes());
            assert_client_error(&resp, &what);
            assert_eq!(resp.status, 413, "{what}");
            assert_eq!(resp.id(), "request_too_large", "{what}");
            assert!(
                resp.message().contains("256 KB"),
                "{what}: {}",
                resp.message()
            );
        }
        let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(vec![b' '; 512 * 1024]));
        let resp = alice.send(
            alice
                .request(method, path)
                .header("Content-Type", "application/json")
                .body(chunked),
        );
        assert_eq!(resp.status, 413, "{method} {path} chunked: {}", resp.text);
        assert_eq!(resp.id(), "request_too_large");
    }
    // A declared length far over the cap is refused before any of the body
    // is read: a client waiting for `100 Continue` never has to send it.
    for (method, path) in BODY_ENDPOINTS {
        let (status, body) = send_headers_only(&cast, method, path, 64 * 1024 * 1024);
        assert_eq!(status, 413, "{method} {path}: {body}");
        assert_eq!(body["id"], "request_too_large", "{method} {path}");
    }
    // Just under the cap is read and judged on its content.
    let near = format!(r#"{{"user":"{}"}}"#, "a".repeat(250 * 1024));
    let resp = alice.raw("POST", "/apps/demo-app/collaborators", near.into_bytes());
    assert_invalid(&resp, 422, "the limit is 254", "250 KB email");
    assert_unchanged(&before, &cast.server.snapshot(), "huge bodies");
    assert_no_error_logged(&cast);
}

/// Sends only the head of a request announcing `length` bytes of body, as
/// a client using `Expect: 100-continue` does, and reads the answer.
fn send_headers_only(cast: &Cast, method: &str, path: &str, length: usize) -> (u16, Value) {
    let address = cast.server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        cast.alice
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Malformed JSON, JSON that is not an object, wrong types and unknown
/// fields, on every endpoint that reads a body.
#[test]
fn malformed_and_mistyped_bodies_are_refused() {
    let cast = Cast::start();
    let alice = cast.alice();
    let before = cast.server.snapshot();
    for (method, path) in BODY_ENDPOINTS {
        let malformed: [&[u8]; 6] = [b"{", b"{\"name\":", b"nul", b"{'a':1}", b"\xff\xfe", b"{}}"];
        for body in malformed {
            let what = format!("{method} {path} {:?}", String::from_utf8_lossy(body));
            assert_invalid(
                &alice.raw(method, path, body.to_vec()),
                400,
                "not valid JSON",
                &what,
            );
        }
        for body in [
            "[]",
            "\"str\"",
            "null",
            "123",
            "true",
            "[{\"name\":\"x-app\"}]",
        ] {
            let what = format!("{method} {path} {body}");
            let resp = alice.raw(method, path, body.as_bytes().to_vec());
            assert_invalid(&resp, 422, "must be a JSON object", &what);
        }
        let resp = alice.raw(method, path, br#"{"owner":"erin@example.com"}"#.to_vec());
        assert_invalid(
            &resp,
            422,
            "Unknown params: owner",
            &format!("{method} {path} owner"),
        );
        let twice = br#"{"name":"x-app","user":"bob@example.com","name":"y-app","user":"e@x.io"}"#;
        let resp = alice.raw(method, path, twice.to_vec());
        assert_invalid(
            &resp,
            422,
            "given more than once",
            &format!("{method} {path} twice"),
        );
    }

    let wrong_types = [
        (
            "POST",
            "/apps",
            json!({ "name": 123 }),
            "Invalid param name",
        ),
        (
            "POST",
            "/apps",
            json!({ "name": ["x-app"] }),
            "Invalid param name",
        ),
        (
            "POST",
            "/apps",
            json!({ "name": { "a": 1 } }),
            "Invalid param name",
        ),
        (
            "PATCH",
            "/apps/demo-app",
            json!({ "name": false }),
            "Invalid param name",
        ),
        (
            "POST",
            "/apps/demo-app/collaborators",
            json!({ "user": 7 }),
            "Invalid param user",
        ),
        (
            "POST",
            "/apps/demo-app/collaborators",
            json!({ "user": "bob@example.com", "silent": 1 }),
            "Invalid param silent",
        ),
        (
            "POST",
            "/oauth/authorizations",
            json!({ "expires_in": "x" }),
            "expires_in",
        ),
        (
            "POST",
            "/oauth/authorizations",
            json!({ "expires_in": 1e20 }),
            "expires_in",
        ),
        (
            "POST",
            "/oauth/authorizations",
            json!({ "expires_in": -1 }),
            "expires_in",
        ),
        (
            "POST",
            "/oauth/authorizations",
            json!({ "expires_in": 0 }),
            "expires_in",
        ),
        (
            "POST",
            "/oauth/authorizations",
            json!({ "description": 5 }),
            "description",
        ),
        (
            "POST",
            "/apps/demo-app/collaborators",
            json!({ "user": "bob@example.com", "role": "owner" }),
            "Unknown params: role",
        ),
        (
            "PATCH",
            "/apps/demo-app",
            json!({ "owner": { "id": "x" } }),
            "Unknown params: owner",
        ),
    ];
    for (method, path, body, message) in wrong_types {
        let what = format!("{method} {path} {body}");
        let resp = alice.send(alice.request(method, path).json(&body));
        assert_invalid(&resp, 422, message, &what);
    }
    assert_unchanged(&before, &cast.server.snapshot(), "malformed bodies");
    assert_no_error_logged(&cast);
}

/// Invalid addresses are 422 and name what is wrong; none creates an account.
#[test]
fn invalid_emails_are_refused_with_the_reason() {
    let cast = Cast::start();
    let alice = cast.alice();
    let before = cast.server.snapshot();
    let bad = [
        ("carol @example.com", "whitespace"),
        ("carol@exam ple.com", "whitespace"),
        ("a\r\nBcc: x@y.com@example.com", "whitespace"),
        ("carol@example.com\u{0}", "whitespace"),
        ("carol", "not an email address"),
        ("@example.com", "not a valid email address"),
        ("carol@", "not a valid email address"),
        ("carol@example", "not a valid email address"),
        ("carol@@example.com", "not a valid email address"),
        ("carol@example..com", "not a valid email address"),
        ("carol@.example.com", "not a valid email address"),
        ("cärol@example.com", "not a valid email address"),
        ("<carol@example.com>", "not a valid email address"),
        ("\"carol\"@example.com", "not a valid email address"),
        ("carol@example.com; bob@example.com", "whitespace"),
    ];
    for (email, reason) in bad {
        let resp = alice.post("/apps/demo-app/collaborators", json!({ "user": email }));
        assert_invalid(&resp, 422, reason, &format!("add {email:?}"));
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    let resp = alice.post(
        "/apps/demo-app/collaborators",
        json!({ "user": long_local }),
    );
    assert_invalid(
        &resp,
        422,
        "not a valid email address",
        "65-character local part",
    );
    assert_unchanged(&before, &cast.server.snapshot(), "invalid emails");

    // Signing in with a malformed address is a plain 401, not a 5xx.
    for user in ["not-an-email", "a\u{0}@example.com", &"x".repeat(5000)] {
        let resp = cast.server.anonymous().send(
            cast.server
                .anonymous()
                .request("POST", "/oauth/authorizations")
                .basic_auth(user, Some("pw"))
                .json(&json!({})),
        );
        assert_eq!(resp.status, 401, "login as {user:?}: {}", resp.text);
        assert_eq!(resp.id(), "unauthorized");
    }
    assert_no_error_logged(&cast);
}

/// App names follow `^[a-z][a-z0-9-]{1,28}[a-z0-9]$`; the message says
/// which rule failed. Includes the API half of K15.
#[test]
fn invalid_app_names_are_refused_with_the_rule() {
    let cast = Cast::start();
    let erin = cast.erin();
    let before = cast.server.snapshot();
    let bad = [
        ("", "between 3 and 30"),
        ("ab", "between 3 and 30"),
        ("a23456789012345678901234567890x", "between 3 and 30"),
        ("1app", "start with a lowercase letter"),
        ("-app", "start with a lowercase letter"),
        ("Demo-app", "start with a lowercase letter"),
        ("demo-App", "may only contain"),
        ("app-", "end with a letter or digit"),
        ("demo_app", "may only contain"),
        ("demo.app", "may only contain"),
        ("demo app", "may only contain"),
        ("démo-app", "may only contain"),
        ("../demo-app", "start with a lowercase letter"),
        ("a%2Fb", "may only contain"),
        ("a/b", "may only contain"),
        ("demo-app/..", "may only contain"),
        ("demo-app\u{0}", "may only contain"),
        ("demo-app\n", "may only contain"),
    ];
    for (name, rule) in bad {
        let resp = erin.post("/apps", json!({ "name": name }));
        assert_invalid(&resp, 422, rule, &format!("create {name:?}"));
        let resp = erin.patch("/apps/erin-app", json!({ "name": name }));
        assert_invalid(&resp, 422, rule, &format!("rename to {name:?}"));
    }
    // Taken names, by create and by rename.
    let taken = erin.post("/apps", json!({ "name": "demo-app" }));
    assert_invalid(&taken, 422, "demo-app is already taken", "create demo-app");
    let taken = erin.patch("/apps/erin-app", json!({ "name": "demo-app" }));
    assert_invalid(
        &taken,
        422,
        "demo-app is already taken",
        "rename to demo-app",
    );
    assert_unchanged(&before, &cast.server.snapshot(), "invalid names");
    assert_eq!(
        cast.alice().get("/apps/demo-app").body["owner"]["email"],
        "alice@example.com"
    );
    assert_no_error_logged(&cast);
}

/// Percent-encoded dots, slashes, invalid UTF-8 and NUL bytes in a path
/// never reach another app or a 5xx (K15, API half).
#[test]
fn percent_encoded_paths_never_reach_another_app() {
    let cast = Cast::shared();
    let erin = cast.erin();
    let before = cast.server.snapshot();
    let paths = [
        "/apps/%2e%2e",
        "/apps/..%2Fdemo-app",
        "/apps/erin-app%2F..%2Fdemo-app",
        "/apps/erin-app/..%2F..%2Fapps%2Fdemo-app",
        "/apps/demo-app%2Fcollaborators",
        "/apps/%FF",
        "/apps/demo-app%00",
        "/apps/%00",
        "/apps/demo-app%20",
        "/apps/%20demo-app",
        "/apps/DEMO-APP",
        "/apps/erin-app/collaborators/%FF",
        "/apps/erin-app/collaborators/%00",
        "/apps/erin-app/collaborators/bob%00@example.com",
        "/apps/erin-app/collaborators/..%2F..%2Fdemo-app",
        "/apps/erin-app/collaborators/%2e%2e",
        "/users/%FF/apps",
        "/users/%00/apps",
        "/oauth/authorizations/%FF",
        "/oauth/authorizations/%00",
    ];
    for path in paths {
        for method in ["GET", "PATCH", "DELETE"] {
            let what = format!("{method} {path}");
            let resp = erin.send(
                erin.request(method, path)
                    .json(&json!({ "name": "stolen-app" })),
            );
            assert_client_error(&resp, &what);
            assert!(
                [400, 403, 404, 405, 422].contains(&resp.status),
                "{what}: {}",
                resp.text
            );
        }
    }
    // The same tricks, spelled for demo-app itself: refused as any stranger's call.
    for path in ["/apps/%64emo-app", "/apps/demo%2Dapp"] {
        let resp = erin.get(path);
        assert_eq!(resp.status, 403, "{path}: {}", resp.text);
    }
    assert_unchanged(&before, &cast.server.snapshot(), "percent-encoded paths");
    assert_no_error_logged(&cast);
}

/// Methods a route does not have, and unknown routes, still answer JSON.
#[test]
fn unknown_routes_and_methods_answer_json() {
    let cast = Cast::start();
    let alice = cast.alice();
    let before = cast.server.snapshot();
    for (method, path) in [
        ("PUT", "/apps"),
        ("DELETE", "/apps"),
        ("PUT", "/apps/demo-app"),
        ("POST", "/apps/demo-app"),
        ("PATCH", "/apps/demo-app/collaborators"),
        ("PUT", "/account"),
        ("POST", "/apps/demo-app/activity"),
    ] {
        let resp = alice.send(alice.request(method, path).json(&json!({})));
        assert_client_error(&resp, &format!("{method} {path}"));
        assert_eq!(resp.status, 405, "{method} {path}");
        assert_eq!(resp.id(), "method_not_allowed", "{method} {path}");
    }
    for path in [
        "/nothing",
        "/apps/demo-app/nothing",
        "/apps/demo-app/collaborators/a/b",
    ] {
        let resp = alice.get(path);
        assert_client_error(&resp, path);
        assert_eq!(resp.status, 404, "{path}");
    }
    assert_unchanged(&before, &cast.server.snapshot(), "unknown routes");
}

/// Odd `Range` headers on lists fall back to sensible pages, never a 5xx.
#[test]
fn odd_range_headers_never_fail() {
    let cast = Cast::shared();
    let alice = cast.alice();
    for range in [
        "name ..; max=abc",
        "zzz",
        "",
        "name ]..; max=0",
        "name ]zzzz..; max=-1",
        "seq ]99999999999999999999999..; max=5",
        "id ..; max=99999999999999999999, order=sideways",
    ] {
        for path in [
            "/apps",
            "/apps/demo-app/collaborators",
            "/apps/demo-app/activity",
        ] {
            let resp = alice.send(alice.request("GET", path).header("Range", range));
            assert!(
                resp.status == 200 || resp.status == 206 || (400..500).contains(&resp.status),
                "{path} Range {range:?}: {} {}",
                resp.status,
                resp.text
            );
            assert!(
                !resp.body.is_null(),
                "{path} Range {range:?}: {}",
                resp.text
            );
        }
    }
    assert_no_error_logged(&cast);
}

/// A key that is not valid for anyone, however it is shaped, is a 401.
#[test]
fn odd_api_keys_are_401() {
    let cast = Cast::start();
    let huge = "k".repeat(8 * 1024);
    let anonymous = cast.server.anonymous();
    for key in ["", " ", "slw_", "slw_\t", huge.as_str()] {
        let resp = anonymous.send(
            anonymous
                .request("GET", "/apps")
                .header("Authorization", format!("Bearer {key}")),
        );
        assert_eq!(resp.status, 401, "key {key:?}: {}", resp.text);
        assert_eq!(resp.id(), "unauthorized");
    }
    assert_no_error_logged(&cast);
}

/// Every prefix of a valid body, and every one-byte corruption of it, is
/// answered without a 5xx; whatever is refused is a JSON error.
#[test]
fn truncated_and_corrupted_bodies_never_fail() {
    let cast = Cast::shared();
    let alice = cast.alice();
    let bodies = [
        ("POST", "/apps", r#"{"name":"new-app"}"#),
        (
            "POST",
            "/apps/demo-app/collaborators",
            r#"{"user":"bob@example.com","silent":true}"#,
        ),
        (
            "POST",
            "/oauth/authorizations",
            r#"{"description":"x","expires_in":60}"#,
        ),
        ("PATCH", "/apps/demo-app", r#"{"name":"demo-app"}"#),
    ];
    for (method, path, body) in bodies {
        let bytes = body.as_bytes();
        let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for (i, replacement) in (0..bytes.len()).zip([b'"', b'\\', b'}', 0u8, 0xff].iter().cycle())
        {
            let mut corrupted = bytes.to_vec();
            corrupted[i] = *replacement;
            variants.push(corrupted);
        }
        for variant in variants {
            let what = format!("{method} {path} {:?}", String::from_utf8_lossy(&variant));
            let resp = alice.raw(method, path, variant);
            assert!(resp.status < 500, "{what}: {} {}", resp.status, resp.text);
            if resp.status >= 400 {
                assert_client_error(&resp, &what);
            }
        }
    }
    assert_no_error_logged(&cast);
}
