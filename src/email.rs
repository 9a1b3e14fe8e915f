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
    let valid_domain = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid_local || !valid_domain {
        return Err(format!("{email:?} is not a valid email address"));
    }
    Ok(email.to_ascii_lowercase())
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
            "a\r\nBcc: x@y.com@example.com",
            "ünï@example.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(310));
        assert!(normalize(&long).unwrap_err().contains("limit"));
    }
}
