//! App transfers (K08, K09, the transfer part of K13): nothing changes until
//! the recipient accepts; then the recipient owns the app, the previous
//! owner stays on as a collaborator, and future charges move with it.

mod common;

use common::cast::Cast;
use common::inspect::assert_unchanged;
use common::{run, stderr, stdout, Api};
use serde_json::{json, Value};

fn offer(api: &Api, recipient: &str) -> common::Resp {
    api.post(
        "/account/app-transfers",
        json!({ "app": "demo-app", "recipient": recipient }),
    )
}

fn owner_of(cast: &Cast) -> String {
    let app = cast.carol().get("/apps/demo-app");
    app.body["owner"]["email"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// (email, role) of everyone listed on demo-app.
fn members(cast: &Cast) -> Vec<(String, String)> {
    let list = cast.carol().get("/apps/demo-app/collaborators");
    let mut members: Vec<(String, String)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["user"]["email"].as_str().unwrap().to_string(),
                c["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    members.sort();
    members
}

fn role(role: &str, email: &str) -> (String, String) {
    (email.to_string(), role.to_string())
}

#[test]
fn k08_the_recipient_owns_and_the_previous_owner_collaborates() {
    let cast = Cast::shared();
    let offered = offer(&cast.alice(), "bob@example.com");
    assert_eq!(offered.status, 201, "{}", offered.text);
    let id = offered.body["id"].as_str().unwrap().to_string();

    let accepted = cast.bob().patch(
        &format!("/account/app-transfers/{id}"),
        json!({ "state": "accepted" }),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body["state"], "accepted");

    assert_eq!(owner_of(&cast), "bob@example.com");
    assert_eq!(
        members(&cast),
        [
            role("collaborator", "alice@example.com"),
            role("owner", "bob@example.com"),
            role("collaborator", "carol@example.com"),
        ]
    );

    // alice is a collaborator now: the owner-only actions are bob's.
    let paid = json!({ "plan": "postgresql:essential-0" });
    let refused = [
        cast.alice().post("/apps/demo-app/addons", paid.clone()),
        cast.alice()
            .patch("/apps/demo-app", json!({ "name": "alices-app" })),
        cast.alice().delete("/apps/demo-app"),
    ];
    for resp in &refused {
        assert_eq!(
            (resp.status, resp.id()),
            (403, "forbidden"),
            "{}",
            resp.text
        );
        assert!(
            resp.message().contains("(bob@example.com)"),
            "{}",
            resp.text
        );
    }
    assert_eq!(cast.bob().post("/apps/demo-app/addons", paid).status, 201);
    assert_eq!(cast.alice().get("/apps/demo-app/config-vars").status, 200);
    let renamed = cast
        .bob()
        .patch("/apps/demo-app", json!({ "name": "bobs-app" }));
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(cast.bob().delete("/apps/bobs-app").status, 200);
}

#[test]
fn k09_no_transfer_without_the_recipients_consent() {
    let cast = Cast::shared();

    // erin is not a collaborator; alice cannot transfer to herself.
    let to_erin = offer(&cast.alice(), "erin@example.com");
    assert_eq!((to_erin.status, to_erin.id()), (422, "invalid_params"));
    assert!(
        to_erin.message().contains("must already be a collaborator"),
        "{}",
        to_erin.text
    );
    let to_nobody = offer(&cast.alice(), "nobody@example.com");
    assert_eq!(to_nobody.status, 422);
    let to_self = offer(&cast.alice(), "alice@example.com");
    assert_eq!((to_self.status, to_self.id()), (422, "invalid_params"));

    let to_bob = offer(&cast.alice(), "bob@example.com");
    assert_eq!(to_bob.status, 201, "{}", to_bob.text);
    assert_eq!(to_bob.body["state"], "pending");
    assert_eq!(owner_of(&cast), "alice@example.com");
    let again = offer(&cast.alice(), "carol@example.com");
    assert_eq!(
        again.status, 422,
        "a second pending transfer: {}",
        again.text
    );
    let path = format!(
        "/account/app-transfers/{}",
        to_bob.body["id"].as_str().unwrap()
    );

    // Nobody but bob may accept it, and nothing changes when they try.
    let before = cast.server.snapshot();
    let by_carol = cast.carol().patch(&path, json!({ "state": "accepted" }));
    assert_eq!((by_carol.status, by_carol.id()), (404, "not_found"));
    let by_alice = cast.alice().patch(&path, json!({ "state": "accepted" }));
    assert_eq!((by_alice.status, by_alice.id()), (403, "forbidden"));
    let by_erin = cast.erin().patch(&path, json!({ "state": "accepted" }));
    assert_eq!(by_erin.status, 404);
    assert_eq!(cast.carol().get(&path).status, 404);
    assert_unchanged(&before, &cast.server.snapshot(), "accepts by others");
    assert_eq!(owner_of(&cast), "alice@example.com");

    let bad_state = cast.bob().patch(&path, json!({ "state": "owned" }));
    assert_eq!(bad_state.status, 422);
    let declined = cast.bob().patch(&path, json!({ "state": "declined" }));
    assert_eq!(
        (declined.status, declined.body["state"].clone()),
        (200, json!("declined"))
    );
    assert_eq!(owner_of(&cast), "alice@example.com");
    let late = cast.bob().patch(&path, json!({ "state": "accepted" }));
    assert_eq!(
        late.status, 422,
        "a closed transfer was reopened: {}",
        late.text
    );
    assert_eq!(owner_of(&cast), "alice@example.com");
    let mail = cast.server.mail_to("alice@example.com");
    assert_eq!(mail[0]["template"], "transfer_declined");
}

#[test]
fn only_the_owner_may_offer_the_app() {
    let cast = Cast::shared();
    let by_bob = offer(&cast.bob(), "carol@example.com");
    assert_eq!((by_bob.status, by_bob.id()), (403, "forbidden"));
    assert!(
        by_bob.message().contains("can transfer the app"),
        "{}",
        by_bob.text
    );
    let by_erin = offer(&cast.erin(), "bob@example.com");
    assert_eq!((by_erin.status, by_erin.id()), (403, "forbidden"));
    let unknown = cast.alice().post(
        "/account/app-transfers",
        json!({ "app": "no-such-app", "recipient": "bob@example.com" }),
    );
    assert_eq!(unknown.status, 404);
    let anonymous = cast.server.anonymous().get("/account/app-transfers");
    assert_eq!(anonymous.status, 401);
}

#[test]
fn a_pending_transfer_follows_the_apps_current_state() {
    let cast = Cast::shared();
    let offered = offer(&cast.alice(), "bob@example.com");
    let path = format!(
        "/account/app-transfers/{}",
        offered.body["id"].as_str().unwrap()
    );

    // bob is removed before he answers: the offer ends with his access.
    let removed = cast
        .alice()
        .delete("/apps/demo-app/collaborators/bob@example.com");
    assert_eq!(removed.status, 200);
    let shown = cast.alice().get(&path);
    assert_eq!(shown.body["state"], "cancelled", "{}", shown.text);
    let accepted = cast.bob().patch(&path, json!({ "state": "accepted" }));
    assert_eq!(accepted.status, 422, "{}", accepted.text);
    assert_eq!(owner_of(&cast), "alice@example.com");

    // Added again, he finds no offer come back to life.
    let again = cast.alice().post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com", "silent": true }),
    );
    assert_eq!(again.status, 201, "{}", again.text);
    let accepted = cast.bob().patch(&path, json!({ "state": "accepted" }));
    assert_eq!(accepted.status, 422, "{}", accepted.text);
    assert_eq!(owner_of(&cast), "alice@example.com");
    let activity = cast.alice().get("/apps/demo-app/activity");
    assert!(
        activity
            .text
            .contains("cancelled the transfer to bob@example.com: no longer a collaborator"),
        "{}",
        activity.text
    );
}

#[test]
fn transfer_round_trip_through_the_cli() {
    let cast = Cast::shared();
    let alice = run(cast.server.cli(Some(&cast.alice)).args([
        "apps:transfer",
        "bob@example.com",
        "-a",
        "demo-app",
    ]));
    assert!(alice.status.success(), "{}", stderr(&alice));
    assert!(
        stderr(&alice).contains("Initiating transfer of demo-app to bob@example.com... email sent"),
        "{}",
        stderr(&alice)
    );
    let id = stdout(&alice).trim().to_string();
    let mail = cast.server.mail_to("bob@example.com");
    assert_eq!(mail[0]["template"], "transfer_requested");

    let listed = run(cast.server.cli(Some(&cast.bob)).arg("apps:transfers"));
    assert!(stdout(&listed).contains(&id), "{}", stdout(&listed));
    assert!(stdout(&listed).contains("pending"), "{}", stdout(&listed));
    let accept = run(cast
        .server
        .cli(Some(&cast.bob))
        .args(["apps:transfer:accept", &id]));
    assert!(accept.status.success(), "{}", stderr(&accept));
    assert!(
        stderr(&accept).contains("You now own demo-app."),
        "{}",
        stderr(&accept)
    );
    let info = run(cast
        .server
        .cli(Some(&cast.alice))
        .args(["info", "-a", "demo-app"]));
    assert!(
        stdout(&info).contains("bob@example.com"),
        "{}",
        stdout(&info)
    );
    assert_eq!(
        cast.server.mail_to("alice@example.com")[0]["template"],
        "transfer_accepted"
    );

    // And back again: bob offers it to alice, who is a collaborator now.
    let back = run(cast.server.cli(Some(&cast.bob)).args([
        "apps:transfer",
        "alice@example.com",
        "-a",
        "demo-app",
    ]));
    assert!(back.status.success(), "{}", stderr(&back));
    let back_id = stdout(&back).trim().to_string();
    let accept = run(cast
        .server
        .cli(Some(&cast.alice))
        .args(["apps:transfer:accept", &back_id]));
    assert!(accept.status.success(), "{}", stderr(&accept));
    assert_eq!(owner_of(&cast), "alice@example.com");
    assert_eq!(
        members(&cast),
        [
            role("owner", "alice@example.com"),
            role("collaborator", "bob@example.com"),
            role("collaborator", "carol@example.com"),
        ]
    );
}

/// Hours and cents charged to `api`'s account for demo-app, over all invoices.
fn charged(api: &Api) -> (i64, i64) {
    let invoices = api.get("/account/invoices");
    let mut total = (0, 0);
    for invoice in invoices.body.as_array().unwrap() {
        let detail = api.get(&format!("/account/invoices/{}", invoice["number"]));
        let lines = detail.body["lines"].as_array().cloned().unwrap_or_default();
        for line in lines.iter().filter(|l| l["app"]["name"] == "demo-app") {
            for item in line["items"].as_array().unwrap() {
                total.0 += item["hours"].as_i64().unwrap();
                total.1 += item["cents"].as_i64().unwrap();
            }
        }
    }
    total
}

#[test]
fn transfers_move_future_charges_not_past_ones() {
    let cast = Cast::shared();
    let created = cast.alice().post(
        "/apps/demo-app/addons",
        json!({ "plan": "postgresql:essential-0" }),
    );
    assert_eq!(created.status, 201);
    let shift = |hours: &str| {
        let out = cast
            .server
            .admin(&["shift-usage", "demo-app", "--hours", hours], None);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    shift("10");

    let offered = offer(&cast.alice(), "bob@example.com");
    let path = format!(
        "/account/app-transfers/{}",
        offered.body["id"].as_str().unwrap()
    );
    assert_eq!(
        cast.bob()
            .patch(&path, json!({ "state": "accepted" }))
            .status,
        200
    );
    shift("5");

    // $5/month: 10 hours are 6.94 -> 7 cents for alice, 5 hours 3.47 -> 3 for bob.
    assert_eq!(charged(&cast.alice()), (10, 7));
    assert_eq!(charged(&cast.bob()), (5, 3));
    assert_eq!(charged(&cast.carol()), (0, 0));
    let alices = cast.alice().get("/apps/demo-app/charges");
    assert_eq!(
        alices.status, 403,
        "the previous owner sees app costs: {}",
        alices.text
    );
    assert_eq!(cast.bob().get("/apps/demo-app/charges").body["total"], 3);
}

#[test]
fn k13_a_removed_collaborator_gets_no_mail_about_config_or_transfers() {
    let cast = Cast::shared();
    let removed = cast
        .alice()
        .delete("/apps/demo-app/collaborators/bob@example.com");
    assert_eq!(removed.status, 200);

    let config = cast
        .alice()
        .patch("/apps/demo-app/config-vars", json!({ "GREETING": "hi" }));
    assert_eq!(config.status, 200);
    let offered = offer(&cast.alice(), "carol@example.com");
    assert_eq!(offered.status, 201, "{}", offered.text);
    let path = format!(
        "/account/app-transfers/{}",
        offered.body["id"].as_str().unwrap()
    );
    assert_eq!(
        cast.carol()
            .patch(&path, json!({ "state": "accepted" }))
            .status,
        200
    );
    let to_bob = offer(&cast.carol(), "bob@example.com");
    assert_eq!(to_bob.status, 422);

    let templates: Vec<Value> = cast
        .server
        .mail_to("bob@example.com")
        .iter()
        .map(|m| m["template"].clone())
        .collect();
    assert_eq!(templates, [json!("access_removed")]);
    // Every transfer mail went to a current member of the app.
    for message in cast.server.outbox() {
        let template = message["template"].as_str().unwrap();
        if template.starts_with("transfer_") {
            let recipient = message["recipient"].as_str().unwrap();
            assert!(
                ["alice@example.com", "carol@example.com"].contains(&recipient),
                "{message}"
            );
        }
    }
}

#[test]
fn paid_addons_added_during_an_accept_bill_whoever_owns_the_app() {
    let cast = Cast::shared();
    let offered = offer(&cast.alice(), "bob@example.com");
    let path = format!(
        "/account/app-transfers/{}",
        offered.body["id"].as_str().unwrap()
    );

    // alice keeps adding paid add-ons while bob accepts.
    let alice = cast.alice();
    let statuses = std::thread::scope(|scope| {
        let adding = scope.spawn(|| {
            (0..12)
                .map(|_| {
                    let plan = json!({ "plan": "postgresql:essential-0" });
                    alice.post("/apps/demo-app/addons", plan).status
                })
                .collect::<Vec<u16>>()
        });
        std::thread::sleep(std::time::Duration::from_millis(30));
        let accepted = cast.bob().patch(&path, json!({ "state": "accepted" }));
        assert_eq!(accepted.status, 200, "{}", accepted.text);
        adding.join().unwrap()
    });
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 403),
        "{statuses:?}"
    );

    // Every add-on still accruing is on bob's account, none on alice's.
    let bob_id = cast.bob().get("/account").body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let open = cast.server.query_texts(&[
        "SELECT account_id FROM addon_usage WHERE ended_at IS NULL",
        "SELECT id FROM addons",
    ]);
    assert_eq!(
        open[0].len(),
        open[1].len(),
        "every paid add-on has one open period"
    );
    assert!(open[0].iter().all(|a| *a == bob_id), "{:?}", open[0]);
}
