//! The request target, normalized before anything routes on it (RFC 3986
//! section 6.2.2): percent-encoded unreserved characters decoded, the hex
//! digits of the other encodings upper-cased, dot segments removed, also
//! when they were percent-encoded.
//!
//! What a backend could read differently from the gateway is refused
//! instead of normalized, because no rewriting makes it safe for every
//! backend framework:
//! - a control character, raw or encoded (`%00`-`%1F`, `%7F`);
//! - a raw `\` (some servers read it as `/`);
//! - a dot segment with path parameters (`..;`, `.;x`: Tomcat reads `..;`
//!   as `..`);
//! - an empty segment (`//`) anywhere but at the end;
//! - `..` that would climb above the root.
//!
//! Encoded `/`, `\` and `%` (`%2F`, `%5C`, `%25`) are not decoded (that
//! would change the path's structure) and are reported in
//! [`Target::encoded_separators`]: the caller refuses them unless the
//! routed service opts in (API ML's `apiml.enableUrlEncodedCharacters`).
//! [`Target::intact_segments`] tells how many leading segments no `..`
//! touched, so routing can refuse a path that left its service.

/// Why a request target was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// Not an origin-form path.
    NotAbsolute,
    /// A `%` not followed by two hex digits, or encoded bytes that are not
    /// UTF-8.
    BadEncoding,
    /// A control character, raw or encoded.
    ControlCharacter,
    /// A raw backslash.
    Backslash,
    /// A dot segment carrying `;` parameters.
    DotSegmentParameters,
    /// An empty segment before the last.
    EmptySegment,
    /// `..` above the root.
    AboveRoot,
    /// `..` out of the first two segments.
    LeavesRoot,
}

impl TargetError {
    /// The reason, as the error message says it.
    pub fn why(self) -> &'static str {
        match self {
            TargetError::NotAbsolute => "the path does not start with '/'",
            TargetError::BadEncoding => {
                "a '%' is not followed by two hexadecimal digits, or encodes no UTF-8"
            }
            TargetError::ControlCharacter => "the path contains a control character",
            TargetError::Backslash => "the path contains a backslash",
            TargetError::DotSegmentParameters => "a dot segment carries ';' parameters",
            TargetError::EmptySegment => "the path contains an empty segment ('//')",
            TargetError::AboveRoot => "a '..' segment climbs above the root",
            TargetError::LeavesRoot => "a '..' segment leaves the service's root",
        }
    }
}

/// A normalized origin-form path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The normalized path (starts with `/`).
    pub path: String,
    /// It still holds `%2F`, `%5C` or `%25`.
    pub encoded_separators: bool,
    /// How many leading segments of the result no `..` removed or replaced
    /// (`usize::MAX` when the path had no `..`).
    pub intact_segments: usize,
    /// The path, fully decoded, would have a `.` or `..` segment (only
    /// possible through an encoded separator): a service that takes
    /// encoded separators must still not receive one.
    pub decodes_to_dot_segment: bool,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One segment with unreserved characters decoded and the other encodings
/// upper-cased; notes encoded separators.
fn decode_segment(raw: &str, encoded_separators: &mut bool) -> Result<String, TargetError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    // The segment's bytes fully decoded: they must be UTF-8, so an overlong
    // form (`%C0%AE` for `.`) that a lenient decoder reads as a dot never
    // passes.
    let mut decoded_bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(TargetError::BadEncoding);
            };
            let decoded = hi << 4 | lo;
            decoded_bytes.push(decoded);
            if decoded.is_ascii_control() {
                return Err(TargetError::ControlCharacter);
            }
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                if matches!(decoded, b'/' | b'\\' | b'%') {
                    *encoded_separators = true;
                }
                out.push('%');
                out.push(char::from(HEX[usize::from(hi)]));
                out.push(char::from(HEX[usize::from(lo)]));
            }
            i += 3;
            continue;
        }
        if b.is_ascii_control() || !b.is_ascii() {
            return Err(TargetError::ControlCharacter);
        }
        if b == b'\\' {
            return Err(TargetError::Backslash);
        }
        out.push(char::from(b));
        decoded_bytes.push(b);
        i += 1;
    }
    if std::str::from_utf8(&decoded_bytes).is_err() {
        return Err(TargetError::BadEncoding);
    }
    Ok(out)
}

fn is_dot(segment: &str) -> bool {
    segment == "." || segment == ".."
}

/// Whether `path` with `%2F`, `%5C` (and `\`) read as separators has a dot
/// segment.
fn decodes_to_dot_segment(path: &str) -> bool {
    let decoded = path
        .replace("%2F", "/")
        .replace("%5C", "/")
        .replace("%2E", ".");
    decoded.split('/').any(|s| {
        let name = s.split(';').next().unwrap_or(s);
        is_dot(name)
    })
}

/// Normalizes a request's path and refuses it when a `..` climbed out of
/// its first two segments (`/<serviceId>/<api|ui|ws>`, `/gateway/api`): a
/// `..` may move within a service or an endpoint family, never out of it;
/// what climbs there is probing, not a client that normalizes its paths.
pub fn accept(path: &str) -> Result<Target, TargetError> {
    let target = normalize(path)?;
    if target.intact_segments < 2 {
        return Err(TargetError::LeavesRoot);
    }
    Ok(target)
}

/// Whether `path` is already normal: no encoding, no dot or empty segment
/// (but a trailing slash), nothing refused. Most requests are; they skip
/// the segment-by-segment rebuild.
pub fn is_plain(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last)
            || segment.starts_with('.')
            || segment
                .bytes()
                .any(|b| b == b'%' || b == b'\\' || b.is_ascii_control() || !b.is_ascii())
        {
            return false;
        }
    }
    true
}

/// Normalizes an origin-form path (without its query).
pub fn normalize(path: &str) -> Result<Target, TargetError> {
    if is_plain(path) {
        return Ok(Target {
            path: path.to_owned(),
            encoded_separators: false,
            intact_segments: usize::MAX,
            decodes_to_dot_segment: false,
        });
    }
    rebuild(path)
}

/// [`normalize`] segment by segment.
fn rebuild(path: &str) -> Result<Target, TargetError> {
    let rest = path.strip_prefix('/').ok_or(TargetError::NotAbsolute)?;
    let mut encoded_separators = false;
    let raw: Vec<&str> = rest.split('/').collect();
    let last = raw.len() - 1;
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    let mut intact = usize::MAX;
    let mut trailing_slash = false;
    for (i, segment) in raw.iter().enumerate() {
        let segment = decode_segment(segment, &mut encoded_separators)?;
        let name = segment.split(';').next().unwrap_or(&segment);
        if is_dot(name) && name.len() != segment.len() {
            return Err(TargetError::DotSegmentParameters);
        }
        match segment.as_str() {
            "" if i != last => return Err(TargetError::EmptySegment),
            "." => trailing_slash = i == last,
            ".." => {
                if out.pop().is_none() {
                    return Err(TargetError::AboveRoot);
                }
                intact = intact.min(out.len());
                trailing_slash = i == last;
            }
            _ => {
                trailing_slash = false;
                out.push(segment);
            }
        }
    }
    let mut normalized = String::with_capacity(path.len());
    for segment in &out {
        normalized.push('/');
        normalized.push_str(segment);
    }
    if trailing_slash || normalized.is_empty() {
        normalized.push('/');
    }
    let decodes_to_dot = encoded_separators && decodes_to_dot_segment(&normalized);
    Ok(Target {
        path: normalized,
        encoded_separators,
        intact_segments: intact,
        decodes_to_dot_segment: decodes_to_dot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str) -> String {
        normalize(path)
            .unwrap_or_else(|e| panic!("{path}: {e:?}"))
            .path
    }

    #[test]
    fn unreserved_characters_are_decoded_and_other_encodings_upper_cased() {
        assert_eq!(ok("/a/%61%62%63"), "/a/abc");
        assert_eq!(ok("/a/%7e%7E%2d%5f"), "/a/~~-_");
        assert_eq!(ok("/a/b%3ac%c3%a9"), "/a/b%3Ac%C3%A9");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("/a/"), "/a/");
        assert_eq!(ok("/a/b;v=1"), "/a/b;v=1");
    }

    #[test]
    fn dot_segments_are_removed_in_every_encoding() {
        assert_eq!(ok("/a/b/./c"), "/a/b/c");
        assert_eq!(ok("/a/b/../c"), "/a/c");
        assert_eq!(ok("/a/b/%2e%2E/c"), "/a/c");
        assert_eq!(ok("/a/b/.%2e/c"), "/a/c");
        assert_eq!(ok("/a/b/%2e/c"), "/a/b/c");
        assert_eq!(ok("/a/b/.."), "/a/");
        assert_eq!(ok("/a/b/."), "/a/b/");
        let t = normalize("/a/b/c/../../d").unwrap();
        assert_eq!(t.path, "/a/d");
        assert_eq!(t.intact_segments, 1);
        assert_eq!(normalize("/a/b").unwrap().intact_segments, usize::MAX);
    }

    #[test]
    fn what_a_backend_could_read_otherwise_is_refused() {
        use TargetError as E;
        let cases = [
            ("/a/../..", E::AboveRoot),
            ("/..", E::AboveRoot),
            ("/%2e%2e/x", E::AboveRoot),
            ("/a/..;/x", E::DotSegmentParameters),
            ("/a/.;x/b", E::DotSegmentParameters),
            ("/a/%2e%2e;/b", E::DotSegmentParameters),
            ("/a//b", E::EmptySegment),
            ("//a", E::EmptySegment),
            ("/a\\b", E::Backslash),
            ("/a/%00", E::ControlCharacter),
            ("/a/%0a", E::ControlCharacter),
            ("/a/%0D", E::ControlCharacter),
            ("/a/%09", E::ControlCharacter),
            ("/a/%1f", E::ControlCharacter),
            ("/a/%7F", E::ControlCharacter),
            ("/a/b\tc", E::ControlCharacter),
            ("/a/%", E::BadEncoding),
            ("/a/%2", E::BadEncoding),
            ("/a/%zz", E::BadEncoding),
            ("/a/%c0%ae%c0%ae/x", E::BadEncoding),
            ("/a/%e0%80%ae", E::BadEncoding),
            ("/a/%ff", E::BadEncoding),
            ("a/b", E::NotAbsolute),
            ("", E::NotAbsolute),
        ];
        for (path, error) in cases {
            assert_eq!(normalize(path), Err(error), "{path:?}");
        }
    }

    #[test]
    fn encoded_separators_are_kept_and_reported() {
        for path in ["/a/%2f", "/a/%2F", "/a/%5c", "/a/%25", "/a/%252e%252e"] {
            let t = normalize(path).unwrap();
            assert!(t.encoded_separators, "{path}");
            assert!(!t.path.contains("%2f") && !t.path.contains("%5c"), "{path}");
        }
        assert!(normalize("/a/..%2F..%2Fx").unwrap().decodes_to_dot_segment);
        assert!(normalize("/a/b%5C..").unwrap().decodes_to_dot_segment);
        assert!(!normalize("/a/b%2Fc").unwrap().decodes_to_dot_segment);
        assert!(!normalize("/a/b").unwrap().encoded_separators);
    }

    #[test]
    fn plain_paths_take_the_short_way_to_the_same_answer() {
        let paths = [
            "/", "/a", "/a/b/", "/a/b;v=1", "/a/.b", "/a/b.", "/a//b", "/a/%41", "/a/./b", "/a/..",
            "//", "/a\\b", "/~x/y",
        ];
        for path in paths {
            if is_plain(path) {
                assert_eq!(normalize(path), rebuild(path), "{path}");
            }
        }
        assert!(is_plain("/gateway/api/v1/auth/query"));
        assert!(!is_plain("/a//b") && !is_plain("/a/./b") && !is_plain("/a/%41"));
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for path in ["/a/%61/../b/", "/x/%7e/./y", "/p/%C3%A9%2F"] {
            let once = ok(path);
            assert_eq!(ok(&once), once);
        }
    }
}
