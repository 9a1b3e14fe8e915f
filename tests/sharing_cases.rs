//! The collaboration cases of CASES.md that belong to accounts, apps and
//! sharing (K01, K03, K04, K05, K06, K07, K12, and the API halves of K11 and
//! K19), with the outbox and activity rules they rely on. Pushes are left to
//! the git endpoint's own tests.

mod common;

use std::sync::{Arc, Barrier};

use common::cast::Cast;
use common::inspect::assert_unchanged;
use common::{run, run_with_stdin, stderr, stdout, wait_for, Api, Resp, Server};
use serde_json::{json, Value};

fn slipway(server: &Server, key: &str, args: &[&str]) -> std::process::Output {
    run(server.cli(Some(key)).args(args))
}

fn assert_refused(resp: &Resp, status: u16, id: &str, message: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}: {}", resp.text);
    assert_eq!(resp.id(), id, "{what}: {}", resp.text);
    assert!(
        resp.message().contains(message),
        "{what}: message {:?} lacks {message:?}",
        resp.message()
    );
}

fn add(api: &Api, app: &str, body: Value) -> Resp {
    api.post(&format!("/apps/{app}/collaborators"), body)
}

/// Outbox messages for `recipient` with `template`.
fn mails(server: &Server, recipient: &str, template: &str) -> usize {
    server
        .mail_to(recipient)
        .iter()
        .filter(|m| m["template"] == template)
        .count()
}

/// K01: an address typed in another case resolves to the account's
/// canonical email, everywhere.
#[test]
fn k01_email_case_does_not_matter() {
    let cast = Cast::start();
    let bob = cast.server.create_user("bob.smith@example.com");

    let out = slipway(
        &cast.server,
        &cast.alice,
        &["sharing:add", "Bob.Smith@Example.COM", "-a", "demo-app"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let list = cast.alice().get("/apps/demo-app/collaborators");
    let entries: Vec<&Value> = list.body.as_array().unwrap().iter().collect();
    let bobs: Vec<&&Value> = entries
        .iter()
        .filter(|c| c["user"]["email"].as_str().unwrap().contains("bob"))
        .collect();
    assert_eq!(bobs.len(), 1, "{}", list.text);
    assert_eq!(bobs[0]["user"]["email"], "bob.smith@example.com");
    assert_eq!(bobs[0]["pending"], false, "the existing account was found");

    let shown = cast
        .alice()
        .get("/apps/demo-app/collaborators/BOB.SMITH@example.com");
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["id"], bobs[0]["id"]);
    assert_eq!(shown.body["user"]["email"], "bob.smith@example.com");

    // bob, signed in with the lower-case address, has access.
    assert_eq!(cast.server.api(&bob).get("/apps/demo-app").status, 200);
    let sharing = slipway(&cast.server, &cast.alice, &["sharing", "-a", "demo-app"]);
    assert_eq!(stdout(&sharing).matches("bob.smith@example.com").count(), 1);
    assert!(
        !stdout(&sharing).contains("Bob.Smith"),
        "{}",
        stdout(&sharing)
    );
    assert_eq!(
        cast.server.count("accounts"),
        5,
        "no second account for bob"
    );
}

/// K03: surrounding whitespace is trimmed, inner whitespace refused.
#[test]
fn k03_whitespace_around_an_email_is_trimmed() {
    let cast = Cast::start();
    let added = add(
        &cast.alice(),
        "demo-app",
        json!({ "user": "  carol@example.com\t" }),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["user"]["email"], "carol@example.com");
    assert_eq!(cast.carol().get("/apps/demo-app").status, 200);

    // The CLI with spaces repeats the same add: the duplicate answer, no second row.
    let before = cast.server.snapshot();
    let again = slipway(
        &cast.server,
        &cast.alice,
        &["sharing:add", " carol@example.com ", "-a", "demo-app"],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("carol@example.com is already a collaborator on demo-app"),
        "{}",
        stderr(&again)
    );
    assert_unchanged(&before, &cast.server.snapshot(), "repeated add with spaces");

    // On an app where carol is new, the CLI stores the trimmed address.
    cast.create_app(&cast.alice, "demo-api");
    let fresh = slipway(
        &cast.server,
        &cast.alice,
        &["sharing:add", " carol@example.com ", "-a", "demo-api"],
    );
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    let emails = cast.collaborator_emails(&cast.alice(), "demo-api");
    assert_eq!(emails, ["alice@example.com", "carol@example.com"]);

    let inner = add(
        &cast.alice(),
        "demo-app",
        json!({ "user": "carol @example.com" }),
    );
    assert_refused(&inner, 422, "invalid_params", "whitespace", "inner space");
    let stored = cast
        .server
        .query_texts(&["SELECT email FROM accounts ORDER BY email"]);
    assert!(
        stored[0].iter().all(|e| e.trim() == e && !e.contains(' ')),
        "{stored:?}"
    );
}

/// K04: the owner cannot add themselves, however they spell it.
#[test]
fn k04_the_owner_cannot_be_added_as_a_collaborator() {
    let cast = Cast::start();
    let before = cast.server.snapshot();

    let out = slipway(
        &cast.server,
        &cast.alice,
        &["sharing:add", "alice@example.com", "-a", "demo-app"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("alice@example.com owns demo-app"),
        "{}",
        stderr(&out)
    );
    for user in ["~", "ALICE@example.com", " alice@example.com "] {
        let resp = add(&cast.alice(), "demo-app", json!({ "user": user }));
        assert_refused(
            &resp,
            422,
            "invalid_params",
            "alice@example.com owns demo-app",
            user,
        );
    }
    assert_unchanged(&before, &cast.server.snapshot(), "alice adding herself");
    // A collaborator adding the owner gets the same answer.
    cast.share("demo-app", "bob@example.com");
    let before_bob = cast.server.snapshot();
    let resp = add(
        &cast.bob(),
        "demo-app",
        json!({ "user": "Alice@Example.com" }),
    );
    assert_refused(
        &resp,
        422,
        "invalid_params",
        "alice@example.com owns demo-app",
        "bob",
    );
    assert_unchanged(&before_bob, &cast.server.snapshot(), "bob adding alice");

    assert!(cast.server.outbox().is_empty());
}

/// K05: adding someone twice is a clear 422 and sends no second email, even
/// when the two requests race.
#[test]
fn k05_duplicate_adds_are_422_and_send_no_more_mail() {
    let cast = Cast::start();
    let alice = cast.alice();

    // 1-2: add bob, then again.
    assert_eq!(
        add(&alice, "demo-app", json!({ "user": "bob@example.com" })).status,
        201
    );
    assert_eq!(mails(&cast.server, "bob@example.com", "access_granted"), 1);
    let before = cast.server.snapshot();
    let again = add(&alice, "demo-app", json!({ "user": "bob@example.com" }));
    assert_refused(
        &again,
        422,
        "invalid_params",
        "bob@example.com is already a collaborator on demo-app",
        "second add",
    );
    assert_unchanged(&before, &cast.server.snapshot(), "second add of bob");

    // 3: identical adds of carol, fired together.
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = barrier.clone();
            let api = Api::new(&cast.server.url, Some(cast.alice.clone()));
            std::thread::spawn(move || {
                barrier.wait();
                let resp = add(&api, "demo-app", json!({ "user": "carol@example.com" }));
                (resp.status, resp.message().to_string())
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{answers:?}"
    );
    for (status, message) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 422, "{answers:?}");
        assert_eq!(
            message,
            "carol@example.com is already a collaborator on demo-app"
        );
    }
    let emails = cast.collaborator_emails(&alice, "demo-app");
    assert_eq!(
        emails.iter().filter(|e| *e == "carol@example.com").count(),
        1
    );
    assert_eq!(
        mails(&cast.server, "carol@example.com", "access_granted"),
        1
    );

    // 4: five more adds of bob, loud and silent: still the one email.
    for silent in [false, true, false, true, false] {
        let resp = add(
            &alice,
            "demo-app",
            json!({ "user": "bob@example.com", "silent": silent }),
        );
        assert_eq!(resp.status, 422, "{}", resp.text);
    }
    assert_eq!(cast.server.mail_to("bob@example.com").len(), 1);

    // A silent add sends nothing.
    let silent = add(
        &alice,
        "demo-app",
        json!({ "user": "erin@example.com", "silent": true }),
    );
    assert_eq!(silent.status, 201, "{}", silent.text);
    assert_eq!(silent.body["notification"], "none");
    assert!(cast.server.mail_to("erin@example.com").is_empty());

    // What was queued is delivered once: one .eml per message.
    let delivered = wait_for(std::time::Duration::from_secs(20), || {
        (cast.server.eml_files() == 2).then_some(())
    });
    assert!(
        delivered.is_some(),
        "{} .eml files",
        cast.server.eml_files()
    );
    assert!(cast.server.outbox().iter().all(|m| m["state"] == "sent"));
    assert!(
        !cast.server.log().contains(" ERROR "),
        "{}",
        cast.server.log()
    );
}

/// K06: uniqueness is per (app, person): several people on one app, one
/// person on several apps, all fine.
#[test]
fn k06_many_collaborators_and_many_apps() {
    let cast = Cast::start();
    for email in ["bob@example.com", "carol@example.com", "erin@example.com"] {
        let resp = add(&cast.alice(), "demo-app", json!({ "user": email }));
        assert_eq!(resp.status, 201, "{email}: {}", resp.text);
    }
    cast.create_app(&cast.alice, "demo-api");
    assert_eq!(
        add(
            &cast.alice(),
            "demo-api",
            json!({ "user": "bob@example.com" })
        )
        .status,
        201
    );
    assert_eq!(
        add(
            &cast.erin(),
            "erin-app",
            json!({ "user": "bob@example.com" })
        )
        .status,
        201
    );

    let list = cast.alice().get("/apps/demo-app/collaborators");
    let roles: Vec<(&str, &str)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["user"]["email"].as_str().unwrap(),
                c["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("alice@example.com", "owner"),
            ("bob@example.com", "collaborator"),
            ("carol@example.com", "collaborator"),
            ("erin@example.com", "collaborator"),
        ]
    );
    let bobs_apps: Vec<String> = cast
        .bob()
        .get("/apps")
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bobs_apps, ["demo-api", "demo-app", "erin-app"]);
}

/// K07: who may remove whom. A collaborator may remove another and may
/// leave; nobody removes the owner; removing a stranger is 404.
#[test]
fn k07_removing_collaborators() {
    let cast = Cast::shared();
    cast.create_app(&cast.alice, "demo-api");
    cast.share("demo-api", "bob@example.com");
    let app_id = cast.alice().get("/apps/demo-app").body["id"].clone();
    let intact = |step: &str, expected: &[&str]| {
        let app = cast.alice().get("/apps/demo-app");
        assert_eq!(app.status, 200, "{step}: demo-app is gone");
        assert_eq!(app.body["id"], app_id, "{step}");
        assert_eq!(
            cast.collaborator_emails(&cast.alice(), "demo-app"),
            expected,
            "{step}"
        );
    };

    // 1: bob removes carol; carol is refused from her next request on.
    let removed = cast
        .bob()
        .delete("/apps/demo-app/collaborators/carol@example.com");
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.body["user"]["email"], "carol@example.com");
    let refused = cast.carol().get("/apps/demo-app");
    assert_refused(
        &refused,
        403,
        "forbidden",
        "demo-app",
        "carol after removal",
    );
    assert_eq!(
        mails(&cast.server, "carol@example.com", "access_removed"),
        1
    );
    intact("step 1", &["alice@example.com", "bob@example.com"]);

    // 2: bob leaves, with `apps:leave`; and leaves demo-api with `sharing:remove` himself.
    let leave = slipway(&cast.server, &cast.bob, &["apps:leave", "-a", "demo-app"]);
    assert!(leave.status.success(), "{}", stderr(&leave));
    let leave = slipway(
        &cast.server,
        &cast.bob,
        &["sharing:remove", "bob@example.com", "-a", "demo-api"],
    );
    assert!(leave.status.success(), "{}", stderr(&leave));
    assert!(stderr(&leave).contains("Removing bob@example.com from demo-api collaborators... done"));
    for app in ["demo-app", "demo-api"] {
        let refused = cast.bob().get(&format!("/apps/{app}"));
        assert_refused(&refused, 403, "forbidden", app, "bob after leaving");
    }
    assert_eq!(
        mails(&cast.server, "bob@example.com", "access_removed"),
        0,
        "no mail on leave"
    );
    intact("step 2", &["alice@example.com"]);

    // 3: the owner cannot remove herself, by API or by `apps:leave`.
    let before = cast.server.snapshot();
    let owner = cast
        .alice()
        .delete("/apps/demo-app/collaborators/alice@example.com");
    assert_refused(
        &owner,
        422,
        "invalid_params",
        "owner cannot be removed",
        "owner",
    );
    assert!(
        owner.message().contains("transfer or delete the app"),
        "{}",
        owner.message()
    );
    let owner = cast.alice().delete("/apps/demo-app/collaborators/~");
    assert_refused(
        &owner,
        422,
        "invalid_params",
        "owner cannot be removed",
        "owner as ~",
    );
    let leave = slipway(&cast.server, &cast.alice, &["apps:leave", "-a", "demo-app"]);
    assert!(!leave.status.success());
    assert!(
        stderr(&leave).contains("owner cannot be removed"),
        "{}",
        stderr(&leave)
    );
    assert_unchanged(&before, &cast.server.snapshot(), "removing the owner");

    // 4-5: erin was never added; bob is gone already.
    for email in ["erin@example.com", "bob@example.com", "frank@example.com"] {
        let resp = cast
            .alice()
            .delete(&format!("/apps/demo-app/collaborators/{email}"));
        assert_refused(
            &resp,
            404,
            "not_found",
            "is not a collaborator on demo-app",
            email,
        );
    }
    assert_unchanged(
        &before,
        &cast.server.snapshot(),
        "removing non-collaborators",
    );
    intact("step 5", &["alice@example.com"]);
}

/// K12 (API half): access comes from the grants that remain; removing one
/// person never changes anyone else's access.
#[test]
fn k12_access_is_recomputed_from_the_remaining_grants() {
    let cast = Cast::start();
    cast.create_app(&cast.alice, "demo-api");
    cast.share("demo-app", "bob@example.com");
    cast.share("demo-app", "carol@example.com");
    cast.share("demo-api", "carol@example.com");

    // bob has access at once, with no extra step.
    let paths = [
        "/apps/demo-app",
        "/apps/demo-app/collaborators",
        "/apps/demo-app/activity",
    ];
    for path in paths {
        assert_eq!(cast.bob().get(path).status, 200, "bob {path}");
    }

    let removed = cast
        .alice()
        .delete("/apps/demo-app/collaborators/carol@example.com");
    assert_eq!(removed.status, 200, "{}", removed.text);

    for path in paths {
        assert_eq!(cast.carol().get(path).status, 403, "carol {path}");
        assert_eq!(cast.bob().get(path).status, 200, "bob {path}");
        assert_eq!(cast.alice().get(path).status, 200, "alice {path}");
    }
    // carol's other grant is untouched.
    assert_eq!(cast.carol().get("/apps/demo-api").status, 200);
    let apps = cast.carol().get("/apps");
    let names: Vec<&str> = apps
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo-api"]);
    // bob can still share on.
    assert_eq!(
        add(
            &cast.bob(),
            "demo-app",
            json!({ "user": "erin@example.com" })
        )
        .status,
        201
    );
}

/// K11 (API half): a removed collaborator is refused on the very next
/// request, however their key is sent and whatever they had cached.
#[test]
fn k11_revocation_takes_effect_on_the_next_request() {
    let cast = Cast::start_with_passwords().with_bob_and_carol();

    // bob signs in with the CLI (his key lands in ~/.netrc) and warms up.
    let login = run_with_stdin(
        {
            let mut cmd = cast.server.cli(None);
            cmd.arg("login");
            cmd
        },
        Some("bob@example.com\npw-bob@example.com\n"),
    );
    assert!(login.status.success(), "{}", stderr(&login));
    for _ in 0..3 {
        assert!(run(cast.server.cli(None).args(["info", "-a", "demo-app"]))
            .status
            .success());
        assert_eq!(cast.bob().get("/apps/demo-app").status, 200);
    }

    let remove = slipway(
        &cast.server,
        &cast.alice,
        &["sharing:remove", "bob@example.com", "-a", "demo-app"],
    );
    assert!(remove.status.success(), "{}", stderr(&remove));

    let before = cast.server.snapshot();
    let bob = cast.bob();
    for (method, path, body) in [
        ("GET", "/apps/demo-app", None),
        ("GET", "/apps/demo-app/collaborators", None),
        ("GET", "/apps/demo-app/activity", None),
        (
            "GET",
            "/apps/demo-app/collaborators/carol@example.com",
            None,
        ),
        (
            "POST",
            "/apps/demo-app/collaborators",
            Some(json!({ "user": "bob@example.com" })),
        ),
        (
            "DELETE",
            "/apps/demo-app/collaborators/carol@example.com",
            None,
        ),
        (
            "PATCH",
            "/apps/demo-app",
            Some(json!({ "name": "bobs-app" })),
        ),
        ("DELETE", "/apps/demo-app", None),
    ] {
        let request = bob.request(method, path);
        let resp = bob.send(match body {
            Some(body) => request.json(&body),
            None => request,
        });
        let what = format!("{method} {path}");
        assert_refused(
            &resp,
            403,
            "forbidden",
            "You do not have access to the app demo-app",
            &what,
        );
    }
    // The same key sent as a Basic password, as git sends it.
    let basic = bob.send(
        bob.request("GET", "/apps/demo-app")
            .basic_auth("bob@example.com", Some(&cast.bob)),
    );
    assert_eq!(basic.status, 403, "{}", basic.text);
    let info = run(cast.server.cli(None).args(["info", "-a", "demo-app"]));
    assert!(!info.status.success());
    assert!(stderr(&info).contains("You do not have access to the app demo-app"));
    assert_unchanged(&before, &cast.server.snapshot(), "bob's refused requests");

    // Keys and passwords never reach the log, even at debug level.
    let log = cast.server.log();
    for secret in [
        cast.bob.as_str(),
        cast.alice.as_str(),
        "pw-bob@example.com",
        "slw_",
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
}

/// K19 (API half): the owner-only actions are refused to a collaborator with
/// a message naming the action and the owner; what collaborators may do works.
#[test]
fn k19_owner_only_actions_are_refused_to_collaborators() {
    let cast = Cast::shared();
    let bob = cast.bob();
    let before = cast.server.snapshot();

    let delete = bob.delete("/apps/demo-app");
    assert_refused(
        &delete,
        403,
        "forbidden",
        "Only the owner of demo-app (alice@example.com) can delete the app.",
        "delete",
    );
    let rename = bob.patch("/apps/demo-app", json!({ "name": "x-app" }));
    assert_refused(
        &rename,
        403,
        "forbidden",
        "Only the owner of demo-app (alice@example.com) can rename the app.",
        "rename",
    );
    assert_eq!(rename.body["app"]["name"], "demo-app");
    assert_unchanged(&before, &cast.server.snapshot(), "bob's owner-only calls");
    assert_eq!(cast.alice().get("/apps/demo-app").body["name"], "demo-app");
    assert_eq!(cast.alice().get("/apps/x-app").status, 404);

    // Positive controls.
    let info = slipway(&cast.server, &cast.bob, &["info", "-a", "demo-app"]);
    assert!(info.status.success(), "{}", stderr(&info));
    assert_eq!(bob.get("/apps/demo-app/config-vars").status, 200);
    let set = bob.patch("/apps/demo-app/config-vars", json!({ "GREETING": "hello" }));
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        cast.alice().get("/apps/demo-app/config-vars").body["GREETING"],
        "hello"
    );
    let scaled = bob.patch(
        "/apps/demo-app/formation",
        json!({ "updates": [{ "type": "web", "quantity": 1 }] }),
    );
    assert_eq!(scaled.status, 200, "{}", scaled.text);
    let free = bob.post("/apps/demo-app/addons", json!({ "plan": "redis:mini" }));
    assert_eq!(free.status, 201, "{}", free.text);
    let added = add(&bob, "demo-app", json!({ "user": "erin@example.com" }));
    assert_eq!(added.status, 201, "{}", added.text);
}

/// Every add and remove queues its mail with the change; `silent` and
/// refused requests queue none.
#[test]
fn the_outbox_holds_one_mail_per_add_and_remove() {
    let cast = Cast::start();
    let alice = cast.alice();
    let expect = |recipient: &str, template: &str, count: usize| {
        assert_eq!(
            mails(&cast.server, recipient, template),
            count,
            "{recipient} {template}"
        );
    };

    assert_eq!(
        add(&alice, "demo-app", json!({ "user": "bob@example.com" })).status,
        201
    );
    expect("bob@example.com", "access_granted", 1);
    let invited = add(&alice, "demo-app", json!({ "user": "Frank@Example.com" }));
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert_eq!(invited.body["pending"], true);
    expect("frank@example.com", "invitation", 1);
    assert_eq!(
        add(
            &cast.bob(),
            "demo-app",
            json!({ "user": "carol@example.com" })
        )
        .status,
        201
    );
    expect("carol@example.com", "access_granted", 1);
    let silent = add(
        &alice,
        "demo-app",
        json!({ "user": "erin@example.com", "silent": true }),
    );
    assert_eq!(silent.status, 201);
    assert_eq!(cast.server.outbox().len(), 3);

    // Removals by someone else tell the removed person; leaving tells nobody.
    assert_eq!(
        cast.bob()
            .delete("/apps/demo-app/collaborators/frank@example.com")
            .status,
        200
    );
    expect("frank@example.com", "access_removed", 1);
    assert_eq!(
        alice
            .delete("/apps/demo-app/collaborators/erin@example.com")
            .status,
        200
    );
    expect("erin@example.com", "access_removed", 1);
    assert_eq!(
        cast.carol().delete("/apps/demo-app/collaborators/~").status,
        200
    );
    expect("carol@example.com", "access_removed", 0);
    assert_eq!(cast.server.outbox().len(), 5);

    // Refused requests queue nothing.
    let before = cast.server.snapshot();
    assert_eq!(
        add(&alice, "demo-app", json!({ "user": "bob@example.com" })).status,
        422
    );
    assert_eq!(add(&alice, "demo-app", json!({ "user": "~" })).status, 422);
    assert_eq!(
        add(
            &cast.erin(),
            "demo-app",
            json!({ "user": "dave@example.com" })
        )
        .status,
        403
    );
    assert_eq!(
        alice
            .delete("/apps/demo-app/collaborators/erin@example.com")
            .status,
        404
    );
    assert_unchanged(&before, &cast.server.snapshot(), "refused adds and removes");

    // Each queued message reaches the mail folder once.
    let delivered = wait_for(std::time::Duration::from_secs(20), || {
        (cast.server.eml_files() == 5).then_some(())
    });
    assert!(
        delivered.is_some(),
        "{} .eml files",
        cast.server.eml_files()
    );
}

/// The activity list records each change with who made it, oldest first.
#[test]
fn activity_records_each_change_with_its_actor() {
    let cast = Cast::start();
    let app_id = cast.alice().get("/apps/demo-app").body["id"]
        .as_str()
        .unwrap()
        .to_string();
    cast.share("demo-app", "bob@example.com");
    assert_eq!(
        add(
            &cast.bob(),
            "demo-app",
            json!({ "user": "carol@example.com" })
        )
        .status,
        201
    );
    assert_eq!(
        cast.bob()
            .delete("/apps/demo-app/collaborators/carol@example.com")
            .status,
        200
    );
    let renamed = cast
        .alice()
        .patch("/apps/demo-app", json!({ "name": "demo-app2" }));
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(
        cast.bob().delete("/apps/demo-app2/collaborators/~").status,
        200
    );
    // Refused changes leave no trace.
    assert_eq!(
        cast.erin()
            .patch("/apps/demo-app2", json!({ "name": "erins" }))
            .status,
        403
    );

    let expected = [
        ("create", "alice@example.com", "created demo-app"),
        (
            "collaborator.add",
            "alice@example.com",
            "added bob@example.com",
        ),
        (
            "collaborator.add",
            "bob@example.com",
            "added carol@example.com",
        ),
        (
            "collaborator.remove",
            "bob@example.com",
            "removed carol@example.com",
        ),
        (
            "rename",
            "alice@example.com",
            "renamed from demo-app to demo-app2",
        ),
        (
            "collaborator.leave",
            "bob@example.com",
            "bob@example.com left",
        ),
    ];
    let listed = cast.alice().get("/apps/demo-app2/activity");
    assert_eq!(listed.status, 200, "{}", listed.text);
    let entries: Vec<(String, String, String)> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["user"]["email"].as_str().unwrap().to_string(),
                e["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected_owned: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, u, d)| (a.to_string(), u.to_string(), d.to_string()))
        .collect();
    assert_eq!(entries, expected_owned);
    assert!(listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["app"]["id"] == app_id.as_str()));

    // The deletion is recorded too, though the app can no longer be asked.
    assert_eq!(cast.alice().delete("/apps/demo-app2").status, 200);
    assert_eq!(cast.alice().get("/apps/demo-app2/activity").status, 404);
    let rows = cast.server.query_texts(&[&format!(
        "SELECT action || ' ' || actor_email FROM activity WHERE app_id = '{app_id}' \
         ORDER BY seq"
    )]);
    assert_eq!(rows[0].last().unwrap(), "destroy alice@example.com");
    assert_eq!(rows[0].len(), expected.len() + 1);
}

/// An address with no account gets an invited account that is listed as
/// pending, and the access is there once that person signs up.
#[test]
fn an_invited_address_gets_access_on_sign_up() {
    let cast = Cast::start();
    let invited = add(
        &cast.alice(),
        "demo-app",
        json!({ "user": "Frank@Example.com" }),
    );
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert_eq!(invited.body["pending"], true);
    assert_eq!(invited.body["user"]["email"], "frank@example.com");
    let sharing = slipway(&cast.server, &cast.alice, &["sharing", "-a", "demo-app"]);
    assert!(
        stdout(&sharing).contains("frank@example.com  (pending invitation, expires "),
        "{}",
        stdout(&sharing)
    );

    let frank = cast.server.create_user("frank@example.com");
    assert_eq!(cast.server.api(&frank).get("/apps/demo-app").status, 200);
    let shown = cast
        .alice()
        .get("/apps/demo-app/collaborators/frank@example.com");
    assert_eq!(shown.body["pending"], false, "{}", shown.text);
    assert_eq!(cast.server.count("accounts"), 5, "one account for frank");
}

/// Access belongs to the app, not to its name: a new app under a deleted
/// app's name starts with no collaborators.
#[test]
fn a_recreated_app_does_not_inherit_collaborators() {
    let cast = Cast::shared();
    assert_eq!(cast.alice().delete("/apps/demo-app").status, 200);
    assert_eq!(cast.bob().get("/apps/demo-app").status, 404);
    let apps = cast.bob().get("/apps");
    assert_eq!(apps.body, json!([]));

    cast.create_app(&cast.alice, "demo-app");
    let refused = cast.bob().get("/apps/demo-app");
    assert_refused(
        &refused,
        403,
        "forbidden",
        "demo-app",
        "bob on the new demo-app",
    );
    assert_eq!(
        cast.collaborator_emails(&cast.alice(), "demo-app"),
        ["alice@example.com"]
    );
    assert_eq!(cast.server.count("collaborators"), 0);
}

/// Racing creates and renames to one name: exactly one wins, the others get
/// the "taken" answer, never a 5xx.
#[test]
fn racing_for_one_app_name_has_one_winner() {
    let cast = Cast::start();
    cast.create_app(&cast.bob, "bob-app");
    cast.create_app(&cast.carol, "carol-app");
    let barrier = Arc::new(Barrier::new(4));
    let racers: Vec<(String, &str, &str)> = vec![
        (cast.alice.clone(), "POST", "/apps"),
        (cast.erin.clone(), "POST", "/apps"),
        (cast.bob.clone(), "PATCH", "/apps/bob-app"),
        (cast.carol.clone(), "PATCH", "/apps/carol-app"),
    ];
    let handles: Vec<_> = racers
        .into_iter()
        .map(|(key, method, path)| {
            let barrier = barrier.clone();
            let api = Api::new(&cast.server.url, Some(key));
            std::thread::spawn(move || {
                barrier.wait();
                let resp = api.send(
                    api.request(method, path)
                        .json(&json!({ "name": "hot-name" })),
                );
                (resp.status, resp.message().to_string())
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners = answers
        .iter()
        .filter(|(s, _)| *s == 200 || *s == 201)
        .count();
    assert_eq!(winners, 1, "{answers:?}");
    for (status, message) in answers.iter().filter(|(s, _)| *s >= 300) {
        assert_eq!(*status, 422, "{answers:?}");
        assert_eq!(message, "Name hot-name is already taken");
    }
    let names = cast
        .server
        .query_texts(&["SELECT name FROM apps ORDER BY name"]);
    assert_eq!(names[0].iter().filter(|n| *n == "hot-name").count(), 1);
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(names[0].len(), 4 + created, "{names:?}");
}

/// Lists come in pages with `Range` / `Next-Range`; following them yields
/// every entry once, also when a sort key holds `..`.
#[test]
fn lists_page_through_every_entry_once() {
    let cast = Cast::start();
    let emails = [
        "a..b@example.com",
        "a@example.com",
        "bob@example.com",
        "c.d@example.com",
        "carol@example.com",
    ];
    for email in emails {
        cast.share("demo-app", email);
    }
    let alice = cast.alice();
    let mut range = "email ..; max=1".to_string();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let page = alice.send(
            alice
                .request("GET", "/apps/demo-app/collaborators")
                .header("Range", &range),
        );
        for entry in page.body.as_array().unwrap() {
            seen.push(entry["user"]["email"].as_str().unwrap().to_string());
        }
        match page.headers.get("next-range") {
            Some(next) => {
                assert_eq!(page.status, 206);
                range = next.to_str().unwrap().to_string();
            }
            None => {
                assert_eq!(page.status, 200);
                break;
            }
        }
    }
    let mut expected: Vec<String> = emails.iter().map(|e| e.to_string()).collect();
    expected.push("alice@example.com".to_string());
    expected.sort();
    assert_eq!(seen, expected);

    // The CLI follows the pages the same way.
    let listed = slipway(
        &cast.server,
        &cast.alice,
        &["sharing", "--json", "-a", "demo-app"],
    );
    let listed: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), expected.len());
}
