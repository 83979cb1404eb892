//! The dedup and change policy as pure functions: given a document's ledger
//! row (if any), what the mapping made of the record, the flow's
//! `on_change` and the time, what happens to it. The pipeline acts on these
//! decisions and `sync --dry-run` prints them, so the two cannot disagree.

use super::OnChange;
use crate::mapping::{Action, Outcome};
use crate::store::{LedgerEntry, RecordState};
use sha2::{Digest, Sha256};

/// SHA-256 (hex) of a body, a target key or a reason: what the ledger
/// compares to tell a changed document from an unchanged one.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What happens to one mapped document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Already delivered (or linked, skipped, dead-lettered) with this
    /// content: nothing to do.
    Unchanged,
    /// Record the link to an existing target document (nothing is posted).
    Link,
    /// Record that the document is deliberately not written.
    Skip,
    /// Write it. `lookup_first` when an earlier attempt's outcome is unknown
    /// (pending, retrying, or a dead letter that may have been delivered):
    /// the sink is asked whether it has it before anything is posted.
    Write {
        /// Look the document up before posting it.
        lookup_first: bool,
        /// Write attempts already made (all runs).
        attempts: u32,
    },
    /// Delivered before and changed at the source: write the new version
    /// (`on_change = "rewrite"`).
    Rewrite {
        /// Write attempts already made (all runs).
        attempts: u32,
    },
    /// Delivered before and changed at the source: keep the target as it is
    /// (`on_change = "ignore"`).
    Hold,
    /// Delivered before and changed at the source: a dead letter for review
    /// (`on_change = "dead-letter"`).
    DeadLetter,
    /// Deferred with a Retry-After that has not passed: left for a later run.
    NotDue,
}

impl Decision {
    /// The decision's name in dry runs.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Unchanged => "unchanged",
            Decision::Link => "link",
            Decision::Skip => "skip",
            Decision::Write {
                lookup_first: false,
                ..
            } => "write",
            Decision::Write {
                lookup_first: true, ..
            } => "retry",
            Decision::Rewrite { .. } => "rewrite",
            Decision::Hold => "hold",
            Decision::DeadLetter => "dead-letter",
            Decision::NotDue => "wait",
        }
    }
}

/// True for a deferred document whose Retry-After has passed (or that has
/// none): it may be written now.
pub fn is_due(entry: &LedgerEntry, now_ms: u64) -> bool {
    !(entry.state == RecordState::Retrying && entry.not_before_ms.is_some_and(|t| t > now_ms))
}

/// What happens to a mapped document whose ledger row is `existing`.
pub fn decide(
    existing: Option<&LedgerEntry>,
    action: &Action,
    on_change: OnChange,
    now_ms: u64,
) -> Decision {
    match action {
        Action::Link(target) => {
            let same = existing.is_some_and(|e| {
                e.state == RecordState::Delivered
                    && e.target_key.as_deref() == Some(target.as_str())
            });
            if same {
                Decision::Unchanged
            } else {
                Decision::Link
            }
        }
        Action::Skip(reason) => {
            let keep = existing.is_some_and(|e| {
                e.state == RecordState::Delivered
                    || (e.state == RecordState::Skipped
                        && e.reason.as_deref() == Some(reason.as_str()))
            });
            if keep {
                Decision::Unchanged
            } else {
                Decision::Skip
            }
        }
        Action::Write(body) => {
            let Some(e) = existing else {
                return Decision::Write {
                    lookup_first: false,
                    attempts: 0,
                };
            };
            let hash = content_hash(body);
            if e.hash == hash && matches!(e.state, RecordState::Delivered | RecordState::Dead) {
                return Decision::Unchanged;
            }
            // Delivered, or a dead letter of a document delivered before
            // (changed after delivery), changed again: the flow's policy.
            if e.state == RecordState::Delivered
                || (e.state == RecordState::Dead && e.target_key.is_some())
            {
                return match on_change {
                    OnChange::Ignore => Decision::Hold,
                    OnChange::DeadLetter => Decision::DeadLetter,
                    OnChange::Rewrite => Decision::Rewrite {
                        attempts: e.attempts,
                    },
                };
            }
            if !is_due(e, now_ms) {
                return Decision::NotDue;
            }
            match e.state {
                // Pending or retrying: an earlier attempt's outcome is
                // unknown. A dead letter without a target may still have
                // been delivered (recorded before dead letters kept their
                // target). Either is looked up before it is posted.
                RecordState::Pending | RecordState::Retrying | RecordState::Dead => {
                    Decision::Write {
                        lookup_first: true,
                        attempts: e.attempts,
                    }
                }
                RecordState::Delivered | RecordState::Parked | RecordState::Skipped => {
                    Decision::Write {
                        lookup_first: false,
                        attempts: 0,
                    }
                }
            }
        }
    }
}

/// What happens to a source record, given its source row (parked or
/// unmappable before, if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDecision {
    /// It mapped: each output is decided with [`decide`]; a source row left
    /// from an earlier run is removed.
    Mapped,
    /// It waits for a reference; `news` when it was not parked for this
    /// reason before (worth an audit row).
    Park {
        /// Newly parked, or parked for another reason.
        news: bool,
    },
    /// The mapping failed on it: a dead letter.
    DeadLetter,
    /// The mapping failed on it as on the same content before: the dead
    /// letter is already there.
    AlreadyDead,
}

impl RecordDecision {
    /// The decision's name in dry runs (`None` for a mapped record, whose
    /// outputs are named).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            RecordDecision::Mapped => None,
            RecordDecision::Park { .. } => Some("park"),
            RecordDecision::DeadLetter => Some("dead-letter"),
            RecordDecision::AlreadyDead => Some("unchanged"),
        }
    }
}

/// The ledger reason an unreadable source record is kept with.
pub fn unreadable_reason(reason: &str) -> String {
    format!("unreadable at the source: {reason}")
}

/// Whether a record the source could not read makes a new dead letter: not
/// when an earlier run recorded it (`previous`, its `unreadable` ledger row)
/// for the same reason.
pub fn unreadable_is_new(previous: Option<&LedgerEntry>, reason: &str) -> bool {
    previous.and_then(|e| e.reason.as_deref()) != Some(unreadable_reason(reason).as_str())
}

/// What happens to source record `body`, which the mapping made `outcome`
/// of, given its source row `previous`.
pub fn decide_record(
    previous: Option<&LedgerEntry>,
    outcome: &Outcome,
    body: &str,
) -> RecordDecision {
    match outcome {
        Outcome::Mapped(_) => RecordDecision::Mapped,
        Outcome::Parked(reason) => RecordDecision::Park {
            news: !previous.is_some_and(|p| {
                p.state == RecordState::Parked && p.reason.as_deref() == Some(reason.as_str())
            }),
        },
        Outcome::Failed(_) => {
            if previous
                .is_some_and(|p| p.state == RecordState::Dead && p.hash == content_hash(body))
            {
                RecordDecision::AlreadyDead
            } else {
                RecordDecision::DeadLetter
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LedgerKind;

    const NOW: u64 = 1_000;
    const BODY: &str = r#"{"qty":1}"#;

    /// A ledger row for document `K` in `state`, with `BODY`'s hash when
    /// `same`, a target when `target`, and a Retry-After until `not_before`.
    fn row(state: RecordState, same: bool, target: bool, not_before: Option<u64>) -> LedgerEntry {
        LedgerEntry::new("acme", "f", LedgerKind::Document, "K", "1", state, 1)
            .with_hash(if same {
                content_hash(BODY)
            } else {
                content_hash("old")
            })
            .with_attempts(3)
            .with_target_key(target.then(|| "T-1".to_string()))
            .with_reason("r")
            .with_not_before_ms(not_before)
    }

    #[test]
    fn every_ledger_state_and_change_policy_decides_a_write_as_the_table_says() {
        use Decision::*;
        use RecordState::*;
        let write = Write {
            lookup_first: false,
            attempts: 0,
        };
        let retry = Write {
            lookup_first: true,
            attempts: 3,
        };
        let later = Some(NOW + 1);
        let past = Some(NOW - 1);
        // (row: state, same content, has target, not before) -> [ignore, rewrite, dead-letter]
        let table: Vec<(Option<LedgerEntry>, [Decision; 3])> = vec![
            (None, [write, write, write]),
            (Some(row(Delivered, true, true, None)), [Unchanged; 3]),
            (
                Some(row(Delivered, false, true, None)),
                [Hold, Rewrite { attempts: 3 }, DeadLetter],
            ),
            (Some(row(Dead, true, true, None)), [Unchanged; 3]),
            (Some(row(Dead, true, false, None)), [Unchanged; 3]),
            // A dead letter of a delivered document, changed again: the policy, never a new post.
            (
                Some(row(Dead, false, true, None)),
                [Hold, Rewrite { attempts: 3 }, DeadLetter],
            ),
            (Some(row(Dead, false, false, None)), [retry; 3]),
            (Some(row(Pending, true, false, None)), [retry; 3]),
            (Some(row(Pending, false, false, None)), [retry; 3]),
            (Some(row(Retrying, true, false, None)), [retry; 3]),
            (Some(row(Retrying, false, false, past)), [retry; 3]),
            // Not yet due: left for a later run, whatever the content.
            (Some(row(Retrying, true, false, later)), [NotDue; 3]),
            (Some(row(Retrying, false, false, later)), [NotDue; 3]),
            (Some(row(Skipped, true, false, None)), [write; 3]),
            (Some(row(Skipped, false, false, None)), [write; 3]),
            (Some(row(Parked, false, false, None)), [write; 3]),
        ];
        let policies = [OnChange::Ignore, OnChange::Rewrite, OnChange::DeadLetter];
        for (existing, expected) in &table {
            for (policy, want) in policies.iter().zip(expected) {
                let got = decide(existing.as_ref(), &Action::Write(BODY.into()), *policy, NOW);
                assert_eq!(
                    got,
                    *want,
                    "row {:?} policy {}",
                    existing.as_ref().map(|e| (
                        e.state,
                        e.hash == content_hash(BODY),
                        &e.target_key,
                        e.not_before_ms
                    )),
                    policy.as_str()
                );
            }
        }
    }

    #[test]
    fn links_and_skips_are_unchanged_only_when_already_recorded_as_such() {
        let link = Action::Link("T-1".into());
        let skip = Action::Skip("r".into());
        for policy in [OnChange::Ignore, OnChange::Rewrite, OnChange::DeadLetter] {
            let d = |row: Option<LedgerEntry>, action: &Action| {
                decide(row.as_ref(), action, policy, NOW)
            };
            assert_eq!(d(None, &link), Decision::Link);
            assert_eq!(
                d(Some(row(RecordState::Delivered, false, true, None)), &link),
                Decision::Unchanged
            );
            assert_eq!(
                d(Some(row(RecordState::Delivered, false, false, None)), &link),
                Decision::Link,
                "delivered to another target"
            );
            assert_eq!(
                d(Some(row(RecordState::Pending, false, true, None)), &link),
                Decision::Link
            );
            assert_eq!(d(None, &skip), Decision::Skip);
            assert_eq!(
                d(Some(row(RecordState::Delivered, false, true, None)), &skip),
                Decision::Unchanged
            );
            assert_eq!(
                d(Some(row(RecordState::Skipped, false, false, None)), &skip),
                Decision::Unchanged,
                "skipped for the same reason"
            );
            assert_eq!(
                d(
                    Some(row(RecordState::Skipped, false, false, None)),
                    &Action::Skip("other".into())
                ),
                Decision::Skip
            );
            assert_eq!(
                d(Some(row(RecordState::Dead, false, false, None)), &skip),
                Decision::Skip
            );
        }
    }

    #[test]
    fn a_source_record_is_parked_dead_lettered_once_or_mapped() {
        let parked = row(RecordState::Parked, false, false, None);
        let park = |reason: &str| Outcome::Parked(reason.into());
        assert_eq!(
            decide_record(None, &park("r"), BODY),
            RecordDecision::Park { news: true }
        );
        assert_eq!(
            decide_record(Some(&parked), &park("r"), BODY),
            RecordDecision::Park { news: false }
        );
        assert_eq!(
            decide_record(Some(&parked), &park("another"), BODY),
            RecordDecision::Park { news: true }
        );
        let failed = Outcome::Failed("boom".into());
        assert_eq!(
            decide_record(None, &failed, BODY),
            RecordDecision::DeadLetter
        );
        let dead_same = row(RecordState::Dead, true, false, None);
        assert_eq!(
            decide_record(Some(&dead_same), &failed, BODY),
            RecordDecision::AlreadyDead
        );
        assert_eq!(
            decide_record(Some(&dead_same), &failed, "changed"),
            RecordDecision::DeadLetter
        );
        assert_eq!(
            decide_record(Some(&parked), &Outcome::Mapped(Vec::new()), BODY),
            RecordDecision::Mapped
        );
    }

    #[test]
    fn an_unreadable_record_is_a_new_dead_letter_unless_kept_for_the_same_reason() {
        let kept = LedgerEntry::new(
            "acme",
            "f",
            LedgerKind::Unreadable,
            "9",
            "9",
            RecordState::Dead,
            1,
        )
        .with_reason(unreadable_reason("bad json"));
        assert!(unreadable_is_new(None, "bad json"));
        assert!(!unreadable_is_new(Some(&kept), "bad json"));
        assert!(unreadable_is_new(Some(&kept), "no id"));
    }
}
