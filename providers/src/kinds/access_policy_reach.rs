//! Whom a group reaches before and after the plan, for the requests
//! already waiting on an access package (hostile run 29, finding 4;
//! access18).
//!
//! A policy admits, or an approval stage is decided by, the members of
//! groups (`groupMembers`). The plan changes who those are without a
//! change to the policy when it takes people out of a group's declared
//! `members`, takes a nested group out (everyone reached only through it),
//! or narrows a dynamic group's `membership_rule`. This module says, for
//! one group, whom it reaches now (live) and once the plan is applied
//! (declared, else live), following nested groups transitively:
//!
//! * a static group: its members as read (live), its declared `members`
//!   resolved to live ids (after), else as read;
//! * a dynamic group whose rule the plan leaves alone: itself, the same
//!   on both sides (its people are not listed, and need not be: they do
//!   not change);
//! * a dynamic group whose rule the plan changes (or a group the plan
//!   turns from one kind into the other): the rule is evaluated with
//!   `engine::governance::rule::evaluate` against the live users and
//!   guests read in this plan; before, everyone the old rule is not
//!   proved to leave out, after, everyone the new rule is proved to take
//!   in: a person the evaluator cannot tell about counts as lost. When the
//!   users were not read, this is said and the group counts as unknown;
//! * a group whose members were not read (desired state does not manage
//!   them): itself, on both sides.
//!
//! What was lost is what the group reached before minus what everything
//! that still admits (or approves) reaches after; a group that is itself
//! reached before and not after, whose people are not known, makes every
//! request concerned (never "none").
//!
//! Reads nothing.

use std::collections::BTreeSet;

use engine::model::as_reference;
use engine::{DesiredModel, Ledger, LiveObject, ObservedState, Props};
use schema::{Address, Kind};
use serde_json::Value;

use super::access_policy_audience::{live_id, resolve};

/// Before or after the plan.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Live,
    Planned,
}

/// Whom a set of subjects reaches.
#[derive(Debug, Default, Clone)]
pub struct Reach {
    /// People (live object ids).
    pub people: BTreeSet<String>,
    /// Groups whose people are not listed (members not read, or a dynamic
    /// group whose rule does not change): counted as themselves.
    pub opaque: BTreeSet<String>,
    /// Why some people could not be listed (a changed rule, users not read).
    pub unknown: Vec<String>,
}

impl Reach {
    fn extend(&mut self, other: Reach) {
        self.people.extend(other.people);
        self.opaque.extend(other.opaque);
        for u in other.unknown {
            if !self.unknown.contains(&u) {
                self.unknown.push(u);
            }
        }
    }
}

/// What the plan loses of a group's reach: people and groups whose people
/// are not known.
#[derive(Debug, Default)]
pub struct Lost {
    pub people: BTreeSet<String>,
    /// Display names of groups (or why people are unknown) that make every
    /// request concerned.
    pub unknown: Vec<String>,
}

impl Lost {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.unknown.is_empty()
    }
}

/// A group's membership on one side.
enum Members {
    Listed(BTreeSet<String>),
    Rule(String),
    Unread,
}

/// The directory as this plan knows it.
pub struct Directory<'a> {
    desired: &'a DesiredModel,
    ledger: &'a Ledger,
    observed: &'a ObservedState,
}

fn rule_of(p: &Props) -> Option<&str> {
    p.get("membershipRule").and_then(Value::as_str).map(str::trim).filter(|r| !r.is_empty())
}

fn ids(v: Option<&Value>) -> Option<BTreeSet<String>> {
    Some(v?.as_array()?.iter().filter_map(as_reference).map(str::to_string).collect())
}

impl<'a> Directory<'a> {
    pub fn new(desired: &'a DesiredModel, ledger: &'a Ledger, observed: &'a ObservedState) -> Self {
        Directory { desired, ledger, observed }
    }

    /// The live group of id `g`.
    pub fn group(&self, g: &str) -> Option<&'a LiveObject> {
        self.observed.objects.get(&Kind::Group).and_then(|l| l.iter().find(|o| o.id == g))
    }

    /// The live group's name as shown.
    pub fn name(&self, g: &str) -> String {
        self.group(g).map(|o| o.display_name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| g.to_string())
    }

    /// The declared group matched to live id `g`.
    fn declared(&self, g: &str) -> Option<&'a engine::DesiredResource> {
        self.desired
            .resources
            .range(Address::new(Kind::Group, "")..)
            .take_while(|(a, _)| a.kind == Kind::Group)
            .find(|(a, _)| live_id(a, self.desired, self.ledger, self.observed).as_deref() == Some(g))
            .map(|(_, r)| r)
    }

    fn members(&self, live: &LiveObject, side: Side) -> Members {
        let live_side = || match rule_of(&live.props) {
            Some(r) => Members::Rule(r.to_string()),
            None => ids(live.props.get("members")).map_or(Members::Unread, Members::Listed),
        };
        if side == Side::Live {
            return live_side();
        }
        let Some(d) = self.declared(&live.id) else { return live_side() };
        if let Some(r) = rule_of(&d.props) {
            return Members::Rule(r.to_string());
        }
        match d.props.get("members").and_then(Value::as_array) {
            Some(ms) => Members::Listed(ms.iter().map(|m| resolve(m, self.desired, self.ledger, self.observed)).filter_map(|m| as_reference(&m).map(str::to_string)).collect()),
            None => live_side(),
        }
    }

    /// Whether group `g`'s rule is the same on both sides (so its people
    /// need not be listed).
    fn same_rule(&self, live: &LiveObject) -> bool {
        match (self.members(live, Side::Live), self.members(live, Side::Planned)) {
            (Members::Rule(a), Members::Rule(b)) => a == b,
            _ => false,
        }
    }

    /// The users and guests read in this plan, or why they were not.
    fn accounts(&self) -> Result<Vec<&'a LiveObject>, String> {
        if self.observed.unreadable.contains_key(&Kind::User) {
            // Why is said with the kind's own unknowns.
            return Err("users could not be read in this plan".into());
        }
        let Some(users) = self.observed.objects.get(&Kind::User) else { return Err("users are not read in this plan".into()) };
        let guests = self.observed.objects.get(&Kind::Guest).filter(|_| !self.observed.unreadable.contains_key(&Kind::Guest));
        Ok(users.iter().chain(guests.into_iter().flatten()).collect())
    }

    /// Whom subject `id` (a person or a group) reaches on `side`.
    pub fn reach(&self, id: &str, side: Side) -> Reach {
        let mut out = Reach::default();
        let mut seen = BTreeSet::new();
        self.walk(id, side, &mut seen, &mut out);
        out
    }

    /// Whom all of `ids` reach on `side`.
    pub fn reach_all<'b>(&self, ids: impl IntoIterator<Item = &'b String>, side: Side) -> Reach {
        let mut out = Reach::default();
        for id in ids {
            out.extend(self.reach(id, side));
        }
        out
    }

    fn walk(&self, id: &str, side: Side, seen: &mut BTreeSet<String>, out: &mut Reach) {
        if !seen.insert(id.to_string()) {
            return;
        }
        let Some(g) = self.group(id) else {
            out.people.insert(id.to_string());
            return;
        };
        match self.members(g, side) {
            Members::Listed(ms) => {
                for m in ms {
                    self.walk(&m, side, seen, out);
                }
            }
            Members::Unread => {
                out.opaque.insert(id.to_string());
            }
            Members::Rule(_) if self.same_rule(g) => {
                out.opaque.insert(id.to_string());
            }
            Members::Rule(rule) => match self.accounts() {
                Ok(accounts) => {
                    let held = |o: &LiveObject| engine::governance::rule::evaluate(&rule, &account_props(o));
                    let take: Vec<&LiveObject> = match side {
                        // Everyone the rule does not prove out may be a member now.
                        Side::Live => accounts.into_iter().filter(|o| held(o) != Some(false)).collect(),
                        // Only those it proves in stay.
                        Side::Planned => accounts.into_iter().filter(|o| held(o) == Some(true)).collect(),
                    };
                    out.people.extend(take.into_iter().map(|o| o.id.clone()));
                }
                Err(why) => {
                    out.opaque.insert(id.to_string());
                    out.unknown.push(format!("the membership rule of group `{}` changes and whom it matches could not be evaluated: {why}", self.name(id)));
                }
            },
        }
    }

    /// What `before` (one group's live reach) loses against `after` (the
    /// planned reach of everything that still admits or approves): a
    /// person `after` may hold only through a group it cannot list counts
    /// as lost (named rather than missed).
    pub fn lost(&self, before: &Reach, after: &Reach) -> Lost {
        let people: BTreeSet<String> = before.people.difference(&after.people).cloned().collect();
        let mut unknown: Vec<String> = before.opaque.difference(&after.opaque).map(|g| format!("group `{}`, whose members were not read", self.name(g))).collect();
        // Only this group's own unknowns: one everything else reaches
        // after that cannot be listed re-admits no one known.
        for u in &before.unknown {
            if !unknown.contains(u) {
                unknown.push(u.clone());
            }
        }
        Lost { people, unknown }
    }
}

/// The properties a rule is evaluated against: the live account's, with
/// its user principal name and user type where the listing's props lack
/// them (members and guests are read as kinds of their own).
fn account_props(o: &LiveObject) -> Props {
    let mut p = o.props.clone();
    if o.kind == Kind::User && !p.contains_key("userPrincipalName") {
        p.insert("userPrincipalName".into(), Value::String(o.natural_key.clone()));
    }
    if !p.contains_key("userType") {
        p.insert("userType".into(), Value::String(if o.kind == Kind::Guest { "Guest" } else { "Member" }.into()));
    }
    if !p.contains_key("displayName") {
        p.insert("displayName".into(), Value::String(o.display_name.clone()));
    }
    p
}

/// "N member(s)": how a loss is counted in words.
pub fn members_said(n: usize) -> String {
    format!("{n} member{}", if n == 1 { "" } else { "s" })
}

/// A group's id from a subject as live props name it.
pub fn group_id<'b>(dir: &Directory<'_>, v: &'b Value) -> Option<&'b str> {
    as_reference(v).filter(|r| dir.group(r).is_some())
}

