//! The product's story, driven through the real CLI as users would: an owner
//! signs in, creates an app, shares it; the collaborator sees it, is refused
//! the owner-only actions, and is refused everything once removed.

mod common;

use common::{run, run_with_stdin, stderr, stdout, Server};

#[test]
fn owner_shares_an_app_and_revokes_access() {
    let server = Server::start();
    server.create_user("alice@example.com");
    let bob_key = server.create_user("bob@example.com");

    // alice logs in with email and password; the key lands in ~/.netrc.
    let login = run_with_stdin(
        {
            let mut cmd = server.cli(None);
            cmd.arg("login");
            cmd
        },
        Some("alice@example.com\npw-alice@example.com\n"),
    );
    assert!(login.status.success(), "login: {}", stderr(&login));
    assert!(stdout(&login).contains("Logged in as alice@example.com"));
    let netrc = std::fs::read_to_string(server.home().join(".netrc")).unwrap();
    assert!(netrc.contains("machine 127.0.0.1"), "{netrc}");
    let whoami = run(server.cli(None).arg("auth:whoami"));
    assert_eq!(stdout(&whoami).trim(), "alice@example.com");

    // alice creates and shares the app.
    let create = run(server.cli(None).args(["apps:create", "demo-app"]));
    assert!(create.status.success(), "{}", stderr(&create));
    assert!(stdout(&create).contains("/demo-app.git"));
    let add = run(server
        .cli(None)
        .args(["sharing:add", "Bob@Example.com", "-a", "demo-app"]));
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stderr(&add).contains("Adding Bob@Example.com to demo-app collaborators... done"));
    let sharing = run(server.cli(None).args(["sharing", "-a", "demo-app"]));
    assert!(stdout(&sharing).starts_with("=== demo-app Collaborators\n"));
    assert!(
        stdout(&sharing).contains("\nbob@example.com\n"),
        "{}",
        stdout(&sharing)
    );

    // bob sees it in `apps` and `info`.
    let apps = run(server.cli(Some(&bob_key)).arg("apps"));
    assert!(stdout(&apps).contains("demo-app"), "{}", stdout(&apps));
    let info = run(server.cli(Some(&bob_key)).args(["info", "-a", "demo-app"]));
    let info = stdout(&info);
    assert!(info.starts_with("=== demo-app\n"), "{info}");
    for line in [
        "Web URL:",
        "Git Repo:",
        "Repo Size:",
        "Slug Size:",
        "Owner Email:",
    ] {
        assert!(info.contains(line), "{line} missing from {info}");
    }
    assert!(info.contains("alice@example.com") && info.contains("bob@example.com"));

    // bob may not rename or delete it.
    let rename =
        run(server
            .cli(Some(&bob_key))
            .args(["apps:rename", "bobs-app", "-a", "demo-app"]));
    assert!(!rename.status.success());
    assert!(
        stderr(&rename).contains("Only the owner of demo-app"),
        "{}",
        stderr(&rename)
    );
    let destroy =
        run(server
            .cli(Some(&bob_key))
            .args(["apps:destroy", "demo-app", "--confirm", "demo-app"]));
    assert!(!destroy.status.success());
    assert!(
        stderr(&destroy).contains("can delete the app"),
        "{}",
        stderr(&destroy)
    );

    // alice removes bob; from then on bob is refused.
    let remove =
        run(server
            .cli(None)
            .args(["sharing:remove", "bob@example.com", "-a", "demo-app"]));
    assert!(remove.status.success(), "{}", stderr(&remove));
    assert!(
        stderr(&remove).contains("Removing bob@example.com from demo-app collaborators... done")
    );
    let refused = run(server.cli(Some(&bob_key)).args(["info", "-a", "demo-app"]));
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("You do not have access to the app demo-app"));
    let apps = run(server.cli(Some(&bob_key)).args(["apps", "--json"]));
    assert_eq!(stdout(&apps).trim(), "[]");

    // alice's app is intact.
    let info = run(server.cli(None).args(["info", "-a", "demo-app"]));
    assert!(info.status.success());
    assert!(!stdout(&info).contains("bob@example.com"));
}
