//! The messages Slipway sends, one function per template. Each returns the
//! subject and the plain-text body; addresses and names in them have been
//! validated before (app names and canonical emails carry no line breaks).

pub struct Rendered {
    pub template: &'static str,
    pub subject: String,
    pub body: String,
}

pub struct AppLinks<'a> {
    pub app: &'a str,
    pub web_url: &'a str,
    pub git_url: &'a str,
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
    }
}

pub fn invitation(links: &AppLinks<'_>, shared_by: &str, signup_hint: &str) -> Rendered {
    Rendered {
        template: "invitation",
        subject: format!("{shared_by} invited you to collaborate on {}", links.app),
        body: format!(
            "{shared_by} invited you to collaborate on {app} on Slipway.\n\n\
             You do not have a Slipway account yet. {signup_hint}\n\n\
             Once you have signed up:\n\n{start}",
            app = links.app,
            start = getting_started(links),
        ),
    }
}

pub fn access_removed(app: &str, removed_by: &str) -> Rendered {
    Rendered {
        template: "access_removed",
        subject: format!("Your access to {app} was removed"),
        body: format!(
            "{removed_by} removed you from the collaborators of {app}.\n\n\
             You can no longer deploy or change {app}. If this is a mistake, ask its owner \
             to add you again.\n"
        ),
    }
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
    }
}
