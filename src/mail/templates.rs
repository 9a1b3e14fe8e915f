//! The messages Slipway sends, one function per template. Each returns the
//! subject, the plain-text body and an HTML alternative. Names and addresses in
//! them were validated before (app names and canonical emails carry no line
//! breaks); the HTML part escapes everything it shows all the same.

pub struct Rendered {
    pub template: &'static str,
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
}

pub struct AppLinks<'a> {
    pub app: &'a str,
    pub web_url: &'a str,
    pub git_url: &'a str,
}

/// An invitation's sign-up link and its deadline, as shown to the invitee.
pub struct SignupLink<'a> {
    pub url: &'a str,
    pub expires: &'a str,
}

fn getting_started(links: &AppLinks<'_>) -> String {
    format!(
        "  Web URL: {web}\n  Git URL: {git}\n\n\
         To get started, clone the app:\n\n    slipway git:clone -a {app}\n\n\
         or, in a checkout you already have, add its remote and deploy:\n\n    \
         slipway git:remote -a {app}\n    git push slipway main\n",
        web = links.web_url,
        git = links.git_url,
        app = links.app,
    )
}

fn getting_started_html(links: &AppLinks<'_>) -> String {
    format!(
        "<p>Web URL: <a href=\"{web}\">{web}</a><br>Git URL: <code>{git}</code></p>\
         <p>To get started, clone the app:</p><pre>slipway git:clone -a {app}</pre>\
         <p>or, in a checkout you already have, add its remote and deploy:</p>\
         <pre>slipway git:remote -a {app}\ngit push slipway main</pre>",
        web = escape(links.web_url),
        git = escape(links.git_url),
        app = escape(links.app),
    )
}

pub fn access_granted(links: &AppLinks<'_>, shared_by: &str) -> Rendered {
    Rendered {
        template: "access_granted",
        subject: format!("{shared_by} gave you access to {}", links.app),
        body: format!(
            "{shared_by} added you as a collaborator on {app}.\n\n{start}\n\
             You can deploy, configure and scale {app}. Adding or removing paid add-ons, \
             renaming or deleting the app and seeing its invoices stay with its owner.\n",
            app = links.app,
            start = getting_started(links),
        ),
        html: Some(page(&format!(
            "<p>{by} added you as a collaborator on <b>{app}</b>.</p>{start}\
             <p>You can deploy, configure and scale {app}. Adding or removing paid add-ons, \
             renaming or deleting the app and seeing its invoices stay with its owner.</p>",
            by = escape(shared_by),
            app = escape(links.app),
            start = getting_started_html(links),
        ))),
    }
}

pub fn invitation(links: &AppLinks<'_>, shared_by: &str, signup: &SignupLink<'_>) -> Rendered {
    Rendered {
        template: "invitation",
        subject: format!("{shared_by} invited you to collaborate on {}", links.app),
        body: format!(
            "{shared_by} invited you to collaborate on {app} on Slipway.\n\n\
             You do not have a Slipway account yet. Choose a password here to create it:\n\n\
             \x20   {url}\n\n\
             or in a terminal:\n\n    slipway signup --invitation {url}\n\n\
             The link works once and expires on {expires}.\n\n\
             Once you have signed up:\n\n{start}",
            app = links.app,
            url = signup.url,
            expires = signup.expires,
            start = getting_started(links),
        ),
        html: Some(page(&format!(
            "<p>{by} invited you to collaborate on <b>{app}</b> on Slipway.</p>\
             <p>You do not have a Slipway account yet. \
             <a href=\"{url}\">Choose a password to create it</a>, or in a terminal:</p>\
             <pre>slipway signup --invitation {url}</pre>\
             <p>The link works once and expires on {expires}.</p>\
             <p>Once you have signed up:</p>{start}",
            by = escape(shared_by),
            app = escape(links.app),
            url = escape(signup.url),
            expires = escape(signup.expires),
            start = getting_started_html(links),
        ))),
    }
}

/// The one notice that access ended; for an invitee who had not signed up
/// yet, that their invitation (and its link) was cancelled.
pub fn access_removed(app: &str, removed_by: &str, was_invitation: bool) -> Rendered {
    let (subject, body) = if was_invitation {
        (
            format!("Your invitation to {app} was cancelled"),
            format!(
                "{removed_by} cancelled your invitation to collaborate on {app}; \
                 its sign-up link no longer works.\n\n\
                 If this is a mistake, ask them to invite you again.\n"
            ),
        )
    } else {
        (
            format!("Your access to {app} was removed"),
            format!(
                "{removed_by} removed you from the collaborators of {app}.\n\n\
                 You can no longer deploy or change {app}. If this is a mistake, ask its owner \
                 to add you again.\n"
            ),
        )
    };
    Rendered {
        template: "access_removed",
        subject,
        body,
        html: None,
    }
}

fn page(inner: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family: sans-serif\">{inner}</body></html>"
    )
}

/// Escapes text for HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn transfer_requested(app: &str, owner: &str, transfer_id: &str) -> Rendered {
    Rendered {
        template: "transfer_requested",
        subject: format!("{owner} wants to transfer {app} to you"),
        body: format!(
            "{owner} asked to make you the owner of {app}.\n\n\
             As its owner you would pay for its paid add-ons from the moment you accept, \
             and {owner} would stay on as a collaborator.\n\n\
             To accept:\n\n    slipway apps:transfer:accept {transfer_id}\n\n\
             To decline:\n\n    slipway apps:transfer:decline {transfer_id}\n\n\
             Nothing changes until you answer.\n"
        ),
        html: None,
    }
}

pub fn transfer_answered(app: &str, recipient: &str, accepted: bool) -> Rendered {
    let (verb, outcome) = if accepted {
        (
            "accepted",
            format!("{recipient} now owns {app}; you stay on as a collaborator."),
        )
    } else {
        ("declined", format!("You still own {app}."))
    };
    Rendered {
        template: if accepted {
            "transfer_accepted"
        } else {
            "transfer_declined"
        },
        subject: format!("{recipient} {verb} the transfer of {app}"),
        body: format!("{recipient} {verb} your transfer of {app}.\n\n{outcome}\n"),
        html: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let links = AppLinks {
            app: "demo-app",
            web_url: "http://demo-app.localhost:8080/",
            git_url: "http://h/demo-app.git",
        };
        let signup = SignupLink {
            url: "http://h/invitations/t<x>",
            expires: "2026-12-11T00:00:00Z",
        };
        let mail = invitation(&links, "a&b@example.com", &signup);
        let html = mail.html.unwrap();
        assert!(html.contains("a&amp;b@example.com") && html.contains("t&lt;x&gt;"));
        assert!(mail
            .body
            .contains("slipway signup --invitation http://h/invitations/t<x>"));
    }
}
