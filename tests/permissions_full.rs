//! The whole permission table over HTTP: every endpoint the router lists,
//! against every kind of caller, including the previous owner of an app
//! that was transferred. Each cell asserts the status (and for refusals the
//! error id and message), and that a refused call changed nothing stored.
//!
//! `every_route_has_a_row` reads the routes from `src/api/mod.rs`: an
//! endpoint added there without a row here fails it.

mod common;

use std::collections::BTreeSet;

use common::cast::Cast;
use common::inspect::assert_unchanged;
use common::{Api, Resp};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
enum Role {
    Owner,
    Collaborator,
    Removed,
    Stranger,
    Anonymous,
    PreviousOwner,
}

const ROLES: [Role; 6] = [
    Role::Owner,
    Role::Collaborator,
    Role::Removed,
    Role::Stranger,
    Role::Anonymous,
    Role::PreviousOwner,
];

#[derive(Debug, Clone)]
enum Want {
    Ok(u16),
    Refused(u16, &'static str, String),
    /// Only the status: pages meant for a browser.
    Page(u16),
}

fn ok(status: u16) -> Want {
    Want::Ok(status)
}

fn no_access() -> Want {
    Want::Refused(
        403,
        "forbidden",
        "You do not have access to the app demo-app.".into(),
    )
}

fn anonymous() -> Want {
    Want::Refused(401, "unauthorized", "No credentials provided".into())
}

fn not_found(message: &str) -> Want {
    Want::Refused(404, "not_found", message.into())
}

fn forbidden(message: &str) -> Want {
    Want::Refused(403, "forbidden", message.into())
}

/// Any signed-in caller gets `status`.
fn anyone(status: u16) -> [Want; 6] {
    [
        ok(status),
        ok(status),
        ok(status),
        ok(status),
        anonymous(),
        ok(status),
    ]
}

/// The owner and collaborators (the previous owner is one) get `status`.
fn members(status: u16) -> [Want; 6] {
    [
        ok(status),
        ok(status),
        no_access(),
        no_access(),
        anonymous(),
        ok(status),
    ]
}

/// The owner gets `status`; collaborators, the previous owner among them,
/// are told that only alice can do `action`.
fn owner_only(status: u16, action: &str) -> [Want; 6] {
    let refused = || {
        forbidden(&format!(
            "Only the owner of demo-app (alice@example.com) can {action}."
        ))
    };
    [
        ok(status),
        refused(),
        no_access(),
        no_access(),
        anonymous(),
        refused(),
    ]
}

/// Members are told the app has no such dyno (nothing was deployed).
fn no_dyno() -> [Want; 6] {
    let nf = || not_found("No such dyno: web.1");
    [nf(), nf(), no_access(), no_access(), anonymous(), nf()]
}

/// Only the owner finds it; everyone else signed in gets 404 `message`.
fn own_only(status: u16, message: &str) -> [Want; 6] {
    let nf = || not_found(message);
    [ok(status), nf(), nf(), nf(), anonymous(), nf()]
}

struct Row {
    method: &'static str,
    /// The route as `src/api/mod.rs` spells it.
    route: &'static str,
    /// The path called; `{app}`, `{alice-key}`, `{invoice}`, `{transfer}` are filled in.
    path: &'static str,
    body: Option<Value>,
    /// False for a POST that only reads.
    changes: bool,
    want: [Want; 6],
}

fn row(method: &'static str, route: &'static str, want: [Want; 6]) -> Row {
    Row {
        method,
        route,
        path: route,
        body: None,
        changes: method != "GET",
        want,
    }
}

impl Row {
    fn at(mut self, path: &'static str) -> Row {
        self.path = path;
        self
    }

    fn body(mut self, body: Value) -> Row {
        self.body = Some(body);
        self
    }

    fn reads_only(mut self) -> Row {
        self.changes = false;
        self
    }
}

const PAID: &str = "add or remove paid add-ons";

fn rows() -> Vec<Row> {
    let no_key = "Couldn't find that authorization.";
    let no_session = "Couldn't find that session.";
    let no_transfer = "Couldn't find that app transfer.";
    vec![
        row("GET", "/account", anyone(200)),
        row("POST", "/oauth/authorizations", anyone(201)).body(json!({"description": "matrix"})),
        row("GET", "/oauth/authorizations", anyone(200)),
        row("GET", "/oauth/authorizations/{id}", own_only(200, no_key))
            .at("/oauth/authorizations/{alice-key}"),
        row(
            "DELETE",
            "/oauth/authorizations/{id}",
            own_only(200, no_key),
        )
        .at("/oauth/authorizations/{alice-key}"),
        row("DELETE", "/oauth/sessions/{id}", {
            let nf = || not_found(no_session);
            [nf(), nf(), nf(), nf(), anonymous(), nf()]
        })
        .at("/oauth/sessions/any"),
        row("GET", "/apps", anyone(200)),
        // Restarting changes processes, not the store.
        row("DELETE", "/apps/{app}/dynos", members(202)).reads_only(),
        row("GET", "/apps/{app}/dynos/{dyno}", no_dyno()).at("/apps/{app}/dynos/web.1"),
        row("DELETE", "/apps/{app}/dynos/{dyno}", no_dyno()).at("/apps/{app}/dynos/web.1"),
        row("POST", "/apps/{app}/dynos/{dyno}/actions/stop", no_dyno())
            .at("/apps/{app}/dynos/web.1/actions/stop"),
        // A type's dynos: none run, which is no error once the type is known.
        row("DELETE", "/apps/{app}/formations/{type}", members(202))
            .at("/apps/{app}/formations/web")
            .reads_only(),
        row(
            "POST",
            "/apps/{app}/formations/{type}/actions/stop",
            members(202),
        )
        .at("/apps/{app}/formations/web/actions/stop")
        .reads_only(),
        row("POST", "/apps/{app}/log-sessions", members(201))
            .body(json!({"lines": 5}))
            .reads_only(),
        row("GET", "/log-streams/{token}", {
            let nf = || not_found("This log session has expired or does not exist.");
            [nf(), nf(), nf(), nf(), nf(), nf()]
        })
        .at("/log-streams/not-a-session"),
        row("POST", "/apps", anyone(201)).body(json!({"name": "new-app"})),
        row("GET", "/users/{user}/apps", anyone(200)).at("/users/~/apps"),
        row("GET", "/apps/{app}", members(200)),
        row("PATCH", "/apps/{app}", owner_only(200, "rename the app"))
            .body(json!({"name": "renamed-app"})),
        row("DELETE", "/apps/{app}", owner_only(200, "delete the app")),
        row("GET", "/apps/{app}/collaborators", members(200)),
        row("POST", "/apps/{app}/collaborators", members(201))
            .body(json!({"user": "gina@example.com"})),
        row(
            "GET",
            "/apps/{app}/collaborators/{collaborator}",
            members(200),
        )
        .at("/apps/{app}/collaborators/bob@example.com"),
        row(
            "DELETE",
            "/apps/{app}/collaborators/{collaborator}",
            members(200),
        )
        .at("/apps/{app}/collaborators/frank@example.com"),
        row(
            "POST",
            "/apps/{app}/collaborators/{collaborator}/resend",
            members(202),
        )
        .at("/apps/{app}/collaborators/frank@example.com/resend"),
        // Invitation links are the token's business, the same for every caller.
        row(
            "GET",
            "/invitations/{token}",
            [0; 6].map(|_| Want::Page(404)),
        )
        .at("/invitations/not-a-token"),
        row("POST", "/invitations/{token}", {
            let nf = || not_found("");
            [nf(), nf(), nf(), nf(), nf(), nf()]
        })
        .at("/invitations/not-a-token")
        .body(json!({"password": "a long enough password"})),
        row("POST", "/signup", {
            let only = || forbidden("");
            [only(), only(), only(), only(), only(), only()]
        })
        .body(json!({"email": "stranger@example.com"})),
        row("GET", "/apps/{app}/activity", members(200)),
        row("GET", "/apps/{app}/dynos", members(200)),
        // Slipway has no pipelines: members learn that, strangers nothing.
        row("GET", "/apps/{app}/pipeline-couplings", {
            let none = || not_found("demo-app is not in a pipeline.");
            [
                none(),
                none(),
                no_access(),
                no_access(),
                anonymous(),
                none(),
            ]
        }),
        row("GET", "/account/keys", anyone(200)),
        row("GET", "/apps/{app}/releases", members(200)),
        // The fixture's config change is release v1.
        row("GET", "/apps/{app}/releases/{release}", members(200)).at("/apps/{app}/releases/1"),
        row("GET", "/apps/{app}/config-vars", members(200)),
        row("PATCH", "/apps/{app}/config-vars", members(200)).body(json!({"B": "2"})),
        row("GET", "/apps/{app}/formation", members(200)),
        row("PATCH", "/apps/{app}/formation", members(200))
            .body(json!({"updates": [{"type": "web", "quantity": "2"}]})),
        row("GET", "/apps/{app}/formation/{type}", members(200)).at("/apps/{app}/formation/web"),
        row("PATCH", "/apps/{app}/formation/{type}", members(200))
            .at("/apps/{app}/formation/web")
            .body(json!({"quantity": 3})),
        row("GET", "/addon-services", anyone(200)),
        row("GET", "/addon-services/{service}", anyone(200)).at("/addon-services/postgresql"),
        row("GET", "/addon-services/{service}/plans", anyone(200))
            .at("/addon-services/postgresql/plans"),
        row("GET", "/addon-services/{service}/plans/{plan}", anyone(200))
            .at("/addon-services/postgresql/plans/mini"),
        row("GET", "/apps/{app}/addons", members(200)),
        row("POST", "/apps/{app}/addons", members(201)).body(json!({"plan": "postgresql:mini"})),
        row("POST", "/apps/{app}/addons", owner_only(201, PAID))
            .body(json!({"plan": {"name": "postgresql:essential-0"}})),
        row("GET", "/apps/{app}/addons/{addon}", members(200)).at("/apps/{app}/addons/free-db"),
        row("PATCH", "/apps/{app}/addons/{addon}", owner_only(200, PAID))
            .at("/apps/{app}/addons/free-db")
            .body(json!({"plan": "postgresql:essential-0"})),
        row("PATCH", "/apps/{app}/addons/{addon}", owner_only(200, PAID))
            .at("/apps/{app}/addons/paid-db")
            .body(json!({"plan": "postgresql:mini"})),
        row("DELETE", "/apps/{app}/addons/{addon}", members(200)).at("/apps/{app}/addons/free-db"),
        row(
            "DELETE",
            "/apps/{app}/addons/{addon}",
            owner_only(200, PAID),
        )
        .at("/apps/{app}/addons/paid-db"),
        row("GET", "/apps/{app}/addon-attachments", members(200)),
        row("GET", "/addons", anyone(200)),
        row("GET", "/addon-attachments", anyone(200)),
        row("POST", "/actions/addons/resolve", members(200))
            .body(json!({"addon": "free-db", "app": "demo-app"}))
            .reads_only(),
        row("GET", "/account/invoices", anyone(200)),
        row(
            "GET",
            "/account/invoices/{number}",
            own_only(200, "Couldn't find that invoice."),
        )
        .at("/account/invoices/{invoice}"),
        row(
            "GET",
            "/apps/{app}/charges",
            owner_only(200, "view the app's charges"),
        ),
        row("GET", "/account/app-transfers", anyone(200)),
        row(
            "POST",
            "/account/app-transfers",
            owner_only(201, "transfer the app"),
        )
        .body(json!({"app": "demo-app", "recipient": "bob@example.com"})),
        // A pending transfer of other-app from alice to bob: only its two parties see it.
        row("GET", "/account/app-transfers/{id}", {
            let nf = || not_found(no_transfer);
            [ok(200), ok(200), nf(), nf(), anonymous(), nf()]
        })
        .at("/account/app-transfers/{transfer}"),
        row("PATCH", "/account/app-transfers/{id}", {
            let nf = || not_found(no_transfer);
            let only_bob = forbidden("Only bob@example.com, the recipient, can accept");
            [only_bob, ok(200), nf(), nf(), anonymous(), nf()]
        })
        .at("/account/app-transfers/{transfer}")
        .body(json!({"state": "accepted"})),
        row("DELETE", "/account/app-transfers/{id}", {
            let nf = || not_found(no_transfer);
            [ok(200), ok(200), nf(), nf(), anonymous(), nf()]
        })
        .at("/account/app-transfers/{transfer}"),
    ]
}

struct Fixture {
    cast: Cast,
    dave: String,
    transfer: String,
    invoice: String,
}

/// `from` offers `app` to `recipient`; `to`, when given, accepts.
fn transfer(from: &Api, to: Option<&Api>, app: &str, recipient: &str) -> String {
    let offered = from.post(
        "/account/app-transfers",
        json!({"app": app, "recipient": recipient}),
    );
    assert_eq!(offered.status, 201, "{}", offered.text);
    let id = offered.body["id"].as_str().unwrap().to_string();
    if let Some(to) = to {
        let accepted = to.patch(
            &format!("/account/app-transfers/{id}"),
            json!({"state": "accepted"}),
        );
        assert_eq!(accepted.status, 200, "{}", accepted.text);
    }
    id
}

/// demo-app: owned by alice, who got it back from dave (so dave is the
/// previous owner, still a collaborator); shared with bob and frank (no
/// account), once with carol; config, formation, a free and a paid add-on.
/// other-app: alice's, with a pending transfer to bob. erin is a stranger.
fn fixture() -> Fixture {
    let cast = Cast::start();
    let dave = cast.server.create_key_only_user("dave@example.com");
    let dave_api = cast.server.api(&dave);
    cast.share("demo-app", "dave@example.com");
    transfer(
        &cast.alice(),
        Some(&dave_api),
        "demo-app",
        "dave@example.com",
    );
    transfer(
        &dave_api,
        Some(&cast.alice()),
        "demo-app",
        "alice@example.com",
    );
    for email in ["bob@example.com", "carol@example.com", "frank@example.com"] {
        cast.share("demo-app", email);
    }
    let removed = cast
        .alice()
        .delete("/apps/demo-app/collaborators/carol@example.com");
    assert_eq!(removed.status, 200);

    let alice = cast.alice();
    assert_eq!(
        alice
            .patch("/apps/demo-app/config-vars", json!({"A": "1"}))
            .status,
        200
    );
    let scaled = alice.patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "web", "quantity": 1}]}),
    );
    assert_eq!(scaled.status, 200);
    for (plan, name) in [
        ("postgresql:mini", "free-db"),
        ("postgresql:essential-0", "paid-db"),
    ] {
        let created = alice.post("/apps/demo-app/addons", json!({"plan": plan, "name": name}));
        assert_eq!(created.status, 201, "{}", created.text);
    }
    cast.create_app(&cast.alice, "other-app");
    cast.share("other-app", "bob@example.com");
    let transfer = transfer(&alice, None, "other-app", "bob@example.com");
    let invoices = alice.get("/account/invoices");
    let invoice = invoices.body[0]["number"].to_string();
    Fixture {
        cast,
        dave,
        transfer,
        invoice,
    }
}

fn caller(f: &Fixture, role: Role) -> Api {
    match role {
        Role::Owner => f.cast.alice(),
        Role::Collaborator => f.cast.bob(),
        Role::Removed => f.cast.carol(),
        Role::Stranger => f.cast.erin(),
        Role::Anonymous => f.cast.server.anonymous(),
        Role::PreviousOwner => f.cast.server.api(&f.dave),
    }
}

fn path_for(f: &Fixture, template: &str, app: &str) -> String {
    let mut path = template
        .replace("{app}", app)
        .replace("{transfer}", &f.transfer)
        .replace("{invoice}", &f.invoice);
    if path.contains("{alice-key}") {
        let keys = f.cast.alice().get("/oauth/authorizations");
        path = path.replace("{alice-key}", keys.body[0]["id"].as_str().unwrap());
    }
    path
}

fn call(api: &Api, method: &str, path: &str, body: &Option<Value>) -> Resp {
    let request = api.request(method, path);
    match body {
        Some(body) => api.send(request.json(body)),
        None => api.send(request),
    }
}

fn check(resp: &Resp, want: &Want, what: &str) {
    match want {
        Want::Ok(status) => {
            assert_eq!(resp.status, *status, "{what}: {}", resp.text);
            assert!(!resp.body.is_null(), "{what}: not JSON: {}", resp.text);
        }
        Want::Page(status) => assert_eq!(resp.status, *status, "{what}: {}", resp.text),
        Want::Refused(status, id, message) => {
            assert_eq!(resp.status, *status, "{what}: {}", resp.text);
            assert_eq!(resp.id(), *id, "{what}: {}", resp.text);
            assert!(
                resp.message().contains(message.as_str()),
                "{what}: message {:?} lacks {message:?}",
                resp.message()
            );
        }
    }
}

#[test]
fn every_endpoint_answers_every_role_including_the_previous_owner() {
    let shared = fixture();
    let mut cells = 0;
    for row in rows() {
        for (role, want) in ROLES.iter().zip(&row.want) {
            let what = format!("{role:?} {} {}", row.method, row.path);
            let changes = row.changes && matches!(want, Want::Ok(_));
            let fresh;
            let f = if changes {
                fresh = fixture();
                &fresh
            } else {
                &shared
            };
            let path = path_for(f, row.path, "demo-app");
            let before = f.cast.server.snapshot();

            let resp = call(&caller(f, *role), row.method, &path, &row.body);

            check(&resp, want, &what);
            let after = f.cast.server.snapshot();
            if changes {
                assert_ne!(before, after, "{what} succeeded but changed nothing");
            } else {
                assert_unchanged(&before, &after, &what);
            }
            cells += 1;
        }
    }
    assert_eq!(cells, rows().len() * ROLES.len());
}

#[test]
fn an_unknown_app_is_not_found_for_every_signed_in_role() {
    let f = fixture();
    let before = f.cast.server.snapshot();
    for row in rows().iter().filter(|r| r.path.contains("{app}")) {
        for role in ROLES {
            let what = format!("{role:?} {} {} on no-such-app", row.method, row.path);
            let path = path_for(&f, row.path, "no-such-app");
            let resp = call(&caller(&f, role), row.method, &path, &row.body);
            let want = match role {
                Role::Anonymous => anonymous(),
                _ => not_found("Couldn't find that app."),
            };
            check(&resp, &want, &what);
        }
    }
    assert_unchanged(&before, &f.cast.server.snapshot(), "calls on no-such-app");
}

/// Every `(method, route)` the router lists, read from its source.
fn routes_in_router() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs"))
        .expect("read src/api/mod.rs");
    let mut routes = BTreeSet::new();
    for chunk in source.split(".route(").skip(1) {
        // The call's arguments end at the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = chunk
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap_or(chunk.len());
        let args = &chunk[..end];
        let path = args.split('"').nth(1).expect("a route path literal");
        for method in ["get", "post", "patch", "delete", "put"] {
            let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0 || !args[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            });
            if called {
                routes.insert((method.to_ascii_uppercase(), path.to_string()));
            }
        }
    }
    routes
}

#[test]
fn every_route_has_a_row() {
    // Git's endpoints answer in git's terms (text that git shows, not JSON);
    // tests/git_remote.rs covers who may use them.
    let routes: BTreeSet<_> = routes_in_router()
        .into_iter()
        .filter(|(_, path)| !path.starts_with("/{repo}/") && !path.starts_with("/internal/"))
        .collect();
    assert!(routes.len() >= 40, "the route reader found only {routes:?}");
    let covered: BTreeSet<(String, String)> = rows()
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    let missing: Vec<_> = routes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a row in tests/permissions_full.rs: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "rows for endpoints the router does not have: {stale:?}"
    );
}
