//! Who may call what: every endpoint against every kind of caller, over HTTP,
//! asserting the status and the error body, and that a refused call changed
//! nothing in the store.
//!
//! Each row of [`rows`] is one request and what each role gets. Later
//! endpoints add rows; `{app}` in a path stands for demo-app (and is also
//! tried with an app that does not exist), `{alice-key}` for the id of
//! alice's API key.

mod common;

use common::cast::Cast;
use common::inspect::assert_unchanged;
use common::{Api, Resp};
use serde_json::{json, Value};

/// The callers every row is tried with, in the order of [`Row::want`].
#[derive(Debug, Clone, Copy)]
enum Role {
    Owner,
    Collaborator,
    Removed,
    Stranger,
    Anonymous,
}

const ROLES: [Role; 5] = [
    Role::Owner,
    Role::Collaborator,
    Role::Removed,
    Role::Stranger,
    Role::Anonymous,
];

/// What a caller gets: a success status, or an error status, id and a part
/// of the message.
#[derive(Debug, Clone)]
enum Want {
    Ok(u16),
    Refused(u16, &'static str, String),
}

fn ok(status: u16) -> Want {
    Want::Ok(status)
}

/// 403 for someone with no link to an existing app; the message names it.
fn no_access() -> Want {
    Want::Refused(
        403,
        "forbidden",
        "You do not have access to the app demo-app.".into(),
    )
}

/// 403 for a collaborator asking for an owner-only action; the message
/// names the action and the owner.
fn owner_only(action: &str) -> Want {
    Want::Refused(
        403,
        "forbidden",
        format!("Only the owner of demo-app (alice@example.com) can {action}."),
    )
}

fn anonymous() -> Want {
    Want::Refused(401, "unauthorized", "No credentials provided".into())
}

fn invalid(message: &str) -> Want {
    Want::Refused(422, "invalid_params", message.into())
}

fn not_found(message: &str) -> Want {
    Want::Refused(404, "not_found", message.into())
}

struct Row {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    /// Owner, collaborator, removed collaborator, stranger, anonymous.
    want: [Want; 5],
}

fn row(method: &'static str, path: &'static str, body: Option<Value>, want: [Want; 5]) -> Row {
    Row {
        method,
        path,
        body,
        want,
    }
}

/// The endpoints of accounts, apps and sharing.
fn rows() -> Vec<Row> {
    let anyone = || [ok(200), ok(200), ok(200), ok(200), anonymous()];
    let members = || [ok(200), ok(200), no_access(), no_access(), anonymous()];
    vec![
        row("GET", "/apps", None, anyone()),
        row(
            "POST",
            "/apps",
            Some(json!({ "name": "new-app" })),
            [ok(201), ok(201), ok(201), ok(201), anonymous()],
        ),
        row("GET", "/users/~/apps", None, anyone()),
        row("GET", "/apps/{app}", None, members()),
        row(
            "PATCH",
            "/apps/{app}",
            Some(json!({ "name": "renamed-app" })),
            [
                ok(200),
                owner_only("rename the app"),
                no_access(),
                no_access(),
                anonymous(),
            ],
        ),
        // The caller is authorised before the body is judged.
        row(
            "PATCH",
            "/apps/{app}",
            Some(json!({ "name": 5 })),
            [
                invalid("Invalid param name"),
                owner_only("rename the app"),
                no_access(),
                no_access(),
                anonymous(),
            ],
        ),
        row(
            "DELETE",
            "/apps/{app}",
            None,
            [
                ok(200),
                owner_only("delete the app"),
                no_access(),
                no_access(),
                anonymous(),
            ],
        ),
        row("GET", "/apps/{app}/collaborators", None, members()),
        row(
            "POST",
            "/apps/{app}/collaborators",
            Some(json!({ "user": "dave@example.com" })),
            [ok(201), ok(201), no_access(), no_access(), anonymous()],
        ),
        row(
            "POST",
            "/apps/{app}/collaborators",
            Some(json!({ "user": ["dave@example.com"] })),
            [
                invalid("Invalid param user"),
                invalid("Invalid param user"),
                no_access(),
                no_access(),
                anonymous(),
            ],
        ),
        row(
            "GET",
            "/apps/{app}/collaborators/bob@example.com",
            None,
            members(),
        ),
        row(
            "GET",
            "/apps/{app}/collaborators/alice@example.com",
            None,
            members(),
        ),
        // bob removing himself is leaving.
        row(
            "DELETE",
            "/apps/{app}/collaborators/bob@example.com",
            None,
            members(),
        ),
        // A collaborator may remove another collaborator.
        row(
            "DELETE",
            "/apps/{app}/collaborators/frank@example.com",
            None,
            members(),
        ),
        row("GET", "/apps/{app}/activity", None, members()),
        row("GET", "/account", None, anyone()),
        row(
            "POST",
            "/oauth/authorizations",
            Some(json!({ "description": "matrix" })),
            [ok(201), ok(201), ok(201), ok(201), anonymous()],
        ),
        row("GET", "/oauth/authorizations", None, anyone()),
        row(
            "GET",
            "/oauth/authorizations/{alice-key}",
            None,
            [
                ok(200),
                not_found("Couldn't find that authorization."),
                not_found("Couldn't find that authorization."),
                not_found("Couldn't find that authorization."),
                anonymous(),
            ],
        ),
        row(
            "DELETE",
            "/oauth/authorizations/{alice-key}",
            None,
            [
                ok(200),
                not_found("Couldn't find that authorization."),
                not_found("Couldn't find that authorization."),
                not_found("Couldn't find that authorization."),
                anonymous(),
            ],
        ),
        row(
            "DELETE",
            "/oauth/sessions/any",
            None,
            [
                not_found("Couldn't find that session."),
                not_found("Couldn't find that session."),
                not_found("Couldn't find that session."),
                not_found("Couldn't find that session."),
                anonymous(),
            ],
        ),
    ]
}

/// demo-app owned by alice, shared with bob and with frank (no account yet),
/// once shared with carol and no longer; erin is a stranger to it.
fn fixture() -> Cast {
    let cast = Cast::shared();
    cast.share("demo-app", "frank@example.com");
    let removed = cast
        .alice()
        .delete("/apps/demo-app/collaborators/carol@example.com");
    assert_eq!(removed.status, 200, "{}", removed.text);
    cast
}

fn caller(cast: &Cast, role: Role) -> Api {
    match role {
        Role::Owner => cast.alice(),
        Role::Collaborator => cast.bob(),
        Role::Removed => cast.carol(),
        Role::Stranger => cast.erin(),
        Role::Anonymous => cast.server.anonymous(),
    }
}

fn path_for(cast: &Cast, template: &str, app: &str) -> String {
    let mut path = template.replace("{app}", app);
    if path.contains("{alice-key}") {
        let keys = cast.alice().get("/oauth/authorizations");
        let id = keys.body[0]["id"].as_str().expect("alice has an API key");
        path = path.replace("{alice-key}", id);
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
            assert!(
                !resp.body.is_null(),
                "{what}: body is not JSON: {}",
                resp.text
            );
        }
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

/// A cell of the table: one row as one role.
struct Cell<'a> {
    row: &'a Row,
    role: Role,
    want: &'a Want,
}

impl Cell<'_> {
    /// A call that succeeds and is not a read changes the fixture.
    fn changes(&self) -> bool {
        matches!(self.want, Want::Ok(_)) && self.row.method != "GET"
    }

    /// Calls the endpoint and checks the answer, and that the store changed
    /// exactly when the call was meant to change it.
    fn check(&self, cast: &Cast) {
        let what = format!("{:?} {} {}", self.role, self.row.method, self.row.path);
        let path = path_for(cast, self.row.path, "demo-app");
        let before = cast.server.snapshot();

        let resp = call(
            &caller(cast, self.role),
            self.row.method,
            &path,
            &self.row.body,
        );

        check(&resp, self.want, &what);
        let after = cast.server.snapshot();
        if self.changes() {
            assert_ne!(before, after, "{what} succeeded but changed nothing");
        } else {
            assert_unchanged(&before, &after, &what);
        }
    }
}

fn cells(rows: &[Row]) -> Vec<Cell<'_>> {
    rows.iter()
        .flat_map(|row| {
            ROLES.iter().zip(&row.want).map(move |(role, want)| Cell {
                row,
                role: *role,
                want,
            })
        })
        .collect()
}

/// Calls that change nothing share one server: every refusal, every read.
#[test]
fn refusals_and_reads_answer_as_the_permission_table_says() {
    let rows = rows();
    let cast = fixture();
    let cells: Vec<Cell> = cells(&rows).into_iter().filter(|c| !c.changes()).collect();
    for cell in &cells {
        cell.check(&cast);
    }
    assert!(cells.len() >= 80, "only {} cells checked", cells.len());
}

/// Each change that succeeds gets a fresh server, since it alters the
/// fixture the next call relies on. Split by resource so they run side by side.
fn check_changes(paths: impl Fn(&str) -> bool) {
    let rows = rows();
    let mut checked = 0;
    for cell in cells(&rows)
        .iter()
        .filter(|c| c.changes() && paths(c.row.path))
    {
        cell.check(&fixture());
        checked += 1;
    }
    assert!(checked > 0, "no changes checked");
}

#[test]
fn changes_to_apps_are_allowed_as_the_permission_table_says() {
    check_changes(|path| path.starts_with("/apps") && !path.contains("/collaborators"));
}

#[test]
fn changes_to_collaborators_are_allowed_as_the_permission_table_says() {
    check_changes(|path| path.contains("/collaborators"));
}

#[test]
fn changes_to_accounts_and_keys_are_allowed_as_the_permission_table_says() {
    check_changes(|path| !path.starts_with("/apps"));
}

/// An app that does not exist is 404 for anyone signed in, and 401 for
/// anonymous callers, who learn nothing about which apps exist.
#[test]
fn an_unknown_app_is_not_found_for_every_signed_in_role() {
    let cast = fixture();
    let before = cast.server.snapshot();
    for row in rows().iter().filter(|row| row.path.contains("{app}")) {
        for role in ROLES {
            let what = format!("{role:?} {} {} on no-such-app", row.method, row.path);
            let path = path_for(&cast, row.path, "no-such-app");
            let resp = call(&caller(&cast, role), row.method, &path, &row.body);
            let want = match role {
                Role::Anonymous => anonymous(),
                _ => not_found("Couldn't find that app."),
            };
            check(&resp, &want, &what);
        }
    }
    assert_unchanged(&before, &cast.server.snapshot(), "calls on no-such-app");
}

/// An app can be named by its id as well as its name, with the same rules.
#[test]
fn apps_named_by_id_follow_the_same_rules() {
    let cast = fixture();
    let id = cast.alice().get("/apps/demo-app").body["id"]
        .as_str()
        .unwrap()
        .to_string();
    check(
        &cast.bob().get(&format!("/apps/{id}")),
        &ok(200),
        "bob by id",
    );
    check(
        &cast.erin().get(&format!("/apps/{id}")),
        &no_access(),
        "erin by id",
    );
    check(
        &cast.carol().get(&format!("/apps/{id}")),
        &no_access(),
        "carol by id",
    );
    let before = cast.server.snapshot();
    let rename = cast
        .bob()
        .patch(&format!("/apps/{id}"), json!({ "name": "x-app" }));
    check(&rename, &owner_only("rename the app"), "bob renames by id");
    assert_unchanged(&before, &cast.server.snapshot(), "bob's rename by id");
}

/// A wrong key is refused like a missing one, with a challenge.
#[test]
fn wrong_or_malformed_credentials_are_401() {
    let cast = fixture();
    let wrong = Api::new(&cast.server.url, Some("slw_not-a-real-key".into()));
    for path in ["/apps", "/account", "/apps/demo-app", "/apps/no-such-app"] {
        let resp = wrong.get(path);
        check(
            &resp,
            &Want::Refused(401, "unauthorized", String::new()),
            path,
        );
        assert!(resp.headers.contains_key("www-authenticate"), "{path}");
    }
    for header in ["Bearer", "Basic !!!", "Token abc", "Basic Og=="] {
        let resp = cast.server.anonymous().send(
            cast.server
                .anonymous()
                .request("GET", "/apps/demo-app")
                .header("Authorization", header),
        );
        check(
            &resp,
            &Want::Refused(401, "unauthorized", String::new()),
            header,
        );
    }
}

/// An API key is accepted as a Basic password with any user name, an email
/// included (as `~/.netrc` and git send it), on every endpoint.
#[test]
fn the_key_works_as_a_basic_password() {
    let cast = fixture();
    let anonymous = cast.server.anonymous();
    for user in ["", "bob@example.com", "git"] {
        for (method, path, status) in [
            ("GET", "/account", 200),
            ("GET", "/apps/demo-app", 200),
            ("POST", "/oauth/authorizations", 201),
        ] {
            let resp = anonymous.send(
                anonymous
                    .request(method, path)
                    .basic_auth(user, Some(&cast.bob))
                    .json(&json!({})),
            );
            assert_eq!(
                resp.status, status,
                "{user:?} {method} {path}: {}",
                resp.text
            );
        }
        let refused = anonymous.send(
            anonymous
                .request("GET", "/apps/demo-app")
                .basic_auth(user, Some(&cast.erin)),
        );
        check(&refused, &no_access(), "erin's key as a Basic password");
    }
}
