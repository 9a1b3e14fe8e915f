//! `Procfile`: one `type: command` line per process type.

use std::collections::BTreeMap;

/// Parses a Procfile; the error names the line that is wrong.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut types = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry = line.split_once(':').and_then(|(name, command)| {
            let (name, command) = (name.trim(), command.trim());
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            (name_ok && !command.is_empty()).then(|| (name.to_string(), command.to_string()))
        });
        match entry {
            Some((name, command)) => {
                types.insert(name, command);
            }
            None => {
                return Err(format!(
                    "Procfile line {} is not `type: command`: {line}",
                    index + 1
                ))
            }
        }
    }
    Ok(types)
}

/// The `default_process_types` of a buildpack's `bin/release` output (YAML,
/// of which only this one flat mapping is read).
pub fn release_defaults(yaml: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    let mut inside = false;
    for line in yaml.lines() {
        if !line.starts_with([' ', '\t']) {
            inside = line.trim_end() == "default_process_types:";
            continue;
        }
        if let (true, Some((name, command))) = (inside, line.trim().split_once(':')) {
            let command = command.trim().trim_matches(|c| c == '"' || c == '\'');
            if !name.trim().is_empty() && !command.is_empty() {
                types.insert(name.trim().to_string(), command.to_string());
            }
        }
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_and_skips_comments() {
        let types =
            parse("# processes\nweb: ./server --port $PORT\n\nworker:  run-jobs\n").unwrap();
        assert_eq!(types["web"], "./server --port $PORT");
        assert_eq!(types["worker"], "run-jobs");
    }

    #[test]
    fn a_bad_line_is_named() {
        let error = parse("web: ok\nthis is not a process\n").unwrap_err();
        assert!(error.contains("line 2"), "{error}");
        assert!(parse("web:\n").is_err());
        assert!(parse("we b: x\n").is_err());
    }

    #[test]
    fn reads_release_defaults() {
        let yaml = "---\naddons: []\ndefault_process_types:\n  web: \"bin/start\"\n  worker: jobs\nconfig_vars: {}\n";
        let types = release_defaults(yaml);
        assert_eq!(types["web"], "bin/start");
        assert_eq!(types["worker"], "jobs");
        assert_eq!(types.len(), 2);
    }
}
