//! Conventions every API response follows, which the Heroku CLI relies on:
//! the `Accept` variants it sends, `Request-Id`, `RateLimit-Remaining`,
//! `Range` on every list, and `{id, message}` errors.

mod common;

use common::Server;
use serde_json::json;

#[test]
fn every_version_3_accept_variant_is_served() {
    let server = Server::start();
    let key = server.create_user("alice@example.com");
    let api = server.api(&key);
    for accept in [
        "application/vnd.heroku+json; version=3",
        "application/vnd.heroku+json; version=3.sdk",
        "application/vnd.heroku+json; version=3.team-invitations",
        "application/vnd.heroku+json; version=3.account-quotas",
        "application/json",
        "*/*",
    ] {
        let resp = api.send(api.request("GET", "/account").header("Accept", accept));
        assert_eq!(resp.status, 200, "{accept}: {}", resp.text);
        assert_eq!(resp.body["email"], "alice@example.com");
    }
}

#[test]
fn request_ids_are_echoed_and_rate_limits_counted_per_account() {
    let server = Server::builder().arg("--rate-limit").arg("3").start();
    let alice = server.api(&server.create_user("alice@example.com"));
    let bob = server.api(&server.create_user("bob@example.com"));

    // The CLI sends its id first, then earlier ones.
    let id = "0f9b0e6c-5a3b-4c47-9d0e-2f1a3b4c5d6e";
    let resp = alice.send(alice.request("GET", "/account").header(
        "Request-Id",
        format!("{id},11111111-2222-3333-4444-555555555555"),
    ));
    assert_eq!(resp.headers["request-id"], id);
    assert_eq!(resp.headers["ratelimit-remaining"], "2");
    assert_eq!(alice.get("/apps").headers["ratelimit-remaining"], "1");
    assert_eq!(alice.get("/apps").headers["ratelimit-remaining"], "0");

    // The fourth request within the hour is refused; others are not affected.
    let limited = alice.get("/account");
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert_eq!(limited.id(), "rate_limit");
    assert_eq!(limited.headers["ratelimit-remaining"], "0");
    assert_eq!(bob.get("/account").headers["ratelimit-remaining"], "2");

    // Unauthenticated requests carry no count.
    let anonymous = server.anonymous().get("/account");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.headers.get("ratelimit-remaining").is_none());
}

#[test]
fn endpoints_the_heroku_cli_calls_answer_in_its_shapes() {
    let server = Server::start();
    let key = server.create_user("alice@example.com");
    let api = server.api(&key);
    api.post("/apps", json!({"name": "cli-app"}));

    assert_eq!(api.get("/apps/cli-app/dynos").body, json!([]));
    assert_eq!(api.get("/account/keys").body, json!([]));
    let coupling = api.get("/apps/cli-app/pipeline-couplings");
    assert_eq!((coupling.status, coupling.id()), (404, "not_found"));
    assert_eq!(coupling.body["resource"], "pipeline-coupling");
    // Strangers learn nothing about the app from these.
    let bob = server.api(&server.create_user("bob@example.com"));
    assert_eq!(bob.get("/apps/cli-app/dynos").status, 403);

    // logout's calls: no browser session, no default key.
    let session = api.delete("/oauth/sessions/~");
    assert_eq!(
        (session.status, session.body["resource"].as_str()),
        (404, Some("session"))
    );
    let default = api.get("/oauth/authorizations/~");
    assert_eq!(
        (default.status, default.body["resource"].as_str()),
        (404, Some("authorization"))
    );

    // The key in use is shown to its user; others only as "".
    let second = api.post("/oauth/authorizations", json!({"description": "second"}));
    assert_eq!(second.status, 201);
    let listed = api.get("/oauth/authorizations").body;
    let tokens: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["access_token"]["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens.contains(&key.as_str()) && tokens.contains(&""),
        "{tokens:?}"
    );

    // Lists answer Range with Next-Range until the last page.
    let page = api.send(
        api.request("GET", "/oauth/authorizations")
            .header("Range", "id ..; max=1"),
    );
    assert_eq!(page.status, 206);
    let next = page.headers["next-range"].to_str().unwrap().to_string();
    let rest = api.send(
        api.request("GET", "/oauth/authorizations")
            .header("Range", next),
    );
    assert_eq!(rest.status, 200);
    assert!(rest.headers.get("next-range").is_none());
    assert_eq!(rest.body.as_array().unwrap().len(), 1);
}
