//! The stream table: each stream of a connector declared once (name, spec,
//! and the read, write and lookup it has). The table makes `spec()`'s stream
//! list, finds the function a call dispatches to, and words the one error for
//! an unknown stream or a call a stream does not support, so the three can
//! never disagree.
//!
//! `R`, `W` and `L` are whatever the connector dispatches to: usually
//! function pointers over its own context, or data a shared driver reads.

use crate::{AuthScheme, Capabilities, ConnectorSpec, Failure, StreamSpec, fail};

/// One stream: its spec, and what it can do (capabilities follow from which
/// of `read`, `write` and `lookup` are given).
#[derive(Debug)]
pub struct Stream<R, W, L> {
    /// Name used in manifests (e.g. `approved_requisitions`).
    pub name: &'static str,
    /// What the stream holds and the document shape, for `spec()`.
    pub description: &'static str,
    /// The field of a document that identifies it.
    pub primary_key: &'static str,
    /// The field the cursor follows, for an incremental stream.
    pub cursor_field: Option<&'static str>,
    /// How the stream is read, if it is a source.
    pub read: Option<R>,
    /// How a document is written, if it is a sink.
    pub write: Option<W>,
    /// How a written document is found again by its key.
    pub lookup: Option<L>,
}

impl<R, W, L> Stream<R, W, L> {
    /// Read, write and lookup support, from what the stream has.
    pub fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::empty();
        if self.read.is_some() {
            caps |= Capabilities::READ;
        }
        if self.write.is_some() {
            caps |= Capabilities::WRITE;
        }
        if self.lookup.is_some() {
            caps |= Capabilities::LOOKUP;
        }
        caps
    }

    /// The contract's `stream-spec`.
    pub fn spec(&self) -> StreamSpec {
        StreamSpec {
            name: self.name.to_string(),
            description: self.description.to_string(),
            primary_key: self.primary_key.to_string(),
            cursor_field: self.cursor_field.map(str::to_string),
            capabilities: self.capabilities(),
        }
    }
}

/// A call the host makes on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `source.read`.
    Read,
    /// `sink.write`.
    Write,
    /// `sink.lookup`.
    Lookup,
}

impl Call {
    /// The call's name as the contract spells it.
    pub fn name(self) -> &'static str {
        match self {
            Call::Read => "read",
            Call::Write => "write",
            Call::Lookup => "lookup",
        }
    }
}

/// Every stream of one connector, in the order `spec()` lists them.
#[derive(Debug)]
pub struct Table<R: 'static, W: 'static, L: 'static> {
    /// The connector's name, for error messages.
    pub connector: &'static str,
    /// The streams.
    pub streams: &'static [Stream<R, W, L>],
}

impl<R, W, L> Table<R, W, L> {
    /// The streams as the contract's `stream-spec`s.
    pub fn specs(&self) -> Vec<StreamSpec> {
        self.streams.iter().map(Stream::spec).collect()
    }

    /// The connector's whole `spec()`: its name and streams from the table,
    /// with the version, configuration schema (JSON Schema text) and auth
    /// schemes the connector gives.
    pub fn connector_spec(
        &self,
        version: &str,
        config_schema: &str,
        auth_schemes: Vec<AuthScheme>,
    ) -> ConnectorSpec {
        ConnectorSpec {
            name: self.connector.to_string(),
            version: version.to_string(),
            config_schema: config_schema.to_string(),
            streams: self.specs(),
            auth_schemes,
        }
    }

    /// The stream `name`, for `call`; a `config` failure naming the stream
    /// and listing the known ones when there is none.
    pub fn stream(&self, call: Call, name: &str) -> Result<&'static Stream<R, W, L>, Failure> {
        self.streams.iter().find(|s| s.name == name).ok_or_else(|| {
            fail::config(format!(
                "{} {name}: the {} connector has no stream {name:?}; it offers: {}",
                call.name(),
                self.connector,
                self.names(|_| true)
            ))
        })
    }

    /// What stream `name` reads with.
    pub fn read(&self, name: &str) -> Result<&'static R, Failure> {
        let s = self.stream(Call::Read, name)?;
        s.read
            .as_ref()
            .ok_or_else(|| self.unsupported(Call::Read, s))
    }

    /// What stream `name` writes with.
    pub fn write(&self, name: &str) -> Result<&'static W, Failure> {
        let s = self.stream(Call::Write, name)?;
        s.write
            .as_ref()
            .ok_or_else(|| self.unsupported(Call::Write, s))
    }

    /// What stream `name` looks written documents up with.
    pub fn lookup(&self, name: &str) -> Result<&'static L, Failure> {
        let s = self.stream(Call::Lookup, name)?;
        s.lookup
            .as_ref()
            .ok_or_else(|| self.unsupported(Call::Lookup, s))
    }

    fn unsupported(&self, call: Call, s: &Stream<R, W, L>) -> Failure {
        let supports = |s: &Stream<R, W, L>| match call {
            Call::Read => s.read.is_some(),
            Call::Write => s.write.is_some(),
            Call::Lookup => s.lookup.is_some(),
        };
        fail::config(format!(
            "{call} {name}: stream {name} of the {connector} connector does not support {call}; streams that support {call}: {list}",
            call = call.name(),
            name = s.name,
            connector = self.connector,
            list = self.names(supports),
        ))
    }

    fn names(&self, keep: impl Fn(&Stream<R, W, L>) -> bool) -> String {
        self.streams
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type T = Table<u8, u16, u32>;

    const TABLE: T = Table {
        connector: "demo",
        streams: &[
            Stream {
                name: "orders",
                description: "Orders",
                primary_key: "id",
                cursor_field: Some("modified"),
                read: Some(1),
                write: None,
                lookup: None,
            },
            Stream {
                name: "vendors",
                description: "Vendors",
                primary_key: "id",
                cursor_field: None,
                read: Some(2),
                write: Some(3),
                lookup: Some(4),
            },
        ],
    };

    #[test]
    fn specs_follow_the_table_with_capabilities_from_what_each_stream_has() {
        let specs = TABLE.specs();
        assert_eq!(specs[0].name, "orders");
        assert_eq!(specs[0].capabilities, Capabilities::READ);
        assert_eq!(specs[0].cursor_field.as_deref(), Some("modified"));
        assert_eq!(
            specs[1].capabilities,
            Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP
        );
    }

    #[test]
    fn calls_dispatch_to_the_stream_that_has_them() {
        assert_eq!(TABLE.read("orders").ok(), Some(&1));
        assert_eq!(TABLE.write("vendors").ok(), Some(&3));
        assert_eq!(TABLE.lookup("vendors").ok(), Some(&4));
    }

    #[test]
    fn an_unknown_stream_is_named_with_the_streams_there_are() {
        match TABLE.read("invoices") {
            Err(Failure::Config(m)) => assert_eq!(
                m,
                "read invoices: the demo connector has no stream \"invoices\"; it offers: orders, vendors"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_call_a_stream_lacks_names_the_streams_that_support_it() {
        match TABLE.write("orders") {
            Err(Failure::Config(m)) => assert_eq!(
                m,
                "write orders: stream orders of the demo connector does not support write; streams that support write: vendors"
            ),
            other => panic!("{other:?}"),
        }
    }
}
