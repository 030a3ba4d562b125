//! Data classification: table name patterns → data classes, as a small bitmask per event.
//!
//! Rules care about *what kind* of data was read (customer PII versus a lookup table), not about table
//! names; classes also carry the weight that raises an alert's risk score.

use crate::config::DataClassConfig;

/// A set of data classes, one bit per configured class (validation caps classes at 64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClassSet(pub u64);

impl ClassSet {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: ClassSet) -> ClassSet {
        ClassSet(self.0 | other.0)
    }
    pub fn contains(self, index: usize) -> bool {
        index < 64 && self.0 & (1u64 << index) != 0
    }
}

#[derive(Debug, Clone)]
struct DataClass {
    name: String,
    sensitive: bool,
    weight: f64,
    /// Lower-cased glob patterns.
    patterns: Vec<String>,
}

/// Tables remembered per classifier; past this, lookups are computed each time (hostile table names
/// cannot grow memory without bound).
const CACHE_CAPACITY: usize = 100_000;

/// Maps tables to classes. Built once from config; shared by reference.
#[derive(Debug)]
pub struct Classifier {
    classes: Vec<DataClass>,
    sensitive_mask: u64,
    /// Table name → classes: a deployment touches few distinct tables, so matching globs per event
    /// would be wasted work.
    cache: dashmap::DashMap<String, ClassSet, ahash::RandomState>,
    /// Tells this classifier's entry in [`LAST_TABLE`] from another's (a reloaded config) on a thread.
    id: u64,
}

thread_local! {
    /// The table one thread last classified, with its classes and the classifier that said so: most
    /// events touch the same table as the one before, and this answers them without the shared
    /// cache's lock and hash.
    static LAST_TABLE: std::cell::RefCell<(u64, String, ClassSet)> =
        const { std::cell::RefCell::new((u64::MAX, String::new(), ClassSet(0))) };
}

static NEXT_CLASSIFIER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Classifier {
    pub fn new(config: &[DataClassConfig]) -> Self {
        let mut sensitive_mask = 0u64;
        let mut classes = Vec::with_capacity(config.len());
        for (index, class) in config.iter().enumerate().take(64) {
            if class.sensitive {
                sensitive_mask |= 1u64 << index;
            }
            classes.push(DataClass {
                name: class.name.clone(),
                sensitive: class.sensitive,
                weight: class.weight,
                patterns: class
                    .tables
                    .iter()
                    .map(|p| p.to_ascii_lowercase())
                    .collect(),
            });
        }
        Classifier {
            classes,
            sensitive_mask,
            cache: dashmap::DashMap::with_hasher(ahash::RandomState::new()),
            id: NEXT_CLASSIFIER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The classes of one table.
    pub fn classify_table(&self, table: &str) -> ClassSet {
        let last = LAST_TABLE
            .with_borrow(|(id, name, set)| (*id == self.id && name == table).then_some(*set));
        if let Some(set) = last {
            return set;
        }
        let set = self.classify_shared(table);
        LAST_TABLE.with_borrow_mut(|last| {
            last.0 = self.id;
            last.1.clear();
            last.1.push_str(table);
            last.2 = set;
        });
        set
    }

    fn classify_shared(&self, table: &str) -> ClassSet {
        if let Some(hit) = self.cache.get(table) {
            return *hit;
        }
        let set = self.match_patterns(table);
        if self.cache.len() < CACHE_CAPACITY {
            self.cache.insert(table.to_string(), set);
        }
        set
    }

    fn match_patterns(&self, table: &str) -> ClassSet {
        let lowered = table.to_ascii_lowercase();
        let mut bits = 0u64;
        for (index, class) in self.classes.iter().enumerate() {
            if class
                .patterns
                .iter()
                .any(|p| glob_match(p.as_bytes(), lowered.as_bytes()))
            {
                bits |= 1u64 << index;
            }
        }
        ClassSet(bits)
    }

    /// The union of the classes of all tables an event touched.
    pub fn classify_tables<S: AsRef<str>>(&self, tables: &[S]) -> ClassSet {
        let mut set = ClassSet::default();
        for table in tables {
            set = set.union(self.classify_table(table.as_ref()));
        }
        set
    }

    /// Only the sensitive classes of a set.
    pub fn sensitive(&self, set: ClassSet) -> ClassSet {
        ClassSet(set.0 & self.sensitive_mask)
    }

    /// Highest weight among the classes in the set (1.0 for an empty set).
    pub fn max_weight(&self, set: ClassSet) -> f64 {
        let mut weight: f64 = 1.0;
        for (index, class) in self.classes.iter().enumerate() {
            if set.contains(index) {
                weight = weight.max(class.weight);
            }
        }
        weight
    }

    /// Class names in configuration order.
    pub fn names(&self, set: ClassSet) -> Vec<String> {
        let mut names = Vec::new();
        for (index, class) in self.classes.iter().enumerate() {
            if set.contains(index) {
                names.push(class.name.clone());
            }
        }
        names
    }

    /// Whether a table belongs to any sensitive class.
    pub fn is_sensitive_table(&self, table: &str) -> bool {
        let set = self.classify_table(table);
        self.classes
            .iter()
            .enumerate()
            .any(|(index, class)| class.sensitive && set.contains(index))
    }
}

/// Glob match where `*` matches any run of characters (including dots) and `?` one character.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking: linear in practice, no recursion on hostile input.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> Classifier {
        Classifier::new(&[
            DataClassConfig {
                name: "customer_pii".into(),
                tables: vec!["support.customers".into(), "*.contacts".into()],
                sensitive: true,
                weight: 1.5,
            },
            DataClassConfig {
                name: "reference".into(),
                tables: vec!["ref.*".into()],
                sensitive: false,
                weight: 1.0,
            },
        ])
    }

    /// The class names `c` gives `table`.
    fn names_of(c: &Classifier, table: &str) -> Vec<String> {
        c.names(c.classify_table(table))
    }

    #[test]
    fn a_reloaded_classifier_on_the_same_thread_is_not_answered_from_the_old_ones_last_table() {
        let old = classifier();
        assert!(old
            .sensitive(old.classify_table("ref.countries"))
            .is_empty());
        assert_eq!(names_of(&old, "ref.countries"), vec!["reference"]);
        // The reload makes reference data sensitive: same table, same thread, new answer.
        let new = Classifier::new(&[DataClassConfig {
            name: "now_sensitive".into(),
            tables: vec!["ref.*".into()],
            sensitive: true,
            weight: 2.0,
        }]);
        assert_eq!(names_of(&new, "ref.countries"), vec!["now_sensitive"]);
        // Alternating tables and classifiers keeps every answer right.
        for _ in 0..3 {
            assert_eq!(names_of(&old, "support.customers"), vec!["customer_pii"]);
            assert_eq!(names_of(&old, "ref.countries"), vec!["reference"]);
            assert_eq!(names_of(&new, "ref.countries"), vec!["now_sensitive"]);
            assert!(names_of(&new, "support.customers").is_empty());
        }
    }

    #[test]
    fn exact_and_wildcard_patterns_match_case_insensitively() {
        let c = classifier();
        assert_eq!(names_of(&c, "Support.Customers"), vec!["customer_pii"]);
        assert_eq!(names_of(&c, "crm.eu.contacts"), vec!["customer_pii"]);
        assert_eq!(names_of(&c, "ref.countries"), vec!["reference"]);
        assert!(c.classify_table("support.customers_archive").is_empty());
    }

    #[test]
    fn only_sensitive_classes_count_as_sensitive() {
        let c = classifier();
        let set = c.classify_tables(&["ref.countries", "support.customers"]);
        assert_eq!(c.names(c.sensitive(set)), vec!["customer_pii"]);
        assert!(!c.is_sensitive_table("ref.countries"));
        assert!((c.max_weight(set) - 1.5).abs() < f64::EPSILON);
    }

    #[test]
    fn glob_handles_multiple_stars_and_question_marks() {
        assert!(glob_match(b"*cust*rs", b"support.customers"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(!glob_match(b"a?c", b"ac"));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"", b"x"));
    }
}
