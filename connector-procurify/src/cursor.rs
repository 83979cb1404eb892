//! The opaque cursors this connector hands the host, as JSON text.
//!
//! * `incremental` (requisitions, ordered items, purchase orders, bills):
//!   `{"kind":"incremental","v":1,"since":"2026-11-01T08:00:00Z","page":3,"max_seen":"2026-11-02T10:00:00Z"}`.
//!   A pass reads every page of "modified since `since`" (page number `page`
//!   next); `max_seen` is the latest modification seen so far in the pass. When
//!   the last page is read the cursor becomes `since = max_seen - overlap`,
//!   `page = 1` (unchanged `since` if the pass saw nothing), so the next pass
//!   re-reads the overlap window that date-only filters need.
//! * `scan` (vendors, account codes, departments, accounts: no usable change
//!   filter): `{"kind":"scan","v":1,"page":2,"known":{"17":"9f…"},"seen":{…}}`.
//!   `known` maps record id to the FNV-1a 64 hash of the document emitted at
//!   the last complete pass; a record whose document hashes the same is not
//!   emitted again (the host would skip it anyway). `seen` accumulates the
//!   current pass and replaces `known` at its end, so deleted ids drop out.
//!   Reset the flow's cursor to have every record emitted again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Instant;

/// Version written into cursors; a cursor of another version is refused.
pub const VERSION: u32 = 1;

/// Position of an incremental stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// Cursor format version.
    pub v: u32,
    /// Lower bound of the current pass (RFC 3339 UTC); none: from the start.
    pub since: Option<String>,
    /// Page of the current pass to read next (1-based).
    pub page: u32,
    /// Latest modification seen in the current pass (RFC 3339 UTC).
    pub max_seen: Option<String>,
}

/// Position of a full-scan stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    /// Cursor format version.
    pub v: u32,
    /// Page of the current pass to read next (1-based).
    pub page: u32,
    /// Record id -> document hash as of the last complete pass.
    pub known: BTreeMap<String, String>,
    /// Record id -> document hash seen so far in this pass.
    pub seen: BTreeMap<String, String>,
}

/// Either cursor, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cursor {
    /// See [`Incremental`].
    Incremental(Incremental),
    /// See [`Scan`].
    Scan(Scan),
}

impl Cursor {
    /// The cursor as the opaque text given to the host.
    pub fn encode(&self) -> String {
        // Serializing plain strings, integers and maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a cursor given back by the host; the error says how to recover.
    pub fn decode(text: &str) -> Result<Cursor, String> {
        let cursor: Cursor = serde_json::from_str(text).map_err(|e| {
            format!(
                "cursor is not one this connector wrote ({e}): {}; reset the flow's cursor to start over",
                mlc_guest::excerpt(text, 80)
            )
        })?;
        let v = match &cursor {
            Cursor::Incremental(c) => c.v,
            Cursor::Scan(c) => c.v,
        };
        if v != VERSION {
            return Err(format!(
                "cursor version {v} is not supported (this connector writes {VERSION}); reset the flow's cursor"
            ));
        }
        Ok(cursor)
    }
}

impl Incremental {
    /// The first pass, from `since` (the `since` setting) or from the start.
    pub fn start(since: Option<Instant>) -> Incremental {
        Incremental {
            v: VERSION,
            since: since.map(Instant::rfc3339),
            page: 1,
            max_seen: None,
        }
    }

    /// `since` as an instant (an unreadable one counts as "from the start";
    /// this connector only writes readable ones).
    pub fn since_instant(&self) -> Option<Instant> {
        self.since.as_deref().and_then(|s| Instant::parse(s).ok())
    }

    /// Records a modification time seen on the current page.
    pub fn observe(&mut self, modified: Instant) {
        let current = self
            .max_seen
            .as_deref()
            .and_then(|s| Instant::parse(s).ok());
        if current.is_none_or(|c| modified > c) {
            self.max_seen = Some(modified.rfc3339());
        }
    }

    /// Moves to `next_page` of the same pass.
    pub fn advance(&mut self, next_page: u32) {
        self.page = next_page;
    }

    /// Ends the pass: the next one starts `overlap_secs` before the latest
    /// modification seen (or where this one started, if it saw nothing).
    pub fn finish_pass(&mut self, overlap_secs: u64) {
        if let Some(max) = self
            .max_seen
            .as_deref()
            .and_then(|s| Instant::parse(s).ok())
        {
            self.since = Some(max.minus_secs(overlap_secs).rfc3339());
        }
        self.max_seen = None;
        self.page = 1;
    }
}

impl Scan {
    /// A first pass with nothing known.
    pub fn start() -> Scan {
        Scan {
            v: VERSION,
            page: 1,
            known: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }

    /// Notes record `id` with document `body`; true when it must be emitted
    /// (new, or changed since the last complete pass).
    pub fn note(&mut self, id: &str, body: &str) -> bool {
        let hash = content_hash(body);
        let changed = self.known.get(id) != Some(&hash);
        self.seen.insert(id.to_string(), hash);
        changed
    }

    /// Ends the pass: what was seen becomes what is known.
    pub fn finish_pass(&mut self) {
        self.known = std::mem::take(&mut self.seen);
        self.page = 1;
    }
}

/// FNV-1a 64 of `text`, as 16 hex digits: a stable content fingerprint (not
/// a security measure; the host's ledger keeps its own SHA-256).
pub fn content_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Instant {
        Instant::parse(s).unwrap()
    }

    #[test]
    fn incremental_cursor_round_trips_through_text() {
        let mut c = Incremental::start(Some(t("2026-11-01")));
        c.observe(t("2026-11-03T10:00:00+00:00"));
        c.advance(4);
        let text = Cursor::Incremental(c.clone()).encode();
        assert_eq!(
            text,
            r#"{"kind":"incremental","v":1,"since":"2026-11-01T00:00:00Z","page":4,"max_seen":"2026-11-03T10:00:00Z"}"#
        );
        assert_eq!(Cursor::decode(&text).unwrap(), Cursor::Incremental(c));
    }

    #[test]
    fn scan_cursor_round_trips_through_text() {
        let mut c = Scan::start();
        c.note("7", "{\"id\":7}");
        c.advance_for_test(2);
        let text = Cursor::Scan(c.clone()).encode();
        assert!(
            text.starts_with(r#"{"kind":"scan","v":1,"page":2,"#),
            "{text}"
        );
        assert_eq!(Cursor::decode(&text).unwrap(), Cursor::Scan(c));
    }

    impl Scan {
        fn advance_for_test(&mut self, page: u32) {
            self.page = page;
        }
    }

    #[test]
    fn pass_end_restarts_overlap_before_the_latest_modification() {
        let mut c = Incremental::start(None);
        c.observe(t("2026-11-02T03:00:00Z"));
        c.observe(t("2026-11-05T12:30:00Z"));
        c.observe(t("2026-11-04T00:00:00Z"));
        assert_eq!(c.max_seen.as_deref(), Some("2026-11-05T12:30:00Z"));
        c.finish_pass(86_400);
        assert_eq!(c.since.as_deref(), Some("2026-11-04T12:30:00Z"));
        assert_eq!(c.since_instant().unwrap().date(), "2026-11-04");
        assert_eq!(c.page, 1);
        assert_eq!(c.max_seen, None);
    }

    #[test]
    fn empty_pass_keeps_its_start_instead_of_drifting_back() {
        let mut c = Incremental::start(Some(t("2026-11-01T00:00:00Z")));
        c.finish_pass(86_400);
        assert_eq!(c.since.as_deref(), Some("2026-11-01T00:00:00Z"));
        c.finish_pass(86_400);
        assert_eq!(c.since.as_deref(), Some("2026-11-01T00:00:00Z"));
    }

    #[test]
    fn zero_overlap_resumes_at_the_latest_modification() {
        let mut c = Incremental::start(None);
        c.observe(t("2026-11-05T12:30:00.5Z"));
        c.finish_pass(0);
        assert_eq!(c.since.as_deref(), Some("2026-11-05T12:30:00.5Z"));
    }

    #[test]
    fn scan_emits_new_and_changed_records_only() {
        let mut c = Scan::start();
        assert!(c.note("1", "a"));
        assert!(c.note("2", "b"));
        c.finish_pass();
        assert!(!c.note("1", "a"), "unchanged record emitted again");
        assert!(c.note("2", "b2"), "changed record skipped");
        assert!(c.note("3", "c"), "new record skipped");
        c.finish_pass();
        assert_eq!(c.known.len(), 3);
        // A record that disappeared and comes back is emitted again.
        c.note("1", "a");
        c.finish_pass();
        assert!(c.note("2", "b2"));
    }

    #[test]
    fn foreign_or_future_cursors_are_refused_with_a_way_out() {
        let e = Cursor::decode("page=3").unwrap_err();
        assert!(e.contains("reset the flow's cursor"), "{e}");
        let e =
            Cursor::decode(r#"{"kind":"scan","v":2,"page":1,"known":{},"seen":{}}"#).unwrap_err();
        assert!(e.contains("version 2"), "{e}");
        assert!(
            Cursor::decode(
                r#"{"kind":"incremental","v":1,"since":null,"page":1,"max_seen":null,"extra":1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn content_hash_is_stable_and_discriminating() {
        assert_eq!(content_hash(""), "cbf29ce484222325");
        assert_eq!(content_hash("a"), "af63dc4c8601ec8c");
        assert_ne!(content_hash("{\"a\":1}"), content_hash("{\"a\":2}"));
    }
}
