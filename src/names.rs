//! App names: the rule they follow and readable names for apps created without one.

use rand::seq::SliceRandom;
use rand::Rng;

/// Checks `^[a-z][a-z0-9-]{1,28}[a-z0-9]$`; the error names the rule that
/// failed, and the name meant when only case or stray spaces are wrong.
pub fn validate_app_name(name: &str) -> Result<(), String> {
    check_app_name(name).map_err(|rule| {
        let meant = name.trim().to_ascii_lowercase();
        if meant != name && check_app_name(&meant).is_ok() {
            format!("{rule} (did you mean {meant:?}?)")
        } else {
            rule
        }
    })
}

fn check_app_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=30).contains(&len) {
        return Err(format!(
            "Name {name:?} must be between 3 and 30 characters long"
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or(' ');
    if !first.is_ascii_lowercase() {
        return Err(format!("Name {name:?} must start with a lowercase letter"));
    }
    if name.ends_with('-') {
        return Err(format!("Name {name:?} must end with a letter or digit"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "Name {name:?} may only contain lowercase letters, digits and dashes"
        ));
    }
    Ok(())
}

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "cosmic", "crisp", "dapper", "eager", "fancy", "gentle",
    "glad", "golden", "happy", "hidden", "jolly", "keen", "lively", "lucky", "mellow", "misty",
    "nimble", "polar", "quiet", "rapid", "shiny", "silent", "sunny", "swift", "tidy", "vast",
];
const NOUNS: &[&str] = &[
    "anchor", "beacon", "brook", "canyon", "cedar", "comet", "dawn", "delta", "ember", "falcon",
    "fjord", "forest", "harbor", "island", "lagoon", "meadow", "mesa", "orbit", "otter", "peak",
    "pine", "prairie", "reef", "river", "sail", "shore", "spruce", "summit", "tide", "willow",
];

/// A readable candidate name such as `calm-harbor-4821`.
pub fn generate_app_name() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}-{}-{:04}",
        ADJECTIVES.choose(&mut rng).unwrap_or(&"calm"),
        NOUNS.choose(&mut rng).unwrap_or(&"harbor"),
        rng.gen_range(0..10_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_name_meant_when_only_case_or_spaces_are_wrong() {
        let error = validate_app_name("Demo-App").unwrap_err();
        assert!(
            error.contains("must start with a lowercase letter"),
            "{error}"
        );
        assert!(error.ends_with("(did you mean \"demo-app\"?)"), "{error}");
        let error = validate_app_name(" spaced-app ").unwrap_err();
        assert!(error.ends_with("(did you mean \"spaced-app\"?)"), "{error}");
        let error = validate_app_name("demo_app").unwrap_err();
        assert!(!error.contains("did you mean"), "{error}");
    }

    #[test]
    fn accepts_valid_names() {
        for good in ["abc", "demo-app", "a1-b2", &"a".repeat(30)] {
            assert!(validate_app_name(good).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn refuses_invalid_names_with_the_rule() {
        assert!(validate_app_name("ab")
            .unwrap_err()
            .contains("between 3 and 30"));
        assert!(validate_app_name(&"a".repeat(31))
            .unwrap_err()
            .contains("between"));
        assert!(validate_app_name("1abc")
            .unwrap_err()
            .contains("start with"));
        assert!(validate_app_name("abc-").unwrap_err().contains("end with"));
        assert!(validate_app_name("Demo")
            .unwrap_err()
            .contains("start with"));
        for bad in [
            "../demo-app",
            "a%2Fb",
            "demo-app/..",
            "dem.o",
            "demo_app",
            "démo",
        ] {
            assert!(validate_app_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn generated_names_are_valid() {
        for _ in 0..100 {
            let name = generate_app_name();
            assert!(validate_app_name(&name).is_ok(), "{name}");
        }
    }
}
