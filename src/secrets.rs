//! Passwords, API keys and other secrets: how they are made, stored and checked.
//!
//! Passwords are hashed with Argon2id. API keys and tokens are long random
//! strings, so a SHA-256 digest is enough to store them and lets the store
//! index them; digests are compared in constant time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest password accepted anywhere.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted; Argon2 cost must not depend on attacker input.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A fresh random token, 32 bytes as hex, with a prefix that makes leaked
/// Slipway keys easy to recognise.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A hash of a random password, made once: checked when a login names no
/// usable account, so that such a login costs what a real one does.
pub fn stand_in_password_hash() -> &'static str {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STAND_IN.get_or_init(|| {
        hash_password(&new_token("stand-in-")).expect("argon2 hashes a generated password")
    })
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks a new password against the length rules; the error says which failed.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("password must be at most {MAX_PASSWORD_LEN} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        // The stand-in is a real argon2 hash (so checking it costs as much),
        // made once, of a password nobody knows.
        let stand_in = stand_in_password_hash();
        assert!(PasswordHash::new(stand_in).is_ok());
        assert!(std::ptr::eq(stand_in, stand_in_password_hash()));
        assert!(!verify_password("", stand_in));
    }

    #[test]
    fn tokens_are_unique_and_digests_stable() {
        let a = new_token("slw_");
        let b = new_token("slw_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(digests_match(&token_digest(&a), &token_digest(&a)));
        assert!(!digests_match(&token_digest(&a), &token_digest(&b)));
    }

    #[test]
    fn password_rules() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough").is_ok());
        assert!(check_new_password(&"x".repeat(2000)).is_err());
    }
}
