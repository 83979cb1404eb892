//! The smallest sink-only connector: one stream table, one `export_sink!`.
//! Stream `notes` takes JSON objects; the target key is `note-<key>`, and
//! lookup finds the notes this instance wrote (instance state, as the
//! contract allows: it lives no longer than the instance). The component
//! exports no source: the host refuses a read before calling it.

use std::cell::RefCell;
use std::collections::BTreeSet;

use mlc_guest::streams::{Stream, Table};
use mlc_guest::{Connection, ConnectorSpec, Doc, Failure, Written, fail, plugin, sink};

type Write = fn(&Doc) -> Result<Written, Failure>;
type Lookup = fn(&str) -> Result<Option<String>, Failure>;

/// The streams: one, write and lookup (no read).
pub const STREAMS: Table<(), Write, Lookup> = Table {
    connector: "sink-only",
    streams: &[Stream {
        name: "notes",
        description: "Notes, any JSON object; target key note-<key>",
        primary_key: "key",
        cursor_field: None,
        read: None,
        write: Some(write_note),
        lookup: Some(lookup_note),
    }],
};

thread_local! {
    /// Keys written by this instance.
    static WRITTEN: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
}

fn write_note(doc: &Doc) -> Result<Written, Failure> {
    if !doc.body.trim_start().starts_with('{') {
        return Err(fail::rejected(format!(
            "write notes {}: the document must be a JSON object",
            doc.key
        )));
    }
    WRITTEN.with(|w| w.borrow_mut().insert(doc.key.clone()));
    Ok(Written {
        key: doc.key.clone(),
        target_key: format!("note-{}", doc.key),
    })
}

fn lookup_note(key: &str) -> Result<Option<String>, Failure> {
    Ok(WRITTEN.with(|w| w.borrow().contains(key).then(|| format!("note-{key}"))))
}

/// The component.
pub struct SinkOnly;

impl plugin::Guest for SinkOnly {
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

impl sink::Guest for SinkOnly {
    fn write(_conn: Connection, stream: String, document: Doc) -> Result<Written, Failure> {
        // A real connector calls the host (log, clock): the sink-only world
        // must link with those imports too. (Here, not in `write_note`,
        // which native unit tests call without a host.)
        mlc_guest::host::log(mlc_guest::host::Level::Debug, &format!("write {stream}"));
        (STREAMS.write(&stream)?)(&document)
    }

    fn lookup(_conn: Connection, stream: String, key: String) -> Result<Option<String>, Failure> {
        (STREAMS.lookup(&stream)?)(&key)
    }
}

mlc_guest::export_sink!(SinkOnly);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_note_is_found_again_and_a_non_object_is_rejected() {
        let doc = Doc {
            key: "a".into(),
            body: "{}".into(),
        };
        assert_eq!(write_note(&doc).unwrap().target_key, "note-a");
        assert_eq!(lookup_note("a").unwrap().as_deref(), Some("note-a"));
        assert_eq!(lookup_note("b").unwrap(), None);
        let bad = Doc {
            key: "b".into(),
            body: "[]".into(),
        };
        assert!(matches!(write_note(&bad), Err(Failure::Rejected(_))));
    }
}
