//! The few HTML pages of signing up from an invitation. Everything shown is
//! escaped; the pages load nothing from elsewhere and keep the token out of
//! referrers and caches.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::mail::templates::escape;

const STYLE: &str = "body{font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em}\
     label{display:block;margin-top:1em}input{font-size:1em;padding:.3em;width:100%}\
     button{margin-top:1.5em;font-size:1em;padding:.4em 1.2em}.error{color:#a00}";

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Slipway</title><style>{STYLE}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    response
}

/// The form to choose a password for the invited address.
pub fn form(
    status: StatusCode,
    email: &str,
    app: &str,
    invited_by: &str,
    expires: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<p>{by} invited you to collaborate on <b>{app}</b>.</p>\
         <p>Choose a password for your Slipway account <b>{email}</b>. \
         This link works once and expires on {expires}.</p>{error}\
         <form method=\"post\">\
         <label>Email <input name=\"email\" value=\"{email}\" readonly></label>\
         <label>Password <input type=\"password\" name=\"password\" minlength=\"{min}\" \
         required autocomplete=\"new-password\"></label>\
         <label>Password again <input type=\"password\" name=\"password_confirmation\" \
         required autocomplete=\"new-password\"></label>\
         <button type=\"submit\">Create my account</button></form>",
        by = escape(invited_by),
        app = escape(app),
        email = escape(email),
        expires = escape(expires),
        min = crate::secrets::MIN_PASSWORD_LEN,
    );
    html(status, "Join Slipway", &body)
}

/// After signing up: how to go on from the terminal.
pub fn welcome(email: &str, public_url: &str) -> Response {
    let body = format!(
        "<p>Your account <b>{email}</b> is ready, with access to the apps you were invited to.</p>\
         <p>In a terminal:</p><pre>export SLIPWAY_API_URL={url}\nslipway login\nslipway apps</pre>",
        email = escape(email),
        url = escape(public_url),
    );
    html(StatusCode::CREATED, "Welcome to Slipway", &body)
}

/// A page that says why the link cannot be used.
pub fn problem(status: StatusCode, message: &str) -> Response {
    let body = format!("<p class=\"error\">{}</p>", escape(message));
    html(status, "Invitation not usable", &body)
}
