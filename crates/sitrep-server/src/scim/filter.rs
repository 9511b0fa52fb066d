//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a small tree and evaluated against the JSON
//! form of a resource, so one evaluator serves users, groups and PATCH value paths alike.
//!
//! Every operator of the RFC is understood (`eq ne co sw ew gt ge lt le pr`, `and`, `or`,
//! `not (…)`, parentheses and `attr[…]` value paths). Strings compare case-insensitively unless
//! the attribute is case-exact (the caller says which are).

use serde_json::Value;

/// The longest filter taken, and how deeply it may nest: a filter is a few conditions an
/// identity provider sends, and bounding it bounds the parser's stack.
const FILTER_MAX: usize = 4096;
const DEPTH_MAX: usize = 32;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: String,
        op: Op,
        value: Value,
    },
    Present(String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: some element of the multi-valued attribute matches.
    ValuePath {
        path: String,
        filter: Box<Filter>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Why a filter was refused; the text says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '[' => out.push(Token::OpenBracket),
            ']' => out.push(Token::CloseBracket),
            '"' => {
                let mut end = None;
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| FilterError("a string in the filter is not closed with '\"'".into()))?;
                let literal = &text[start..=end];
                let value: String = serde_json::from_str(literal)
                    .map_err(|_| FilterError(format!("{literal} is not a valid JSON string")))?;
                out.push(Token::Text(value));
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                out.push(Token::Word(text[start..end].to_owned()));
            }
        }
    }
    Ok(out)
}

/// Parses a filter.
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > FILTER_MAX {
        return Err(FilterError(format!("a filter is at most {FILTER_MAX} bytes")));
    }
    let tokens = tokens(text)?;
    let mut parser = Parser { tokens: &tokens, at: 0 };
    let filter = parser.or(0)?;
    match parser.tokens.get(parser.at) {
        None => Ok(filter),
        Some(token) => Err(FilterError(format!("unexpected {} after a complete filter", shown(token)))),
    }
}

fn shown(token: &Token) -> String {
    match token {
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::OpenBracket => "'['".into(),
        Token::CloseBracket => "']'".into(),
        Token::Word(word) => format!("'{}'", word.chars().take(40).collect::<String>()),
        Token::Text(text) => format!("\"{}\"", text.chars().take(40).collect::<String>()),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: &Token) -> Result<(), FilterError> {
        match self.tokens.get(self.at) {
            Some(found) if found == token => {
                self.at += 1;
                Ok(())
            }
            Some(found) => Err(FilterError(format!("expected {} but found {}", shown(token), shown(found)))),
            None => Err(FilterError(format!("the filter ends where {} was expected", shown(token)))),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth > DEPTH_MAX {
            return Err(FilterError(format!("a filter nests at most {DEPTH_MAX} levels")));
        }
        let mut left = self.and(depth)?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.unary(depth)?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if self.peek_word("not") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.at += 2;
            let inner = self.or(depth + 1)?;
            self.expect(&Token::Close)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            self.expect(&Token::Close)?;
            return Ok(inner);
        }
        self.attribute(depth)
    }

    fn attribute(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let path = match self.tokens.get(self.at) {
            Some(Token::Word(word)) => word.clone(),
            Some(token) => return Err(FilterError(format!("expected an attribute but found {}", shown(token)))),
            None => return Err(FilterError("the filter ends where an attribute was expected".into())),
        };
        self.at += 1;
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            self.expect(&Token::CloseBracket)?;
            return Ok(Filter::ValuePath { path, filter: Box::new(inner) });
        }
        let op = match self.tokens.get(self.at) {
            Some(Token::Word(word)) => word.to_ascii_lowercase(),
            _ => return Err(FilterError(format!("expected an operator after '{path}'"))),
        };
        self.at += 1;
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(FilterError(format!("'{other}' is not a filter operator"))),
        };
        let value = match self.tokens.get(self.at) {
            Some(Token::Text(text)) => Value::String(text.clone()),
            Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(word)
                    .map(Value::Number)
                    .map_err(|_| FilterError(format!("'{word}' is not a value: quote strings")))?,
            },
            _ => return Err(FilterError(format!("expected a value after '{path}'"))),
        };
        self.at += 1;
        Ok(Filter::Compare { path, op, value })
    }
}

/// An attribute path without its schema URN (`urn:…:User:userName` is `userName`).
pub fn bare(path: &str) -> &str {
    if path.to_ascii_lowercase().starts_with("urn:") { path.rsplit_once(':').map_or(path, |(_, a)| a) } else { path }
}

/// The values at `path` in `resource` (dotted, case-insensitive names; arrays flattened).
fn values_at<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![resource];
    for part in bare(path).split('.') {
        let mut next = Vec::new();
        for value in current {
            let found = value.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(part)));
            match found.map(|(_, v)| v) {
                Some(Value::Array(items)) => next.extend(items.iter()),
                Some(Value::Null) | None => {}
                Some(value) => next.push(value),
            }
        }
        current = next;
    }
    current
}

impl Filter {
    /// Whether `resource` matches; `case_exact` says which attributes compare case-sensitively.
    pub fn matches(&self, resource: &Value, case_exact: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource, case_exact) && b.matches(resource, case_exact),
            Filter::Or(a, b) => a.matches(resource, case_exact) || b.matches(resource, case_exact),
            Filter::Not(inner) => !inner.matches(resource, case_exact),
            Filter::Present(path) => values_at(resource, path).iter().any(|v| match v {
                Value::String(s) => !s.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Filter::ValuePath { path, filter } => {
                values_at(resource, path).iter().any(|element| filter.matches(element, case_exact))
            }
            Filter::Compare { path, op, value } => {
                let found = values_at(resource, path);
                if value.is_null() {
                    return match op {
                        Op::Eq => found.is_empty(),
                        Op::Ne => !found.is_empty(),
                        _ => false,
                    };
                }
                let exact = case_exact(bare(path));
                let outcome = found.iter().any(|have| compare(have, *op, value, exact));
                // `ne` holds when no value equals, including when there is none.
                if *op == Op::Ne {
                    found.is_empty() || found.iter().all(|have| compare(have, *op, value, exact))
                } else {
                    outcome
                }
            }
        }
    }

    /// Rewrites the value of every `eq` and `ne` comparison of the attribute `path` (a bare
    /// name, any case): the values a name is matched whole against.
    pub fn map_values(&mut self, path: &str, change: &dyn Fn(&mut Value)) {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.map_values(path, change);
                b.map_values(path, change);
            }
            Filter::Not(inner) => inner.map_values(path, change),
            Filter::Compare { path: own, op: Op::Eq | Op::Ne, value } if bare(own).eq_ignore_ascii_case(path) => {
                change(value)
            }
            Filter::Compare { .. } | Filter::Present(_) | Filter::ValuePath { .. } => {}
        }
    }
}

fn compare(have: &Value, op: Op, want: &Value, exact: bool) -> bool {
    match (have, want) {
        (Value::String(have), Value::String(want)) => {
            let (have, want) =
                if exact { (have.clone(), want.clone()) } else { (have.to_lowercase(), want.to_lowercase()) };
            match op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Co => have.contains(&want),
                Op::Sw => have.starts_with(&want),
                Op::Ew => have.ends_with(&want),
                Op::Gt => have > want,
                Op::Ge => have >= want,
                Op::Lt => have < want,
                Op::Le => have <= want,
            }
        }
        (Value::Bool(have), Value::Bool(want)) => match op {
            Op::Eq => have == want,
            Op::Ne => have != want,
            _ => false,
        },
        (Value::Number(have), Value::Number(want)) => {
            let (Some(have), Some(want)) = (have.as_f64(), want.as_f64()) else { return false };
            match op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Gt => have > want,
                Op::Ge => have >= want,
                Op::Lt => have < want,
                Op::Le => have <= want,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        _ => op == Op::Ne,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(filter: &str, resource: &Value) -> bool {
        parse(filter).expect("parses").matches(resource, &|path| path == "externalId")
    }

    #[test]
    fn the_rfc_operators_hold() {
        let user = json!({"userName": "Bjensen", "externalId": "E1", "active": true,
            "emails": [{"type": "work", "value": "b@example.com"}], "meta": {"created": "2026-01-01T00:00:00Z"}});
        assert!(matches("userName eq \"bjensen\"", &user), "userName is not case-exact");
        assert!(!matches("externalId eq \"e1\"", &user), "externalId is");
        assert!(matches("active eq true and userName sw \"bj\"", &user));
        assert!(matches("active eq false or externalId ew \"1\"", &user));
        assert!(matches("not (active eq false)", &user));
        assert!(matches("emails[type eq \"work\" and value co \"@example\"]", &user));
        assert!(matches("emails.value pr", &user));
        assert!(!matches("title pr", &user));
        assert!(matches("meta.created gt \"2025-12-31T00:00:00Z\"", &user));
        assert!(matches("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"BJENSEN\"", &user));
        assert!(matches("(userName eq \"x\" or userName eq \"bjensen\") and active eq true", &user));
    }

    #[test]
    fn broken_filters_say_where() {
        for bad in
            ["userName", "userName eq", "userName xx \"a\"", "(userName eq \"a\"", "userName eq bare", "a eq \"b"]
        {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
        assert!(parse(&"(".repeat(100)).is_err());
    }
}
