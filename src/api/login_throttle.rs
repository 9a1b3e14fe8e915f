//! Throttles password guessing at `POST /oauth/authorizations`.
//!
//! A password login counts as a failure from the moment it starts until it
//! succeeds, so that tries sent all at once are counted too. After
//! [`ACCOUNT_LIMIT`] failures within [`WINDOW`] for one email (trimmed,
//! lower-case), or [`ADDRESS_LIMIT`] from one client address, further
//! password logins for it are refused before the password is checked, until
//! the oldest of those failures is [`WINDOW`] old. A success clears the
//! account's failures (not the address's: logging in to one's own account
//! must not buy more guesses at others).
//!
//! Known limits: the counts live in memory, so each `slipway serve` node
//! counts on its own and a restart forgets them. Behind a reverse proxy
//! every client has the proxy's address. Memory is bounded: each table
//! keeps at most [`MAX_ENTRIES`] keys, dropping expired ones first, then
//! the stalest.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures one account may have within the window.
pub const ACCOUNT_LIMIT: usize = 5;
/// Failures one client address may have within the window, over all the
/// accounts it tries: enough for a few people sharing an address.
pub const ADDRESS_LIMIT: usize = 30;
/// Keys kept per table.
const MAX_ENTRIES: usize = 10_000;

/// Why a login was refused, and how long until it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throttled {
    Account(Duration),
    Address(Duration),
}

#[derive(Clone)]
pub struct LoginThrottle {
    tables: Arc<Mutex<Tables>>,
}

struct Tables {
    accounts: Failures<String>,
    addresses: Failures<IpAddr>,
}

/// A password login under way; dropped without [`Attempt::succeeded`], it
/// stays counted as a failure.
pub struct Attempt {
    throttle: LoginThrottle,
    account: Option<String>,
    address: Option<IpAddr>,
    started: Instant,
}

impl LoginThrottle {
    pub fn new() -> Self {
        LoginThrottle {
            tables: Arc::new(Mutex::new(Tables {
                accounts: Failures::new(ACCOUNT_LIMIT),
                addresses: Failures::new(ADDRESS_LIMIT),
            })),
        }
    }

    /// Starts a password login for `account` (a normalised email; None when
    /// the address cannot be an account's) from `address`, or refuses it.
    pub fn begin(
        &self,
        account: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<Attempt, Throttled> {
        self.begin_at(account, address, Instant::now())
    }

    fn begin_at(
        &self,
        account: Option<&str>,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Throttled> {
        let address = address.map(address_key);
        let mut tables = self.lock();
        if let Some(wait) = account.and_then(|a| tables.accounts.wait(a, now)) {
            return Err(Throttled::Account(wait));
        }
        if let Some(wait) = address.and_then(|a| tables.addresses.wait(&a, now)) {
            return Err(Throttled::Address(wait));
        }
        if let Some(account) = account {
            tables.accounts.record(account.to_string(), now);
        }
        if let Some(address) = address {
            tables.addresses.record(address, now);
        }
        Ok(Attempt {
            throttle: self.clone(),
            account: account.map(str::to_string),
            address,
            started: now,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl Attempt {
    /// The password was right: the account starts afresh, and this login
    /// does not count against the address.
    pub fn succeeded(self) {
        let mut tables = self.throttle.lock();
        if let Some(account) = &self.account {
            tables.accounts.clear(account);
        }
        if let Some(address) = &self.address {
            tables.addresses.forget(address, self.started);
        }
    }
}

/// IPv4 addresses count one by one; an IPv6 client usually holds a whole
/// /64, so that is what counts.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// Recent failure times per key, oldest first, at most `limit` of them.
struct Failures<K> {
    limit: usize,
    entries: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    fn new(limit: usize) -> Self {
        Failures {
            limit,
            entries: HashMap::new(),
        }
    }

    /// How long `key` must still wait, when it is at its limit.
    fn wait<Q>(&mut self, key: &Q, now: Instant) -> Option<Duration>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let times = self.entries.get_mut(key)?;
        drop_expired(times, now);
        if times.is_empty() {
            self.entries.remove(key);
            return None;
        }
        let oldest = *times.front()?;
        (times.len() >= self.limit).then(|| (oldest + WINDOW).saturating_duration_since(now))
    }

    fn record(&mut self, key: K, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_ENTRIES {
            self.make_room(now);
        }
        let times = self.entries.entry(key).or_default();
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    fn clear<Q>(&mut self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.remove(key);
    }

    /// Takes back the failure recorded at `at`, if it is still there.
    fn forget(&mut self, key: &K, at: Instant) {
        let Some(times) = self.entries.get_mut(key) else {
            return;
        };
        if let Some(index) = times.iter().position(|t| *t == at) {
            times.remove(index);
        }
        if times.is_empty() {
            self.entries.remove(key);
        }
    }

    /// Drops expired keys; when all are live, the one whose last failure is
    /// the oldest.
    fn make_room(&mut self, now: Instant) {
        self.entries.retain(|_, times| {
            drop_expired(times, now);
            !times.is_empty()
        });
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        let stalest = self
            .entries
            .iter()
            .min_by_key(|(_, times)| times.back().copied())
            .map(|(key, _)| key.clone());
        if let Some(key) = stalest {
            self.entries.remove(&key);
        }
    }
}

fn drop_expired(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    fn fail(throttle: &LoginThrottle, account: &str, now: Instant) {
        drop(
            throttle
                .begin_at(Some(account), HOME, now)
                .expect("allowed"),
        );
    }

    #[test]
    fn an_account_waits_after_its_limit_until_the_oldest_failure_expires() {
        let throttle = LoginThrottle::new();
        let start = Instant::now();
        for i in 0..ACCOUNT_LIMIT as u64 {
            fail(
                &throttle,
                "a@example.com",
                start + Duration::from_secs(i * 60),
            );
        }
        let later = start + Duration::from_secs(10 * 60);
        assert_eq!(
            throttle.begin_at(Some("a@example.com"), HOME, later).err(),
            Some(Throttled::Account(Duration::from_secs(5 * 60)))
        );
        // Others are not held up.
        assert!(throttle
            .begin_at(Some("b@example.com"), HOME, later)
            .is_ok());
        // Once the first failure is 15 minutes old, one more try is allowed.
        let after = start + WINDOW;
        let attempt = throttle.begin_at(Some("a@example.com"), HOME, after);
        drop(attempt.expect("allowed again"));
        assert!(throttle
            .begin_at(Some("a@example.com"), HOME, after)
            .is_err());
    }

    #[test]
    fn a_success_clears_the_account_but_not_the_address() {
        let throttle = LoginThrottle::new();
        let now = Instant::now();
        for _ in 0..ACCOUNT_LIMIT - 1 {
            fail(&throttle, "a@example.com", now);
        }
        throttle
            .begin_at(Some("a@example.com"), HOME, now)
            .unwrap()
            .succeeded();
        for _ in 0..ACCOUNT_LIMIT - 1 {
            fail(&throttle, "a@example.com", now);
        }
        assert!(throttle.begin_at(Some("a@example.com"), HOME, now).is_ok());
        let tables = throttle.lock();
        assert_eq!(tables.addresses.entries[&HOME.unwrap()].len(), 2 * 4 + 1);
    }

    #[test]
    fn logins_under_way_count_until_they_succeed() {
        let throttle = LoginThrottle::new();
        let now = Instant::now();
        let running: Vec<_> = (0..ACCOUNT_LIMIT)
            .map(|_| throttle.begin_at(Some("a@example.com"), HOME, now).unwrap())
            .collect();
        assert!(throttle.begin_at(Some("a@example.com"), HOME, now).is_err());
        drop(running);
        assert!(throttle.begin_at(Some("a@example.com"), HOME, now).is_err());
    }

    #[test]
    fn one_address_trying_many_accounts_is_stopped() {
        let throttle = LoginThrottle::new();
        let now = Instant::now();
        for i in 0..ADDRESS_LIMIT {
            fail(&throttle, &format!("user{i}@example.com"), now);
        }
        assert!(matches!(
            throttle.begin_at(Some("new@example.com"), HOME, now),
            Err(Throttled::Address(_))
        ));
        let elsewhere = Some(IpAddr::V4([192, 0, 2, 1].into()));
        assert!(throttle
            .begin_at(Some("new@example.com"), elsewhere, now)
            .is_ok());
        // Addresses in one IPv6 /64 count together.
        let v6 = |last: u16| {
            Some(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, last,
            )))
        };
        for i in 0..ADDRESS_LIMIT {
            drop(throttle.begin_at(None, v6(i as u16), now).unwrap());
        }
        assert!(throttle.begin_at(None, v6(999), now).is_err());
    }

    #[test]
    fn the_tables_stay_bounded() {
        let throttle = LoginThrottle::new();
        let start = Instant::now();
        for i in 0..MAX_ENTRIES + 10 {
            let at = start + Duration::from_millis(i as u64);
            drop(throttle.begin_at(Some(&format!("u{i}@example.com")), None, at));
        }
        let tables = throttle.lock();
        assert_eq!(tables.accounts.entries.len(), MAX_ENTRIES);
        // The stalest went first.
        assert!(!tables.accounts.entries.contains_key("u0@example.com"));
        assert!(tables.accounts.entries.contains_key("u10009@example.com"));
        drop(tables);
        // Expired entries make room without evicting live ones.
        let later = start + WINDOW + Duration::from_secs(60);
        drop(throttle.begin_at(Some("late@example.com"), None, later));
        assert_eq!(throttle.lock().accounts.entries.len(), 1);
    }
}
