//! Fault injection: added latency, throttling (429 + `Retry-After`), server
//! errors (503 + `Retry-After`, or 500), dropped connections and replication
//! lag. Decisions come from a seedable RNG so tests are reproducible.
//! Faults apply to Graph paths (`/v1.0`, `/beta`, each `$batch` item) and,
//! only when `include_token_endpoint` is set, to the token endpoint; never to
//! `/_sandbox`. A faulted request is not executed, so retrying it is safe.

use crate::error::{GraphError, SandboxError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The fault settings; also the JSON of `GET/PUT /_sandbox/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every Graph request before it is answered.
    pub latency_ms: u64,
    /// Up to this much more, drawn for each request from the seeded RNG
    /// and spent before the request is counted against the service
    /// limits: requests in transit on a loaded machine or network, which
    /// arrive later than they were sent and in another order.
    pub latency_jitter_ms: u64,
    /// Fraction (0..=1) of requests answered 429 `TooManyRequests`.
    pub throttle_rate: f64,
    /// Fraction (0..=1) answered 503 `serviceNotAvailable` or 500 `generalException` (even split).
    pub error_rate: f64,
    /// New objects are invisible (404) to reads and `$ref` writes for this long after their create.
    pub replication_lag_ms: u64,
    /// Fraction (0..=1) of connections closed without any response.
    pub drop_rate: f64,
    /// `Retry-After` seconds sent with 429 and 503.
    pub retry_after_secs: u64,
    /// Whether the token endpoint is subject to faults too.
    pub include_token_endpoint: bool,
    /// Seed for fault decisions; setting faults with a seed restarts the sequence.
    pub seed: Option<u64>,
    /// Path prefixes (after the version, e.g.
    /// `/identityGovernance/entitlementManagement/accessPackages/`) whose
    /// requests, single or `$batch` items, are always answered 503: a
    /// lasting outage of one part of Graph, the same on every run.
    pub fail_paths: Vec<String>,
    /// The PIM policy of a custom directory role created less than this
    /// long ago is missing from the policy assignments' listing (Entra
    /// gives a new role its policy a moment later).
    pub pim_policy_lag_ms: u64,
    /// A v1.0 listing of assignment requests with a nested `$expand`
    /// (`assignment($expand=assignmentPolicy)`) is refused with 400, as
    /// Graph answers an expansion it does not parse: the combined form is
    /// unverified against a real tenant, so clients must fall back to the
    /// documented listing (`entitlement_query::check_list`).
    pub refuse_nested_request_expand: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            latency_jitter_ms: 0,
            throttle_rate: 0.0,
            error_rate: 0.0,
            replication_lag_ms: 0,
            drop_rate: 0.0,
            retry_after_secs: 1,
            include_token_endpoint: false,
            seed: None,
            fail_paths: Vec::new(),
            pim_policy_lag_ms: 0,
            refuse_nested_request_expand: false,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Faults {
        Faults::default()
    }

    pub fn validate(&self) -> Result<(), SandboxError> {
        for (name, v) in [("throttle_rate", self.throttle_rate), ("error_rate", self.error_rate), ("drop_rate", self.drop_rate)] {
            if !(0.0..=1.0).contains(&v) || v.is_nan() {
                return Err(SandboxError::InvalidArgument(format!("{name} must be between 0 and 1, got {v}")));
            }
        }
        Ok(())
    }
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pass,
    Drop,
    Fail(GraphError),
}

pub struct FaultState {
    pub cfg: Faults,
    rng: StdRng,
}

impl FaultState {
    pub fn new(cfg: Faults) -> FaultState {
        let rng = match cfg.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        FaultState { cfg, rng }
    }

    pub fn set(&mut self, cfg: Faults) {
        if let Some(s) = cfg.seed {
            self.rng = StdRng::seed_from_u64(s);
        }
        self.cfg = cfg;
    }

    /// This request's share of `latency_jitter_ms`.
    pub fn jitter(&mut self) -> u64 {
        match self.cfg.latency_jitter_ms {
            0 => 0,
            j => self.rng.gen_range(0..=j),
        }
    }

    fn roll(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.gen::<f64>() < rate
    }

    /// Decides the fate of one request (`can_drop` is false for `$batch` items).
    pub fn decide(&mut self, can_drop: bool) -> Decision {
        let (drop, throttle, error) = (self.cfg.drop_rate, self.cfg.throttle_rate, self.cfg.error_rate);
        if can_drop && self.roll(drop) {
            return Decision::Drop;
        }
        if self.roll(throttle) {
            return Decision::Fail(throttled(self.cfg.retry_after_secs));
        }
        if self.roll(error) {
            return Decision::Fail(if self.rng.gen::<bool>() {
                GraphError::new(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after the time specified in the Retry-After header.")
                    .with_retry_after(self.cfg.retry_after_secs)
            } else {
                GraphError::new(500, "generalException", "An unexpected error occurred while processing the request.")
            });
        }
        Decision::Pass
    }
}

impl FaultState {
    /// The 503 for a request to `path` (segments after the version) that
    /// `fail_paths` names, if any.
    pub fn failing_path(&self, path: &[String]) -> Option<GraphError> {
        let joined = format!("/{}", path.join("/"));
        self.cfg.fail_paths.iter().any(|p| joined.starts_with(p.as_str())).then(|| {
            GraphError::new(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after the time specified in the Retry-After header.").with_retry_after(self.cfg.retry_after_secs)
        })
    }
}

/// Graph's throttling response.
pub fn throttled(retry_after: u64) -> GraphError {
    GraphError::new(429, "TooManyRequests", "Too many requests. Please retry after the time specified in the Retry-After header.").with_retry_after(retry_after)
}
