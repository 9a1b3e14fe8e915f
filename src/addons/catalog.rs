//! The add-on catalog: services and their plans with a monthly price. A
//! default ships inside the binary; the operator may replace it with a file
//! of the same shape (`--addons-catalog`).

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

const DEFAULT_CATALOG: &str = include_str!("../../catalog/addons.json");

/// Highest monthly price a plan may carry, in cents (a guard against typos).
const MAX_PRICE_CENTS: i64 = 10_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    services: Vec<ServiceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    name: String,
    human_name: String,
    #[serde(default)]
    description: String,
    attachment_name: String,
    plans: Vec<PlanFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    name: String,
    human_name: String,
    price_cents: i64,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub human_name: String,
    pub description: String,
    /// The config var prefix the add-on is attached as (`DATABASE`).
    pub attachment_name: String,
    pub plans: Vec<Plan>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub service: String,
    /// The short name (`essential-0`); [`Plan::full_name`] adds the service.
    pub name: String,
    pub human_name: String,
    pub description: String,
    pub price_cents: i64,
}

impl Plan {
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service, self.name)
    }

    pub fn is_paid(&self) -> bool {
        self.price_cents > 0
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub services: Vec<Service>,
}

/// A stable id for a catalog entry, so that ids survive restarts and edits.
fn stable_id(kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("slipway-{kind}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

fn valid_name(name: &str) -> bool {
    (2..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_attachment_name(name: &str) -> bool {
    (1..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl Catalog {
    pub fn builtin() -> Catalog {
        Catalog::parse(DEFAULT_CATALOG).expect("the built-in add-on catalog is valid")
    }

    /// The file at `path`, or the built-in catalog when there is none.
    pub fn load(path: Option<&Path>) -> Result<Catalog, String> {
        match path {
            None => Ok(Catalog::builtin()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Catalog::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }

    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut services = Vec::new();
        for s in file.services {
            if !valid_name(&s.name) || services.iter().any(|o: &Service| o.name == s.name) {
                return Err(format!("service name {:?} is invalid or repeated", s.name));
            }
            if !valid_attachment_name(&s.attachment_name) {
                return Err(format!(
                    "attachment_name {:?} of {} must be upper case, like DATABASE",
                    s.attachment_name, s.name
                ));
            }
            if s.plans.is_empty() {
                return Err(format!("service {} has no plans", s.name));
            }
            let mut plans: Vec<Plan> = Vec::new();
            for p in s.plans {
                if !valid_name(&p.name) || plans.iter().any(|o| o.name == p.name) {
                    return Err(format!(
                        "plan name {:?} of {} is invalid or repeated",
                        p.name, s.name
                    ));
                }
                if !(0..=MAX_PRICE_CENTS).contains(&p.price_cents) {
                    return Err(format!(
                        "price_cents of {}:{} is out of range",
                        s.name, p.name
                    ));
                }
                plans.push(Plan {
                    id: stable_id("plan", &format!("{}:{}", s.name, p.name)),
                    service: s.name.clone(),
                    name: p.name,
                    human_name: p.human_name,
                    description: p.description,
                    price_cents: p.price_cents,
                });
            }
            services.push(Service {
                id: stable_id("service", &s.name),
                name: s.name,
                human_name: s.human_name,
                description: s.description,
                attachment_name: s.attachment_name,
                plans,
            });
        }
        Ok(Catalog { services })
    }

    /// A service by name or id.
    pub fn service(&self, name_or_id: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.name == name_or_id || s.id == name_or_id)
    }

    /// A plan by `service:plan`, by id, or by service name alone (its
    /// default: the cheapest plan).
    pub fn plan(&self, reference: &str) -> Option<&Plan> {
        let reference = reference.trim();
        if let Some((service, plan)) = reference.split_once(':') {
            return self.service(service)?.plans.iter().find(|p| p.name == plan);
        }
        let by_id = self
            .services
            .iter()
            .flat_map(|s| &s.plans)
            .find(|p| p.id == reference);
        by_id.or_else(|| self.service(reference)?.default_plan())
    }
}

impl Service {
    pub fn default_plan(&self) -> Option<&Plan> {
        self.plans.iter().min_by_key(|p| p.price_cents)
    }

    /// A plan of this service by short name, full name or id.
    pub fn plan(&self, reference: &str) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.name == reference || p.id == reference || p.full_name() == reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_free_and_paid_plans() {
        let catalog = Catalog::builtin();
        let plans: Vec<&Plan> = catalog.services.iter().flat_map(|s| &s.plans).collect();
        assert!(plans.iter().any(|p| p.is_paid()));
        assert!(plans.iter().any(|p| !p.is_paid()));
        let essential = catalog.plan("postgresql:essential-0").unwrap();
        assert_eq!(essential.price_cents, 500);
        assert_eq!(catalog.plan(&essential.id).unwrap().name, "essential-0");
        assert_eq!(catalog.plan("postgresql").unwrap().name, "mini");
        assert!(catalog.plan("postgresql:nope").is_none());
    }

    #[test]
    fn bad_catalogs_are_refused_with_a_reason() {
        let bad_price = r#"{"services":[{"name":"db","human_name":"DB","attachment_name":"DB",
            "plans":[{"name":"x1","human_name":"X","price_cents":-1}]}]}"#;
        assert!(Catalog::parse(bad_price)
            .unwrap_err()
            .contains("price_cents"));
        let unknown = r#"{"services":[],"extra":1}"#;
        assert!(Catalog::parse(unknown).is_err());
        let bad_name = r#"{"services":[{"name":"../db","human_name":"DB","attachment_name":"DB",
            "plans":[{"name":"x1","human_name":"X","price_cents":0}]}]}"#;
        assert!(Catalog::parse(bad_name).unwrap_err().contains("invalid"));
    }
}
