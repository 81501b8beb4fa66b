//! Phase one: YAML text → a flat map of dotted keys, each value with the line
//! it came from. No knowledge of which keys exist; that is `schema`'s job.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A value as written: a scalar or a list of scalars. Nested mappings are
/// flattened into dotted keys; a list holding mappings is kept as `Complex`
/// (zgate has no key of that shape, so it is only ever reported or ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// A scalar, as text (YAML `null`/`~` and empty values are `Scalar("")`).
    Scalar(String),
    /// A sequence of scalars.
    List(Vec<String>),
    /// A sequence with nested structure.
    Complex,
}

/// One leaf of the YAML tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The value.
    pub value: RawValue,
    /// 1-based line of the key.
    pub line: usize,
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What the parser said.
    pub message: String,
}

/// Parses YAML text into dotted keys. An empty document yields an empty map.
pub fn parse(text: &str) -> Result<BTreeMap<String, RawEntry>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| {
        let marker = e.marker();
        SyntaxError {
            line: marker.line(),
            column: marker.col() + 1,
            message: e.info().to_string(),
        }
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.entries)
}

#[derive(Debug)]
enum Frame {
    /// Inside a mapping; `pending_key` holds a key waiting for its value.
    Map {
        prefix: String,
        pending_key: Option<(String, usize)>,
    },
    /// Inside a sequence that is the value of `key`.
    Seq {
        key: String,
        line: usize,
        items: Vec<String>,
        complex: bool,
        depth_inside: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    entries: BTreeMap<String, RawEntry>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: &str) {
        if self.error.is_none() {
            self.error = Some(SyntaxError {
                line: mark.line(),
                column: mark.col() + 1,
                message: message.to_string(),
            });
        }
    }

    fn insert(&mut self, key: String, line: usize, value: RawValue, mark: Marker) {
        if self.entries.contains_key(&key) {
            self.fail(mark, &format!("duplicate key `{key}`"));
            return;
        }
        self.entries.insert(key, RawEntry { value, line });
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        // A sequence swallows everything until its end; nested structure
        // inside it only marks it complex.
        if let Some(Frame::Seq {
            items,
            complex,
            depth_inside,
            ..
        }) = self.stack.last_mut()
        {
            match ev {
                Event::Scalar(value, ..) if *depth_inside == 0 => {
                    items.push(value);
                    return;
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    *complex = true;
                    *depth_inside += 1;
                    return;
                }
                Event::MappingEnd | Event::SequenceEnd if *depth_inside > 0 => {
                    *depth_inside -= 1;
                    return;
                }
                Event::SequenceEnd => {
                    if let Some(Frame::Seq {
                        key,
                        line,
                        items,
                        complex,
                        ..
                    }) = self.stack.pop()
                    {
                        let value = if complex {
                            RawValue::Complex
                        } else {
                            RawValue::List(items)
                        };
                        self.insert(key, line, value, mark);
                    }
                    return;
                }
                _ => return,
            }
        }
        match ev {
            Event::MappingStart(..) => {
                let prefix = match self.stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Map {
                        prefix,
                        pending_key,
                    }) => match pending_key.take() {
                        Some((key, _)) => join(prefix, &key),
                        None => {
                            self.fail(mark, "a mapping cannot be used as a key");
                            return;
                        }
                    },
                    Some(Frame::Seq { .. }) => return,
                };
                self.stack.push(Frame::Map {
                    prefix,
                    pending_key: None,
                });
            }
            Event::MappingEnd => {
                self.stack.pop();
            }
            Event::SequenceStart(..) => match self.stack.last_mut() {
                Some(Frame::Map {
                    prefix,
                    pending_key,
                }) => match pending_key.take() {
                    Some((key, line)) => {
                        let key = join(prefix, &key);
                        self.stack.push(Frame::Seq {
                            key,
                            line,
                            items: Vec::new(),
                            complex: false,
                            depth_inside: 0,
                        });
                    }
                    None => self.fail(mark, "a sequence cannot be used as a key"),
                },
                _ => self.fail(mark, "the document must be a mapping of keys"),
            },
            Event::Scalar(text, ..) => match self.stack.last_mut() {
                Some(Frame::Map {
                    prefix,
                    pending_key,
                }) => match pending_key.take() {
                    None => *pending_key = Some((text, mark.line())),
                    Some((key, line)) => {
                        let key = join(prefix, &key);
                        let value = if text == "~" || text == "null" {
                            String::new()
                        } else {
                            text
                        };
                        self.insert(key, line, RawValue::Scalar(value), mark);
                    }
                },
                None => {
                    // A document that is a bare scalar: only an empty one is fine.
                    if !text.is_empty() && text != "~" && text != "null" {
                        self.fail(mark, "the document must be a mapping of keys");
                    }
                }
                Some(Frame::Seq { .. }) => {}
            },
            Event::Alias(_) => self.fail(
                mark,
                "YAML aliases are not supported in zgate configuration",
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_mappings_with_lines() {
        let map = parse("zowe:\n  certificate:\n    keystore:\n      alias: localhost\ncomponents:\n  gateway:\n    port: 7554\n").unwrap();
        assert_eq!(
            map["zowe.certificate.keystore.alias"],
            RawEntry {
                value: RawValue::Scalar("localhost".into()),
                line: 4
            }
        );
        assert_eq!(map["components.gateway.port"].line, 7);
    }

    #[test]
    fn scalar_lists_are_kept_and_complex_lists_are_marked() {
        let map = parse("a:\n  - x\n  - y\nb:\n  - k: v\nc: ~\n").unwrap();
        assert_eq!(map["a"].value, RawValue::List(vec!["x".into(), "y".into()]));
        assert_eq!(map["b"].value, RawValue::Complex);
        assert_eq!(map["c"].value, RawValue::Scalar(String::new()));
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a:\n  b: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate"), "{err:?}");
    }

    #[test]
    fn empty_document_is_empty() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# only a comment\n").unwrap().is_empty());
    }
}
