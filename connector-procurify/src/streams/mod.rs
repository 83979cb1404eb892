//! The streams this connector offers, and the two paging drivers they share:
//! incremental (a modified-since filter, see [`crate::cursor::Incremental`])
//! and full scan (every page, unchanged records skipped, see
//! [`crate::cursor::Scan`]). Each stream module owns its request and its
//! record normalization; this module only dispatches.

pub mod account_codes;
pub mod accounts;
pub mod bills;
pub mod closures;
pub mod departments;
pub mod lines;
pub mod ordered_items;
pub mod purchase_orders;
pub mod requisitions;
pub mod vendors;

use mlc_guest::{BadRecord, Capabilities, Doc, Failure, Page, StreamSpec, Written, fail};
use serde_json::Value;

use crate::api::{self, ListPage};
use crate::client::Client;
use crate::cursor::{Cursor, Incremental, Scan};
use crate::fields::FieldError;
use crate::refs::Cache;
use crate::time::Instant;

/// What a stream call works with: the client of one connection and this
/// instance's reference cache.
pub struct Ctx<'a> {
    /// Sends the calls.
    pub client: Client<'a>,
    /// References resolved earlier in this instance.
    pub cache: &'a mut Cache,
}

/// The result of normalizing one source record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A document, with the modification time the cursor follows.
    Doc {
        /// Source key.
        key: String,
        /// Normalized document.
        body: Value,
        /// Last modification, when known.
        modified: Option<Instant>,
    },
    /// A record that could not be read: reported, not delivered.
    Bad(Bad),
    /// A record that does not belong in this stream (e.g. an unpurchased item).
    Skip,
}

/// A record that could not be read (the contract's `bad-record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    /// The record's identity, as far as it could be read (`?` if none).
    pub key: String,
    /// What was wrong, naming the field.
    pub reason: String,
}

impl Outcome {
    /// A bad record from a field error.
    pub fn bad(key: impl Into<String>, e: FieldError) -> Outcome {
        Outcome::Bad(Bad {
            key: key.into(),
            reason: e.0,
        })
    }
}

/// One page fetched and normalized by a stream: outcomes plus `next`.
pub struct Fetched {
    /// What became of each record, in source order.
    pub outcomes: Vec<Outcome>,
    /// The `next` URL of the page (none on the last page).
    pub next: Option<String>,
}

/// Static description of a stream.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// Manifest name.
    pub name: &'static str,
    /// One sentence plus the document shape, for `spec()`.
    pub description: &'static str,
    /// Field of a document that identifies it.
    pub primary_key: &'static str,
    /// Field the cursor follows, for incremental streams.
    pub cursor_field: Option<&'static str>,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Supports lookup.
    pub lookup: bool,
}

/// Every stream, in the order `spec()` lists them.
pub const STREAMS: &[Info] = &[
    requisitions::INFO,
    ordered_items::INFO,
    purchase_orders::INFO,
    vendors::INFO,
    account_codes::INFO,
    departments::INFO,
    accounts::INFO,
    bills::INFO,
    closures::INFO,
];

/// The streams as the contract's `stream-spec`s.
pub fn specs() -> Vec<StreamSpec> {
    STREAMS
        .iter()
        .map(|s| {
            let mut caps = Capabilities::empty();
            if s.read {
                caps |= Capabilities::READ;
            }
            if s.write {
                caps |= Capabilities::WRITE;
            }
            if s.lookup {
                caps |= Capabilities::LOOKUP;
            }
            StreamSpec {
                name: s.name.to_string(),
                description: s.description.to_string(),
                primary_key: s.primary_key.to_string(),
                cursor_field: s.cursor_field.map(str::to_string),
                capabilities: caps,
            }
        })
        .collect()
}

fn names_with(pred: impl Fn(&Info) -> bool) -> String {
    STREAMS
        .iter()
        .filter(|s| pred(s))
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the next page of `stream` after `cursor`.
pub fn read(ctx: &mut Ctx<'_>, stream: &str, cursor: Option<&str>) -> Result<Page, Failure> {
    match stream {
        requisitions::NAME => incremental(ctx, stream, cursor, requisitions::fetch),
        ordered_items::NAME => incremental(ctx, stream, cursor, ordered_items::fetch),
        purchase_orders::NAME => incremental(ctx, stream, cursor, purchase_orders::fetch),
        bills::NAME => incremental(ctx, stream, cursor, bills::fetch),
        vendors::NAME => scan(ctx, stream, cursor, vendors::SCAN),
        account_codes::NAME => scan(ctx, stream, cursor, account_codes::SCAN),
        departments::NAME => scan(ctx, stream, cursor, departments::SCAN),
        accounts::NAME => scan(ctx, stream, cursor, accounts::SCAN),
        other => Err(fail::config(format!(
            "read {other}: no such stream in the procurify connector; readable streams are: {}",
            names_with(|s| s.read)
        ))),
    }
}

/// Creates or updates `doc` in `stream`.
pub fn write(ctx: &mut Ctx<'_>, stream: &str, doc: &Doc) -> Result<Written, Failure> {
    match stream {
        vendors::NAME => vendors::write(ctx, doc),
        account_codes::NAME => account_codes::write(ctx, doc),
        departments::NAME => departments::write(ctx, doc),
        closures::NAME => closures::write(ctx, doc),
        other => Err(fail::config(format!(
            "write {other}: the procurify connector cannot write this stream; writable streams are: {}",
            names_with(|s| s.write)
        ))),
    }
}

/// Finds the record written earlier from key `key`.
pub fn lookup(ctx: &mut Ctx<'_>, stream: &str, key: &str) -> Result<Option<String>, Failure> {
    match stream {
        vendors::NAME => vendors::lookup(ctx, key),
        account_codes::NAME => account_codes::lookup(ctx, key),
        departments::NAME => departments::lookup(ctx, key),
        closures::NAME => closures::lookup(ctx, key),
        other => Err(fail::config(format!(
            "lookup {other}: the procurify connector cannot look up this stream; streams with lookup are: {}",
            names_with(|s| s.lookup)
        ))),
    }
}

/// Fetches and normalizes page `cursor.page` of an incremental stream.
pub type FetchFn = fn(&mut Ctx<'_>, &str, &Incremental) -> Result<Fetched, Failure>;

/// The standard list query of a page: the filter (if any), `page_size`, `page`.
pub fn page_query(
    client: &Client<'_>,
    page: u32,
    mut filters: Vec<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    filters.push(("page_size", client.target.settings.page_size.to_string()));
    filters.push(("page", page.to_string()));
    filters
}

fn decode(stream: &str, text: Option<&str>) -> Result<Option<Cursor>, Failure> {
    match text {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => Cursor::decode(t)
            .map(Some)
            .map_err(|e| fail::config(format!("read {stream}: {e}"))),
    }
}

fn incremental(
    ctx: &mut Ctx<'_>,
    stream: &str,
    cursor: Option<&str>,
    fetch: FetchFn,
) -> Result<Page, Failure> {
    let settings = &ctx.client.target.settings;
    let (overlap, since) = (settings.overlap_secs, settings.since);
    let mut cursor = match decode(stream, cursor)? {
        None => Incremental::start(since),
        Some(Cursor::Incremental(c)) => c,
        Some(Cursor::Scan(_)) => {
            return Err(fail::config(format!(
                "read {stream}: the cursor is a full-scan cursor of another stream; reset the flow's cursor"
            )));
        }
    };
    let what = format!("read {stream}: page {}", cursor.page);
    let fetched = fetch(ctx, &what, &cursor)?;
    let mut page = Page {
        docs: Vec::new(),
        bad_records: Vec::new(),
        cursor: None,
        more: false,
    };
    for outcome in fetched.outcomes {
        match outcome {
            Outcome::Doc {
                key,
                body,
                modified,
            } => {
                if let Some(m) = modified {
                    cursor.observe(m);
                }
                page.docs.push(Doc {
                    key,
                    body: body.to_string(),
                });
            }
            Outcome::Bad(b) => page.bad_records.push(BadRecord {
                key: b.key,
                reason: b.reason,
            }),
            Outcome::Skip => {}
        }
    }
    match fetched.next {
        Some(next) => {
            let n = cursor.page;
            cursor.advance(api::page_of(&next).filter(|p| *p > n).unwrap_or(n + 1));
            page.more = true;
        }
        None => cursor.finish_pass(overlap),
    }
    page.cursor = Some(Cursor::Incremental(cursor).encode());
    Ok(page)
}

/// How a full-scan stream reads and normalizes its records.
#[derive(Clone, Copy)]
pub struct ScanSpec {
    /// List path, with trailing slash.
    pub path: &'static str,
    /// What the API user must be allowed, for 403 messages.
    pub permission: &'static str,
    /// Normalizes one record into (key, document).
    pub normalize: fn(&Value) -> Result<(String, Value), FieldError>,
}

fn scan(
    ctx: &mut Ctx<'_>,
    stream: &str,
    cursor: Option<&str>,
    spec: ScanSpec,
) -> Result<Page, Failure> {
    let mut cursor = match decode(stream, cursor)? {
        None => Scan::start(),
        Some(Cursor::Scan(c)) => c,
        Some(Cursor::Incremental(_)) => {
            return Err(fail::config(format!(
                "read {stream}: the cursor is an incremental cursor of another stream; reset the flow's cursor"
            )));
        }
    };
    let what = format!("read {stream}: page {}", cursor.page);
    let query = page_query(&ctx.client, cursor.page, Vec::new());
    let ListPage { data, next, .. } = ctx.client.list(&what, spec.permission, spec.path, &query)?;
    let mut page = Page {
        docs: Vec::new(),
        bad_records: Vec::new(),
        cursor: None,
        more: false,
    };
    for raw in &data {
        match (spec.normalize)(raw) {
            Ok((key, body)) => {
                let text = body.to_string();
                if cursor.note(&key, &text) {
                    page.docs.push(Doc { key, body: text });
                }
            }
            Err(e) => page.bad_records.push(BadRecord {
                key: crate::fields::key_of(raw, "id"),
                reason: e.0,
            }),
        }
    }
    match next {
        Some(next) => {
            let n = cursor.page;
            cursor.page = api::page_of(&next).filter(|p| *p > n).unwrap_or(n + 1);
            page.more = true;
        }
        None => cursor.finish_pass(),
    }
    page.cursor = Some(Cursor::Scan(cursor).encode());
    Ok(page)
}

/// Failure for a document a sink cannot use: names the stream, key and field.
pub fn bad_input(stream: &str, key: &str, e: FieldError) -> Failure {
    fail::rejected(format!("write {stream} {key}: {e}"))
}

/// Refuses document keys outside `allowed` (a mapping typo would otherwise be
/// silently dropped).
pub fn check_keys(stream: &str, key: &str, body: &Value, allowed: &[&str]) -> Result<(), Failure> {
    if let Value::Object(map) = body {
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(fail::rejected(format!(
                    "write {stream} {key}: unknown field `{k}`; accepted fields are: {}",
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    } else {
        Err(fail::rejected(format!(
            "write {stream} {key}: the document must be a JSON object"
        )))
    }
}

/// Parses a document body for a sink.
pub fn parse_body(stream: &str, doc: &Doc) -> Result<Value, Failure> {
    serde_json::from_str(&doc.body).map_err(|e| {
        fail::rejected(format!(
            "write {stream} {}: the document is not JSON ({e}): {}",
            doc.key,
            mlc_guest::excerpt(&doc.body, 80)
        ))
    })
}

/// The integer id in a create/update reply.
pub fn reply_id(what: &str, reply: &Value) -> Result<i64, Failure> {
    reply.get("id").and_then(Value::as_i64).ok_or_else(|| {
        fail::protocol(format!(
            "{what}: the reply has no integer `id`: {}",
            mlc_guest::excerpt(&reply.to_string(), 200)
        ))
    })
}
