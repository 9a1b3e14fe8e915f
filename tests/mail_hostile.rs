//! Hostile names and addresses never produce a malformed or an extra message.

mod common;
mod smtp;

use std::time::Duration;

use common::{run, stderr, Server, BIN};
use serde_json::json;
use smtp::{outbox, server_for, wait_until_settled, SmtpSink};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn header_injection_long_and_unicode_addresses_are_refused_before_any_mail() {
    let sink = SmtpSink::start();
    let server = server_for(&sink).start();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    assert_eq!(api.post("/apps", json!({ "name": "demo-app" })).status, 201);

    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_total = format!("bob@{}.example.com", "d".repeat(250));
    let hostile = [
        "bob@example.com\r\nBcc: mallory@evil.example",
        "bob@example.com\nBcc: mallory@evil.example",
        "bob@example.com\rSubject: pwned",
        "Bob <bob@example.com>",
        "bob@example.com, mallory@evil.example",
        "bob@example.com;mallory@evil.example",
        "\"bob\r\n\"@example.com",
        "frånk@example.com",
        "frank@exämple.com",
        "bob@example.com\u{2028}Bcc: mallory@evil.example",
        "bob\u{0}@example.com",
        long_local.as_str(),
        long_total.as_str(),
    ];
    for address in hostile {
        let answer = api.post("/apps/demo-app/collaborators", json!({ "user": address }));
        assert_eq!(answer.status, 422, "{address:?}: {}", answer.text);
        assert_eq!(answer.id(), "invalid_params");
        if !address.contains('\0') {
            let by_cli =
                run(server
                    .cli(Some(&alice))
                    .args(["sharing:add", address, "-a", "demo-app"]));
            assert!(!by_cli.status.success(), "{address:?} accepted by the CLI");
        }
        let signup = server
            .anonymous()
            .post("/signup", json!({ "email": address }));
        assert_eq!(signup.status, 422, "{address:?}: {}", signup.text);
    }
    assert!(outbox(&server).is_empty(), "{:#?}", outbox(&server));

    // A legitimate add afterwards yields exactly one well-formed message.
    server.create_user("bob@example.com");
    let added = api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "  Bob@Example.com\t" }),
    );
    assert_eq!(added.status, 201);
    sink.wait_for(1, WAIT);
    wait_until_settled(&server, WAIT);
    std::thread::sleep(Duration::from_secs(2));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = &messages[0];
    assert_eq!(message["rcpt_tos"], json!(["bob@example.com"]));
    assert_eq!(message["defects"], json!([]));
    let names: Vec<String> = message["header_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_ascii_lowercase())
        .collect();
    for single in ["to", "from", "subject", "message-id", "date"] {
        assert_eq!(
            names.iter().filter(|n| *n == single).count(),
            1,
            "{single} in {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n == "bcc" || n == "cc"), "{names:?}");
}

#[test]
fn a_unicode_sender_name_is_encoded_and_a_broken_one_is_refused_at_start() {
    let sink = SmtpSink::start();
    let server = Server::builder()
        .env("SLIPWAY_SMTP_URL", &sink.url())
        .env(
            "SLIPWAY_MAIL_FROM",
            "Équipe Slipway ✉ <noreply@slipway.test>",
        )
        .start();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    api.post("/apps", json!({ "name": "demo-app" }));
    server.create_user("bob@example.com");
    api.post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com" }),
    );
    let message = &sink.wait_for(1, WAIT)[0];
    assert_eq!(message["from"], "Équipe Slipway ✉ <noreply@slipway.test>");
    assert_eq!(message["mail_from"], "noreply@slipway.test");
    assert_eq!(message["defects"], json!([]));
    let raw = message["raw"].as_str().unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(head.is_ascii(), "headers must be encoded: {head}");
    assert!(message["message_id"]
        .as_str()
        .unwrap()
        .ends_with("@slipway.test>"));

    for broken in [
        "Slipway <slipway@example.com>\r\nBcc: mallory@evil.example",
        "Slipway\n<slipway@example.com>",
        "not an address",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--router-listen",
                "127.0.0.1:0",
            ])
            .env("SLIPWAY_DATA_DIR", dir.path())
            .env("SLIPWAY_MAIL_FROM", broken)
            .env_remove("DATABASE_URL")
            .env_remove("SLIPWAY_SMTP_URL")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{broken:?} accepted");
        assert!(
            stderr(&out).contains("SLIPWAY_MAIL_FROM"),
            "{}",
            stderr(&out)
        );
    }
}
