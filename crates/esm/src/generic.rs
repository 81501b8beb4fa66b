//! Generic profile names: parsing, matching, RACF's "most specific" order,
//! and the index that finds the best generic profile without a scan.
//!
//! # Matching (spec section 2)
//! `%` is one character other than `.`; `*` as a whole qualifier is exactly
//! one qualifier, or one or more when it is the last qualifier; `*` inside a
//! qualifier is zero or more characters of that qualifier, except at the end
//! of the last qualifier (`A.B*`), where it runs to the end of the name across
//! qualifiers; `**` as a whole qualifier (at most once) is zero or more
//! qualifiers.
//!
//! # Order
//! Names are compared token by token (`**` is one token) from the left; at the
//! first difference a literal beats `%`, `%` beats `*`, `*` beats `**`, and any
//! token beats the end of the name.
//!
//! # The index
//! Every generic name has a *literal key*: the characters before its first
//! generic character, without a trailing `.` when that generic character
//! starts a `**` qualifier (`A.B.**` has key `A.B`, because it matches `A.B`).
//! A key is split into whole qualifiers and a partial rest (`APP.RES1` →
//! `[APP]` + `RES1`). The whole qualifiers are a path in a trie whose edges
//! are qualifiers (hash maps); at the node reached, the partial rest selects
//! a bucket (a hash map keyed by the partial text, probed with each distinct
//! partial length, longest first), and each bucket holds its profiles sorted
//! most specific first. A lookup follows the resource's qualifiers down the
//! trie and, returning upwards (deepest first), probes each node's buckets
//! with prefixes of the resource's next qualifier; the first profile that
//! matches is the answer. A lookup costs one hash probe per qualifier plus
//! one per distinct partial length at the nodes on the path: a handful of
//! memory accesses, not a walk per character and never a scan of the class.
//!
//! Why deepest-first is right: two profiles that both match a name agree with
//! it, literally, up to the shorter key; at that position the one with the
//! longer key has a literal and the other a generic character (or, for a
//! dropped `.`, the other has `**` where the longer one has `%` or `*`), so the
//! longer key is more specific. Within a node the precomputed order decides.
//! The cost of a lookup is the name's length plus the candidates sharing the
//! winning key (and any deeper keys that did not match), never the number of
//! profiles in the class. `tests/lookup_prop.rs` checks this against a plain
//! scan with the same order.

use std::cmp::Ordering;

use crate::key::{FxMap, Key};

pub use crate::model::is_generic;

/// One qualifier of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qual {
    /// `**`: zero or more qualifiers.
    DoubleStar,
    /// `*` alone: one qualifier (one or more when last).
    Star,
    /// Literal characters, `%` and in-qualifier `*`: `text[start..end]`.
    Glob(u16, u16),
}

/// A parsed generic profile name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
    quals: Vec<Qual>,
    /// The last qualifier is a glob ending in `*`: runs to the end of the name.
    open_end: bool,
}

impl Pattern {
    /// Parses a (upper-case) generic name.
    pub fn parse(name: &str) -> Result<Pattern, &'static str> {
        if name.len() > u16::MAX as usize {
            return Err("too long");
        }
        let mut quals = Vec::new();
        let mut double_stars = 0;
        let mut start = 0usize;
        for q in name.split('.') {
            let end = start + q.len();
            let span = (start as u16, end as u16);
            start = end + 1;
            if q.is_empty() {
                return Err("an empty qualifier");
            }
            if q == "**" {
                double_stars += 1;
                quals.push(Qual::DoubleStar);
            } else if q == "*" {
                quals.push(Qual::Star);
            } else if q.contains("**") {
                return Err("`**` must be a whole qualifier");
            } else {
                quals.push(Qual::Glob(span.0, span.1));
            }
        }
        if double_stars > 1 {
            return Err("`**` may appear only once");
        }
        let open_end = matches!(quals.last(), Some(Qual::Glob(_, e)) if name.as_bytes()[*e as usize - 1] == b'*');
        Ok(Pattern {
            text: name.into(),
            quals,
            open_end,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.text
    }

    /// Whether the literal resource name matches.
    pub fn matches(&self, resource: &str) -> bool {
        match_quals(
            self.text.as_bytes(),
            &self.quals,
            Some(resource.as_bytes()),
            self.open_end,
        )
    }
}

/// Splits `a.b.c` into (`a`, Some(`b.c`)); the last one gives None.
fn split_first(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// `rest` is the remaining qualifiers joined by `.`, or None when none remain;
/// `text` is the pattern the globs point into.
fn match_quals(text: &[u8], p: &[Qual], rest: Option<&[u8]>, open_end: bool) -> bool {
    let Some((q, more)) = p.split_first() else {
        return rest.is_none();
    };
    match *q {
        Qual::DoubleStar => {
            let mut cur = rest;
            loop {
                if match_quals(text, more, cur, open_end) {
                    return true;
                }
                match cur {
                    Some(s) => cur = split_first(s).1,
                    None => return false,
                }
            }
        }
        Qual::Star => {
            let Some(s) = rest else { return false };
            let (head, tail) = split_first(s);
            if head.is_empty() {
                return false;
            }
            if more.is_empty() {
                // Last qualifier: one or more qualifiers.
                return true;
            }
            match_quals(text, more, tail, open_end)
        }
        Qual::Glob(a, b) => {
            let g = &text[a as usize..b as usize];
            let Some(s) = rest else { return false };
            if more.is_empty() && open_end {
                // `A.B*`: the final `*` runs to the end of the name.
                let body = &g[..g.len() - 1];
                return glob_prefix(body, s);
            }
            let (head, tail) = split_first(s);
            glob(g, head) && match_quals(text, more, tail, open_end)
        }
    }
}

/// In-qualifier glob: `%` one byte, `*` zero or more bytes (the text is one
/// qualifier, without `.`). Iterative, backtracking only to the last `*`:
/// O(pattern x text), so no pattern makes a long resource name expensive.
fn glob(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'%' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether some prefix of `t` that ends within its first qualifier matches
/// the in-qualifier glob `p`: the same as `p*` matching that qualifier.
fn glob_prefix(p: &[u8], t: &[u8]) -> bool {
    let qual_end = t.iter().position(|&b| b == b'.').unwrap_or(t.len());
    let t = &t[..qual_end];
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi == p.len() {
            // The whole pattern matched a prefix: the open end takes the rest.
            return true;
        }
        match p[pi] {
            b'*' => {
                star = Some((pi, ti));
                pi += 1;
            }
            c if c == b'%' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A token of a name for ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    Percent,
    Star,
    DoubleStar,
}

fn rank(t: Option<Tok>) -> u8 {
    match t {
        Some(Tok::Lit(_)) => 4,
        Some(Tok::Percent) => 3,
        Some(Tok::Star) => 2,
        Some(Tok::DoubleStar) => 1,
        None => 0,
    }
}

fn tokens(name: &str) -> impl Iterator<Item = Tok> + '_ {
    let b = name.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        i += 1;
        Some(match c {
            b'%' => Tok::Percent,
            b'*' if b.get(i) == Some(&b'*') => {
                i += 1;
                Tok::DoubleStar
            }
            b'*' => Tok::Star,
            c => Tok::Lit(c),
        })
    })
}

/// RACF's specificity order: `Greater` means `a` is more specific than `b`.
pub fn specificity(a: &str, b: &str) -> Ordering {
    let mut ta = tokens(a);
    let mut tb = tokens(b);
    loop {
        let (x, y) = (ta.next(), tb.next());
        if x.is_none() && y.is_none() {
            return Ordering::Equal;
        }
        if x == y {
            continue;
        }
        return match rank(x).cmp(&rank(y)) {
            // Two different literals: both cannot match one name at the
            // same place; order them by character to stay total.
            Ordering::Equal => match (x, y) {
                (Some(Tok::Lit(p)), Some(Tok::Lit(q))) => q.cmp(&p),
                _ => Ordering::Equal,
            },
            other => other,
        };
    }
}

/// The literal key of a generic name (see the module docs).
pub fn literal_key(name: &str) -> &str {
    let b = name.as_bytes();
    let first = b
        .iter()
        .position(|&c| c == b'*' || c == b'%')
        .unwrap_or(b.len());
    let starts_double = b.get(first) == Some(&b'*')
        && b.get(first + 1) == Some(&b'*')
        && (first + 2 == b.len() || b[first + 2] == b'.');
    if starts_double && first > 0 && b[first - 1] == b'.' {
        &name[..first - 1]
    } else {
        &name[..first]
    }
}

/// A generic name in the index.
#[derive(Debug, Clone)]
struct Entry<T> {
    pattern: Pattern,
    value: T,
}

/// A node of the qualifier trie: the literal keys that continue with whole
/// qualifiers are children; the keys that end here (plus a partial next
/// qualifier, possibly empty) are buckets by that partial text.
#[derive(Debug, Clone)]
struct Node<T> {
    children: FxMap<Key, u32>,
    partials: FxMap<Key, Vec<Entry<T>>>,
    /// The distinct lengths of the partials, longest first.
    partial_lens: Vec<usize>,
}

impl<T> Node<T> {
    fn new() -> Node<T> {
        Node {
            children: FxMap::default(),
            partials: FxMap::default(),
            partial_lens: Vec::new(),
        }
    }

    fn recompute_lens(&mut self) {
        let mut lens: Vec<usize> = self.partials.keys().map(|k| k.as_bytes().len()).collect();
        lens.sort_unstable_by(|a, b| b.cmp(a));
        lens.dedup();
        self.partial_lens = lens;
    }
}

/// Splits a literal key into its whole qualifiers and the partial rest:
/// `A.B.C` → ([A, B], C); `A.B.` → ([A, B], ""); `AB` → ([], AB).
fn split_key(key: &str) -> (Vec<&str>, &str) {
    match key.rfind('.') {
        Some(i) => (key[..i].split('.').collect(), &key[i + 1..]),
        None => (Vec::new(), key),
    }
}

/// The generic names of a class, by literal key (see the module docs).
#[derive(Debug, Clone)]
pub struct GenericIndex<T> {
    nodes: Vec<Node<T>>,
    len: usize,
}

impl<T> Default for GenericIndex<T> {
    fn default() -> Self {
        GenericIndex {
            nodes: vec![Node::new()],
            len: 0,
        }
    }
}

impl<T> GenericIndex<T> {
    /// Number of generic names held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces the value for a generic name. Names that do not
    /// parse as patterns are ignored (they are refused at definition).
    pub fn insert(&mut self, name: &str, value: T) {
        let Ok(pattern) = Pattern::parse(name) else {
            return;
        };
        let (quals, partial) = split_key(literal_key(name));
        let mut at = 0usize;
        for q in quals {
            at = match self.nodes[at].children.get(q.as_bytes()) {
                Some(&n) => n as usize,
                None => {
                    let id = self.nodes.len();
                    self.nodes.push(Node::new());
                    self.nodes[at].children.insert(Key::new(q), id as u32);
                    id
                }
            };
        }
        let node = &mut self.nodes[at];
        let bucket = node.partials.entry(Key::new(partial)).or_default();
        if let Some(slot) = bucket.iter_mut().find(|e| e.pattern.name() == name) {
            slot.value = value;
            return;
        }
        // Most specific first.
        let pos = bucket
            .iter()
            .position(|e| specificity(name, e.pattern.name()) == Ordering::Greater)
            .unwrap_or(bucket.len());
        bucket.insert(pos, Entry { pattern, value });
        if !node.partial_lens.contains(&partial.len()) {
            node.recompute_lens();
        }
        self.len += 1;
    }

    /// Removes a generic name; true if it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let (quals, partial) = split_key(literal_key(name));
        let mut at = 0usize;
        for q in quals {
            match self.nodes[at].children.get(q.as_bytes()) {
                Some(&n) => at = n as usize,
                None => return false,
            }
        }
        let node = &mut self.nodes[at];
        let Some(bucket) = node.partials.get_mut(partial.as_bytes()) else {
            return false;
        };
        let Some(i) = bucket.iter().position(|e| e.pattern.name() == name) else {
            return false;
        };
        bucket.remove(i);
        if bucket.is_empty() {
            node.partials.remove(partial.as_bytes());
            node.recompute_lens();
        }
        self.len -= 1;
        true
    }

    /// The most specific generic name matching the literal `resource`.
    pub fn lookup(&self, resource: &str) -> Option<(&str, &T)> {
        let (first, rest) = match resource.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (resource, None),
        };
        self.lookup_at(0, resource, Some(first), rest)
    }

    /// At node `at`, whose path equals the resource's qualifiers before
    /// `next`: deeper nodes first (their keys are longer), then this node's
    /// partials, longest first.
    fn lookup_at<'a>(
        &'a self,
        at: usize,
        resource: &str,
        next: Option<&str>,
        rest: Option<&str>,
    ) -> Option<(&'a str, &'a T)> {
        let node = &self.nodes[at];
        if let Some(q) = next {
            if let Some(&child) = node.children.get(q.as_bytes()) {
                let (n2, r2) = match rest {
                    Some(r) => match r.split_once('.') {
                        Some((f, r)) => (Some(f), Some(r)),
                        None => (Some(r), None),
                    },
                    None => (None, None),
                };
                if let Some(found) = self.lookup_at(child as usize, resource, n2, r2) {
                    return Some(found);
                }
            }
        }
        let q = next.unwrap_or("");
        for &len in &node.partial_lens {
            let Some(prefix) = q.get(..len) else { continue };
            if let Some(bucket) = node.partials.get(prefix.as_bytes()) {
                if let Some(e) = bucket.iter().find(|e| e.pattern.matches(resource)) {
                    return Some((e.pattern.name(), &e.value));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, r: &str) -> bool {
        Pattern::parse(p).map(|p| p.matches(r)).unwrap_or(false)
    }

    #[test]
    fn matching_rules() {
        assert!(m("A.%", "A.B"));
        assert!(!m("A.%", "A.BC"));
        assert!(m("A.*", "A.B"));
        assert!(m("A.*", "A.B.C"));
        assert!(!m("A.*", "A"));
        assert!(m("*.B", "A.B"));
        assert!(!m("*.B", "A.C.B"));
        assert!(m("A.B*", "A.B"));
        assert!(m("A.B*", "A.BC.D"));
        assert!(m("A.**", "A"));
        assert!(m("A.**", "A.B.C"));
        assert!(m("**", "ANY.THING"));
        assert!(m("A.**.Z", "A.Z"));
        assert!(m("A.**.Z", "A.B.C.Z"));
        assert!(!m("A.**.Z", "A.B.C"));
        assert!(m("A%C.D", "ABC.D"));
        assert!(m("A*C.D", "AXYC.D"));
        assert!(!m("A*C.D", "AX.C.D"));
    }

    #[test]
    fn many_stars_stay_cheap() {
        let p = "A*A*A*A*A*A*A*A*A*A*A*A*A*B";
        let r = "A".repeat(4000);
        assert!(!m(p, &r));
        assert!(!m(&format!("X.{p}*"), &format!("X.{r}")));
        assert!(m("A*A*B*", "AAAAB.C"));
    }

    #[test]
    fn racf_order() {
        let order = [
            "COPY.PAPER.%",
            "COPY.PAPER.*",
            "COPY.PAPER.**",
            "COPY.PAPER%",
            "COPY.PAPER*",
            "COPY.PAPE%",
            "COPY.PAP*",
        ];
        for w in order.windows(2) {
            assert_eq!(
                specificity(w[0], w[1]),
                Ordering::Greater,
                "{} > {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn literal_keys() {
        assert_eq!(literal_key("A.B.**"), "A.B");
        assert_eq!(literal_key("A.B.*"), "A.B.");
        assert_eq!(literal_key("**"), "");
        assert_eq!(literal_key("A.B%"), "A.B");
    }
}
