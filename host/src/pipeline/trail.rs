//! Checkpointing: where the next page is read from, and when the saved
//! cursor may pass a page. A connector that says more pages follow without
//! giving a new cursor would make a run read one page forever: that is a
//! protocol error that stops the run (shared with `sync --dry-run`).

use std::collections::VecDeque;

/// A connector answered `more = true` without a new cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "reading {stream}: protocol error: the connector said more pages follow but gave no new cursor (it was {}); stopped instead of reading the same page forever: fix the connector",
    .previous.as_deref().map_or_else(|| "the start".to_string(), |c| format!("{c:?}"))
)]
pub struct StuckCursor {
    /// The source stream.
    pub stream: String,
    /// The cursor the page was read from.
    pub previous: Option<String>,
}

/// The cursor to read the page after one that said more pages follow:
/// the page's own, which must differ from the one it was read from.
pub fn next_cursor(
    stream: &str,
    previous: Option<&str>,
    page_cursor: Option<&str>,
) -> Result<String, StuckCursor> {
    match page_cursor {
        Some(next) if Some(next) != previous => Ok(next.to_string()),
        _ => Err(StuckCursor {
            stream: stream.to_string(),
            previous: previous.map(str::to_string),
        }),
    }
}

/// A page index the trail does not know: a bug in the run's bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("page {index} is not open in the run's page trail (pages before {passed} are passed)")]
pub struct UnknownPage {
    /// The index asked for.
    pub index: usize,
    /// The first page not yet passed.
    pub passed: usize,
}

/// The pages of a run in the order they were read, with how many of their
/// records are not yet settled. Records of consecutive pages run
/// concurrently, but a page's cursor may be saved only once that page and all
/// pages before it are settled: a crash then re-reads, never skips.
#[derive(Debug, Default)]
pub(crate) struct PageTrail {
    /// Pages not yet passed: (records unsettled, the cursor after the page).
    open: VecDeque<(usize, Option<String>)>,
    /// The index of `open[0]` among the run's pages.
    passed: usize,
}

impl PageTrail {
    /// Registers the next page; returns its index.
    pub(crate) fn open(&mut self, records: usize, cursor: Option<String>) -> usize {
        self.open.push_back((records, cursor));
        self.passed + self.open.len() - 1
    }

    /// One record of page `index` is settled.
    pub(crate) fn settle(&mut self, index: usize) -> Result<(), UnknownPage> {
        let unknown = UnknownPage {
            index,
            passed: self.passed,
        };
        let page = index
            .checked_sub(self.passed)
            .and_then(|i| self.open.get_mut(i))
            .ok_or(unknown.clone())?;
        page.0 = page.0.checked_sub(1).ok_or(unknown)?;
        Ok(())
    }

    /// Passes the leading settled pages; the cursor to save, if any moved it
    /// (a page without a cursor keeps the previous one).
    pub(crate) fn take_settled(&mut self) -> Option<String> {
        let mut cursor = None;
        while self.open.front().is_some_and(|(left, _)| *left == 0) {
            if let Some((_, Some(c))) = self.open.pop_front() {
                cursor = Some(c);
            }
            self.passed += 1;
        }
        cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_passes_a_page_only_when_it_and_every_page_before_are_settled() {
        let mut trail = PageTrail::default();
        let first = trail.open(2, Some("after-1".into()));
        let second = trail.open(1, Some("after-2".into()));
        trail.settle(second).unwrap();
        assert_eq!(trail.take_settled(), None, "page 1 is still open");
        trail.settle(first).unwrap();
        assert_eq!(
            trail.take_settled(),
            None,
            "one record of page 1 is still open"
        );
        trail.settle(first).unwrap();
        assert_eq!(trail.take_settled().as_deref(), Some("after-2"));
        assert_eq!(trail.take_settled(), None, "nothing new settled");
    }

    #[test]
    fn empty_pages_and_pages_without_a_cursor_keep_the_last_cursor() {
        let mut trail = PageTrail::default();
        trail.open(0, Some("after-1".into()));
        let second = trail.open(1, None);
        assert_eq!(trail.take_settled().as_deref(), Some("after-1"));
        trail.settle(second).unwrap();
        assert_eq!(
            trail.take_settled(),
            None,
            "page 2 has no cursor of its own"
        );
        let third = trail.open(1, Some("after-3".into()));
        assert_eq!(third, 2);
        trail.settle(third).unwrap();
        assert_eq!(trail.take_settled().as_deref(), Some("after-3"));
    }

    #[test]
    fn settling_a_passed_unknown_or_already_settled_page_is_an_error() {
        let mut trail = PageTrail::default();
        let first = trail.open(1, Some("c1".into()));
        assert_eq!(
            trail.settle(5),
            Err(UnknownPage {
                index: 5,
                passed: 0
            })
        );
        trail.settle(first).unwrap();
        assert!(trail.settle(first).is_err(), "settled twice");
        trail.take_settled();
        assert!(trail.settle(first).is_err(), "already passed");
    }

    #[test]
    fn more_pages_without_a_new_cursor_is_a_protocol_error_naming_the_stream() {
        assert_eq!(next_cursor("orders", Some("c1"), Some("c2")).unwrap(), "c2");
        assert_eq!(next_cursor("orders", None, Some("c1")).unwrap(), "c1");
        for (previous, page) in [(Some("c1"), Some("c1")), (Some("c1"), None), (None, None)] {
            let stuck = next_cursor("orders", previous, page).unwrap_err();
            let text = stuck.to_string();
            assert!(
                text.contains("reading orders") && text.contains("protocol error"),
                "{text}"
            );
        }
    }
}
