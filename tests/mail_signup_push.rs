//! Issue 4's whole path with the default mail folder: alice adds frank, who
//! has no account; the invitation lands as an `.eml` file; frank signs up
//! through its link and pushes to the app with the key he got.

mod common;

use std::time::{Duration, Instant};

use common::git::{url_with_key, GitUser};
use common::{files_with_ext, Server};
use serde_json::json;

/// The `/invitations/{token}` path of the first invitation in the mail
/// folder, with quoted-printable soft line breaks undone.
fn invitation_path(server: &Server) -> String {
    let folder = server.data_dir.join("mail");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for file in files_with_ext(&folder, "eml") {
            let text = std::fs::read_to_string(&file).unwrap();
            let text = text.replace("=\r\n", "").replace("=\n", "");
            if let Some(at) = text.find("/invitations/") {
                let token: String = text[at + "/invitations/".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                assert!(!token.is_empty(), "{text}");
                return format!("/invitations/{token}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "no invitation in {}",
            folder.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_invited_person_signs_up_from_the_mail_and_pushes() {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    let added = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "frank@example.com" }),
    );
    assert_eq!(added.status, 201, "{}", added.text);

    // The link from the mail signs frank up and hands back an API key.
    let path = invitation_path(&server);
    let signed_up = server
        .anonymous()
        .post(&path, json!({ "password": "frank-password" }));
    assert_eq!(signed_up.status, 201, "{}", signed_up.text);
    assert_eq!(signed_up.body["account"]["email"], "frank@example.com");
    let key = signed_up.body["api_key"]
        .as_str()
        .unwrap_or_else(|| panic!("no api_key in {}", signed_up.text))
        .to_string();

    let frank = GitUser::new("frank");
    let work = frank.new_repo("work");
    let (ok, out) = frank.push(
        &work,
        &url_with_key(&server.url, &key, "demo-app"),
        &["main"],
    );
    assert!(ok, "{out}");

    let releases = server.api(&alice).get("/apps/demo-app/releases");
    let list = releases.body.as_array().expect("releases");
    let deploy = list
        .iter()
        .find(|r| r["slug"].is_object())
        .unwrap_or_else(|| panic!("no release with a slug in {}", releases.text));
    assert_eq!(
        deploy["user"]["email"], "frank@example.com",
        "{}",
        releases.text
    );
}
