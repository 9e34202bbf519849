//! One customer across sources: identifier normalization, aliases recorded
//! from payloads that carry several identifiers, and the choice of the key
//! every event is finally filed under.
//!
//! Rules (DESIGN.md, "Money and identity"):
//! - an identifier that looks like an e-mail address (contains `@`) is
//!   trimmed and lower-cased; every other identifier is trimmed;
//! - identifiers seen together in one payload (Shopify `customer.id` and
//!   `email`, Segment `userId` and `anonymousId`, GA4 `user_id` and
//!   `user_pseudo_id`) are aliases of one customer (union–find, so aliasing
//!   is transitive and independent of the order payloads arrive in);
//! - each group of aliases is filed under one key, chosen by
//!   [`CustomerKey`]: the preferred kind of identifier present in the group,
//!   the lexicographically smallest of that kind on a tie.

use rustc_hash::FxHashMap;
use serde::Serialize;

/// What an identifier is, in order of how stable it is as a customer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdKind {
    /// A platform's own customer or user id (Shopify `customer.id`, Segment
    /// `userId`, GA4 `user_id`, a canonical `customer_id` without `@`).
    CustomerId,
    /// An e-mail address.
    Email,
    /// An e-mail platform's own profile id (Klaviyo's profile id): stable
    /// within that platform, unknown to the shop.
    Profile,
    /// A device or cookie id (Segment `anonymousId`, GA4 `user_pseudo_id`).
    Anonymous,
}

/// The identifiers one row carries, with their kinds.
pub type Ids = Vec<(IdKind, String)>;

/// Which identifier a customer's events are filed under (`--customer-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CustomerKey {
    /// The platform customer id where a group has one, else the e-mail
    /// address, else an e-mail platform's profile id, else the anonymous id.
    #[default]
    Id,
    /// The e-mail address where a group has one, else as `id`.
    Email,
    /// The anonymous (device) id where a group has one, else as `id`.
    Anonymous,
}

impl CustomerKey {
    fn rank(self, kind: IdKind) -> u8 {
        match (self, kind) {
            (CustomerKey::Email, IdKind::Email) | (CustomerKey::Anonymous, IdKind::Anonymous) => 0,
            (_, IdKind::CustomerId) => 1,
            (_, IdKind::Email) => 2,
            (_, IdKind::Profile) => 3,
            (_, IdKind::Anonymous) => 4,
        }
    }
}

/// Trims an identifier; an e-mail address is also lower-cased.
pub fn normalize(id: &str) -> String {
    let t = id.trim();
    if t.contains('@') {
        t.to_lowercase()
    } else {
        t.to_string()
    }
}

/// The kind of a bare customer id (a canonical `customer_id`).
pub fn kind_of_bare(id: &str) -> IdKind {
    if id.contains('@') {
        IdKind::Email
    } else {
        IdKind::CustomerId
    }
}

/// Counts of the identity resolution, for the ingest report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IdentityReport {
    /// Distinct identifiers seen.
    pub identifiers: u64,
    /// Customers after aliases are joined.
    pub customers: u64,
    /// Identifiers filed under another identifier of their group.
    pub aliased: u64,
}

/// Union–find over identifiers.
#[derive(Default)]
pub struct Identities {
    /// Every identifier once, its position its number.
    names: indexmap::IndexSet<String, rustc_hash::FxBuildHasher>,
    kinds: Vec<IdKind>,
    parent: Vec<u32>,
}

impl Identities {
    fn id(&mut self, name: &str, kind: IdKind) -> u32 {
        if let Some(i) = self.names.get_index_of(name) {
            // The same text seen as two kinds keeps the more stable one.
            let k = &mut self.kinds[i];
            *k = (*k).min(kind);
            return i as u32;
        }
        let (i, _) = self.names.insert_full(name.to_string());
        let i = i as u32;
        self.kinds.push(kind);
        self.parent.push(i);
        i
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Records identifiers seen together in one payload (normalized already).
    pub fn observe(&mut self, ids: &[(IdKind, String)]) {
        let mut first: Option<u32> = None;
        for (kind, name) in ids {
            if name.is_empty() {
                continue;
            }
            let i = self.id(name, *kind);
            match first {
                None => first = Some(i),
                Some(f) => {
                    let (a, b) = (self.find(f), self.find(i));
                    if a != b {
                        self.parent[b as usize] = a;
                    }
                }
            }
        }
    }

    /// The key of every identifier's group, under `key`; identifiers never
    /// observed map to themselves.
    pub fn resolve(mut self, key: CustomerKey) -> (Resolved, IdentityReport) {
        let n = self.names.len();
        let roots: Vec<u32> = (0..n as u32).map(|i| self.find(i)).collect();
        // The best member of each group: (rank, name) smallest.
        let mut best: FxHashMap<u32, u32> = FxHashMap::default();
        for (i, &root) in roots.iter().enumerate() {
            let cand = (key.rank(self.kinds[i]), &self.names[i]);
            match best.get(&root) {
                Some(&b) if (key.rank(self.kinds[b as usize]), &self.names[b as usize]) <= cand => {
                }
                _ => {
                    best.insert(root, i as u32);
                }
            }
        }
        let mut map = FxHashMap::default();
        let mut aliased = 0;
        for (i, &root) in roots.iter().enumerate() {
            let b = best[&root] as usize;
            if b != i {
                aliased += 1;
                map.insert(self.names[i].clone(), self.names[b].clone());
            }
        }
        let report = IdentityReport {
            identifiers: n as u64,
            customers: best.len() as u64,
            aliased,
        };
        (Resolved { map }, report)
    }
}

/// Identifier → the key its group is filed under.
#[derive(Default)]
pub struct Resolved {
    map: FxHashMap<String, String>,
}

impl Resolved {
    pub fn key<'a>(&'a self, id: &'a str) -> &'a str {
        self.map.get(id).map_or(id, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[(IdKind, &str)]) -> Vec<(IdKind, String)> {
        v.iter().map(|(k, s)| (*k, s.to_string())).collect()
    }

    #[test]
    fn emails_are_normalized_ids_are_trimmed() {
        assert_eq!(normalize("  Ann@Example.COM "), "ann@example.com");
        assert_eq!(normalize(" C001 "), "C001");
    }

    #[test]
    fn aliases_join_transitively_in_any_order() {
        let pairs = [
            ids(&[(IdKind::CustomerId, "555"), (IdKind::Email, "a@x.com")]),
            ids(&[(IdKind::Anonymous, "anon-1"), (IdKind::Email, "a@x.com")]),
            ids(&[(IdKind::CustomerId, "777")]),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut idt = Identities::default();
            for i in order {
                idt.observe(&pairs[i]);
            }
            let (r, rep) = idt.resolve(CustomerKey::Id);
            assert_eq!(r.key("anon-1"), "555");
            assert_eq!(r.key("a@x.com"), "555");
            assert_eq!(r.key("777"), "777");
            assert_eq!(r.key("never-seen"), "never-seen");
            assert_eq!(rep.customers, 2);
            assert_eq!(rep.aliased, 2);
        }
        let mut idt = Identities::default();
        for p in &pairs {
            idt.observe(p);
        }
        let (r, _) = idt.resolve(CustomerKey::Email);
        assert_eq!(r.key("555"), "a@x.com");
        assert_eq!(r.key("777"), "777");
    }
}
