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

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

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
    /// People a membership rule neither proves in nor out (an attribute
    /// not read, an operator not evaluated): counted, and said.
    pub unsure: BTreeSet<String>,
}

impl Reach {
    fn extend(&mut self, other: Reach) {
        self.people.extend(other.people);
        self.opaque.extend(other.opaque);
        self.unsure.extend(other.unsure);
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
    /// How many of `people` a membership rule did not prove either way.
    pub unsure: usize,
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

/// The directory as this plan knows it, indexed once when first asked
/// (a plan makes one for all its packages).
pub struct Directory<'a> {
    desired: &'a DesiredModel,
    ledger: &'a Ledger,
    observed: &'a ObservedState,
    groups: OnceCell<BTreeMap<&'a str, &'a LiveObject>>,
    declared: OnceCell<BTreeMap<String, &'a engine::DesiredResource>>,
}

fn rule_of(p: &Props) -> Option<&str> {
    p.get("membershipRule").and_then(Value::as_str).map(str::trim).filter(|r| !r.is_empty())
}

fn ids(v: Option<&Value>) -> Option<BTreeSet<String>> {
    Some(v?.as_array()?.iter().filter_map(as_reference).map(str::to_string).collect())
}

impl<'a> Directory<'a> {
    pub fn new(desired: &'a DesiredModel, ledger: &'a Ledger, observed: &'a ObservedState) -> Self {
        Directory { desired, ledger, observed, groups: OnceCell::new(), declared: OnceCell::new() }
    }

    /// The live group of id `g`.
    pub fn group(&self, g: &str) -> Option<&'a LiveObject> {
        let observed = self.observed;
        self.groups.get_or_init(|| observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| (o.id.as_str(), o)).collect()).get(g).copied()
    }

    /// The live group's name as shown.
    pub fn name(&self, g: &str) -> String {
        self.group(g).map(|o| o.display_name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| g.to_string())
    }

    /// The declared group matched to live id `g`.
    fn declared(&self, g: &str) -> Option<&'a engine::DesiredResource> {
        let (desired, ledger, observed) = (self.desired, self.ledger, self.observed);
        self.declared
            .get_or_init(|| {
                desired
                    .resources
                    .range(Address::new(Kind::Group, "")..)
                    .take_while(|(a, _)| a.kind == Kind::Group)
                    .filter_map(|(a, r)| live_id(a, desired, ledger, observed).map(|id| (id, r)))
                    .collect()
            })
            .get(g)
            .copied()
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
            Members::Rule(rule) => {
                if let Err(why) = self.matched(&rule, side, out) {
                    out.opaque.insert(id.to_string());
                    out.unknown.push(format!("the membership rule of group `{}` changes and whom it matches could not be evaluated: {why}", self.name(id)));
                }
            }
        }
    }

    /// The accounts `rule` holds for on `side`: before the plan, everyone
    /// it does not prove out (they may be members now); after, only those
    /// it proves in. Those it cannot tell about are `unsure`.
    fn matched(&self, rule: &str, side: Side, out: &mut Reach) -> Result<(), String> {
        for o in self.accounts()? {
            let held = engine::governance::rule::evaluate(rule, &account_props(o));
            if held.is_none() {
                out.unsure.insert(o.id.clone());
            }
            let member = match side {
                Side::Live => held != Some(false),
                Side::Planned => held == Some(true),
            };
            if member {
                out.people.insert(o.id.clone());
            }
        }
        Ok(())
    }

    /// What `before` (one group's live reach) loses against `after` (the
    /// planned reach of everything that still admits or approves): a
    /// person `after` may hold only through a group it cannot list counts
    /// as lost (named rather than missed).
    pub fn lost(&self, before: &Reach, after: &Reach) -> Lost {
        let mut before = before.clone();
        let mut unknown = Vec::new();
        // A group reached before and not after whose people were not
        // listed: a dynamic one's are whom its rule may match now; a static
        // one's were not read.
        for g in before.opaque.difference(&after.opaque).cloned().collect::<Vec<_>>() {
            let rule = self.group(&g).and_then(|o| rule_of(&o.props)).map(str::to_string);
            let listed = rule.map(|r| self.matched(&r, Side::Live, &mut before));
            match listed {
                Some(Ok(())) => {}
                Some(Err(why)) => unknown.push(format!("dynamic group `{}`, whose members could not be evaluated: {why}", self.name(&g))),
                None => unknown.push(format!("group `{}`, whose members were not read", self.name(&g))),
            }
        }
        let people: BTreeSet<String> = before.people.difference(&after.people).cloned().collect();
        let unsure = people.iter().filter(|p| before.unsure.contains(*p) || after.unsure.contains(*p)).count();
        // Only this group's own unknowns: one everything else reaches
        // after that cannot be listed re-admits no one known.
        for u in &before.unknown {
            if !unknown.contains(u) {
                unknown.push(u.clone());
            }
        }
        Lost { people, unsure, unknown }
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

/// "N member(s)" lost, in words, with how many a rule did not prove
/// either way.
pub fn members_said(lost: &Lost) -> String {
    let n = lost.people.len();
    let unsure = match lost.unsure {
        0 => String::new(),
        m => format!(" ({m} of them neither proved in nor out by a membership rule, so counted)"),
    };
    format!("{n} member{}{unsure}", if n == 1 { "" } else { "s" })
}

/// A group's id from a subject as live props name it.
pub fn group_id<'b>(dir: &Directory<'_>, v: &'b Value) -> Option<&'b str> {
    as_reference(v).filter(|r| dir.group(r).is_some())
}


#[cfg(test)]
mod tests {
    use super::*;
    use engine::model::reference;
    use serde_json::json;

    fn live(kind: Kind, id: &str, props: Value) -> LiveObject {
        let props: Props = props.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
        LiveObject { kind, id: id.into(), natural_key: id.into(), display_name: id.to_uppercase(), props }
    }

    /// Users u1 (Finance, Auditor), u2 (Finance, Clerk), u3 (no
    /// department read); a static group `outer` holding u1 and the nested
    /// `inner` (u2), and the dynamic `fin`.
    fn observed() -> ObservedState {
        let mut o = ObservedState::default();
        o.insert(live(Kind::User, "u1", json!({"department": "Finance", "jobTitle": "Auditor"})));
        o.insert(live(Kind::User, "u2", json!({"department": "Finance", "jobTitle": "Clerk"})));
        o.insert(live(Kind::User, "u3", json!({})));
        o.insert(live(Kind::Group, "outer", json!({"members": [reference("u1"), reference("inner")]})));
        o.insert(live(Kind::Group, "inner", json!({"members": [reference("u2")]})));
        o.insert(live(Kind::Group, "fin", json!({"membershipRule": "(user.department -eq \"Finance\")"})));
        o.insert(live(Kind::Group, "unread", json!({})));
        o
    }

    #[test]
    fn nested_members_are_reached_and_a_rule_left_alone_is_not_listed() {
        let (desired, ledger, observed) = (DesiredModel::default(), Ledger::default(), observed());
        let dir = Directory::new(&desired, &ledger, &observed);
        let outer = dir.reach("outer", Side::Live);
        assert_eq!(outer.people, BTreeSet::from(["u1".to_string(), "u2".to_string()]), "u2 through the nested group");
        let fin = dir.reach("fin", Side::Live);
        assert!(fin.people.is_empty() && fin.opaque.contains("fin"), "a rule the plan leaves alone is the group itself");
        assert!(dir.lost(&fin, &dir.reach("fin", Side::Planned)).is_empty());
        // Everything still reached after: nothing lost.
        assert!(dir.lost(&outer, &dir.reach_all(&["outer".to_string()], Side::Planned)).is_empty());
    }

    #[test]
    fn a_group_taken_out_loses_its_people_or_says_they_are_unknown() {
        let (desired, ledger, observed) = (DesiredModel::default(), Ledger::default(), observed());
        let dir = Directory::new(&desired, &ledger, &observed);
        let nobody = Reach::default();
        // The dynamic group taken out: whom its rule may match now; u3's
        // department is not read, so u3 counts, and is said to be unsure.
        let lost = dir.lost(&dir.reach("fin", Side::Live), &nobody);
        assert_eq!(lost.people, BTreeSet::from(["u1".to_string(), "u2".to_string(), "u3".to_string()]));
        assert_eq!(lost.unsure, 1);
        assert_eq!(members_said(&lost), "3 members (1 of them neither proved in nor out by a membership rule, so counted)");
        // A group whose members were not read: unknown, never "none".
        let lost = dir.lost(&dir.reach("unread", Side::Live), &nobody);
        assert!(lost.people.is_empty() && lost.unknown == vec!["group `UNREAD`, whose members were not read".to_string()]);
        // Users not read: a changed rule cannot be evaluated, and says so.
        let mut unread = observed.clone();
        unread.unreadable.insert(Kind::User, "503".into());
        let dir = Directory::new(&desired, &ledger, &unread);
        let lost = dir.lost(&dir.reach("fin", Side::Live), &nobody);
        assert_eq!(lost.unknown, vec!["dynamic group `FIN`, whose members could not be evaluated: users could not be read in this plan".to_string()]);
    }
}
