//! Invitations end to end: the link in a real email leads to sign-up, the
//! token works once and expires, re-inviting neither extends it nor mails
//! twice, and an address already in use cannot be claimed again.

mod common;
mod smtp;

use std::time::Duration;

use common::{run, run_with_stdin, stderr, stdout, Server};
use serde_json::{json, Value};
use smtp::{server_for, signup_link, wait_until_settled, SmtpSink};

const WAIT: Duration = Duration::from_secs(60);

fn alice_with_app(server: &Server) -> String {
    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    alice
}

/// The path part of a link to this server.
fn path_of<'a>(server: &Server, link: &'a str) -> &'a str {
    link.strip_prefix(server.url.as_str())
        .expect("link to this server")
}

/// Posts the sign-up page's form as a browser would.
fn submit_form(server: &Server, path: &str, password: &str, again: &str) -> common::Resp {
    let api = server.anonymous();
    api.send(
        api.request("POST", path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "email=ignored%40example.com&password={password}&password_confirmation={again}"
            )),
    )
}

fn login_key(server: &Server, email: &str, password: &str) -> Option<String> {
    let api = server.anonymous();
    let answer = api.send(
        api.request("POST", "/oauth/authorizations")
            .basic_auth(email, Some(password))
            .json(&json!({})),
    );
    answer.body["access_token"]["token"]
        .as_str()
        .map(str::to_string)
}

#[test]
fn k02_invitation_link_to_signup_then_the_new_key_works() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);

    // Step 1: an invitation to a mixed-case address with no account.
    let add =
        run(server
            .cli(Some(&alice))
            .args(["sharing:add", "Frank@Example.com", "-a", "demo-app"]));
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stderr(&add)
        .contains("frank@example.com has no account yet; an invitation email was queued"));
    let sharing = run(server.cli(Some(&alice)).args(["sharing", "-a", "demo-app"]));
    assert!(
        stdout(&sharing).contains("frank@example.com  (pending invitation, expires "),
        "{}",
        stdout(&sharing)
    );

    // Step 2: frank follows the link from the email to the sign-up page.
    let message = &sink.wait_for(1, WAIT)[0];
    assert_eq!(message["rcpt_tos"], json!(["frank@example.com"]));
    let link = signup_link(message);
    let path = path_of(&server, &link);
    let page = server.anonymous().get(path);
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(page.text.contains("frank@example.com") && page.text.contains("demo-app"));
    assert!(
        page.text.contains("<form method=\"post\">"),
        "{}",
        page.text
    );

    // A mistyped confirmation changes nothing.
    let mismatch = submit_form(&server, path, "frank-password", "frank-passw0rd");
    assert_eq!(mismatch.status, 422, "{}", mismatch.text);
    assert!(mismatch.text.contains("differ"));
    assert!(
        mismatch.text.contains("<form method=\"post\">"),
        "{}",
        mismatch.text
    );
    let short = submit_form(&server, path, "short", "short");
    assert_eq!(short.status, 422);
    assert!(short.text.contains("at least 8"), "{}", short.text);
    let created = submit_form(&server, path, "frank-password", "frank-password");
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.text.contains("frank@example.com"));

    // The account is the invited, lower-case address; its key reaches the app.
    let key = login_key(&server, "FRANK@example.com", "frank-password").expect("frank can log in");
    let frank = server.api(&key);
    assert_eq!(frank.get("/account").body["email"], "frank@example.com");
    assert_eq!(frank.get("/apps/demo-app").status, 200);
    let listed = frank.get("/apps/demo-app/collaborators");
    let me = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"]["email"] == "frank@example.com")
        .cloned()
        .unwrap();
    assert_eq!(me["pending"], false);
    let apps = run(server.cli(Some(&key)).arg("apps"));
    assert!(stdout(&apps).contains("demo-app"), "{}", stdout(&apps));

    // The link worked once.
    let again = server.anonymous().get(path);
    assert_eq!(again.status, 404);
    assert!(again.text.contains("not valid"), "{}", again.text);
    let reuse = server
        .anonymous()
        .post(path, json!({ "password": "another-password" }));
    assert_eq!(reuse.status, 404);
    assert!(login_key(&server, "frank@example.com", "another-password").is_none());

    // Step 3: an address in use cannot sign up again, in any case.
    server.create_user("erin@example.com");
    let erin_again = server
        .anonymous()
        .post("/signup", json!({ "email": "ERIN@EXAMPLE.COM" }));
    assert_eq!(erin_again.status, 422, "{}", erin_again.text);
    assert_eq!(erin_again.id(), "invalid_params");
    assert!(erin_again.message().contains("already in use"));

    // Step 4: sharing with erin in another case finds her account: no invitation.
    let erin = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "ERIN@example.com" }),
    );
    assert_eq!(erin.status, 201);
    assert_eq!(erin.body["pending"], false);
    assert_eq!(erin.body["user"]["email"], "erin@example.com");
    sink.wait_for(2, WAIT);
    wait_until_settled(&server, WAIT);
    let to_erin = sink.messages_to("erin@example.com");
    assert_eq!(to_erin.len(), 1);
    assert_eq!(
        to_erin[0]["subject"],
        "alice@example.com gave you access to demo-app"
    );
}

#[test]
fn signup_from_the_terminal_stores_a_key() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    let link = signup_link(&sink.wait_for(1, WAIT)[0]);

    let too_short = run_with_stdin(
        {
            let mut cmd = server.cli(None);
            cmd.args(["signup", "--invitation", &link]);
            cmd
        },
        Some("short\n"),
    );
    assert!(!too_short.status.success());
    assert!(
        stderr(&too_short).contains("at least 8"),
        "{}",
        stderr(&too_short)
    );

    let token = link.rsplit('/').next().unwrap();
    let signed_up = run_with_stdin(
        {
            let mut cmd = server.cli(None);
            cmd.args(["signup", "--invitation", token]);
            cmd
        },
        Some("frank-password\n"),
    );
    assert!(signed_up.status.success(), "{}", stderr(&signed_up));
    assert!(stdout(&signed_up).contains("Signed up as frank@example.com"));
    assert!(stdout(&signed_up).contains("You collaborate on: demo-app"));
    let netrc = std::fs::read_to_string(server.home().join(".netrc")).unwrap();
    assert!(netrc.contains("login frank@example.com"), "{netrc}");
    let whoami = run(server.cli(None).arg("auth:whoami"));
    assert_eq!(stdout(&whoami).trim(), "frank@example.com");
    let info = run(server.cli(None).args(["info", "-a", "demo-app"]));
    assert!(info.status.success(), "{}", stderr(&info));

    let unknown = run_with_stdin(
        {
            let mut cmd = server.cli(None);
            cmd.args(["signup", "--invitation", "slwinv_nope"]);
            cmd
        },
        Some("frank-password\n"),
    );
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("not valid"),
        "{}",
        stderr(&unknown)
    );
}

fn collaborator<'a>(list: &'a Value, email: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"]["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {list:#}"))
}

#[test]
fn k20_invitations_expire_and_re_inviting_does_not_extend_them() {
    let sink = SmtpSink::start();
    let mut server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    let bob = server.create_user("bob@example.com");
    let erin = server.create_user("erin@example.com");
    server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com", "silent": true }),
    );

    // T: alice invites frank; the deadline is T+7d.
    let invited = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    assert_eq!(invited.status, 201);
    let deadline = invited.body["invitation"]["expires_at"]
        .as_str()
        .unwrap()
        .to_string();
    let first_link = signup_link(&sink.wait_for(1, WAIT)[0]);
    // Pending invitations are visible to the owner and collaborators only.
    let seen_by_bob = server.api(&bob).get("/apps/demo-app/collaborators");
    assert_eq!(
        collaborator(&seen_by_bob.body, "frank@example.com")["pending"],
        true
    );
    assert_eq!(
        server.api(&erin).get("/apps/demo-app/collaborators").status,
        403
    );

    // T+3d: re-adding changes nothing and mails nothing.
    server.set_env("SLIPWAY_CLOCK_OFFSET", "3d");
    server.restart();
    let again = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    assert_eq!(again.status, 422, "{}", again.text);
    assert!(
        again.message().contains("already has a pending invitation"),
        "{}",
        again.text
    );
    let listed = server.api(&alice).get("/apps/demo-app/collaborators");
    assert_eq!(
        collaborator(&listed.body, "frank@example.com")["invitation"]["expires_at"],
        deadline.as_str()
    );
    wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 1);

    // T+8d: the link has expired and grants nothing.
    server.set_env("SLIPWAY_CLOCK_OFFSET", "8d");
    server.restart();
    let path = path_of(&server, &first_link).to_string();
    let page = server.anonymous().get(&path);
    assert_eq!(page.status, 410);
    assert!(
        page.text.contains("expired") && page.text.contains("re-invite"),
        "{}",
        page.text
    );
    let attempt = server
        .anonymous()
        .post(&path, json!({ "password": "frank-password" }));
    assert_eq!(attempt.status, 410);
    assert_eq!(attempt.id(), "invitation_expired");
    assert!(login_key(&server, "frank@example.com", "frank-password").is_none());
    let sharing = run(server.cli(Some(&alice)).args(["sharing", "-a", "demo-app"]));
    assert!(
        stdout(&sharing).contains("frank@example.com  (invitation expired"),
        "{}",
        stdout(&sharing)
    );

    // After expiry, re-adding starts a fresh invitation with a new deadline.
    let fresh = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    let new_deadline = fresh.body["invitation"]["expires_at"].as_str().unwrap();
    assert!(
        new_deadline > deadline.as_str(),
        "{new_deadline} vs {deadline}"
    );
    let second_link = signup_link(&sink.wait_for(2, WAIT)[1]);
    assert_ne!(second_link, first_link);

    // Cancelling it: 200, and the new link is dead too.
    let cancel = run(server.cli(Some(&alice)).args([
        "sharing:remove",
        "frank@example.com",
        "-a",
        "demo-app",
    ]));
    assert!(cancel.status.success(), "{}", stderr(&cancel));
    let dead = server.anonymous().get(path_of(&server, &second_link));
    assert_eq!(dead.status, 404);
    let attempt = server.anonymous().post(
        path_of(&server, &second_link),
        json!({ "password": "frank-password" }),
    );
    assert_eq!(attempt.status, 404);
    assert!(login_key(&server, "frank@example.com", "frank-password").is_none());
    let listed = server.api(&alice).get("/apps/demo-app/collaborators");
    assert!(!listed.text.contains("frank@example.com"));
    // frank is told once that the invitation was cancelled, and nothing else.
    sink.wait_for(3, WAIT);
    wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(2));
    let to_frank = sink.messages_to("frank@example.com");
    assert_eq!(to_frank.len(), 3);
    assert_eq!(
        to_frank[2]["subject"],
        "Your invitation to demo-app was cancelled"
    );
}

#[test]
fn an_invitation_ttl_can_be_configured() {
    let sink = SmtpSink::start();
    let server = server_for(&sink)
        .env("SLIPWAY_INVITATION_TTL", "36h")
        .start();
    let alice = alice_with_app(&server);
    let invited = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    let expires = invited.body["invitation"]["expires_at"].as_str().unwrap();
    let created = invited.body["invitation"]["created_at"].as_str().unwrap();
    let hours = |stamp: &str| chrono_hours(stamp);
    assert_eq!(hours(expires) - hours(created), 36);
}

/// Hours since the epoch of an RFC 3339 UTC timestamp (`2026-12-04T15:04:26Z`).
fn chrono_hours(stamp: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", stamp, "+%s"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse::<i64>()
        .unwrap()
        / 3600
}

#[test]
fn k21_an_invitee_without_the_email_asks_for_a_link_and_lands_on_the_invitation() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    sink.set_mode("reject");
    let invited = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    assert_eq!(invited.status, 201);
    let settled = wait_until_settled(&server, WAIT);
    assert_eq!(settled[0]["state"], "failed");
    assert!(sink.messages().is_empty());

    // frank never got the email; he asks to sign up with his address.
    sink.set_mode("accept");
    let ask = run(server
        .cli(None)
        .args(["signup", "--email", "Frank@Example.com"]));
    assert!(ask.status.success(), "{}", stderr(&ask));
    assert!(
        stdout(&ask).contains("frank@example.com has a pending invitation"),
        "{}",
        stdout(&ask)
    );
    let link = signup_link(&sink.wait_for(1, WAIT)[0]);
    // Asking again at once sends nothing more.
    let again = server
        .anonymous()
        .post("/signup", json!({ "email": "frank@example.com" }));
    assert_eq!(again.status, 202);
    assert!(again.message().contains("a moment ago"), "{}", again.text);

    let signed_up = run_with_stdin(
        {
            let mut cmd = server.cli(None);
            cmd.args(["signup", "--invitation", &link]);
            cmd
        },
        Some("frank-password\n"),
    );
    assert!(signed_up.status.success(), "{}", stderr(&signed_up));
    assert!(stdout(&signed_up).contains("You collaborate on: demo-app"));
    wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 1);

    // Nobody opens an account without an invitation, and nobody can claim
    // someone else's invitation without its token.
    let stranger = server
        .anonymous()
        .post("/signup", json!({ "email": "mallory@example.com" }));
    assert_eq!(stranger.status, 403, "{}", stranger.text);
    let bad = server
        .anonymous()
        .post("/signup", json!({ "email": "not an address" }));
    assert_eq!(bad.status, 422);
    let extra = server.anonymous().post(
        "/signup",
        json!({ "email": "x@example.com", "password": "p" }),
    );
    assert_eq!(extra.status, 422);
    assert!(extra.message().contains("password"));
}

#[test]
fn a_token_for_one_address_cannot_sign_up_another() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    let link = signup_link(&sink.wait_for(1, WAIT)[0]);
    let path = path_of(&server, &link);

    let other = server.anonymous().post(
        path,
        json!({ "password": "frank-password", "email": "mallory@example.com" }),
    );
    assert_eq!(other.status, 422, "{}", other.text);
    assert!(other.message().contains("was sent to frank@example.com"));
    let same = server.anonymous().post(
        path,
        json!({ "password": "frank-password", "email": " FRANK@example.COM " }),
    );
    assert_eq!(same.status, 201, "{}", same.text);
    assert_eq!(same.body["account"]["email"], "frank@example.com");
    let key = same.body["api_key"].as_str().unwrap();
    assert_eq!(server.api(key).get("/apps/demo-app").status, 200);

    for bogus in [
        "/invitations/slwinv_0000",
        "/invitations/x",
        "/invitations/..%2F..%2Fetc",
    ] {
        let page = server.anonymous().get(bogus);
        assert_eq!(page.status, 404, "{bogus}: {}", page.text);
    }
}
