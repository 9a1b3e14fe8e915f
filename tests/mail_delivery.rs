//! Mail delivery against a real SMTP server on loopback: what arrives, and
//! that nothing is lost or doubled when the server is down, refuses or hangs,
//! or Slipway restarts in between.

mod common;
mod smtp;

use std::collections::HashMap;
use std::time::Duration;

use common::{run, stderr, Server};
use serde_json::json;
use smtp::{outbox, server_for, signup_link, wait_until_settled, SmtpSink};

const WAIT: Duration = Duration::from_secs(60);

/// alice with demo-app, on a server that mails to `sink`.
fn alice_with_app(server: &Server) -> String {
    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    alice
}

#[test]
fn access_invitation_and_removal_mails_arrive_with_the_right_content() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    server.create_user("bob@example.com");
    let api = server.api(&alice);

    // bob has an account: he is told he has access; Frank has none: invited.
    let bob = api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com" }),
    );
    assert_eq!(bob.status, 201, "{}", bob.text);
    assert_eq!(bob.body["notification"], "queued");
    let frank = api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "Frank@Example.com" }),
    );
    assert_eq!(frank.status, 201, "{}", frank.text);
    assert_eq!(frank.body["pending"], true);
    assert_eq!(frank.body["user"]["email"], "frank@example.com");
    // Silent adds queue nothing.
    server.create_user("carol@example.com");
    let carol = api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "carol@example.com", "silent": true }),
    );
    assert_eq!(carol.body["notification"], "none");

    let messages = sink.wait_for(2, WAIT);
    let settled = wait_until_settled(&server, WAIT);
    assert_eq!(sink.messages().len(), 2, "{:#?}", sink.messages());
    let git_url = format!("{}/demo-app.git", server.url);

    let to_bob = &sink.messages_to("bob@example.com")[0];
    assert_eq!(
        to_bob["subject"],
        "alice@example.com gave you access to demo-app"
    );
    assert_eq!(to_bob["to"], "bob@example.com");
    assert_eq!(to_bob["from"], "Slipway Tests <slipway@mail.test>");
    assert_eq!(to_bob["mail_from"], "slipway@mail.test");
    assert_eq!(to_bob["content_type"], "multipart/alternative");
    let text = to_bob["text"].as_str().unwrap();
    for needle in [
        git_url.as_str(),
        "http://demo-app.localhost:",
        "slipway git:clone -a demo-app",
        "slipway git:remote -a demo-app",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(to_bob["html"].as_str().unwrap().contains(&git_url));
    assert_eq!(to_bob["defects"], json!([]));

    let to_frank = &sink.messages_to("frank@example.com")[0];
    assert_eq!(
        to_frank["subject"],
        "alice@example.com invited you to collaborate on demo-app"
    );
    let link = signup_link(to_frank);
    assert!(
        link.starts_with(&format!("{}/invitations/slwinv_", server.url)),
        "{link}"
    );
    assert!(to_frank["html"].as_str().unwrap().contains(&link));
    assert!(to_frank["text"]
        .as_str()
        .unwrap()
        .contains("slipway signup --invitation"));

    // Message-IDs are the outbox's own, so a retry is recognisable.
    for message in &messages {
        let id = message["message_id"].as_str().unwrap();
        assert!(id.ends_with("@mail.test>"), "{id}");
        assert!(settled
            .iter()
            .any(|m| m["message_id"] == id && m["state"] == "sent"));
    }

    // Removing bob sends him the one notice; frank hears his invitation was cancelled.
    assert_eq!(
        api.delete("/apps/demo-app/collaborators/bob@example.com")
            .status,
        200
    );
    assert_eq!(
        api.delete("/apps/demo-app/collaborators/frank@example.com")
            .status,
        200
    );
    sink.wait_for(4, WAIT);
    wait_until_settled(&server, WAIT);
    let removed = sink.messages_to("bob@example.com");
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[1]["subject"], "Your access to demo-app was removed");
    let cancelled = sink.messages_to("frank@example.com");
    assert_eq!(cancelled.len(), 2);
    assert_eq!(
        cancelled[1]["subject"],
        "Your invitation to demo-app was cancelled"
    );
    assert_eq!(sink.messages_to("carol@example.com").len(), 0);
}

#[test]
fn ten_invitations_queued_while_smtp_is_down_arrive_exactly_once_after_a_restart() {
    let mut sink = SmtpSink::start();
    let mut server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    sink.stop();

    let api = server.api(&alice);
    for n in 0..10 {
        let added = api.post(
            "/apps/demo-app/collaborators",
            json!({ "user": format!("invitee{n}@example.com") }),
        );
        assert_eq!(added.status, 201, "{}", added.text);
    }
    // Every message has been tried and failed, and is still queued.
    common::wait_for(WAIT, || {
        let messages = outbox(&server);
        (messages.len() == 10
            && messages
                .iter()
                .all(|m| m["state"] == "queued" && m["attempts"].as_i64() >= Some(1)))
        .then_some(())
    })
    .unwrap_or_else(|| panic!("not all attempted: {:#?}", outbox(&server)));
    let listed = server.admin(&["mail"], None);
    assert_eq!(
        common::stdout(&listed)
            .lines()
            .filter(|l| l.contains("queued"))
            .count(),
        10
    );

    server.restart();
    sink.restart();

    sink.wait_for(10, WAIT);
    let settled = wait_until_settled(&server, WAIT);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for message in sink.messages() {
        *seen
            .entry(message["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 10, "{seen:#?}");
    assert!(seen.values().all(|count| *count == 1), "{seen:#?}");
    for message in &settled {
        assert_eq!(message["state"], "sent");
        assert_eq!(seen.get(message["message_id"].as_str().unwrap()), Some(&1));
    }
    for n in 0..10 {
        assert_eq!(
            sink.messages_to(&format!("invitee{n}@example.com")).len(),
            1
        );
    }
}

#[test]
fn a_permanent_refusal_is_kept_as_failed_and_a_resend_delivers_once() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    let bob_key = server.create_user("bob@example.com");
    sink.set_mode("reject");

    // K21 steps 1 and 2: the adds succeed and say the mail is queued, never sent.
    let add_bob =
        run(server
            .cli(Some(&alice))
            .args(["sharing:add", "bob@example.com", "-a", "demo-app"]));
    assert!(add_bob.status.success(), "{}", stderr(&add_bob));
    assert!(stderr(&add_bob).contains("queued"), "{}", stderr(&add_bob));
    assert!(
        !stderr(&add_bob).to_lowercase().contains("sent"),
        "{}",
        stderr(&add_bob)
    );
    let add_frank =
        run(server
            .cli(Some(&alice))
            .args(["sharing:add", "frank@example.com", "-a", "demo-app"]));
    assert!(add_frank.status.success(), "{}", stderr(&add_frank));
    assert!(
        stderr(&add_frank).contains("invitation email was queued"),
        "{}",
        stderr(&add_frank)
    );
    assert_eq!(server.api(&bob_key).get("/apps/demo-app").status, 200);

    let failed = wait_until_settled(&server, WAIT);
    assert_eq!(failed.len(), 2);
    for message in &failed {
        assert_eq!(message["state"], "failed", "{message:#?}");
        assert!(
            message["last_error"].as_str().unwrap().contains("550"),
            "{message:#?}"
        );
        assert!(!message["recipient"].as_str().unwrap().is_empty());
    }
    let listed = common::stdout(&server.admin(&["mail"], None));
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.contains("failed") && l.contains("550"))
            .count(),
        2,
        "{listed}"
    );
    let collaborators = server.api(&alice).get("/apps/demo-app/collaborators");
    assert_eq!(collaborators.body.as_array().unwrap().len(), 3);

    // K21 step 3: the server recovers and alice re-sends: one email each.
    sink.set_mode("accept");
    let resend_bob =
        run(server
            .cli(Some(&alice))
            .args(["sharing:resend", "bob@example.com", "-a", "demo-app"]));
    assert!(resend_bob.status.success(), "{}", stderr(&resend_bob));
    let resend_frank = server.api(&alice).post(
        "/apps/demo-app/collaborators/FRANK@example.com/resend",
        json!({}),
    );
    assert_eq!(resend_frank.status, 202, "{}", resend_frank.text);
    assert_eq!(resend_frank.body["pending"], true);
    sink.wait_for(2, WAIT);
    wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages_to("bob@example.com").len(), 1);
    assert_eq!(sink.messages_to("frank@example.com").len(), 1);
    assert_eq!(sink.messages().len(), 2);

    // The operator can also retry a failed message by hand.
    let first_failed = failed[0]["id"].as_str().unwrap();
    let retried = server.admin(&["mail", "--retry", first_failed], None);
    assert!(retried.status.success(), "{}", stderr(&retried));
    sink.wait_for(3, WAIT);
    let again = server.admin(&["mail", "--retry", first_failed], None);
    wait_until_settled(&server, WAIT);
    assert!(!again.status.success() || sink.messages().len() == 3);
    let unknown = server.admin(&["mail", "--retry", "no-such-message"], None);
    assert!(!unknown.status.success());
}

#[test]
fn a_hanging_server_is_retried_and_a_resend_replaces_the_waiting_copy() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    sink.set_mode("hang");

    let api = server.api(&alice);
    assert_eq!(
        api.post(
            "/apps/demo-app/collaborators",
            json!({ "user": "frank@example.com" })
        )
        .status,
        201
    );
    let timed_out = common::wait_for(WAIT, || {
        outbox(&server)
            .into_iter()
            .find(|m| m["state"] == "queued" && m["attempts"].as_i64() >= Some(1))
    })
    .expect("the first attempt times out");
    assert!(
        timed_out["last_error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("time"),
        "{timed_out:#?}"
    );

    // The server recovers; alice re-sends while the first copy still waits.
    sink.set_mode("accept");
    let resent = api.post(
        "/apps/demo-app/collaborators/frank@example.com/resend",
        json!({}),
    );
    assert_eq!(resent.status, 202, "{}", resent.text);
    sink.wait_for(1, WAIT);
    let settled = wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(3));
    let arrived = sink.messages_to("frank@example.com");
    assert_eq!(arrived.len(), 1, "{arrived:#?}");
    let states: Vec<&str> = settled
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "sent").count(),
        1,
        "{settled:#?}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "cancelled").count(),
        1,
        "{settled:#?}"
    );

    // Only the newest link works.
    let link = signup_link(&arrived[0]);
    let page = server.anonymous().get(link.trim_start_matches(&server.url));
    assert_eq!(page.status, 200, "{}", page.text);
}

#[test]
fn smtp_credentials_in_the_url_are_used() {
    let sink = SmtpSink::start_with(&["--auth", "mailer:s3cret"]);
    let url = format!("smtp://mailer:s3cret@127.0.0.1:{}", sink.port);
    let server = Server::builder()
        .env("SLIPWAY_SMTP_URL", &url)
        .env("SLIPWAY_SMTP_TIMEOUT", "2s")
        .start();
    let alice = alice_with_app(&server);
    server.create_user("bob@example.com");
    let added = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com" }),
    );
    assert_eq!(added.status, 201);
    let messages = sink.wait_for(1, WAIT);
    assert_eq!(messages[0]["auth_user"], "mailer");
    assert_eq!(messages[0]["from"], "Slipway <slipway@localhost>");
    assert!(
        !server.log().contains("s3cret"),
        "the SMTP password reached the log"
    );
}

#[test]
fn wrong_smtp_credentials_fail_with_the_reason() {
    let sink = SmtpSink::start_with(&["--auth", "mailer:s3cret"]);
    let url = format!("smtp://mailer:wrong@127.0.0.1:{}", sink.port);
    let server = Server::builder()
        .env("SLIPWAY_SMTP_URL", &url)
        .env("SLIPWAY_SMTP_TIMEOUT", "2s")
        .start();
    let alice = alice_with_app(&server);
    server.create_user("bob@example.com");
    server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com" }),
    );
    let settled = wait_until_settled(&server, WAIT);
    assert_eq!(settled[0]["state"], "failed", "{settled:#?}");
    assert!(
        settled[0]["last_error"].as_str().unwrap().contains("535"),
        "{settled:#?}"
    );
    assert!(sink.messages().is_empty());
}

#[test]
fn required_tls_is_never_skipped() {
    // A server without STARTTLS: `?tls=required` must not fall back to plain text.
    let sink = SmtpSink::start();
    let url = format!("smtp://127.0.0.1:{}?tls=required", sink.port);
    let server = Server::builder()
        .env("SLIPWAY_SMTP_URL", &url)
        .env("SLIPWAY_SMTP_TIMEOUT", "2s")
        .start();
    let alice = alice_with_app(&server);
    server.create_user("bob@example.com");
    server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com" }),
    );
    let attempted = common::wait_for(WAIT, || {
        outbox(&server)
            .into_iter()
            .find(|m| m["attempts"].as_i64() >= Some(1))
    })
    .unwrap();
    assert_ne!(attempted["state"], "sent");
    assert!(
        attempted["last_error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("tls"),
        "{attempted:#?}"
    );
    assert!(sink.messages().is_empty());
}

#[test]
fn mail_about_a_deleted_app_is_withdrawn() {
    let mut sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    server.create_user("bob@example.com");
    sink.stop();
    let api = server.api(&alice);
    assert_eq!(
        api.post(
            "/apps/demo-app/collaborators",
            json!({ "user": "bob@example.com" })
        )
        .status,
        201
    );
    assert_eq!(api.delete("/apps/demo-app").status, 200);
    sink.restart();
    let settled = wait_until_settled(&server, WAIT);
    assert_eq!(settled[0]["state"], "cancelled", "{settled:#?}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(sink.messages().is_empty());
}

#[test]
fn k13_a_removed_collaborator_gets_only_the_removal_notice() {
    let mut sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = alice_with_app(&server);
    server.create_user("bob@example.com");
    server.create_user("carol@example.com");
    let api = server.api(&alice);
    assert_eq!(
        api.post(
            "/apps/demo-app/collaborators",
            json!({ "user": "bob@example.com" })
        )
        .status,
        201
    );
    sink.wait_for(1, WAIT);
    wait_until_settled(&server, WAIT);

    // While the mail server is down, bob's access notice is sent again and
    // then bob is removed: the waiting notice must not reach him afterwards.
    sink.stop();
    let resent = api.post(
        "/apps/demo-app/collaborators/bob@example.com/resend",
        json!({}),
    );
    assert_eq!(resent.status, 202);
    assert_eq!(
        api.delete("/apps/demo-app/collaborators/bob@example.com")
            .status,
        200
    );
    // More app events after the removal.
    api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "carol@example.com" }),
    );
    api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    api.post(
        "/apps/demo-app/collaborators/carol@example.com/resend",
        json!({}),
    );
    let transfer = api.post(
        "/account/app-transfers",
        json!({ "app": "demo-app", "recipient": "carol@example.com" }),
    );
    assert_eq!(transfer.status, 201, "{}", transfer.text);
    sink.restart();

    let settled = wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(2));
    let to_bob = sink.messages_to("bob@example.com");
    assert_eq!(to_bob.len(), 2, "{to_bob:#?}");
    assert_eq!(to_bob[1]["subject"], "Your access to demo-app was removed");
    // Every other message went to a current member of the app, once.
    let members = [
        "alice@example.com",
        "carol@example.com",
        "frank@example.com",
    ];
    for message in &sink.messages()[1..] {
        let to = message["rcpt_tos"][0].as_str().unwrap();
        assert!(
            members.contains(&to) || message["subject"] == "Your access to demo-app was removed",
            "{message:#?}"
        );
    }
    let to_carol = sink.messages_to("carol@example.com");
    assert_eq!(to_carol.len(), 2, "{to_carol:#?}");
    assert!(to_carol
        .iter()
        .any(|m| m["subject"] == "alice@example.com wants to transfer demo-app to you"));
    assert_eq!(sink.messages_to("frank@example.com").len(), 1);
    let withdrawn: Vec<_> = settled
        .iter()
        .filter(|m| m["state"] == "cancelled")
        .collect();
    assert_eq!(withdrawn.len(), 2, "{settled:#?}");
}

/// A self-signed certificate for 127.0.0.1, made with openssl.
fn self_signed_certificate(dir: &std::path::Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed for the TLS mail test");
    assert!(made.status.success(), "{}", stderr(&made));
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

/// A certificate authority and a certificate for 127.0.0.1 that it signed:
/// (CA certificate, server certificate, server key).
fn private_ca_certificate(dir: &std::path::Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Slipway Test CA",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &path("server.key"),
            "-out",
            &path("server.csr"),
        ],
        &[
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &path("ext.cnf"),
            "-out",
            &path("server.pem"),
        ],
    ];
    for step in steps {
        let made = std::process::Command::new("openssl")
            .args(step)
            .output()
            .unwrap();
        assert!(made.status.success(), "openssl {step:?}: {}", stderr(&made));
    }
    (path("ca.pem"), path("server.pem"), path("server.key"))
}

#[test]
fn mail_goes_out_over_starttls_or_tls_with_credentials_to_a_trusted_server() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca_certificate(dir.path());
    for (mode, url) in [
        (
            "starttls",
            "smtp://mailer:s3cret@127.0.0.1:{port}?tls=required",
        ),
        ("implicit", "smtps://mailer:s3cret@127.0.0.1:{port}"),
    ] {
        let sink = SmtpSink::start_with(&[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls",
            mode,
            "--auth",
            "mailer:s3cret",
        ]);
        let url = url.replace("{port}", &sink.port.to_string());
        let server = Server::builder()
            .env("SLIPWAY_SMTP_URL", &url)
            .env("SLIPWAY_SMTP_CA_CERT", &ca)
            .env("SLIPWAY_SMTP_TIMEOUT", "5s")
            .start();
        let alice = alice_with_app(&server);
        server.create_user("bob@example.com");
        server.api(&alice).post(
            "/apps/demo-app/collaborators",
            json!({ "user": "bob@example.com" }),
        );
        let message = &sink.wait_for(1, WAIT)[0];
        assert_eq!(message["tls"], true, "{mode}");
        assert_eq!(message["auth_user"], "mailer", "{mode}");
        assert_eq!(message["rcpt_tos"], json!(["bob@example.com"]));
        assert!(!server.log().contains("s3cret"));
    }
}

#[test]
fn a_ca_certificate_without_a_tls_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _, _) = private_ca_certificate(dir.path());
    let out = std::process::Command::new(common::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--router-listen",
            "127.0.0.1:0",
        ])
        .env("SLIPWAY_DATA_DIR", dir.path().join("data"))
        .env("SLIPWAY_SMTP_URL", "smtp://127.0.0.1:25")
        .env("SLIPWAY_SMTP_CA_CERT", &ca)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("uses no TLS"), "{}", stderr(&out));
}

#[test]
fn starttls_and_implicit_tls_are_used_and_the_certificate_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    for (mode, url) in [
        ("starttls", "smtp://127.0.0.1:{port}?tls=required"),
        ("implicit", "smtps://127.0.0.1:{port}"),
    ] {
        let sink = SmtpSink::start_with(&["--tls-cert", &cert, "--tls-key", &key, "--tls", mode]);
        let url = url.replace("{port}", &sink.port.to_string());
        let server = Server::builder()
            .env("SLIPWAY_SMTP_URL", &url)
            .env("SLIPWAY_SMTP_TIMEOUT", "2s")
            .start();
        let alice = alice_with_app(&server);
        server.create_user("bob@example.com");
        server.api(&alice).post(
            "/apps/demo-app/collaborators",
            json!({ "user": "bob@example.com" }),
        );

        // The handshake happens, and a certificate nobody vouches for is refused:
        // the message waits rather than going out over an unverified channel.
        let attempted = common::wait_for(WAIT, || {
            outbox(&server)
                .into_iter()
                .find(|m| m["attempts"].as_i64() >= Some(1))
        })
        .unwrap();
        assert_eq!(attempted["state"], "queued", "{mode}: {attempted:#?}");
        let error = attempted["last_error"].as_str().unwrap().to_lowercase();
        assert!(error.contains("certificate"), "{mode}: {error}");
        assert!(sink.messages().is_empty(), "{mode}");
    }
}
