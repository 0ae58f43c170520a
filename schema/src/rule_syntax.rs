//! The syntax of Entra's dynamic membership rules, parsed once for every
//! evaluator: which devices a rule can hold (`crate::device_rule`) and
//! whether a declared account is in a group by its rule
//! (`engine::governance::rule`). Each evaluator gives the parsed
//! expression its own three-valued meaning.
//!
//! Rules follow Entra's syntax: `-eq -ne -startsWith -notStartsWith
//! -contains -notContains -in -notIn -match ...` over `user.ATTRIBUTE` or
//! `device.ATTRIBUTE`, `attr -any (_ op value)` / `-all` over a
//! multi-valued attribute, combined with `and`/`-and`, `or`/`-or`,
//! `not`/`-not` and parentheses; strings in double or single quotes.
//! Parsing is bounded (nesting and length) so a hostile rule cannot exhaust
//! the stack: beyond the bounds a rule is not parsed, which every caller
//! reads as "cannot tell".

/// The rule parsed, or `None` when it is not one tenantctl can read (or is
/// longer or deeper than the bounds).
pub fn parse(rule: &str) -> Option<Expr> {
    let tokens = tokenize(rule)?;
    if tokens.len() > MAX_TOKENS {
        // Longer than Entra accepts (3,072 characters): cannot tell.
        return None;
    }
    let mut p = Parser { tokens, at: 0, depth: 0 };
    let e = p.expr()?;
    if p.at != p.tokens.len() {
        return None;
    }
    Some(e)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    LBracket,
    RBracket,
    Comma,
    Str(String),
    Word(String),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Comma,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next()? {
                        q if q == c => break,
                        '\\' => v.push(chars.next()?),
                        x => v.push(x),
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&x) = chars.peek() {
                    if x.is_whitespace() || "()[],\"'".contains(x) {
                        break;
                    }
                    w.push(x);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Some(out)
}

#[derive(Debug)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp { attr: String, op: String, value: Lit },
    /// `attr -any (_ op value)` / `attr -all (_ op value)`.
    Each { attr: String, all: bool, op: String, value: Lit },
    /// `device.memberOf -any (group.objectId -in [...])`: nesting, which
    /// callers judge by the groups it names (never by this evaluation).
    Nesting,
}

#[derive(Debug)]
pub enum Lit {
    Str(String),
    Bool(bool),
    Null,
    List(Vec<String>),
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
    /// Parentheses and `not`s open: bounded, so a hostile rule cannot
    /// exhaust the stack (deeper is "cannot tell").
    depth: usize,
}

/// The deepest nesting evaluated.
const MAX_DEPTH: usize = 64;
/// The most tokens evaluated (Entra's rules are at most 3,072 characters).
const MAX_TOKENS: usize = 3072;

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.at) {
            Some(Tok::Word(w)) => Some(w.to_lowercase()),
            _ => None,
        }
    }

    fn bump(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expr(&mut self) -> Option<Expr> {
        let mut left = self.term()?;
        while matches!(self.peek_word().as_deref(), Some("or" | "-or")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.term()?));
        }
        Some(left)
    }

    fn term(&mut self) -> Option<Expr> {
        let mut left = self.factor()?;
        while matches!(self.peek_word().as_deref(), Some("and" | "-and")) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.factor()?));
        }
        Some(left)
    }

    fn factor(&mut self) -> Option<Expr> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let e = self.factor_inner();
        self.depth -= 1;
        e
    }

    fn factor_inner(&mut self) -> Option<Expr> {
        if matches!(self.peek_word().as_deref(), Some("not" | "-not")) {
            self.at += 1;
            return Some(Expr::Not(Box::new(self.factor()?)));
        }
        if self.tokens.get(self.at) == Some(&Tok::Open) {
            self.at += 1;
            let e = self.expr()?;
            return (self.bump()? == Tok::Close).then_some(e);
        }
        let Tok::Word(attr) = self.bump()? else { return None };
        let Tok::Word(op) = self.bump()? else { return None };
        let op = op.to_lowercase();
        if op == "-any" || op == "-all" {
            // `(_ -op value)`: the test of each value of a multi-valued
            // attribute.
            if self.bump()? != Tok::Open {
                return None;
            }
            let Tok::Word(it) = self.bump()? else { return None };
            let nesting = attr.to_lowercase().ends_with(".memberof") && it.eq_ignore_ascii_case("group.objectId");
            if it != "_" && !nesting {
                return None;
            }
            let Tok::Word(inner) = self.bump()? else { return None };
            let value = self.literal()?;
            if self.bump()? != Tok::Close {
                return None;
            }
            if nesting {
                return Some(Expr::Nesting);
            }
            return Some(Expr::Each { attr, all: op == "-all", op: inner.to_lowercase(), value });
        }
        let value = self.literal()?;
        Some(Expr::Cmp { attr, op, value })
    }

    fn literal(&mut self) -> Option<Lit> {
        Some(match self.bump()? {
            Tok::Str(s) => Lit::Str(s),
            Tok::Word(w) => match w.to_lowercase().as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                _ => return None,
            },
            Tok::LBracket => {
                let mut items = Vec::new();
                loop {
                    match self.bump()? {
                        Tok::Str(s) => items.push(s),
                        Tok::RBracket => break,
                        _ => return None,
                    }
                    match self.bump()? {
                        Tok::Comma => {}
                        Tok::RBracket => break,
                        _ => return None,
                    }
                }
                Lit::List(items)
            }
            _ => return None,
        })
    }
}

/// Three-valued `and`: false wins, true needs both.
pub fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Three-valued `or`: true wins, false needs both.
pub fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}
