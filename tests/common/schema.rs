//! Checks API responses against Heroku's Platform API schema
//! (`shared/reference/heroku-platform-api.schema.json`, a JSON hyper-schema).
//!
//! A response is matched to the schema link with the same method and path
//! template; its body must then fit the link's target schema (or the
//! resource, or an array of it for `instances` links). Error bodies must be
//! `{id, message}` with strings.
//!
//! What "fit" means here:
//! - every property the schema lists for an object is present (Heroku's
//!   resources list no `required`, and its API sends every property), unless
//!   the object names its own `required`;
//! - types, `enum`, and the formats `uuid`, `date-time`, `date`, `email`,
//!   `uri` are right;
//! - `anyOf`/`oneOf` pass when one branch fits.
//!
//! Not checked: `pattern` (Heroku's pin values to its own host names, such
//! as `*.herokuapp.com`), and properties beyond the listed ones (additions
//! are allowed).

use std::path::PathBuf;

use serde_json::Value;

pub struct PlatformSchema {
    root: Value,
    links: Vec<Link>,
}

struct Link {
    resource: String,
    method: String,
    /// Path segments; None where the template takes any value.
    segments: Vec<Option<String>>,
    target: Value,
}

/// Where the schema is: `SLIPWAY_HEROKU_SCHEMA`, else the shared reference
/// folder beside the repository.
pub fn schema_path() -> PathBuf {
    match std::env::var_os("SLIPWAY_HEROKU_SCHEMA") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference/heroku-platform-api.schema.json"),
    }
}

impl PlatformSchema {
    pub fn load() -> PlatformSchema {
        let path = schema_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the Platform API schema {}: {e}",
                path.display()
            )
        });
        let root: Value = serde_json::from_str(&text).expect("the schema is JSON");
        let mut links = Vec::new();
        for (resource, definition) in root["definitions"].as_object().expect("definitions") {
            for link in definition["links"].as_array().into_iter().flatten() {
                links.push(Link::new(resource, link));
            }
        }
        PlatformSchema { root, links }
    }

    /// Validates one response. Ok(resource name) when it fits; Err(reasons)
    /// when it does not or when no documented endpoint has this path.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<String, String> {
        if status >= 400 {
            return check_error_body(body).map(|_| "error".to_string());
        }
        let link = self
            .find_link(method, path)
            .ok_or_else(|| format!("{method} {path} is not an endpoint of the Platform API"))?;
        let errors = self.check(&link.target, body);
        if errors.is_empty() {
            Ok(link.resource.clone())
        } else {
            Err(format!(
                "{method} {path} ({}): {}",
                link.resource,
                errors.join("; ")
            ))
        }
    }

    /// The resource whose link matches `method` and `path`.
    pub fn resource_of(&self, method: &str, path: &str) -> Option<&str> {
        self.find_link(method, path)
            .map(|link| link.resource.as_str())
    }

    /// The link whose template matches, preferring the most literal one
    /// (`/apps/{app}/dynos` over `/apps/{app}/{anything}`).
    fn find_link(&self, method: &str, path: &str) -> Option<&Link> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.links
            .iter()
            .filter(|link| link.method.eq_ignore_ascii_case(method))
            .filter(|link| link.matches(&segments))
            .max_by_key(|link| link.segments.iter().filter(|s| s.is_some()).count())
    }

    /// The reasons `value` does not fit `schema`; empty when it does.
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check_at(schema, value, "$", &mut errors, 0);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        for _ in 0..16 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return schema;
            };
            let pointer = reference.trim_start_matches('#');
            schema = self
                .root
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolvable $ref {reference}"));
        }
        panic!("$ref chain too long");
    }

    fn check_at(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
        depth: u32,
    ) {
        assert!(depth < 64, "schema recursion too deep at {at}");
        let schema = self.resolve(schema);

        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let fits = branches.iter().any(|branch| {
                    let mut branch_errors = Vec::new();
                    self.check_at(branch, value, at, &mut branch_errors, depth + 1);
                    branch_errors.is_empty()
                });
                if !fits {
                    errors.push(format!("{at}: {value} fits none of {key}"));
                    return;
                }
            }
        }
        if let Some(types) = schema.get("type") {
            if !type_fits(types, value) {
                errors.push(format!("{at}: {} is not of type {types}", short(value)));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !value.is_null() && !allowed.contains(value) {
                errors.push(format!("{at}: {} is not one of {allowed:?}", short(value)));
            }
        }
        if let (Some(format), Some(text)) =
            (schema.get("format").and_then(Value::as_str), value.as_str())
        {
            if !format_fits(format, text) {
                errors.push(format!("{at}: {text:?} is not a {format}"));
            }
        }
        if let (Some(properties), Some(object)) = (
            schema.get("properties").and_then(Value::as_object),
            value.as_object(),
        ) {
            let required: Vec<&str> = match schema.get("required").and_then(Value::as_array) {
                Some(list) => list.iter().filter_map(Value::as_str).collect(),
                None => properties.keys().map(String::as_str).collect(),
            };
            for name in required {
                if !object.contains_key(name) {
                    errors.push(format!("{at}.{name} is missing"));
                }
            }
            for (name, property) in properties {
                if let Some(field) = object.get(name) {
                    self.check_at(property, field, &format!("{at}.{name}"), errors, depth + 1);
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.check_at(items, item, &format!("{at}[{i}]"), errors, depth + 1);
            }
        }
    }
}

impl Link {
    fn new(resource: &str, link: &Value) -> Link {
        let href = link["href"].as_str().expect("link href");
        let segments = href
            .trim_matches('/')
            .split('/')
            .map(|s| (!s.contains('{')).then(|| s.to_string()))
            .collect();
        let resource_ref = serde_json::json!({ "$ref": format!("#/definitions/{resource}") });
        let target = match link.get("targetSchema") {
            Some(target) => target.clone(),
            None if link["rel"] == "instances" => {
                serde_json::json!({ "type": ["array"], "items": resource_ref })
            }
            None => resource_ref,
        };
        Link {
            resource: resource.to_string(),
            method: link["method"].as_str().unwrap_or("GET").to_string(),
            segments,
            target,
        }
    }

    fn matches(&self, path: &[&str]) -> bool {
        self.segments.len() == path.len()
            && self
                .segments
                .iter()
                .zip(path)
                .all(|(template, actual)| template.as_deref().is_none_or(|t| t == *actual))
    }
}

fn check_error_body(body: &Value) -> Result<(), String> {
    let id = body.get("id").and_then(Value::as_str);
    let message = body.get("message").and_then(Value::as_str);
    match (id, message) {
        (Some(id), Some(message)) if !id.is_empty() && !message.is_empty() => Ok(()),
        _ => Err(format!("error body is not {{id, message}}: {body}")),
    }
}

fn type_fits(types: &Value, value: &Value) -> bool {
    let names: Vec<&str> = match types {
        Value::String(name) => vec![name.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    names.iter().any(|name| match *name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    })
}

fn format_fits(format: &str, text: &str) -> bool {
    match format {
        "uuid" => uuid::Uuid::parse_str(text).is_ok() && text.len() == 36,
        "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        "email" => text.contains('@') && !text.contains(char::is_whitespace),
        "uri" => url::Url::parse(text).is_ok(),
        _ => true,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 80 {
        format!("{}...", &text[..80])
    } else {
        text
    }
}
