//! Add-ons and what they cost: collaborators manage free add-ons but not
//! paid ones; paid add-ons accrue by the hour on the owner's invoice only.

mod common;

use common::{run, stderr, stdout, Server};
use serde_json::{json, Value};

fn shared_app(server: &Server) -> (String, String) {
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    let api = server.api(&alice);
    assert_eq!(api.post("/apps", json!({"name": "demo-app"})).status, 201);
    let added = api.post(
        "/apps/demo-app/collaborators",
        json!({"user": "bob@example.com"}),
    );
    assert_eq!(added.status, 201);
    (alice, bob)
}

fn addon_names(server: &Server, key: &str) -> Vec<String> {
    let list = server.api(key).get("/apps/demo-app/addons");
    assert_eq!(list.status, 200, "{}", list.text);
    list.body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

fn shift_usage(server: &Server, hours: u32) {
    let out = server.admin(
        &["shift-usage", "demo-app", "--hours", &hours.to_string()],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The app's charges summed over all of the caller's invoices (a test run
/// near midnight on the 1st may split them over two months).
fn charged_for_app(server: &Server, key: &str) -> (i64, i64) {
    let invoices = server.api(key).get("/account/invoices");
    assert_eq!(invoices.status, 200, "{}", invoices.text);
    let mut hours = 0;
    let mut cents = 0;
    for invoice in invoices.body.as_array().unwrap() {
        let number = invoice["number"].as_i64().unwrap();
        let detail = server.api(key).get(&format!("/account/invoices/{number}"));
        for line in detail.body["lines"].as_array().unwrap() {
            if line["app"]["name"] == "demo-app" {
                for item in line["items"].as_array().unwrap() {
                    hours += item["hours"].as_i64().unwrap();
                    cents += item["cents"].as_i64().unwrap();
                }
            }
        }
    }
    (hours, cents)
}

#[test]
fn collaborator_manages_free_addons_but_is_refused_paid_ones() {
    let server = Server::start();
    let (alice, bob) = shared_app(&server);
    let as_bob = |args: &[&str]| run(server.cli(Some(&bob)).args(args).args(["-a", "demo-app"]));

    let created = as_bob(&["addons:create", "postgresql:mini", "--name", "bobs-db"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stdout(&created).contains("Created bobs-db"),
        "{}",
        stdout(&created)
    );
    let listed = as_bob(&["addons"]);
    assert!(
        stdout(&listed).contains("postgresql:mini"),
        "{}",
        stdout(&listed)
    );
    let destroyed = as_bob(&["addons:destroy", "bobs-db"]);
    assert!(destroyed.status.success(), "{}", stderr(&destroyed));
    assert!(addon_names(&server, &alice).is_empty());

    let paid = as_bob(&["addons:create", "postgresql:essential-0"]);
    assert!(!paid.status.success());
    assert!(
        stderr(&paid).contains(
            "Only the owner of demo-app (alice@example.com) can add or remove paid add-ons"
        ),
        "{}",
        stderr(&paid)
    );
    assert!(
        addon_names(&server, &alice).is_empty(),
        "a refused add-on was created"
    );

    let free = as_bob(&["addons:create", "redis:mini", "--name", "cache"]);
    assert!(free.status.success(), "{}", stderr(&free));
    let upgrade = as_bob(&["addons:upgrade", "cache", "premium-0"]);
    assert!(!upgrade.status.success());
    assert!(
        stderr(&upgrade).contains("Only the owner"),
        "{}",
        stderr(&upgrade)
    );
    let cache = server.api(&alice).get("/apps/demo-app/addons/cache");
    assert_eq!(cache.body["plan"]["name"], "redis:mini");

    // The owner may upgrade; then the collaborator may not remove it.
    let upgrade = run(server.cli(Some(&alice)).args([
        "addons:upgrade",
        "cache",
        "redis:premium-0",
        "-a",
        "demo-app",
    ]));
    assert!(upgrade.status.success(), "{}", stderr(&upgrade));
    let destroy = as_bob(&["addons:destroy", "cache"]);
    assert!(!destroy.status.success());
    assert!(
        stderr(&destroy).contains("remove paid add-ons"),
        "{}",
        stderr(&destroy)
    );
    assert_eq!(addon_names(&server, &alice), ["cache"]);
}

#[test]
fn owners_invoice_shows_the_prorated_charge_and_collaborators_never_see_it() {
    let server = Server::start();
    let (alice, bob) = shared_app(&server);
    let created = run(server.cli(Some(&alice)).args([
        "addons:create",
        "postgresql:essential-0",
        "--name",
        "main-db",
        "-a",
        "demo-app",
    ]));
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stderr(&created).contains("$5/month"),
        "{}",
        stderr(&created)
    );
    // bob adds a free one: free add-ons cost nobody anything.
    let free = server
        .api(&bob)
        .post("/apps/demo-app/addons", json!({"plan": "redis:mini"}));
    assert_eq!(free.status, 201, "{}", free.text);

    // Ten hours pass: $5/month is 500/720 cents an hour, so 6.94 -> 7 cents.
    shift_usage(&server, 10);
    assert_eq!(charged_for_app(&server, &alice), (10, 7));

    let invoices = run(server.cli(Some(&alice)).arg("invoices"));
    assert!(invoices.status.success(), "{}", stderr(&invoices));
    let number = server.api(&alice).get("/account/invoices").body[0]["number"]
        .as_i64()
        .unwrap()
        .to_string();
    assert!(stdout(&invoices).contains(&number), "{}", stdout(&invoices));
    let info = run(server.cli(Some(&alice)).args(["invoices:info", &number]));
    assert!(stdout(&info).contains("demo-app"), "{}", stdout(&info));
    assert!(stdout(&info).contains("main-db"), "{}", stdout(&info));

    // bob: no invoices of his own, none of alice's, no app-scoped costs.
    assert_eq!(server.api(&bob).get("/account/invoices").body, json!([]));
    let bobs = run(server.cli(Some(&bob)).arg("invoices"));
    assert_eq!(stdout(&bobs), "You have no invoices.\n");
    let peek = server.api(&bob).get(&format!("/account/invoices/{number}"));
    assert_eq!((peek.status, peek.id()), (404, "not_found"));
    let charges = server.api(&bob).get("/apps/demo-app/charges");
    assert_eq!((charges.status, charges.id()), (403, "forbidden"));
    assert!(
        charges.message().contains("view the app's charges"),
        "{}",
        charges.text
    );
    let own = server.api(&alice).get("/apps/demo-app/charges");
    assert_eq!(own.status, 200);

    // Removing the add-on stops the charge; deleting the app keeps the past.
    let gone = server.api(&alice).delete("/apps/demo-app/addons/main-db");
    assert_eq!(
        (gone.status, gone.body["state"].clone()),
        (200, json!("deprovisioned"))
    );
    shift_usage(&server, 5);
    assert_eq!(charged_for_app(&server, &alice), (10, 7));
    assert_eq!(server.api(&alice).delete("/apps/demo-app").status, 200);
    let invoices = server.api(&alice).get("/account/invoices");
    assert_eq!(invoices.body[0]["total"], 7, "{}", invoices.text);
}

#[test]
fn heroku_cli_shapes_are_understood() {
    let server = Server::start();
    let (alice, _) = shared_app(&server);
    let api = server.api(&alice);

    // The plan arrives as {"name"}, with the CLI's other fields.
    let created = api.post(
        "/apps/demo-app/addons",
        json!({"attachment": {}, "config": {}, "plan": {"name": "postgresql:essential-0"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let addon: Value = created.body;
    assert_eq!(addon["state"], "provisioned");
    assert_eq!(
        addon["plan"]["price"],
        json!({"cents": 500, "contract": false, "metered": false, "unit": "month"})
    );
    assert_eq!(addon["billed_price"]["cents"], 500);
    assert_eq!(addon["addon_service"]["name"], "postgresql");
    assert_eq!(addon["app"]["name"], "demo-app");
    assert!(addon["config_vars"].is_array());

    let resolved = api.post(
        "/actions/addons/resolve",
        json!({"addon": addon["name"], "app": "demo-app"}),
    );
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(resolved.body[0]["id"], addon["id"]);
    let unknown = api.post("/actions/addons/resolve", json!({"addon": "nope"}));
    assert_eq!(unknown.status, 404);

    let attachments = api.get("/addon-attachments");
    assert_eq!(attachments.body[0]["name"], "DATABASE");
    assert_eq!(attachments.body[0]["addon"]["name"], addon["name"]);
    assert_eq!(api.get("/addons").body.as_array().unwrap().len(), 1);

    let services = api.get("/addon-services");
    assert!(services.body.as_array().unwrap().len() >= 2);
    let plans = api.get("/addon-services/postgresql/plans");
    let prices: Vec<i64> = plans
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price"]["cents"].as_i64().unwrap())
        .collect();
    assert!(
        prices.contains(&0) && prices.iter().any(|&c| c > 0),
        "{prices:?}"
    );
    let cli_plans = run(server
        .cli(Some(&alice))
        .args(["addons:plans", "postgresql"]));
    assert!(
        stdout(&cli_plans).contains("postgresql:essential-0"),
        "{}",
        stdout(&cli_plans)
    );

    // DELETE by UUIDs, with a JSON body, as `heroku addons:destroy` sends it.
    let app_id = addon["app"]["id"].as_str().unwrap();
    let addon_id = addon["id"].as_str().unwrap();
    let deleted = api.send(
        api.request("DELETE", &format!("/apps/{app_id}/addons/{addon_id}"))
            .json(&json!({"force": false})),
    );
    assert_eq!(
        (deleted.status, deleted.body["state"].clone()),
        (200, json!("deprovisioned"))
    );

    for (body, status) in [
        (json!({"plan": "postgresql:nope"}), 422),
        (json!({"plan": 5}), 422),
        (json!({}), 422),
        (json!({"plan": "postgresql:mini", "name": "Bad Name"}), 422),
    ] {
        let refused = api.post("/apps/demo-app/addons", body.clone());
        assert_eq!(
            (refused.status, refused.id()),
            (status, "invalid_params"),
            "{body}"
        );
    }
    let first = api.post(
        "/apps/demo-app/addons",
        json!({"plan": "postgresql:mini", "name": "my-db"}),
    );
    assert_eq!(first.status, 201);
    let again = api.post(
        "/apps/demo-app/addons",
        json!({"plan": "postgresql:mini", "name": "my-db"}),
    );
    assert_eq!(again.status, 422);
    let other_service = api.patch("/apps/demo-app/addons/my-db", json!({"plan": "redis:mini"}));
    assert_eq!(other_service.status, 422);
}

#[test]
fn the_operator_can_replace_the_catalog() {
    let catalog = r#"{"services":[{"name":"search","human_name":"Search","attachment_name":"SEARCH",
        "plans":[{"name":"tiny","human_name":"Tiny","price_cents":0},
                 {"name":"big","human_name":"Big","price_cents":12345}]}]}"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.json");
    std::fs::write(&path, catalog).unwrap();
    let server = Server::builder()
        .env("SLIPWAY_ADDONS_CATALOG", path.to_str().unwrap())
        .start();
    let key = server.create_user("alice@example.com");
    let services = server.api(&key).get("/addon-services");
    assert_eq!(services.body.as_array().unwrap().len(), 1);
    assert_eq!(services.body[0]["name"], "search");
    let big = server.api(&key).get("/addon-services/search/plans/big");
    assert_eq!(big.body["price"]["cents"], 12345);

    // A broken catalog stops the server with a message naming the file.
    std::fs::write(&path, r#"{"services":[{"name":"x"}]}"#).unwrap();
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--router-listen",
        "127.0.0.1:0",
    ])
    .env("SLIPWAY_DATA_DIR", dir.path().join("data"))
    .env("SLIPWAY_ADDONS_CATALOG", &path)
    .env_remove("DATABASE_URL");
    let out = run(&mut cmd);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("catalog.json"), "{}", stderr(&out));
}
