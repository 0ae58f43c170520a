//! OData query options as Graph implements them: parsing `$top`, `$skip`,
//! `$skiptoken`, `$select`, `$filter`, `$expand`, `$count`, `$orderby`;
//! evaluating filters against JSON objects; opaque paging tokens; building
//! absolute `@odata.nextLink` URLs.

use crate::error::GraphError;
use base64::Engine as _;
use serde_json::{Map, Value};

/// One `$expand` item, e.g. `scheduledActionsForRule($expand=scheduledActionConfigurations)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    pub name: String,
    pub nested: Vec<Expand>,
}

/// Parsed query options of one request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub top: Option<usize>,
    pub skip: Option<usize>,
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
    pub select: Option<Vec<String>>,
    pub filter: Option<Filter>,
    pub expand: Vec<Expand>,
    pub count: bool,
    pub orderby: Option<(String, bool)>,
    /// All parameters as received, for building next links.
    pub raw: Vec<(String, String)>,
}

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::bad_request(msg)
}

impl Query {
    /// Parses a raw (still percent-encoded) query string.
    pub fn parse(raw_query: &str) -> Result<Query, GraphError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self::from_pairs(pairs)
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Query, GraphError> {
        let mut q = Query { raw: pairs.clone(), ..Query::default() };
        for (k, v) in &pairs {
            let key = k.strip_prefix('$').unwrap_or(k).to_ascii_lowercase();
            match key.as_str() {
                "top" => {
                    let n: i64 = v.trim().parse().map_err(|_| bad(format!("Invalid page size specified: '{v}'. Must be between 1 and 999 inclusive.")))?;
                    if n < 1 {
                        return Err(bad(format!("Invalid page size specified: '{v}'. Must be between 1 and 999 inclusive.")));
                    }
                    q.top = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                "skip" => {
                    let n: usize = v.trim().parse().map_err(|_| bad(format!("Invalid value '{v}' for $skip.")))?;
                    q.skip = Some(n);
                }
                "skiptoken" => q.skiptoken = Some(v.clone()),
                "deltatoken" => q.deltatoken = Some(v.clone()),
                "select" => {
                    let items: Vec<String> = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                    if items.iter().any(|s| !s.chars().all(|c| c.is_alphanumeric() || "_@.#/".contains(c))) {
                        return Err(bad(format!("Invalid $select properties: '{v}'.")));
                    }
                    q.select = Some(items);
                }
                "filter" => q.filter = Some(Filter::parse(v)?),
                "expand" => q.expand = parse_expand(v)?,
                "count" => {
                    q.count = match v.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("Invalid value '{v}' for $count."))),
                    }
                }
                "orderby" => {
                    let mut parts = v.split_whitespace();
                    let prop = parts.next().ok_or_else(|| bad("Invalid $orderby expression."))?.to_string();
                    let desc = match parts.next().map(|s| s.to_ascii_lowercase()) {
                        None => false,
                        Some(d) if d == "asc" => false,
                        Some(d) if d == "desc" => true,
                        Some(_) => return Err(bad(format!("Invalid $orderby expression '{v}'."))),
                    };
                    if parts.next().is_some() || v.contains(',') {
                        return Err(GraphError::new(400, "Request_UnsupportedQuery", "Sorting by more than one property is not supported."));
                    }
                    q.orderby = Some((prop, desc));
                }
                "search" => return Err(GraphError::new(400, "Request_UnsupportedQuery", "$search is not supported by this sandbox.")),
                "format" | "apply" | "levels" => return Err(bad(format!("Query option '{k}' is not supported."))),
                _ if k.starts_with('$') => return Err(bad(format!("The query parameter '{k}' is not supported."))),
                _ => {}
            }
        }
        Ok(q)
    }

    pub fn has_expand(&self, name: &str) -> Option<&Expand> {
        self.expand.iter().find(|e| e.name.eq_ignore_ascii_case(name))
    }
}

/// Splits at commas that are not inside parentheses.
fn split_top(s: &str, sep: char) -> Result<Vec<String>, GraphError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(bad("Unbalanced parentheses in query option."));
                }
            }
            _ => {}
        }
        if c == sep && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if depth != 0 {
        return Err(bad("Unbalanced parentheses in query option."));
    }
    out.push(cur);
    Ok(out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

fn parse_expand(v: &str) -> Result<Vec<Expand>, GraphError> {
    let mut out = Vec::new();
    for item in split_top(v, ',')? {
        let (name, opts) = match item.find('(') {
            Some(i) if item.ends_with(')') => (item[..i].trim().to_string(), &item[i + 1..item.len() - 1]),
            Some(_) => return Err(bad(format!("Invalid $expand expression '{item}'."))),
            None => (item.clone(), ""),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            return Err(bad(format!("Invalid $expand expression '{item}'.")));
        }
        let mut nested = Vec::new();
        for opt in split_top(opts, ';')? {
            let (k, val) = opt.split_once('=').ok_or_else(|| bad(format!("Invalid $expand option '{opt}'.")))?;
            let k = k.trim().trim_start_matches('$').to_ascii_lowercase();
            match k.as_str() {
                "expand" => nested = parse_expand(val)?,
                "select" => {}
                _ => return Err(bad(format!("Unsupported $expand option '{opt}'."))),
            }
        }
        out.push(Expand { name, nested });
    }
    Ok(out)
}

/// A literal in a filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Cmp(String, CmpOp, Lit),
    StartsWith(String, String),
    EndsWith(String, String),
    In(String, Vec<Lit>),
    IsOf(String),
    /// `prop/any(x:x eq 'v')` on a string collection (e.g. `otherMails`).
    Any(String, Lit),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, GraphError> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == ':' {
            out.push(Tok::Colon);
            i += 1;
        } else if c == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(bad(format!("Invalid filter clause: unterminated string literal in '{s}'."))),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        v.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(v));
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '-' || chars[i] == ':') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            match text.parse::<f64>() {
                Ok(n) => out.push(Tok::Num(n)),
                // Unquoted GUIDs and dates: treat as strings, as Graph does for typed literals.
                Err(_) => out.push(Tok::Str(text)),
            }
        } else if c.is_alphanumeric() || c == '_' || c == '@' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_/.@$#".contains(chars[i])) {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            return Err(bad(format!("Invalid filter clause: unexpected character '{c}'.")));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn kw(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }
    fn expect(&mut self, t: Tok) -> Result<(), GraphError> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            _ => Err(bad("Invalid filter clause: syntax error.")),
        }
    }
    fn or(&mut self) -> Result<Filter, GraphError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(bad("Invalid filter clause: expression nested too deeply."));
        }
        let mut left = self.and()?;
        while self.kw("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }
    fn and(&mut self) -> Result<Filter, GraphError> {
        let mut left = self.unary()?;
        while self.kw("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Filter, GraphError> {
        if self.kw("not") {
            self.pos += 1;
            self.depth += 1;
            if self.depth > 64 {
                return Err(bad("Invalid filter clause: expression nested too deeply."));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let f = self.or()?;
            self.expect(Tok::RParen)?;
            return Ok(f);
        }
        self.primary()
    }
    fn string_arg(&mut self) -> Result<String, GraphError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => Err(bad("Invalid filter clause: expected a string literal.")),
        }
    }
    fn ident(&mut self) -> Result<String, GraphError> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            _ => Err(bad("Invalid filter clause: expected a property name.")),
        }
    }
    fn literal(&mut self) -> Result<Lit, GraphError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Ident(w)) if w == "true" => Ok(Lit::Bool(true)),
            Some(Tok::Ident(w)) if w == "false" => Ok(Lit::Bool(false)),
            Some(Tok::Ident(w)) if w == "null" => Ok(Lit::Null),
            _ => Err(bad("Invalid filter clause: expected a literal value.")),
        }
    }
    fn primary(&mut self) -> Result<Filter, GraphError> {
        let name = self.ident()?;
        if let Some(prop) = name.strip_suffix("/any").filter(|p| !p.is_empty() && !p.contains('/')) {
            // Graph's lambda on a string collection: `prop/any(x:x eq 'v')`.
            if self.peek() == Some(&Tok::LParen) {
                self.pos += 1;
                let var = self.ident()?;
                self.expect(Tok::Colon)?;
                let again = self.ident()?;
                if again != var || !self.kw("eq") {
                    return Err(GraphError::new(400, "Request_UnsupportedQuery", "Unsupported Query: only `x/any(v:v eq 'value')` lambdas are supported by this sandbox."));
                }
                self.pos += 1;
                let lit = self.literal()?;
                self.expect(Tok::RParen)?;
                return Ok(Filter::Any(prop.to_string(), lit));
            }
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let f = match name.to_ascii_lowercase().as_str() {
                "startswith" | "endswith" => {
                    let prop = self.ident()?;
                    self.expect(Tok::Comma)?;
                    let v = self.string_arg()?;
                    if name.eq_ignore_ascii_case("startswith") {
                        Filter::StartsWith(prop, v)
                    } else {
                        Filter::EndsWith(prop, v)
                    }
                }
                "isof" => Filter::IsOf(self.string_arg()?),
                other => return Err(GraphError::new(400, "Request_UnsupportedQuery", format!("Unsupported Query: function '{other}' is not supported."))),
            };
            self.expect(Tok::RParen)?;
            // Graph accepts `startswith(x,'a') eq true`.
            if self.kw("eq") {
                self.pos += 1;
                match self.literal()? {
                    Lit::Bool(true) => {}
                    Lit::Bool(false) => return Ok(Filter::Not(Box::new(f))),
                    _ => return Err(bad("Invalid filter clause: expected a boolean.")),
                }
            }
            return Ok(f);
        }
        if name.contains("/any") || name.contains("/all") {
            return Err(GraphError::new(400, "Request_UnsupportedQuery", "Unsupported Query: lambda operators are not supported by this sandbox."));
        }
        let op = self.ident()?.to_ascii_lowercase();
        let op = match op.as_str() {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            "in" => {
                self.expect(Tok::LParen)?;
                let mut items = vec![self.literal()?];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    items.push(self.literal()?);
                }
                self.expect(Tok::RParen)?;
                if items.len() > 15 {
                    return Err(bad("Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15."));
                }
                return Ok(Filter::In(name, items));
            }
            other => return Err(GraphError::new(400, "Request_UnsupportedQuery", format!("Unsupported Query: operator '{other}' is not supported."))),
        };
        Ok(Filter::Cmp(name, op, self.literal()?))
    }
}

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, GraphError> {
        let toks = tokenize(s)?;
        if toks.is_empty() {
            return Err(bad("Invalid filter clause: empty expression."));
        }
        let mut p = Parser { toks, pos: 0, depth: 0 };
        let f = p.or()?;
        if p.pos != p.toks.len() {
            return Err(bad(format!("Invalid filter clause: syntax error at position {} in '{s}'.", p.pos)));
        }
        Ok(f)
    }

    /// Whether the expression needs Graph's "advanced query" mode
    /// (`ConsistencyLevel: eventual` plus `$count=true`) on directory objects.
    pub fn needs_advanced(&self) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.needs_advanced() || b.needs_advanced(),
            Filter::Not(_) | Filter::EndsWith(..) => true,
            Filter::Cmp(_, op, _) => *op != CmpOp::Eq && *op != CmpOp::Ge && *op != CmpOp::Le,
            _ => false,
        }
    }

    /// Top-level `id eq '...'` terms joined by `or` (delta allows only these).
    pub fn id_terms(&self) -> Option<Vec<String>> {
        match self {
            Filter::Or(a, b) => {
                let mut v = a.id_terms()?;
                v.extend(b.id_terms()?);
                Some(v)
            }
            Filter::Cmp(p, CmpOp::Eq, Lit::Str(s)) if p == "id" => Some(vec![s.clone()]),
            Filter::In(p, items) if p == "id" => items.iter().map(|l| if let Lit::Str(s) = l { Some(s.clone()) } else { None }).collect(),
            _ => None,
        }
    }

    pub fn matches(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(obj) && b.matches(obj),
            Filter::Or(a, b) => a.matches(obj) || b.matches(obj),
            Filter::Not(a) => !a.matches(obj),
            Filter::Cmp(p, op, lit) => cmp(lookup(obj, p), *op, lit),
            Filter::StartsWith(p, s) => lookup(obj, p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().starts_with(&s.to_lowercase())),
            Filter::EndsWith(p, s) => lookup(obj, p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().ends_with(&s.to_lowercase())),
            Filter::In(p, items) => {
                let v = lookup(obj, p);
                items.iter().any(|l| cmp(v, CmpOp::Eq, l))
            }
            Filter::Any(p, lit) => lookup(obj, p).and_then(Value::as_array).is_some_and(|items| items.iter().any(|i| cmp(Some(i), CmpOp::Eq, lit))),
            Filter::IsOf(t) => {
                let want = t.trim_start_matches('#');
                obj.get("@odata.type").and_then(Value::as_str).is_some_and(|v| v.trim_start_matches('#').eq_ignore_ascii_case(want))
            }
        }
    }
}

fn lookup<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('/');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn cmp(v: Option<&Value>, op: CmpOp, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (None | Some(Value::Null), Lit::Null) => Some(Ordering::Equal),
        (None | Some(Value::Null), _) | (_, Lit::Null) => None,
        (Some(Value::String(a)), Lit::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Some(Value::Number(a)), Lit::Num(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        (Some(Value::Bool(a)), Lit::Bool(b)) => Some(a.cmp(b)),
        (Some(Value::Array(items)), _) => {
            // Collection-valued property: true when any element matches (eq only).
            return op == CmpOp::Eq && items.iter().any(|i| cmp(Some(i), CmpOp::Eq, lit));
        }
        _ => None,
    };
    match (op, ord) {
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Ne, None) => true,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

/// Applies `$select`: keeps the selected properties (null when unset), plus
/// `id` and `@odata.type`, plus any `keep` (expanded navigation properties).
pub fn select(obj: Map<String, Value>, props: &[String], keep: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(t) = obj.get("@odata.type") {
        out.insert("@odata.type".into(), t.clone());
    }
    if let Some(id) = obj.get("id") {
        out.insert("id".into(), id.clone());
    }
    for p in props {
        if p == "*" {
            return obj;
        }
        let v = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(p)).map(|(k, v)| (k.clone(), v.clone()));
        match v {
            Some((k, v)) => {
                out.insert(k, v);
            }
            None => {
                out.entry(p.clone()).or_insert(Value::Null);
            }
        }
    }
    for k in keep {
        if let Some(v) = obj.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
        let ctx = format!("{k}@odata.context");
        if let Some(v) = obj.get(&ctx) {
            out.insert(ctx, v.clone());
        }
    }
    out
}

/// A decoded `$skiptoken`: resume after an id, or at an offset.
#[derive(Debug, Clone, PartialEq)]
pub enum Cursor {
    After(String),
    Offset(usize),
}

const TOKEN_PREFIX: &str = "RFNwt";

pub fn encode_cursor(c: &Cursor) -> String {
    let raw = match c {
        Cursor::After(id) => format!("a:{id}"),
        Cursor::Offset(n) => format!("o:{n}"),
    };
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

pub fn decode_cursor(token: &str) -> Result<Cursor, GraphError> {
    let invalid = || bad("Invalid skip token.");
    let body = token.strip_prefix(TOKEN_PREFIX).ok_or_else(invalid)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    if let Some(id) = raw.strip_prefix("a:") {
        Ok(Cursor::After(id.to_string()))
    } else if let Some(n) = raw.strip_prefix("o:") {
        Ok(Cursor::Offset(n.parse().map_err(|_| invalid())?))
    } else {
        Err(invalid())
    }
}

/// Percent-encodes a query value the way Graph writes next links
/// (`$`, `'`, `(`, `)`, `,`, `:`, `/` and `@` stay readable; spaces become `%20`).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-._~$'(),*:@/!".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds an absolute link to `path` with the original query, minus paging
/// parameters, plus `extra` parameters.
pub fn link(base_path: &str, raw: &[(String, String)], extra: &[(&str, String)]) -> String {
    let mut parts: Vec<String> = raw
        .iter()
        .filter(|(k, _)| {
            let k = k.trim_start_matches('$').to_ascii_lowercase();
            k != "skiptoken" && k != "skip" && k != "deltatoken"
        })
        .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
        .collect();
    for (k, v) in extra {
        parts.push(format!("{k}={}", encode_query_value(v)));
    }
    if parts.is_empty() {
        base_path.to_string()
    } else {
        format!("{base_path}?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn filters_parse_and_match() {
        let o = obj(json!({"displayName":"Alice Smith","userType":"Guest","otherMails":["alice@fabrikam.com"],"n":5,"@odata.type":"#microsoft.graph.windows10GeneralConfiguration"}));
        for (f, want) in [
            ("displayName eq 'alice smith'", true),
            ("startsWith(displayName,'Ali') and userType eq 'Guest'", true),
            ("userType in ('Member','Guest')", true),
            ("userType eq 'Member' or n eq 5", true),
            ("isof('microsoft.graph.windows10GeneralConfiguration')", true),
            ("otherMails/any(m:m eq 'ALICE@fabrikam.com')", true),
            ("otherMails/any(m:m eq 'bob@fabrikam.com')", false),
            ("(userType eq 'Member')", false),
            ("startswith(displayName,'B') eq true", false),
        ] {
            assert_eq!(Filter::parse(f).map(|p| p.matches(&o)), Ok(want), "{f}");
        }
        for f in ["", "displayName eq", "displayName foo 'x'", "(a eq 'b'", "a eq 'unterminated", "f(x)", "a/all(x:x eq 'y')", "a/any(x:y eq 'y')", "a eq 'b' c"] {
            assert!(Filter::parse(f).is_err(), "{f}");
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for c in [Cursor::After("abc".into()), Cursor::Offset(42)] {
            assert_eq!(decode_cursor(&encode_cursor(&c)), Ok(c));
        }
        assert!(decode_cursor("garbage").is_err());
    }

    #[test]
    fn expand_nested() {
        let e = parse_expand("scheduledActionsForRule($expand=scheduledActionConfigurations),assignments").unwrap_or_default();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].nested[0].name, "scheduledActionConfigurations");
    }
}
