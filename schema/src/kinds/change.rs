//! `[change]`: the change record a plan carries (the service model's
//! standard operating procedure: every change states its configuration
//! details, scope and timeline). Not a resource: it is copied into the plan
//! made from this directory, shown to approvers and written to the journal.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[change]`: ticket, scope and timeline of the change this desired state makes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRecord {
    /// What the change is, in a line (`plan --change TEXT` sets it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The change or support ticket, e.g. `CHG-1042`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Who and what it affects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When it is made and by when it is done (or rolled back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<String>,
}

impl ChangeRecord {
    /// One line per field set, `name: value`.
    pub fn lines(&self) -> Vec<String> {
        [("summary", &self.summary), ("ticket", &self.ticket), ("scope", &self.scope), ("timeline", &self.timeline)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
            .collect()
    }

    /// The record with `summary` replaced by `text` when given.
    pub fn with_summary(mut self, text: Option<&str>) -> ChangeRecord {
        if let Some(t) = text {
            self.summary = Some(t.to_string());
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.lines().is_empty()
    }
}
