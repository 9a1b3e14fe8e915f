//! Password guessing at `POST /oauth/authorizations` is throttled per
//! account email and per client address; API keys are not affected.

mod common;

use common::{Resp, Server};
use serde_json::json;

fn password_login(server: &Server, email: &str, password: &str) -> Resp {
    let anonymous = server.anonymous();
    anonymous.send(
        anonymous
            .request("POST", "/oauth/authorizations")
            .basic_auth(email, Some(password))
            .json(&json!({})),
    )
}

/// A 429 `rate_limit` with a `Retry-After` of at most 15 minutes.
fn assert_throttled(resp: &Resp, whom: &str, what: &str) -> u64 {
    assert_eq!(resp.status, 429, "{what}: {}", resp.text);
    assert_eq!(resp.id(), "rate_limit", "{what}");
    assert!(
        resp.message()
            .starts_with(&format!("Too many failed logins {whom}; try again in ")),
        "{what}: {}",
        resp.message()
    );
    let retry_after: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "{what}: {retry_after}"
    );
    retry_after
}

#[test]
fn five_wrong_passwords_hold_the_account_back_and_no_other() {
    let server = Server::start();
    let alice_key = server.create_user("alice@example.com");
    server.create_user("bob@example.com");

    // Spelled in any case and spacing, it is one account.
    for email in [
        "alice@example.com",
        " Alice@Example.com",
        "ALICE@EXAMPLE.COM ",
    ] {
        let wrong = password_login(&server, email, "not-the-password");
        assert_eq!(wrong.status, 401, "{}", wrong.text);
    }
    for _ in 0..2 {
        assert_eq!(
            password_login(&server, "alice@example.com", "guess").status,
            401
        );
    }
    // The sixth try is refused without looking at the password.
    let right = password_login(&server, "alice@example.com", "pw-alice@example.com");
    let wait = assert_throttled(&right, "for this account", "right password after 5 wrong");
    assert!(wait > 14 * 60, "{wait}");
    assert!(
        right.message().ends_with("try again in 15 minutes."),
        "{}",
        right.message()
    );

    // Her API key works as ever, and bob is not held up.
    assert_eq!(server.api(&alice_key).get("/account").status, 200);
    let bob = password_login(&server, "bob@example.com", "pw-bob@example.com");
    assert_eq!(bob.status, 201, "{}", bob.text);

    // A success clears the account's failures: 4 + 4 wrong, never held up.
    for round in 0..2 {
        for _ in 0..4 {
            let wrong = password_login(&server, "bob@example.com", "guess");
            assert_eq!(wrong.status, 401, "round {round}: {}", wrong.text);
        }
        let right = password_login(&server, "bob@example.com", "pw-bob@example.com");
        assert_eq!(right.status, 201, "round {round}: {}", right.text);
    }
}

/// Tries sent all at once are counted as they arrive, not as they finish.
#[test]
fn a_burst_of_guesses_gets_at_most_five_checked() {
    let server = Server::start();
    server.create_user("alice@example.com");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let tries: Vec<_> = (0..20)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    password_login(server, "alice@example.com", &format!("guess-{i}")).status
                })
            })
            .collect();
        tries.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    let right = password_login(&server, "alice@example.com", "pw-alice@example.com");
    assert_throttled(&right, "for this account", "right password after the burst");
}

/// One address trying many accounts is held back too, whichever account
/// it tries next; over plain HTTP and over TLS alike.
#[test]
fn one_address_guessing_across_accounts_is_held_back() {
    for server in [Server::start(), Server::builder().tls().start()] {
        server.create_user("alice@example.com");
        for i in 0..30 {
            let wrong = password_login(&server, &format!("user{i}@example.com"), "guess");
            assert_eq!(wrong.status, 401, "{} try {i}: {}", server.url, wrong.text);
        }
        let right = password_login(&server, "alice@example.com", "pw-alice@example.com");
        assert_throttled(&right, "from your address", &server.url);
    }
}
