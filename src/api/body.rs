//! Request bodies: size-capped before parsing, strict about unknown fields,
//! and every failure a 4xx `{id, message}` that names the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

/// Largest JSON body the API reads.
pub const MAX_JSON_BODY: usize = 256 * 1024;

/// A request body type: its fields, so unknown ones can be refused by name.
pub trait Params: DeserializeOwned {
    const FIELDS: &'static [&'static str];
}

/// A parsed JSON body. An empty body counts as `{}`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: Params> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_capped(req).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A size-capped body not yet parsed, for handlers that must authorise the
/// caller before judging what they sent (owner-only changes).
pub struct UnparsedBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for UnparsedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        read_capped(req).await.map(UnparsedBody)
    }
}

impl UnparsedBody {
    pub fn parse<T: Params>(&self) -> Result<T, ApiError> {
        parse(&self.0)
    }
}

/// A body that must be a JSON object with free-form keys (config vars).
pub struct JsonObject(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_capped(req).await?;
        match parse_value(&bytes)? {
            Value::Object(fields) => Ok(JsonObject(fields)),
            _ => Err(ApiError::invalid_params(
                "Request body must be a JSON object.",
            )),
        }
    }
}

fn parse_value(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    if value.is_object() {
        refuse_duplicate_keys(bytes)?;
    }
    Ok(value)
}

/// A key given twice is ambiguous (parsers disagree on which one wins), so it
/// is refused rather than silently resolved.
fn refuse_duplicate_keys(bytes: &Bytes) -> Result<(), ApiError> {
    let TopLevelKeys(keys) = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut repeated: Vec<&str> = keys
        .iter()
        .filter(|key| !seen.insert(key.as_str()))
        .map(String::as_str)
        .collect();
    repeated.dedup();
    if repeated.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_params(format!(
            "Params given more than once: {}",
            repeated.join(", ")
        )))
    }
}

/// The keys of a JSON object in the order written, repeats included.
struct TopLevelKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopLevelKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;

        impl<'de> serde::de::Visitor<'de> for KeysVisitor {
            type Value = TopLevelKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(TopLevelKeys(keys))
            }
        }

        deserializer.deserialize_map(KeysVisitor)
    }
}

/// How much of an oversized body is read and thrown away before answering.
/// A client still sending when the server closes the connection sees a reset
/// instead of the 413; reading a bounded rest lets ordinary clients get the
/// answer, without letting anyone make the server read without end.
const MAX_DISCARDED: usize = 8 * 1024 * 1024;

/// Reads the body, refusing (413) one larger than [`MAX_JSON_BODY`] without
/// keeping more than that in memory.
async fn read_capped(req: Request) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("Request body is larger than {} KB.", MAX_JSON_BODY / 1024),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_DISCARDED) {
        return Err(too_large());
    }

    let mut stream = req.into_body().into_data_stream();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("Cannot read body: {e}")))?;
        total = total.saturating_add(chunk.len());
        if total <= MAX_JSON_BODY {
            kept.extend_from_slice(&chunk);
        } else if total > MAX_DISCARDED {
            break;
        }
    }
    if total > MAX_JSON_BODY {
        return Err(too_large());
    }
    Ok(Bytes::from(kept))
}

pub fn parse<T: Params>(bytes: &Bytes) -> Result<T, ApiError> {
    let value = parse_value(bytes)?;
    let Value::Object(fields) = &value else {
        return Err(ApiError::invalid_params(
            "Request body must be a JSON object.",
        ));
    };
    let unknown: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|key| !T::FIELDS.contains(key))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid_params(format!(
            "Unknown params: {}",
            unknown.join(", ")
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let inner = inner.split(" at line").next().unwrap_or_default();
        ApiError::invalid_params(format!("Invalid param {path}: {inner}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Sample {
        user: String,
        #[serde(default)]
        silent: bool,
    }
    impl Params for Sample {
        const FIELDS: &'static [&'static str] = &["user", "silent"];
    }

    fn try_parse(body: &str) -> Result<Sample, ApiError> {
        parse(&Bytes::from(body.to_string()))
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(try_parse("{").unwrap_err().status, StatusCode::BAD_REQUEST);
        let unknown = try_parse(r#"{"user":"a","permissions":["deploy"]}"#).unwrap_err();
        assert_eq!(unknown.message, "Unknown params: permissions");
        let missing = try_parse("{}").unwrap_err();
        assert!(missing.message.contains("user"), "{}", missing.message);
        let wrong = try_parse(r#"{"user":["x"]}"#).unwrap_err();
        assert!(wrong.message.contains("user"), "{}", wrong.message);
        assert_eq!(
            try_parse("[1]").unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert!(!try_parse(r#"{"user":"a"}"#).unwrap().silent);
        let twice = try_parse(r#"{"user":"a","silent":true,"user":"b","user":"c"}"#).unwrap_err();
        assert_eq!(twice.message, "Params given more than once: user");
        // Repeats inside nested values are the nested value's business.
        assert!(parse_value(&Bytes::from(r#"{"a":{"b":1,"b":2}}"#)).is_ok());
    }
}
