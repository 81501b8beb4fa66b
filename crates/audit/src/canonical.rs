//! RFC 8785 (JSON Canonicalization Scheme) for the values audit records
//! hold: objects with keys sorted by their UTF-16 code units, strings with
//! only the escapes JSON requires, integers as decimal. A record with a
//! fractional number is refused: the trail writes none, and JCS's number
//! form is the one part that would need ECMAScript's float printing.

use serde_json::Value;

/// A value JCS cannot be asked to canonicalize here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a fractional number has no canonical form in the audit trail")]
pub struct NotCanonical;

/// The canonical bytes of `value`.
pub fn canonical(value: &Value) -> Result<String, NotCanonical> {
    let mut out = String::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut String) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                return Err(NotCanonical);
            }
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write(v, out)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sort_by_utf16_and_strings_escape_only_what_json_requires() {
        let v =
            json!({"b": 1, "a": [true, null, "x\"y\\z\n\u{1}é€"], "\u{e000}": 0, "\u{1f600}": 0});
        // U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000.
        assert_eq!(
            canonical(&v).unwrap(),
            "{\"a\":[true,null,\"x\\\"y\\\\z\\n\\u0001é€\"],\"b\":1,\"\u{1f600}\":0,\"\u{e000}\":0}"
        );
        assert_eq!(canonical(&json!(-7)).unwrap(), "-7");
        assert_eq!(canonical(&json!(u64::MAX)).unwrap(), u64::MAX.to_string());
        assert_eq!(canonical(&json!(1.5)), Err(NotCanonical));
    }
}
