//! The smallest source-only connector: one stream table, one
//! `export_source!`. Stream `counter` reads the numbers 1 to [`LAST`], two
//! per page, the cursor being the last number read; it needs no network, so
//! host tests see the template's read path and nothing else. The component
//! exports no sink: the host refuses a write before calling it.

use mlc_guest::streams::{Stream, Table};
use mlc_guest::{Connection, ConnectorSpec, Doc, Failure, Page, fail, plugin, source};

/// The last number `counter` reads.
pub const LAST: u32 = 5;
/// Numbers per page.
const PAGE: u32 = 2;

type Read = fn(Option<&str>) -> Result<Page, Failure>;

/// The streams: one, read-only (no write, no lookup).
pub const STREAMS: Table<Read, (), ()> = Table {
    connector: "source-only",
    streams: &[Stream {
        name: "counter",
        description: "The numbers 1 to 5, two per page; doc {n}",
        primary_key: "n",
        cursor_field: Some("n"),
        read: Some(read_counter),
        write: None,
        lookup: None,
    }],
};

fn read_counter(cursor: Option<&str>) -> Result<Page, Failure> {
    let after: u32 = match cursor {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| fail::config(format!("read counter: cursor {c:?} is not a number")))?,
    };
    let last = (after + PAGE).min(LAST);
    Ok(Page {
        docs: (after + 1..=last)
            .map(|n| Doc {
                key: n.to_string(),
                body: format!("{{\"n\":{n}}}"),
            })
            .collect(),
        bad_records: Vec::new(),
        cursor: Some(last.to_string()),
        more: last < LAST,
    })
}

/// The component.
pub struct SourceOnly;

impl plugin::Guest for SourceOnly {
    fn spec() -> ConnectorSpec {
        STREAMS.connector_spec(
            env!("CARGO_PKG_VERSION"),
            r#"{"type":"object","additionalProperties":false}"#,
            Vec::new(),
        )
    }

    fn check(_conn: Connection) -> Result<(), Failure> {
        Ok(())
    }
}

impl source::Guest for SourceOnly {
    fn read(_conn: Connection, stream: String, cursor: Option<String>) -> Result<Page, Failure> {
        // A real connector calls the host (log, clock): the source-only world
        // must link with those imports too. (Here, not in `read_counter`,
        // which native unit tests call without a host.)
        mlc_guest::host::log(mlc_guest::host::Level::Debug, &format!("read {stream}"));
        (STREAMS.read(&stream)?)(cursor.as_deref())
    }
}

mlc_guest::export_source!(SourceOnly);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_pages_two_numbers_at_a_time_to_the_last() {
        let p1 = read_counter(None).unwrap();
        assert_eq!(p1.docs.len(), 2);
        assert!(p1.more);
        let p3 = read_counter(Some("4")).unwrap();
        assert_eq!(p3.docs[0].body, r#"{"n":5}"#);
        assert!(!p3.more);
        assert!(matches!(read_counter(Some("x")), Err(Failure::Config(_))));
    }
}
