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
//! Keys live in a byte trie; each trie node holds the profiles with exactly
//! that key, sorted most specific first. To look up a resource name the trie
//! is walked along the name's bytes, collecting the nodes on the path (at most
//! `len + 1`); then those nodes are tried deepest first and the first matching
//! profile is the answer.
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

/// Whether a name contains a generic character.
pub fn is_generic(name: &str) -> bool {
    name.contains(['*', '%'])
}

/// One qualifier of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Qual {
    /// `**`: zero or more qualifiers.
    DoubleStar,
    /// `*` alone: one qualifier (one or more when last).
    Star,
    /// Literal characters, `%` and in-qualifier `*`.
    Glob(Vec<u8>),
}

/// A parsed generic profile name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    quals: Vec<Qual>,
    /// The last qualifier is a glob ending in `*`: runs to the end of the name.
    open_end: bool,
}

impl Pattern {
    /// Parses a (upper-case) generic name.
    pub fn parse(name: &str) -> Result<Pattern, &'static str> {
        let mut quals = Vec::new();
        let mut double_stars = 0;
        for q in name.split('.') {
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
                quals.push(Qual::Glob(q.as_bytes().to_vec()));
            }
        }
        if double_stars > 1 {
            return Err("`**` may appear only once");
        }
        let open_end = matches!(quals.last(), Some(Qual::Glob(g)) if g.last() == Some(&b'*'));
        Ok(Pattern { quals, open_end })
    }

    /// Whether the literal resource name matches.
    pub fn matches(&self, resource: &str) -> bool {
        match_quals(&self.quals, Some(resource.as_bytes()), self.open_end)
    }
}

/// Splits `a.b.c` into (`a`, Some(`b.c`)); the last one gives None.
fn split_first(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// `rest` is the remaining qualifiers joined by `.`, or None when none remain.
fn match_quals(p: &[Qual], rest: Option<&[u8]>, open_end: bool) -> bool {
    let Some((q, more)) = p.split_first() else {
        return rest.is_none();
    };
    match q {
        Qual::DoubleStar => {
            let mut cur = rest;
            loop {
                if match_quals(more, cur, open_end) {
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
            match_quals(more, tail, open_end)
        }
        Qual::Glob(g) => {
            let Some(s) = rest else { return false };
            if more.is_empty() && open_end {
                // `A.B*`: the final `*` runs to the end of the name.
                let body = &g[..g.len() - 1];
                return glob_prefix(body, s);
            }
            let (head, tail) = split_first(s);
            glob(g, head) && match_quals(more, tail, open_end)
        }
    }
}

/// In-qualifier glob: `%` one byte, `*` zero or more bytes (text has no `.`).
fn glob(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', pr)) => (0..=t.len()).any(|i| glob(pr, &t[i..])),
        Some((b'%', pr)) => !t.is_empty() && glob(pr, &t[1..]),
        Some((c, pr)) => t.first() == Some(c) && glob(pr, &t[1..]),
    }
}

/// Whether some prefix of `t` matches the in-qualifier glob `p` (the prefix
/// must stay within the first qualifier of `t`).
fn glob_prefix(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => true,
        Some((b'*', pr)) => {
            let qual_end = t.iter().position(|&b| b == b'.').unwrap_or(t.len());
            (0..=qual_end).any(|i| glob_prefix(pr, &t[i..]))
        }
        Some((b'%', pr)) => matches!(t.first(), Some(&b) if b != b'.') && glob_prefix(pr, &t[1..]),
        Some((c, pr)) => t.first() == Some(c) && glob_prefix(pr, &t[1..]),
    }
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

#[derive(Debug, Clone)]
struct Node<T> {
    /// Child nodes by next byte, kept sorted for a binary search.
    children: Vec<(u8, u32)>,
    /// Profiles whose key ends here, most specific first.
    bucket: Vec<(Pattern, String, T)>,
}

impl<T> Node<T> {
    fn new() -> Node<T> {
        Node {
            children: Vec::new(),
            bucket: Vec::new(),
        }
    }
}

/// A trie of generic names by literal key (see the module docs).
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

impl<T: Clone> GenericIndex<T> {
    /// Number of generic names held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node_for(&mut self, key: &str) -> usize {
        let mut at = 0usize;
        for &c in key.as_bytes() {
            let next = match self.nodes[at]
                .children
                .binary_search_by_key(&c, |&(b, _)| b)
            {
                Ok(i) => self.nodes[at].children[i].1 as usize,
                Err(i) => {
                    let id = self.nodes.len();
                    self.nodes.push(Node::new());
                    self.nodes[at].children.insert(i, (c, id as u32));
                    id
                }
            };
            at = next;
        }
        at
    }

    fn find_node(&self, key: &str) -> Option<usize> {
        let mut at = 0usize;
        for &c in key.as_bytes() {
            let node = &self.nodes[at];
            let i = node.children.binary_search_by_key(&c, |&(b, _)| b).ok()?;
            at = node.children[i].1 as usize;
        }
        Some(at)
    }

    /// Inserts or replaces the value for a generic name. Names that do not
    /// parse as patterns are ignored (they were refused at definition).
    pub fn insert(&mut self, name: &str, value: T) {
        let Ok(pattern) = Pattern::parse(name) else {
            return;
        };
        let at = self.node_for(literal_key(name));
        let bucket = &mut self.nodes[at].bucket;
        if let Some(slot) = bucket.iter_mut().find(|(_, n, _)| n == name) {
            slot.2 = value;
            return;
        }
        // Most specific first.
        let pos = bucket
            .iter()
            .position(|(_, n, _)| specificity(name, n) == Ordering::Greater)
            .unwrap_or(bucket.len());
        bucket.insert(pos, (pattern, name.to_owned(), value));
        self.len += 1;
    }

    /// Removes a generic name; true if it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(at) = self.find_node(literal_key(name)) else {
            return false;
        };
        let bucket = &mut self.nodes[at].bucket;
        match bucket.iter().position(|(_, n, _)| n == name) {
            Some(i) => {
                bucket.remove(i);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// The most specific generic name matching the literal `resource`.
    pub fn lookup(&self, resource: &str) -> Option<(&str, &T)> {
        // Nodes along the resource's bytes; at most 247 deep for valid names,
        // kept on the stack for short names.
        let mut path: [u32; 64] = [0; 64];
        let mut path_len = 0usize;
        let mut overflow: Vec<u32> = Vec::new();
        let mut at = 0usize;
        let mut push = |n: usize, path: &mut [u32; 64], path_len: &mut usize| {
            if !self.nodes[n].bucket.is_empty() {
                if *path_len < path.len() {
                    path[*path_len] = n as u32;
                    *path_len += 1;
                } else {
                    overflow.push(n as u32);
                }
            }
        };
        push(0, &mut path, &mut path_len);
        for &c in resource.as_bytes() {
            let node = &self.nodes[at];
            let Ok(i) = node.children.binary_search_by_key(&c, |&(b, _)| b) else {
                break;
            };
            at = node.children[i].1 as usize;
            push(at, &mut path, &mut path_len);
        }
        let deepest_first = overflow.iter().rev().chain(path[..path_len].iter().rev());
        for &n in deepest_first {
            for (pattern, name, value) in &self.nodes[n as usize].bucket {
                if pattern.matches(resource) {
                    return Some((name.as_str(), value));
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
