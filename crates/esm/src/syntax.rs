//! The RACF (TSO) command syntax: tokens, operands, keyword abbreviations,
//! and batch files.
//!
//! Operands are separated by blanks or commas. `KEYWORD(value ...)` carries
//! values, which may nest (`PASSWORD(INTERVAL(30))`, `WHEN(PROGRAM(X))`).
//! Quoted strings use `'` and a doubled `''` stands for one quote; a quoted
//! string keeps its case. Keywords may be abbreviated to any prefix that is
//! unique among the command's keywords (TSO's rule); some have fixed aliases.

/// One operand as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A word or a quoted string (with any adjoining text, e.g. `'A.B'/READ`).
    Word {
        /// The text, case as written, quotes removed.
        text: String,
        /// Whether any part was quoted.
        quoted: bool,
    },
    /// `NAME(args)`.
    Keyword {
        /// The keyword, upper case.
        name: String,
        /// What is inside the parentheses.
        args: Vec<Operand>,
    },
    /// A parenthesised list without a keyword: `ADDUSER (A B)`.
    List(Vec<Operand>),
}

/// A syntax error, with the TSO-style message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace() || c == ',') {
            self.pos += 1;
        }
    }

    fn quoted(&mut self) -> Result<String, SyntaxError> {
        // At the opening quote.
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(SyntaxError(
                        "IKJ56705I MISSING END QUOTE OF A QUOTED STRING".into(),
                    ))
                }
                Some('\'') if self.chars.get(self.pos + 1) == Some(&'\'') => {
                    s.push('\'');
                    self.pos += 2;
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Operand>, SyntaxError> {
        if depth > 8 {
            return Err(SyntaxError(
                "IKJ56702I INVALID OPERAND, TOO DEEPLY NESTED".into(),
            ));
        }
        let mut out = Vec::new();
        loop {
            self.skip_separators();
            match self.peek() {
                None if depth == 0 => return Ok(out),
                None => return Err(SyntaxError("IKJ56704I MISSING RIGHT PARENTHESIS".into())),
                Some(')') if depth == 0 => {
                    return Err(SyntaxError("IKJ56708I INVALID RIGHT PARENTHESIS".into()))
                }
                Some(')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('(') => {
                    self.pos += 1;
                    out.push(Operand::List(self.list(depth + 1)?));
                }
                Some(_) => out.push(self.word(depth)?),
            }
        }
    }

    fn word(&mut self, depth: usize) -> Result<Operand, SyntaxError> {
        let mut text = String::new();
        let mut quoted = false;
        loop {
            match self.peek() {
                Some('\'') => {
                    text.push_str(&self.quoted()?);
                    quoted = true;
                }
                Some('(') if !quoted && !text.is_empty() => {
                    self.pos += 1;
                    let args = self.list(depth + 1)?;
                    return Ok(Operand::Keyword {
                        name: text.to_ascii_uppercase(),
                        args,
                    });
                }
                Some(c) if !(c.is_whitespace() || c == ',' || c == '(' || c == ')') => {
                    text.push(c);
                    self.pos += 1;
                }
                _ => return Ok(Operand::Word { text, quoted }),
            }
        }
    }
}

/// Splits a command into operands (the command name is the first).
pub fn tokenize(text: &str) -> Result<Vec<Operand>, SyntaxError> {
    let mut lx = Lexer {
        chars: text.chars().collect(),
        pos: 0,
    };
    lx.list(0)
}

/// How a command's keyword is written.
#[derive(Debug, Clone, Copy)]
pub struct KeywordSpec {
    /// The full name.
    pub name: &'static str,
    /// Fixed aliases (besides unique prefixes).
    pub aliases: &'static [&'static str],
    /// Whether it takes a value in parentheses: Some(true) required,
    /// Some(false) optional, None never.
    pub value: Option<bool>,
}

/// A parsed command: positional operands and keywords by canonical name.
#[derive(Debug, Clone, Default)]
pub struct CommandOperands {
    /// Positional operands (words or lists), in order.
    pub positionals: Vec<Operand>,
    /// Keywords in the order given, canonical names.
    pub keywords: Vec<(&'static str, Vec<Operand>, bool)>,
}

impl CommandOperands {
    /// Whether a keyword was given.
    pub fn has(&self, name: &str) -> bool {
        self.keywords.iter().any(|(k, _, _)| *k == name)
    }

    /// The operands inside a keyword's parentheses.
    pub fn args(&self, name: &str) -> Option<&[Operand]> {
        self.keywords
            .iter()
            .find(|(k, _, _)| *k == name)
            .map(|(_, a, _)| a.as_slice())
    }
}

/// Resolves a keyword as written against a command's keywords.
pub fn resolve_keyword(
    written: &str,
    specs: &'static [KeywordSpec],
) -> Result<&'static KeywordSpec, SyntaxError> {
    let w = written.to_ascii_uppercase();
    if let Some(s) = specs
        .iter()
        .find(|s| s.name == w || s.aliases.contains(&w.as_str()))
    {
        return Ok(s);
    }
    let mut candidates = specs.iter().filter(|s| s.name.starts_with(&w));
    match (candidates.next(), candidates.next()) {
        (Some(s), None) if !w.is_empty() => Ok(s),
        (Some(_), Some(_)) => Err(SyntaxError(format!("IKJ56703I AMBIGUOUS KEYWORD, {w}"))),
        _ => Err(SyntaxError(format!("IKJ56712I INVALID KEYWORD, {w}"))),
    }
}

/// Sorts operands into positionals (the leading words and lists) and
/// keywords.
pub fn parse_operands(
    operands: &[Operand],
    max_positionals: usize,
    specs: &'static [KeywordSpec],
) -> Result<CommandOperands, SyntaxError> {
    let mut parsed = CommandOperands::default();
    for op in operands {
        match op {
            Operand::Word { .. } | Operand::List(_)
                if parsed.positionals.len() < max_positionals && parsed.keywords.is_empty() =>
            {
                parsed.positionals.push(op.clone());
            }
            Operand::Word {
                text,
                quoted: false,
            } => {
                let spec = resolve_keyword(text, specs)?;
                if spec.value == Some(true) {
                    return Err(SyntaxError(format!(
                        "IKJ56701I MISSING VALUE FOR KEYWORD {}",
                        spec.name
                    )));
                }
                add(&mut parsed, spec, Vec::new(), false)?;
            }
            Operand::Keyword { name, args } => {
                let spec = resolve_keyword(name, specs)?;
                if spec.value.is_none() {
                    return Err(SyntaxError(format!(
                        "IKJ56712I INVALID KEYWORD, {name}( - {} TAKES NO VALUE",
                        spec.name
                    )));
                }
                add(&mut parsed, spec, args.clone(), true)?;
            }
            Operand::Word { text, .. } => {
                return Err(SyntaxError(format!("IKJ56712I INVALID KEYWORD, '{text}'")))
            }
            Operand::List(_) => {
                return Err(SyntaxError(
                    "IKJ56712I INVALID KEYWORD, a parenthesised list without a keyword".into(),
                ))
            }
        }
    }
    Ok(parsed)
}

fn add(
    parsed: &mut CommandOperands,
    spec: &'static KeywordSpec,
    args: Vec<Operand>,
    had_parens: bool,
) -> Result<(), SyntaxError> {
    if parsed.has(spec.name) {
        return Err(SyntaxError(format!(
            "IKJ56712I INVALID KEYWORD, {} SPECIFIED MORE THAN ONCE",
            spec.name
        )));
    }
    parsed.keywords.push((spec.name, args, had_parens));
    Ok(())
}

/// Flattens operands to their texts (lists opened), with the quoted flag.
pub fn texts(ops: &[Operand]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Operand::Word { text, quoted } => out.push((text.clone(), *quoted)),
            Operand::List(inner) => out.extend(texts(inner)),
            Operand::Keyword { name, args } => {
                let inner: Vec<String> = texts(args).into_iter().map(|(t, _)| t).collect();
                out.push((format!("{name}({})", inner.join(" ")), false));
            }
        }
    }
    out
}

/// One command of a batch, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCommand {
    /// 1-based line number where the command starts.
    pub line: usize,
    /// The command text, continuations joined.
    pub text: String,
}

/// Splits a batch into commands: one per line, `/* ... */` comments (may
/// span lines) and lines starting with `#` dropped, a trailing `-` continues
/// on the next line keeping its leading blanks, a trailing `+` continues
/// dropping them (TSO's rule).
pub fn split_batch(text: &str) -> Result<Vec<BatchCommand>, SyntaxError> {
    let mut out = Vec::new();
    let mut in_comment = false;
    let mut current: Option<BatchCommand> = None;
    let mut strip_next = false;
    for (i, raw) in text.lines().enumerate() {
        // Remove comments, respecting quotes.
        let mut line = String::new();
        let chars: Vec<char> = raw.chars().collect();
        let mut j = 0;
        let mut in_quote = false;
        while j < chars.len() {
            if in_comment {
                if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    in_comment = false;
                    j += 2;
                } else {
                    j += 1;
                }
                continue;
            }
            if chars[j] == '\'' {
                in_quote = !in_quote;
            }
            if !in_quote && chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                in_comment = true;
                j += 2;
                continue;
            }
            line.push(chars[j]);
            j += 1;
        }
        if current.is_none() && line.trim_start().starts_with('#') {
            continue;
        }
        let piece = if strip_next {
            line.trim_start().to_owned()
        } else {
            line
        };
        let trimmed = piece.trim_end();
        let (body, cont) = match trimmed.chars().last() {
            Some('-') => (&trimmed[..trimmed.len() - 1], Some(false)),
            Some('+') => (&trimmed[..trimmed.len() - 1], Some(true)),
            _ => (trimmed, None),
        };
        let cmd = current.get_or_insert_with(|| BatchCommand {
            line: i + 1,
            text: String::new(),
        });
        cmd.text.push_str(body);
        match cont {
            Some(strip) => strip_next = strip,
            None => {
                strip_next = false;
                if let Some(c) = current.take() {
                    if !c.text.trim().is_empty() {
                        out.push(BatchCommand {
                            line: c.line,
                            text: c.text.trim().to_owned(),
                        });
                    }
                }
            }
        }
    }
    if in_comment {
        return Err(SyntaxError(
            "unterminated /* comment at end of batch".into(),
        ));
    }
    if let Some(c) = current {
        if !c.text.trim().is_empty() {
            out.push(BatchCommand {
                line: c.line,
                text: c.text.trim().to_owned(),
            });
        }
    }
    Ok(out)
}

/// A [`KeywordSpec`]: `kw!("NAME")` takes no value, `kw!("NAME", true)`
/// needs one, `kw!("NAME", v, [aliases])` with `v` an `Option<bool>`.
macro_rules! kw {
    ($name:literal) => {
        KeywordSpec { name: $name, aliases: &[], value: None }
    };
    ($name:literal, $v:expr) => {
        KeywordSpec { name: $name, aliases: &[], value: Some($v) }
    };
    ($name:literal, $v:expr, [$($a:literal),*]) => {
        KeywordSpec { name: $name, aliases: &[$($a),*], value: $v }
    };
}

pub(crate) use kw;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_nesting() {
        let t = tokenize("AU BOB NAME('O''Brien X') PASSWORD(INTERVAL(30) REVOKE(3))").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            t[2],
            Operand::Keyword {
                name: "NAME".into(),
                args: vec![Operand::Word {
                    text: "O'Brien X".into(),
                    quoted: true
                }]
            }
        );
        assert!(tokenize("AU BOB NAME('x").is_err());
        assert!(tokenize("AU BOB NAME(x").is_err());
        assert!(tokenize("AU BOB )").is_err());
    }

    #[test]
    fn batch_split() {
        let b = split_batch("# c\nAU A /* x */\nPE P CLASS(C) -\n  ID(A) +\n   ACCESS(READ)\n/* multi\nline */ LU A\n").unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].text, "PE P CLASS(C)   ID(A) ACCESS(READ)");
        assert_eq!(b[2].line, 7);
        assert_eq!(b[2].text, "LU A");
    }
}
