//! The cast of `CASES.md`: alice owns demo-app, bob and carol collaborate on
//! it, erin has an account and owns erin-app, frank has no account.

use serde_json::json;

use super::{Api, Server};

pub struct Cast {
    pub server: Server,
    pub alice: String,
    pub bob: String,
    pub carol: String,
    pub erin: String,
}

impl Cast {
    /// Accounts for alice, bob, carol and erin, with API keys but no
    /// passwords (quick to set up); demo-app and erin-app, not yet shared.
    pub fn start() -> Cast {
        Cast::start_with(|server, email| server.create_key_only_user(email))
    }

    /// As `start`, with passwords (`pw-<email>`) for those who log in.
    pub fn start_with_passwords() -> Cast {
        Cast::start_with(|server, email| server.create_user(email))
    }

    fn start_with(create: fn(&Server, &str) -> String) -> Cast {
        let server = Server::start();
        let cast = Cast {
            alice: create(&server, "alice@example.com"),
            bob: create(&server, "bob@example.com"),
            carol: create(&server, "carol@example.com"),
            erin: create(&server, "erin@example.com"),
            server,
        };
        cast.create_app(&cast.alice, "demo-app");
        cast.create_app(&cast.erin, "erin-app");
        cast
    }

    /// As `start`, with bob and carol added to demo-app (silently).
    pub fn shared() -> Cast {
        Cast::start().with_bob_and_carol()
    }

    /// Adds bob and carol to demo-app (silently).
    pub fn with_bob_and_carol(self) -> Cast {
        self.share("demo-app", "bob@example.com");
        self.share("demo-app", "carol@example.com");
        self
    }

    pub fn create_app(&self, key: &str, name: &str) {
        let created = self.server.api(key).post("/apps", json!({ "name": name }));
        assert_eq!(created.status, 201, "create {name}: {}", created.text);
    }

    /// alice adds `email` to `app` without a notification.
    pub fn share(&self, app: &str, email: &str) {
        let added = self.alice().post(
            &format!("/apps/{app}/collaborators"),
            json!({ "user": email, "silent": true }),
        );
        assert_eq!(added.status, 201, "add {email} to {app}: {}", added.text);
    }

    pub fn alice(&self) -> Api {
        self.server.api(&self.alice)
    }

    pub fn bob(&self) -> Api {
        self.server.api(&self.bob)
    }

    pub fn carol(&self) -> Api {
        self.server.api(&self.carol)
    }

    pub fn erin(&self) -> Api {
        self.server.api(&self.erin)
    }

    /// The emails listed by `GET /apps/{app}/collaborators`, as `who` sees them.
    pub fn collaborator_emails(&self, who: &Api, app: &str) -> Vec<String> {
        let list = who.get(&format!("/apps/{app}/collaborators"));
        assert_eq!(list.status, 200, "{}", list.text);
        list.body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["user"]["email"].as_str().unwrap().to_string())
            .collect()
    }
}
