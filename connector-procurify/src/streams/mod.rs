//! The streams this connector offers, and the two paging drivers they share:
//! incremental (a modified-since filter, see [`crate::cursor::Incremental`])
//! and full scan (every page, unchanged records skipped, see
//! [`crate::cursor::Scan`]). Each stream module owns its request, its record
//! normalization and its entry of [`STREAMS`]; this module only dispatches.

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

use mlc_guest::host::Level;
use mlc_guest::streams::Table;
use mlc_guest::{BadRecord, Doc, Failure, Page, Written, fail};
use serde_json::{Map, Value};

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

/// How a stream is read: one of the two paging drivers of this module.
#[derive(Clone, Copy)]
pub enum Read {
    /// A modified-since filter; the stream fetches and normalizes each page.
    Incremental(FetchFn),
    /// Every page, unchanged records skipped.
    Scan(ScanSpec),
}

/// Creates or updates one document; returns what was written.
pub type WriteFn = fn(&mut Ctx<'_>, &Doc) -> Result<Written, Failure>;
/// Finds the record written earlier from a document key.
pub type LookupFn = fn(&mut Ctx<'_>, &str) -> Result<Option<String>, Failure>;

/// One entry of [`STREAMS`].
pub type Stream = mlc_guest::streams::Stream<Read, WriteFn, LookupFn>;

/// Every stream, declared once, in the order `spec()` lists them: the table
/// drives the spec, dispatch and the errors for unknown streams.
pub const STREAMS: Table<Read, WriteFn, LookupFn> = Table {
    connector: crate::NAME,
    streams: &[
        requisitions::STREAM,
        ordered_items::STREAM,
        purchase_orders::STREAM,
        vendors::STREAM,
        account_codes::STREAM,
        departments::STREAM,
        accounts::STREAM,
        bills::STREAM,
        closures::STREAM,
    ],
};

/// Reads the next page of `stream` after `cursor`.
pub fn read(ctx: &mut Ctx<'_>, stream: &str, cursor: Option<&str>) -> Result<Page, Failure> {
    match *STREAMS.read(stream)? {
        Read::Incremental(fetch) => incremental(ctx, stream, cursor, fetch),
        Read::Scan(spec) => scan(ctx, stream, cursor, spec),
    }
}

/// Creates or updates `doc` in `stream`.
pub fn write(ctx: &mut Ctx<'_>, stream: &str, doc: &Doc) -> Result<Written, Failure> {
    (STREAMS.write(stream)?)(ctx, doc)
}

/// Finds the record written earlier from key `key`.
pub fn lookup(ctx: &mut Ctx<'_>, stream: &str, key: &str) -> Result<Option<String>, Failure> {
    (STREAMS.lookup(stream)?)(ctx, key)
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
            cursor.advance(api::next_page(n, &next));
            page.more = true;
        }
        None => cursor.finish_pass(overlap),
    }
    log_page(ctx, stream, &what, &page);
    page.cursor = Some(Cursor::Incremental(cursor).encode());
    Ok(page)
}

fn log_page(ctx: &Ctx<'_>, stream: &str, what: &str, page: &Page) {
    ctx.client.log(
        Level::Debug,
        &format!(
            "stream={stream} docs={} bad_records={} more={}: {what} read",
            page.docs.len(),
            page.bad_records.len(),
            page.more
        ),
    );
    for bad in &page.bad_records {
        ctx.client.log(
            Level::Warn,
            &format!(
                "stream={stream} key={}: {what}: bad record: {}",
                bad.key, bad.reason
            ),
        );
    }
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
            cursor.page = api::next_page(n, &next);
            page.more = true;
        }
        None => cursor.finish_pass(),
    }
    log_page(ctx, stream, &what, &page);
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

/// Parses a written document as a create-or-update stream does: JSON, only
/// the stream's `accepted` keys, then the stream's own field rules
/// (`request`), each failure naming the stream, key and field.
pub fn parse_write<R>(
    stream: &str,
    doc: &Doc,
    accepted: &[&str],
    request: impl FnOnce(&str, &Value) -> Result<R, FieldError>,
) -> Result<R, Failure> {
    let body = parse_body(stream, doc)?;
    check_keys(stream, &doc.key, &body, accepted)?;
    request(&doc.key, &body).map_err(|e| bad_input(stream, &doc.key, e))
}

/// A create-or-update request of a stream whose documents are plain fields:
/// the Procurify id to update (when the document names one) and the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldsRequest {
    /// Procurify id to update, when the document gives one.
    pub id: Option<i64>,
    /// The Procurify fields to set.
    pub fields: Map<String, Value>,
}

impl FieldsRequest {
    /// The text of field `name` ("" when absent): the natural key a find uses.
    pub fn text(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// The id of the record at `path` whose `field` is exactly `value`, asking
/// the list filtered by that field (Procurify's filters may match loosely, so
/// the match is checked here).
pub fn find_id_by(
    ctx: &Ctx<'_>,
    what: &str,
    (permission, path): (&str, &str),
    field: &str,
    value: &str,
) -> Result<Option<i64>, Failure> {
    let hit = ctx
        .client
        .find(what, permission, path, &[(field, value.to_string())], |v| {
            v.get(field).and_then(Value::as_str) == Some(value)
        })?;
    Ok(hit.and_then(|v| v.get("id").and_then(Value::as_i64)))
}

/// Sends a write of `fields`: a create (`POST path`) when `id` is `None`, else
/// an update of that record (`method` `PUT` or `PATCH` at `path{id}/`).
/// Returns the record's id.
pub fn send_write(
    ctx: &Ctx<'_>,
    what: &str,
    permission: &str,
    (method, path, id): (&str, &str, Option<i64>),
    fields: Map<String, Value>,
) -> Result<String, Failure> {
    let path = match id {
        Some(id) => format!("{path}{id}/"),
        None => path.to_string(),
    };
    let reply = ctx.client.object(
        what,
        permission,
        method,
        &path,
        Some(&Value::Object(fields)),
    )?;
    Ok(reply_id(what, &reply, id)?.to_string())
}

/// The integer id in a create/update reply; for an update whose reply
/// omits it, the id that was updated (`known`).
pub fn reply_id(what: &str, reply: &Value, known: Option<i64>) -> Result<i64, Failure> {
    reply
        .get("id")
        .and_then(Value::as_i64)
        .or(known)
        .ok_or_else(|| {
            fail::protocol(format!(
                "{what}: the reply has no integer `id`: {}",
                mlc_guest::excerpt(&reply.to_string(), 200)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Target};
    use mlc_guest::testing::Scripted as Script;
    use serde_json::json;

    fn target(config: &str) -> Target {
        config::resolve("http://127.0.0.1:9", config).unwrap()
    }

    fn list(next: Option<&str>, data: Value) -> String {
        json!({"metadata": {"pagination": {"count": 0, "next": next, "previous": null, "page_size": 2, "num_pages": 2, "current_page": 1}}, "data": data}).to_string()
    }

    fn item(id: i64, modified: &str) -> Value {
        json!({"id": id, "name": "Item", "quantity": "1.00000", "price": "2.50000000", "unit": "ea",
               "status": 2, "purchase_order": 3001, "last_modified": modified})
    }

    fn run_read(
        t: &Target,
        s: &Script,
        stream: &str,
        cursor: Option<&str>,
    ) -> Result<Page, Failure> {
        let mut cache = Cache::default();
        let mut ctx = Ctx {
            client: Client::new(s, t),
            cache: &mut cache,
        };
        read(&mut ctx, stream, cursor)
    }

    fn docs(page: &Page) -> Vec<Value> {
        page.docs
            .iter()
            .map(|d| serde_json::from_str(&d.body).unwrap())
            .collect()
    }

    #[test]
    fn incremental_pass_follows_next_then_restarts_overlap_before_the_latest_change() {
        let t = target(r#"{"page_size": 2, "since": "2026-11-01"}"#);
        let s = Script::default();
        s.reply(
            200,
            list(
                Some("http://127.0.0.1:9/api/v3/order-items/?page=2&page_size=2"),
                json!([
                    item(1, "2026-11-03T10:00:00Z"),
                    item(2, "2026-11-05T08:00:00Z")
                ]),
            ),
        )
        .reply(200, list(None, json!([item(3, "2026-11-04T00:00:00Z")])))
        .reply(200, list(None, json!([])));

        let p1 = run_read(&t, &s, "ordered_items", None).unwrap();
        assert!(p1.more);
        assert_eq!(p1.docs.len(), 2);
        assert_eq!(p1.docs[0].key, "1");
        let p2 = run_read(&t, &s, "ordered_items", p1.cursor.as_deref()).unwrap();
        assert!(!p2.more);
        assert_eq!(docs(&p2)[0]["unit_price"], "2.5");
        let c2 = p2.cursor.clone().unwrap();
        assert_eq!(
            c2,
            r#"{"kind":"incremental","v":1,"since":"2026-11-04T08:00:00Z","page":1,"max_seen":null}"#
        );
        let p3 = run_read(&t, &s, "ordered_items", Some(&c2)).unwrap();
        assert!(!p3.more && p3.docs.is_empty());
        assert_eq!(
            p3.cursor.as_deref(),
            Some(c2.as_str()),
            "an empty pass must not move the cursor"
        );
        assert_eq!(
            s.lines(),
            vec![
                "GET /api/v3/order-items/?is_purchased=true&last_modified_0=2026-11-01&page_size=2&page=1",
                "GET /api/v3/order-items/?is_purchased=true&last_modified_0=2026-11-01&page_size=2&page=2",
                "GET /api/v3/order-items/?is_purchased=true&last_modified_0=2026-11-04&page_size=2&page=1",
            ]
        );
        assert!(s.sent.borrow().iter().all(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k == "X-Procurify-Client" && v == "api")
        }));
    }

    #[test]
    fn bad_records_are_reported_and_the_rest_of_the_page_delivered() {
        let t = target("");
        let s = Script::default();
        let mut broken = item(2, "2026-11-05T08:00:00Z");
        broken["price"] = json!("12,50");
        s.reply(
            200,
            list(
                None,
                json!([
                    item(1, "2026-11-03T10:00:00Z"),
                    broken,
                    17,
                    item(4, "not a date")
                ]),
            ),
        );
        let page = run_read(&t, &s, "ordered_items", None).unwrap();
        assert_eq!(
            page.docs.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
            vec!["1"]
        );
        let bad: Vec<(&str, &str)> = page
            .bad_records
            .iter()
            .map(|b| (b.key.as_str(), b.reason.as_str()))
            .collect();
        assert_eq!(
            s.logs
                .borrow()
                .iter()
                .filter(|l| l.contains("bad record"))
                .count(),
            3
        );
        assert_eq!(
            bad,
            vec![
                ("2", "line 2: `price`: not a decimal number: 12,50"),
                ("?", "record should be an object, got number 17"),
                (
                    "4",
                    "line 4: `last_modified`: not an ISO 8601 date or date-time: not a date"
                ),
            ]
        );
    }

    #[test]
    fn approved_requisitions_come_with_lines_and_resolved_references() {
        let t = target("");
        let s = Script::default();
        let orders = include_str!("../../tests/fixtures/orders_page.json");
        let items: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/order_items_page.json"))
                .unwrap();
        let lines_1042 = json!([items["data"][0], items["data"][1]]);
        s.reply(200, orders)
            .reply(200, list(None, lines_1042))
            .reply(200, r#"{"metadata":{},"data":{"id":7,"name":"Acme Industrial Supply","external_id":"0000000101","email":[]}}"#)
            .reply(200, list(None, json!([{"id": 12, "account_code": {"id": 3, "code": "610000", "description": "Office Supplies"}, "department": {"id": 6, "name": "Finance", "external_id": "10100"}}])))
            .reply(200, list(None, json!([{"id": 13, "account_code": {"id": 9, "code": "660000", "description": "Travel"}, "department": {"id": 8, "name": "Logistics", "external_id": "50100"}}])))
            .reply(200, list(None, json!([{"id": 1, "name": "USD", "rate": "1.000000"}])));
        let page = run_read(&t, &s, "approved_requisitions", None).unwrap();
        assert_eq!(
            s.lines(),
            vec![
                "GET /api/v2/global/orders/?status=1&page_size=100&page=1",
                "GET /api/v3/order-items/?orderNum=1042&page_size=100&page=1",
                "GET /api/v3/vendors/7/",
                "GET /api/v3/accounts/?id=12",
                "GET /api/v3/accounts/?id=13",
                "GET /api/v2/currencies/?page_size=100&page=1",
            ]
        );
        assert_eq!(page.docs.len(), 1);
        assert_eq!(page.docs[0].key, "1042");
        let req = &docs(&page)[0];
        assert_eq!(req["lines"][0]["vendor"]["external_id"], "0000000101");
        assert_eq!(req["lines"][0]["department"]["external_id"], "10100");
        assert_eq!(req["lines"][1]["department"]["name"], "Logistics");
        assert_eq!(req["lines"][1]["account"]["code"], "660000");
        assert_eq!(req["lines"][1]["quantity"], "3");
        // The spec's placeholder example and a non-object are reported, not dropped.
        assert_eq!(page.bad_records.len(), 2);
        assert_eq!(page.bad_records[0].key, "0");
        assert_eq!(page.bad_records[1].key, "?");
        assert!(!page.more);
        let cursor = Cursor::decode(page.cursor.as_deref().unwrap()).unwrap();
        match cursor {
            Cursor::Incremental(c) => assert_eq!(c.since.as_deref(), Some("2026-11-01T09:15:00Z")),
            other => panic!("{other:?}"),
        }
    }

    fn assert_snake_case(value: &Value, path: &str) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    assert!(
                        !k.is_empty()
                            && k.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                        "key {path}.{k} is not snake_case"
                    );
                    assert_snake_case(v, &format!("{path}.{k}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| assert_snake_case(v, path)),
            // Money, quantities and times are strings; a float would be a bug.
            Value::Number(n) => assert!(
                n.is_i64() || n.is_u64(),
                "{path} is a non-integer number {n}"
            ),
            _ => {}
        }
    }

    #[test]
    fn documents_use_snake_case_keys_and_no_floats() {
        let items: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/order_items_page.json"))
                .unwrap();
        let refs = crate::refs::Refs::default();
        let line = lines::normalize(&items["data"][0], &refs, None).unwrap();
        assert_snake_case(&line.body, "line");
        let po: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/purchase_order_detail.json"
        ))
        .unwrap();
        assert_snake_case(
            &purchase_orders::normalize(&po["data"], &refs).unwrap().1,
            "po",
        );
        let orders: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/orders_page.json")).unwrap();
        assert_snake_case(
            &requisitions::header(&orders["data"][0]).unwrap().body,
            "requisition",
        );
        let codes = crate::api::parse_list(include_bytes!(
            "../../tests/fixtures/account_codes_page1.json"
        ))
        .unwrap();
        assert_snake_case(
            &account_codes::normalize(&codes.data[0]).unwrap().1,
            "account_code",
        );
        let vendor = json!({"id": 7, "name": "A", "addressLineOne": "x", "phoneOne": "1", "postalCode": "2", "email": [], "dateModified": "2026-01-01T00:00:00Z"});
        assert_snake_case(&vendors::normalize(&vendor).unwrap().1, "vendor");
        let bill = json!({"id": 1, "total_cost_with_tax": 10.25, "vendor": {"id": 1, "name": "A"}, "currency": {"id": 1, "name": "USD", "rate": "1"}});
        assert_snake_case(&bills::normalize(&bill).unwrap().1, "bill");
    }

    #[test]
    fn purchase_orders_are_listed_by_role_and_status_then_read_in_full() {
        let t = target(r#"{"purchase_order_role": "receivable", "purchase_order_status": "open"}"#);
        let s = Script::default();
        s.reply(
            200,
            list(
                None,
                json!([{"procurify_PO": 3001, "state": 0}, {"procurify_PO": 3002}]),
            ),
        )
        .reply(
            200,
            include_str!("../../tests/fixtures/purchase_order_detail.json"),
        )
        .reply(404, r#"{"detail":"Not found."}"#);
        let page = run_read(&t, &s, "purchase_orders", None).unwrap();
        assert_eq!(
            s.lines()[0],
            "GET /api/v2/purchase_orders/receivable/open/?page_size=100&page=1"
        );
        assert_eq!(s.lines()[1], "GET /api/v2/purchase_orders/3001/");
        assert_eq!(page.docs.len(), 1);
        assert_eq!(docs(&page)[0]["lines"][0]["purchase_order"], 3001);
        assert_eq!(page.bad_records.len(), 1);
        assert_eq!(page.bad_records[0].key, "3002");
        assert!(
            page.bad_records[0].reason.contains("404"),
            "{}",
            page.bad_records[0].reason
        );
    }

    #[test]
    fn bills_filter_on_the_date_time_with_the_overlap() {
        let t = target(r#"{"overlap_secs": 3600}"#);
        let s = Script::default();
        s.reply(200, list(None, json!([{"id": 9, "last_modified_datetime": "2026-11-04T12:00:00Z", "vendor": {"id": 7, "name": "A"}, "currency": {"id": 1, "name": "USD", "rate": "1"}}])))
            .reply(200, list(None, json!([])));
        let p = run_read(&t, &s, "bills", None).unwrap();
        run_read(&t, &s, "bills", p.cursor.as_deref()).unwrap();
        assert_eq!(
            s.lines()[1],
            "GET /api/v3/ap/bills/?last_modified_datetime_0=2026-11-04T11%3A00%3A00Z&page_size=100&page=1"
        );
    }

    #[test]
    fn full_scan_emits_unchanged_records_only_once() {
        let t = target("");
        let s = Script::default();
        let body = include_str!("../../tests/fixtures/account_codes_page1.json");
        let page2 = list(
            None,
            json!([{"id": 5, "code": "612000", "description": "Software Subscriptions", "account_type": 2, "active": true}]),
        );
        let mut changed: Value = serde_json::from_str(body).unwrap();
        changed["data"][1]["description"] = json!("Computers");
        s.reply(200, body)
            .reply(200, page2.clone())
            .reply(200, changed.to_string())
            .reply(200, page2);
        let a = run_read(&t, &s, "account_codes", None).unwrap();
        assert!(a.more);
        let b = run_read(&t, &s, "account_codes", a.cursor.as_deref()).unwrap();
        assert!(!b.more);
        assert_eq!(a.docs.len() + b.docs.len(), 3);
        let c = run_read(&t, &s, "account_codes", b.cursor.as_deref()).unwrap();
        let d = run_read(&t, &s, "account_codes", c.cursor.as_deref()).unwrap();
        assert_eq!(
            c.docs.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
            vec!["4"]
        );
        assert!(d.docs.is_empty());
        assert_eq!(
            s.lines()[1],
            "GET /api/v3/account-codes/?page_size=100&page=2"
        );
    }

    #[test]
    fn read_failures_name_the_stream_page_and_call() {
        let t = target("");
        let s = Script::default();
        s.reply_with(
            429,
            &[("retry-after", "30")],
            r#"{"detail":"Request was throttled. Expected available in 30 seconds."}"#,
        )
        // A list GET repeats a 5xx at once (client::LIST_RETRIES): the read
        // fails as transient only when every attempt does.
        .reply(503, "<html>Service Unavailable</html>")
        .reply(503, "<html>Service Unavailable</html>")
        .reply(503, "<html>Service Unavailable</html>")
        .reply(503, "<html>Service Unavailable</html>")
        .reply(401, r#"{"detail":"Invalid token."}"#)
        .reply(
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        );
        match run_read(&t, &s, "vendors", None) {
            Err(Failure::RateLimited(th)) => {
                assert_eq!(th.retry_after_secs, Some(30));
                assert!(
                    th.message
                        .starts_with("read vendors: page 1: GET /api/v3/vendors/: "),
                    "{}",
                    th.message
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run_read(&t, &s, "bills", None),
            Err(Failure::Transient(_))
        ));
        assert!(matches!(
            run_read(&t, &s, "departments", None),
            Err(Failure::Unauthorized(_))
        ));
        match run_read(&t, &s, "approved_requisitions", None) {
            Err(Failure::NotEnabled(m)) => assert!(m.contains("view all requisitions"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_streams_and_foreign_cursors_are_config_failures() {
        let t = target("");
        let s = Script::default();
        match run_read(&t, &s, "requisitions", None) {
            Err(Failure::Config(m)) => {
                assert!(m.contains("approved_requisitions, ordered_items"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let scan = Cursor::Scan(Scan::start()).encode();
        assert!(
            matches!(run_read(&t, &s, "bills", Some(&scan)), Err(Failure::Config(m)) if m.contains("reset"))
        );
        assert!(matches!(
            run_read(&t, &s, "vendors", Some("{}")),
            Err(Failure::Config(_))
        ));
        assert!(
            s.sent.borrow().is_empty(),
            "nothing may be sent for a refused call"
        );
    }

    fn run_write(
        t: &Target,
        s: &Script,
        stream: &str,
        key: &str,
        body: Value,
    ) -> Result<Written, Failure> {
        let mut cache = Cache::default();
        let mut ctx = Ctx {
            client: Client::new(s, t),
            cache: &mut cache,
        };
        write(
            &mut ctx,
            stream,
            &Doc {
                key: key.into(),
                body: body.to_string(),
            },
        )
    }

    fn run_lookup(
        t: &Target,
        s: &Script,
        stream: &str,
        key: &str,
    ) -> Result<Option<String>, Failure> {
        let mut cache = Cache::default();
        let mut ctx = Ctx {
            client: Client::new(s, t),
            cache: &mut cache,
        };
        lookup(&mut ctx, stream, key)
    }

    fn sent_body(s: &Script, i: usize) -> Value {
        serde_json::from_slice(&s.sent.borrow()[i].body).unwrap()
    }

    #[test]
    fn new_vendor_is_created_with_external_id_and_required_defaults() {
        let t = target("");
        let s = Script::default();
        s.reply(200, list(None, json!([]))).reply(
            201,
            r#"{"metadata":{},"data":{"id":88,"name":"Fastenal","external_id":"0000000201"}}"#,
        );
        let w = run_write(
            &t,
            &s,
            "vendors",
            "0000000201",
            json!({"name": "Fastenal", "email": ["ap@fastenal.example"]}),
        )
        .unwrap();
        assert_eq!(
            (w.key.as_str(), w.target_key.as_str()),
            ("0000000201", "88")
        );
        assert_eq!(
            s.lines(),
            vec![
                "GET /api/v3/vendors/?external_id=0000000201&page_size=100&page=1",
                "POST /api/v3/vendors/"
            ]
        );
        assert_eq!(
            sent_body(&s, 1),
            json!({"name": "Fastenal", "external_id": "0000000201", "email": ["ap@fastenal.example"], "type": 3, "overall_score": null})
        );
    }

    #[test]
    fn existing_vendor_is_patched_found_by_id_or_external_id() {
        let t = target("");
        let s = Script::default();
        s.reply(200, r#"{"data":{"id":7}}"#)
            .reply(
                200,
                list(None, json!([{"id": 7, "external_id": "0000000101"}])),
            )
            .reply(200, r#"{"data":{"id":7}}"#);
        run_write(
            &t,
            &s,
            "vendors",
            "0000000101",
            json!({"id": 7, "active": false}),
        )
        .unwrap();
        let w = run_write(&t, &s, "vendors", "0000000101", json!({"name": "Acme"})).unwrap();
        assert_eq!(w.target_key, "7");
        assert_eq!(s.lines()[0], "PATCH /api/v3/vendors/7/");
        assert_eq!(
            sent_body(&s, 0),
            json!({"external_id": "0000000101", "active": false})
        );
        assert_eq!(s.lines()[2], "PATCH /api/v3/vendors/7/");
    }

    #[test]
    fn vendor_refused_by_procurify_is_rejected_with_the_field_messages() {
        let t = target("");
        let s = Script::default();
        s.reply(200, list(None, json!([])))
            .reply(400, r#"{"email":["Enter a valid email address."]}"#);
        match run_write(
            &t,
            &s,
            "vendors",
            "V9",
            json!({"name": "X", "email": ["nope"]}),
        ) {
            Err(Failure::Rejected(m)) => {
                assert!(
                    m.starts_with("write vendors V9: POST /api/v3/vendors/: "),
                    "{m}"
                );
                assert!(m.contains("email: Enter a valid email address."), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_write_documents_are_rejected_before_any_call() {
        let t = target("");
        let s = Script::default();
        let cases = [
            ("vendors", json!({"nme": "typo"}), "unknown field `nme`"),
            ("vendors", json!({"email": ["a@b"]}), "`name` is required"),
            (
                "account_codes",
                json!({"code": "1"}),
                "`description` is missing",
            ),
            (
                "departments",
                json!({"external_id": "1"}),
                "`name` is missing",
            ),
            (
                "purchase_order_closures",
                json!({"purchase_order": "PO-1"}),
                "`purchase_order` should be an integer",
            ),
        ];
        for (stream, body, expected) in cases {
            if stream == "vendors" && expected.contains("required") {
                s.reply(200, list(None, json!([])));
            }
            match run_write(&t, &s, stream, "K", body) {
                Err(Failure::Rejected(m)) => assert!(m.contains(expected), "{stream}: {m}"),
                other => panic!("{stream}: {other:?}"),
            }
        }
        let mut cache = Cache::default();
        let mut ctx = Ctx {
            client: Client::new(&s, &t),
            cache: &mut cache,
        };
        let not_json = write(
            &mut ctx,
            "vendors",
            &Doc {
                key: "K".into(),
                body: "{".into(),
            },
        );
        assert!(matches!(not_json, Err(Failure::Rejected(m)) if m.contains("not JSON")));
        assert!(
            matches!(write(&mut ctx, "bills", &Doc { key: "K".into(), body: "{}".into() }), Err(Failure::Config(m)) if m.contains("streams that support write: vendors, account_codes, departments, purchase_order_closures"))
        );
        assert_eq!(
            s.lines(),
            vec!["GET /api/v3/vendors/?external_id=K&page_size=100&page=1"]
        );
    }

    #[test]
    fn account_code_is_created_or_updated_by_code() {
        let t = target("");
        let s = Script::default();
        s.reply(200, list(None, json!([{"id": 3, "code": "6100001"}])))
            .reply(201, r#"{"data":{"id":41,"code":"640000"}}"#)
            .reply(200, list(None, json!([{"id": 3, "code": "610000"}])))
            .reply(200, r#"{"data":{"id":3}}"#);
        let w = run_write(
            &t,
            &s,
            "account_codes",
            "640000",
            json!({"description": "Freight & Shipping", "account_type": 2, "departments": [6]}),
        )
        .unwrap();
        assert_eq!(w.target_key, "41");
        assert_eq!(
            sent_body(&s, 1),
            json!({"code": "640000", "description": "Freight & Shipping", "account_type": 2, "departments": [6]})
        );
        let w = run_write(
            &t,
            &s,
            "account_codes",
            "610000",
            json!({"description": "Office", "departments": [6]}),
        )
        .unwrap();
        assert_eq!(w.target_key, "3");
        assert_eq!(s.lines()[3], "PUT /api/v3/account-codes/3/");
        assert_eq!(
            sent_body(&s, 3),
            json!({"code": "610000", "description": "Office"})
        );
    }

    #[test]
    fn department_needs_a_location_from_the_document_config_or_existing_record() {
        let s = Script::default();
        s.reply(200, list(None, json!([])));
        match run_write(
            &target(""),
            &s,
            "departments",
            "60100",
            json!({"name": "Warehouse"}),
        ) {
            Err(Failure::Rejected(m)) => assert!(m.contains("department_location_id"), "{m}"),
            other => panic!("{other:?}"),
        }
        let t = target(r#"{"department_location_id": 2}"#);
        let s = Script::default();
        s.reply(200, list(None, json!([])))
            .reply(201, r#"{"data":{"id":31}}"#)
            .reply(200, list(None, json!([{"id": 6, "name": "Finance", "external_id": "10100", "branch": {"id": 1, "name": "HQ"}}])))
            .reply(200, r#"{"data":{"id":6}}"#);
        assert_eq!(
            run_write(
                &t,
                &s,
                "departments",
                "60100",
                json!({"name": "Warehouse", "active": true})
            )
            .unwrap()
            .target_key,
            "31"
        );
        assert_eq!(
            sent_body(&s, 1),
            json!({"name": "Warehouse", "external_id": "60100", "active": true, "branch": 2})
        );
        assert_eq!(
            run_write(
                &t,
                &s,
                "departments",
                "10100",
                json!({"name": "Finance & Control"})
            )
            .unwrap()
            .target_key,
            "6"
        );
        assert_eq!(
            s.lines()[2],
            "GET /api/v3/departments/?page_size=100&page=1"
        );
        assert_eq!(s.lines()[3], "PUT /api/v3/departments/6/");
        assert_eq!(
            sent_body(&s, 3),
            json!({"name": "Finance & Control", "external_id": "10100", "branch": 1})
        );
    }

    #[test]
    fn closing_a_po_posts_close_unless_it_is_already_closed() {
        let t = target("");
        let s = Script::default();
        s.reply(
            200,
            r#"{"metadata":{},"data":{"procurify_PO":3001,"state":0}}"#,
        )
        .reply(
            200,
            r#"{"metadata":{},"data":{"procurify_PO":3001,"state":3}}"#,
        )
        .reply(
            200,
            r#"{"metadata":{},"data":{"procurify_PO":3002,"state":3}}"#,
        )
        .reply(404, r#"{"detail":"Not found."}"#)
        .reply(200, r#"{"data":{"procurify_PO":3004,"state":5}}"#)
        .reply(204, "")
        .reply(200, r#"{"data":{"procurify_PO":3005,"state":0}}"#)
        .reply(200, r#"{"data":{"procurify_PO":3005,"state":1}}"#);
        let w = run_write(
            &t,
            &s,
            "purchase_order_closures",
            "VCHR-1",
            json!({"purchase_order": 3001, "source": {"voucher": "00012"}}),
        )
        .unwrap();
        assert_eq!(w.target_key, "3001");
        assert_eq!(
            s.lines(),
            vec![
                "GET /api/v2/purchase_orders/3001/",
                "POST /api/v3/purchase-orders/3001/close/"
            ]
        );
        assert!(s.sent.borrow()[1].body.is_empty());
        run_write(&t, &s, "purchase_order_closures", "3002", json!({})).unwrap();
        assert_eq!(
            s.lines().len(),
            3,
            "an already closed PO is not closed again"
        );
        match run_write(&t, &s, "purchase_order_closures", "3009", json!({})) {
            Err(Failure::Rejected(m)) => assert!(
                m.contains("purchase order 3009") && m.contains("404"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        // A reopened PO (state 5) is closed; an empty 204 reply counts as done.
        run_write(&t, &s, "purchase_order_closures", "3004", json!({})).unwrap();
        assert_eq!(s.lines()[5], "POST /api/v3/purchase-orders/3004/close/");
        // A close answered with another state is a protocol failure, not a success.
        assert!(matches!(
            run_write(&t, &s, "purchase_order_closures", "3005", json!({})),
            Err(Failure::Protocol(m)) if m.contains("state 1")
        ));
    }

    #[test]
    fn lookups_find_written_records_by_their_keys() {
        let t = target("");
        let s = Script::default();
        // vendor: no external_id match, exact name match
        s.reply(200, list(None, json!([])))
            .reply(200, list(None, json!([{"id": 70, "name": "Acme Industrial Supply Ltd"}, {"id": 7, "name": "Acme Industrial Supply"}])))
            // account code by code
            .reply(200, list(None, json!([{"id": 3, "code": "610000"}])))
            // department: name match on page 1, external id match on page 2 wins
            .reply(200, list(Some("http://127.0.0.1:9/api/v3/departments/?page=2"), json!([{"id": 5, "name": "10100", "external_id": null}])))
            .reply(200, list(None, json!([{"id": 6, "name": "Finance", "external_id": "10100"}])))
            // closure state: open, then closed
            .reply(200, r#"{"data":{"procurify_PO":3001,"state":0}}"#)
            .reply(200, r#"{"data":{"procurify_PO":3001,"state":3}}"#)
            // vendor not found at all
            .reply(200, list(None, json!([])))
            .reply(200, list(None, json!([])));
        assert_eq!(
            run_lookup(&t, &s, "vendors", "Acme Industrial Supply")
                .unwrap()
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            run_lookup(&t, &s, "account_codes", "610000")
                .unwrap()
                .as_deref(),
            Some("3")
        );
        assert_eq!(
            run_lookup(&t, &s, "departments", "10100")
                .unwrap()
                .as_deref(),
            Some("6")
        );
        assert_eq!(
            run_lookup(&t, &s, "purchase_order_closures", "3001").unwrap(),
            None
        );
        assert_eq!(
            run_lookup(&t, &s, "purchase_order_closures", "3001")
                .unwrap()
                .as_deref(),
            Some("3001")
        );
        assert_eq!(run_lookup(&t, &s, "vendors", "0000000999").unwrap(), None);
        assert!(matches!(
            run_lookup(&t, &s, "bills", "1"),
            Err(Failure::Config(_))
        ));
        assert_eq!(
            s.lines()[1],
            "GET /api/v3/vendors/?name=Acme%20Industrial%20Supply&page_size=100&page=1"
        );
    }
}
