//! Printing helpers shared by the commands.

use serde_json::Value;

pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `1536` -> `1.5 KB`, as `info` shows sizes.
pub fn human_size(bytes: Option<i64>) -> String {
    let Some(bytes) = bytes else {
        return "0 B".to_string();
    };
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{value:.0} {}", units[unit])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// Prints `Label:` lines with values aligned, continuation lines indented.
pub fn print_fields(fields: &[(&str, Vec<String>)]) {
    let width = fields
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0)
        + 2;
    for (label, values) in fields {
        let mut values = values.iter();
        let first = values.next().map(String::as_str).unwrap_or("");
        println!("{:<width$}{first}", format!("{label}:"));
        for more in values {
            println!("{:<width$}{more}", "");
        }
    }
}

pub fn str_field<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut current = value;
    for key in path {
        current = &current[*key];
    }
    current.as_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_like_info_shows_them() {
        assert_eq!(human_size(None), "0 B");
        assert_eq!(human_size(Some(512)), "512 B");
        assert_eq!(human_size(Some(1536)), "1.5 KB");
        assert_eq!(human_size(Some(50 * 1024 * 1024)), "50 MB");
    }
}
