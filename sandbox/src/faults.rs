//! Deterministic fault injection for the sandbox HTTP server: rules scoped to
//! every request, a path prefix or a method + path prefix, fired with a seeded
//! probability, so that a failing test replays the same faults.

use std::sync::Mutex;
use std::time::Duration;

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every request.
    Any,
    /// Requests whose path starts with this prefix (e.g. `/api/v3/`).
    PathPrefix(String),
    /// Requests with this method whose path starts with this prefix.
    Method(Method, String),
}

impl Scope {
    /// Whether a request with `method` and `path` is in scope.
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        match self {
            Scope::Any => true,
            Scope::PathPrefix(prefix) => path.starts_with(prefix.as_str()),
            Scope::Method(m, prefix) => m == method && path.starts_with(prefix.as_str()),
        }
    }
}

/// One kind of misbehaviour the server can show instead of (or on top of) the
/// emulator's normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Waits `fixed` plus a uniformly drawn part of `jitter`, then answers normally.
    Latency {
        /// Delay always applied.
        fixed: Duration,
        /// Upper bound of the extra random delay.
        jitter: Duration,
    },
    /// Answers this status with a plausible error page instead of calling the
    /// emulator (the request has no effect), as a proxy or crashed app server would.
    Status(u16),
    /// Answers 429 with a `Retry-After` header instead of calling the emulator.
    TooManyRequests {
        /// Seconds sent in `Retry-After`.
        retry_after_secs: u32,
    },
    /// Calls the emulator (so a write takes effect), then closes the socket
    /// without sending any answer: the client cannot know whether it happened.
    DropConnection,
    /// Calls the emulator, sends the status line and headers with the full
    /// `Content-Length`, then only part of the body, then closes the socket.
    TruncateBody,
    /// Calls the emulator, keeps its status and content type, and replaces the
    /// body with garbage of that content type (`{"data": [` for JSON,
    /// `<SOAP-ENV:Envelope><` for XML).
    MalformedBody,
    /// Calls the emulator and sends its body in small chunks, sleeping
    /// `chunk_delay` before each chunk after the first.
    SlowBody {
        /// Pause between chunks.
        chunk_delay: Duration,
    },
}

impl Fault {
    /// Short stable name used in recorded requests and logs
    /// (`latency`, `status_503`, `too_many_requests`, `drop_connection`,
    /// `truncate_body`, `malformed_body`, `slow_body`).
    pub fn name(&self) -> String {
        match self {
            Fault::Latency { .. } => "latency".to_owned(),
            Fault::Status(code) => format!("status_{code}"),
            Fault::TooManyRequests { .. } => "too_many_requests".to_owned(),
            Fault::DropConnection => "drop_connection".to_owned(),
            Fault::TruncateBody => "truncate_body".to_owned(),
            Fault::MalformedBody => "malformed_body".to_owned(),
            Fault::SlowBody { .. } => "slow_body".to_owned(),
        }
    }
}

/// A scoped, probabilistic, optionally limited fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Requests the rule applies to.
    pub scope: Scope,
    /// What happens when it fires.
    pub fault: Fault,
    /// Chance in `[0, 1]` that the rule fires for a request in scope.
    pub probability: f64,
    /// How many more times the rule may fire; `None` is unlimited.
    pub remaining: Option<u32>,
}

impl FaultRule {
    /// A rule firing on every request, without limit.
    pub fn always(fault: Fault) -> FaultRule {
        FaultRule {
            scope: Scope::Any,
            fault,
            probability: 1.0,
            remaining: None,
        }
    }

    /// Restricts the rule to paths starting with `prefix`.
    pub fn on_path(mut self, prefix: impl Into<String>) -> FaultRule {
        self.scope = Scope::PathPrefix(prefix.into());
        self
    }

    /// Restricts the rule to `method` on paths starting with `prefix`.
    pub fn on(mut self, method: Method, prefix: impl Into<String>) -> FaultRule {
        self.scope = Scope::Method(method, prefix.into());
        self
    }

    /// Lets the rule fire at most `n` times.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.remaining = Some(n);
        self
    }

    /// Makes the rule fire with probability `p` (clamped to `[0, 1]`).
    pub fn with_probability(mut self, p: f64) -> FaultRule {
        self.probability = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self
    }
}

/// How many faults of each kind were injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// `Fault::Latency` injections.
    pub latency: u64,
    /// `Fault::Status` injections.
    pub status: u64,
    /// `Fault::TooManyRequests` injections.
    pub too_many_requests: u64,
    /// `Fault::DropConnection` injections.
    pub drop_connection: u64,
    /// `Fault::TruncateBody` injections.
    pub truncate_body: u64,
    /// `Fault::MalformedBody` injections.
    pub malformed_body: u64,
    /// `Fault::SlowBody` injections.
    pub slow_body: u64,
}

impl FaultCounts {
    /// All injections together.
    pub fn total(&self) -> u64 {
        self.latency
            + self.status
            + self.too_many_requests
            + self.drop_connection
            + self.truncate_body
            + self.malformed_body
            + self.slow_body
    }

    fn count(&mut self, fault: &Fault) {
        let slot = match fault {
            Fault::Latency { .. } => &mut self.latency,
            Fault::Status(_) => &mut self.status,
            Fault::TooManyRequests { .. } => &mut self.too_many_requests,
            Fault::DropConnection => &mut self.drop_connection,
            Fault::TruncateBody => &mut self.truncate_body,
            Fault::MalformedBody => &mut self.malformed_body,
            Fault::SlowBody { .. } => &mut self.slow_body,
        };
        *slot += 1;
    }
}

/// A fault chosen for one request, with any randomness already drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// The rule's fault.
    pub fault: Fault,
    /// For `Latency`: the total delay to apply (fixed + drawn jitter); zero otherwise.
    pub delay: Duration,
}

/// The faults a server injects: an ordered list of rules and a seeded random
/// source. Shared between the test and the server (`Arc<FaultPlan>`).
#[derive(Debug)]
pub struct FaultPlan {
    inner: Mutex<PlanState>,
}

#[derive(Debug)]
struct PlanState {
    rng: StdRng,
    rules: Vec<FaultRule>,
    counts: FaultCounts,
}

impl FaultPlan {
    /// An empty plan whose random draws come from `seed`.
    pub fn new(seed: u64) -> FaultPlan {
        FaultPlan {
            inner: Mutex::new(PlanState {
                rng: StdRng::seed_from_u64(seed),
                rules: Vec::new(),
                counts: FaultCounts::default(),
            }),
        }
    }

    /// A plan with no faults (seed 0).
    pub fn none() -> FaultPlan {
        FaultPlan::new(0)
    }

    /// Appends a rule; rules are checked in the order added.
    pub fn add(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    /// Removes every rule (the counts stay).
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// How many faults of each kind were injected so far.
    pub fn injected(&self) -> FaultCounts {
        self.lock().counts
    }

    /// Decides the fault for one request: the first rule in scope that has
    /// firings left and wins its probability draw fires (its `remaining`
    /// counts down); later rules are not consulted. Rules that are in scope but
    /// lose the draw do not consume a firing.
    pub fn pick(&self, method: &Method, path: &str) -> Option<Injection> {
        let mut state = self.lock();
        let PlanState { rng, rules, counts } = &mut *state;
        for rule in rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.scope.matches(method, path) {
                continue;
            }
            // A draw only when needed keeps plans with only certain rules
            // independent of the RNG, and probabilistic ones reproducible.
            let fires = rule.probability >= 1.0
                || (rule.probability > 0.0 && rng.random::<f64>() < rule.probability);
            if !fires {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            let delay = match &rule.fault {
                Fault::Latency { fixed, jitter } => {
                    let extra = if jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        jitter.mul_f64(rng.random::<f64>())
                    };
                    *fixed + extra
                }
                _ => Duration::ZERO,
            };
            counts.count(&rule.fault);
            return Some(Injection {
                fault: rule.fault.clone(),
                delay,
            });
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PlanState> {
        // A panic while holding this lock cannot leave the state half-updated
        // in a way that matters for tests, so recover from poisoning.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_plan_injects_nothing() {
        let plan = FaultPlan::none();
        assert_eq!(plan.pick(&Method::GET, "/x"), None);
        assert_eq!(plan.injected().total(), 0);
    }

    #[test]
    fn remaining_counts_down_then_rule_stops_firing() {
        let plan = FaultPlan::new(1);
        plan.add(FaultRule::always(Fault::Status(503)).times(2));
        assert!(plan.pick(&Method::GET, "/a").is_some());
        assert!(plan.pick(&Method::GET, "/a").is_some());
        assert_eq!(plan.pick(&Method::GET, "/a"), None);
        assert_eq!(plan.injected().status, 2);
    }

    #[test]
    fn scopes_select_by_path_prefix_and_method() {
        let plan = FaultPlan::new(1);
        plan.add(FaultRule::always(Fault::DropConnection).on(Method::POST, "/api/v3/"));
        plan.add(FaultRule::always(Fault::MalformedBody).on_path("/oauth/"));
        assert_eq!(plan.pick(&Method::GET, "/api/v3/vendors/"), None);
        assert_eq!(
            plan.pick(&Method::POST, "/api/v3/vendors/")
                .map(|i| i.fault),
            Some(Fault::DropConnection)
        );
        assert_eq!(
            plan.pick(&Method::POST, "/oauth/token").map(|i| i.fault),
            Some(Fault::MalformedBody)
        );
        assert_eq!(plan.pick(&Method::GET, "/api/v2/x"), None);
    }

    #[test]
    fn first_matching_rule_wins() {
        let plan = FaultPlan::new(1);
        plan.add(FaultRule::always(Fault::Status(500)).times(1));
        plan.add(FaultRule::always(Fault::Status(502)));
        assert_eq!(
            plan.pick(&Method::GET, "/").map(|i| i.fault),
            Some(Fault::Status(500))
        );
        assert_eq!(
            plan.pick(&Method::GET, "/").map(|i| i.fault),
            Some(Fault::Status(502))
        );
    }

    #[test]
    fn same_seed_gives_same_probabilistic_sequence() {
        let run = |seed| {
            let plan = FaultPlan::new(seed);
            plan.add(FaultRule::always(Fault::Status(503)).with_probability(0.3));
            (0..200)
                .map(|_| plan.pick(&Method::GET, "/").is_some())
                .collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        let fired = a.iter().filter(|f| **f).count();
        // 0.3 of 200 = 60; a seeded draw lands well inside this band.
        assert!((30..=90).contains(&fired), "fired {fired} of 200");
        assert_ne!(a, run(43));
    }

    #[test]
    fn latency_delay_is_fixed_plus_bounded_jitter() {
        let plan = FaultPlan::new(9);
        plan.add(FaultRule::always(Fault::Latency {
            fixed: Duration::from_millis(100),
            jitter: Duration::from_millis(50),
        }));
        for _ in 0..50 {
            let inj = plan.pick(&Method::GET, "/").expect("always fires");
            assert!(inj.delay >= Duration::from_millis(100));
            assert!(inj.delay <= Duration::from_millis(150));
        }
        assert_eq!(plan.injected().latency, 50);
    }

    #[test]
    fn clear_removes_rules_but_keeps_counts() {
        let plan = FaultPlan::new(1);
        plan.add(FaultRule::always(Fault::TruncateBody));
        assert!(plan.pick(&Method::GET, "/").is_some());
        plan.clear();
        assert_eq!(plan.pick(&Method::GET, "/"), None);
        assert_eq!(plan.injected().truncate_body, 1);
    }

    #[test]
    fn zero_probability_never_fires() {
        let plan = FaultPlan::new(1);
        plan.add(FaultRule::always(Fault::DropConnection).with_probability(0.0));
        assert!((0..100).all(|_| plan.pick(&Method::GET, "/").is_none()));
    }
}
