//! Email addresses as Slipway stores them: trimmed and lower-case, so that one
//! person is one account whatever case or stray whitespace was typed.

/// Longest address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Trims, lower-cases and checks an address; the error says what is wrong.
pub fn normalize(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    if email.is_empty() {
        return Err("email address is empty".into());
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(format!(
            "email address is {} characters long; the limit is {MAX_EMAIL_LEN}",
            email.len()
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{:?} contains whitespace", email));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(format!("{email:?} is not an email address (no @)"));
    };
    let valid_local = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if !valid_local || !valid_domain(domain) {
        return Err(format!("{email:?} is not a valid email address"));
    }
    Ok(email.to_ascii_lowercase())
}

/// A host name that mail can be delivered to: dot-separated labels of
/// letters, digits and inner hyphens, ending in a top-level label of at
/// least two characters that is not all digits (so no bare IP addresses).
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let top = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && top.len() >= 2
        && !top.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            normalize("  Bob.Smith@Example.COM\t").unwrap(),
            "bob.smith@example.com"
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "   ",
            "not-an-email",
            "carol @example.com",
            "a@b",
            "a@@b.com",
            "a@b..com",
            "x@-example.com",
            "x@example-.com",
            "a@b.c",
            "a@10.0.0.1",
            ".@.example.com",
            "a\r\nBcc: x@y.com@example.com",
            "ünï@example.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "a@b.co",
            "x@mail.test",
            "y@xn--bcher-kva.example",
            "z@a-b.example.com",
        ] {
            assert!(normalize(good).is_ok(), "{good:?} refused");
        }
        let long = format!("{}@example.com", "a".repeat(310));
        assert!(normalize(&long).unwrap_err().contains("limit"));
    }
}
