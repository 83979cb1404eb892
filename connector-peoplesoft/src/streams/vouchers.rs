//! Stream `vouchers` (read): AP vouchers from the changed-since query (prompt =
//! date `YYYY-MM-DD`), one row per voucher line, grouped into one document per
//! voucher. The cursor is a date: the last change date seen minus
//! `voucher_overlap_days` (the filter is date-only; the host's ledger drops repeats).
//!
//! Query columns: `BUSINESS_UNIT`, `VOUCHER_ID` and the change date
//! (`LASTUPDDTTM` or `LAST_UPDATE_DT`) are required; `INVOICE_ID`,
//! `INVOICE_DT`, `VENDOR_ID`, `ENTRY_STATUS`, `MATCH_STATUS_VCHR`,
//! `VOUCHER_LINE_NUM`, `PO_ID`, `LINE_NBR`, `MERCHANDISE_AMT` are read when
//! present. Rows must be ordered by change date (then voucher, line) so that a
//! page cut at `max_rows` can resume.
//!
//! Document (key `business_unit/voucher_id`):
//! ```json
//! {"business_unit": "US001", "voucher_id": "00012345", "invoice_id": "INV-778",
//!  "invoice_date": "2026-11-02", "vendor_id": "0000000101", "entry_status": "P",
//!  "match_status_vchr": "M", "last_update_date": "2026-11-03",
//!  "lines": [{"voucher_line_num": 1, "po_id": "0000100001", "line_nbr": 1,
//!             "merchandise_amt": "125.00"}]}
//! ```

use mlc_guest::{BadRecord, Doc, Failure, Page, fail};
use serde::Serialize;

use crate::client::Client;
use crate::qas::Row;
use crate::values::{Date, date_part, minus_days, parse_date, parse_decimal};

/// Columns accepted as the change date, in order of preference.
const CHANGE_DATE_COLUMNS: [&str; 3] = ["LASTUPDDTTM", "LAST_UPDATE_DT", "LAST_UPDATE_DTTM"];

/// One voucher line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherLine {
    /// `VOUCHER_LINE_NUM`.
    pub voucher_line_num: Option<u32>,
    /// `PO_ID` the line was matched to.
    pub po_id: Option<String>,
    /// `LINE_NBR` of the PO line.
    pub line_nbr: Option<u32>,
    /// `MERCHANDISE_AMT`, a decimal string.
    pub merchandise_amt: Option<String>,
}

/// One voucher and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherDoc {
    /// `BUSINESS_UNIT`.
    pub business_unit: String,
    /// `VOUCHER_ID`.
    pub voucher_id: String,
    /// `INVOICE_ID`.
    pub invoice_id: Option<String>,
    /// `INVOICE_DT` (`YYYY-MM-DD`).
    pub invoice_date: Option<String>,
    /// `VENDOR_ID`.
    pub vendor_id: Option<String>,
    /// `ENTRY_STATUS`.
    pub entry_status: Option<String>,
    /// `MATCH_STATUS_VCHR`.
    pub match_status_vchr: Option<String>,
    /// The change date (`YYYY-MM-DD`).
    pub last_update_date: String,
    /// Lines in query order.
    pub lines: Vec<VoucherLine>,
}

fn change_date(row: &Row) -> Result<Date, String> {
    let (column, text) = CHANGE_DATE_COLUMNS
        .iter()
        .find_map(|c| row.get(c).map(|t| (*c, t)))
        .ok_or_else(|| {
            format!(
                "row has no change date ({})",
                CHANGE_DATE_COLUMNS.join(" or ")
            )
        })?;
    date_part(text).ok_or_else(|| format!("{column} {text:?} is not a date"))
}

fn number(row: &Row, column: &str) -> Result<Option<u32>, String> {
    row.get(column)
        .map(|t| {
            // PeopleSoft numbers may come as "1" or "1.0".
            let int = t.strip_suffix(".0").unwrap_or(t);
            int.parse::<u32>()
                .map_err(|_| format!("{column} {t:?} is not a whole number"))
        })
        .transpose()
}

fn line_of(row: &Row) -> Result<Option<VoucherLine>, String> {
    let amount = match row.get("MERCHANDISE_AMT") {
        Some(t) => {
            parse_decimal(t, 26, 6).map_err(|e| format!("MERCHANDISE_AMT {e}"))?;
            Some(t.to_string())
        }
        None => None,
    };
    let line = VoucherLine {
        voucher_line_num: number(row, "VOUCHER_LINE_NUM")?,
        po_id: row.get("PO_ID").map(str::to_string),
        line_nbr: number(row, "LINE_NBR")?,
        merchandise_amt: amount,
    };
    let empty = line.voucher_line_num.is_none()
        && line.po_id.is_none()
        && line.line_nbr.is_none()
        && line.merchandise_amt.is_none();
    Ok((!empty).then_some(line))
}

/// Voucher groups of a result, in order of first appearance.
struct Group {
    key: String,
    doc: Option<VoucherDoc>,
    error: Option<String>,
}

/// Groups rows into vouchers. Returns the groups and the latest change date seen.
fn group(rows: &[Row]) -> (Vec<Group>, Vec<BadRecord>, Option<Date>) {
    let mut groups: Vec<Group> = Vec::new();
    let mut bad = Vec::new();
    let mut latest: Option<Date> = None;
    for row in rows {
        let (Some(bu), Some(id)) = (row.get("BUSINESS_UNIT"), row.get("VOUCHER_ID")) else {
            bad.push(BadRecord {
                key: row.get("VOUCHER_ID").unwrap_or("?").to_string(),
                reason: format!(
                    "voucher row {}: BUSINESS_UNIT and VOUCHER_ID are required",
                    row.number.unwrap_or(0)
                ),
            });
            continue;
        };
        let key = format!("{bu}/{id}");
        let index = match groups.iter().position(|g| g.key == key) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    key: key.clone(),
                    doc: None,
                    error: None,
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[index];
        if g.error.is_some() {
            continue;
        }
        let date = match change_date(row) {
            Ok(d) => d,
            Err(e) => {
                g.error = Some(e);
                continue;
            }
        };
        latest = latest.max(Some(date));
        let line = match line_of(row) {
            Ok(l) => l,
            Err(e) => {
                g.error = Some(e);
                continue;
            }
        };
        let invoice_date = match row.get("INVOICE_DT") {
            Some(t) => match date_part(t) {
                Some(d) => Some(d.to_string()),
                None => {
                    g.error = Some(format!("INVOICE_DT {t:?} is not a date"));
                    continue;
                }
            },
            None => None,
        };
        let doc = g.doc.get_or_insert_with(|| VoucherDoc {
            business_unit: bu.to_string(),
            voucher_id: id.to_string(),
            invoice_id: row.get("INVOICE_ID").map(str::to_string),
            invoice_date,
            vendor_id: row.get("VENDOR_ID").map(str::to_string),
            entry_status: row.get("ENTRY_STATUS").map(str::to_string),
            match_status_vchr: row.get("MATCH_STATUS_VCHR").map(str::to_string),
            last_update_date: date.to_string(),
            lines: Vec::new(),
        });
        if date.to_string() > doc.last_update_date {
            doc.last_update_date = date.to_string();
        }
        doc.lines.extend(line);
    }
    (groups, bad, latest)
}

/// Builds the page for rows read with changed-since `since`. `truncated`: the
/// query returned more than `max_rows` rows, so the rows of the latest date
/// may be incomplete and are left for the next page.
pub fn page_of(
    rows: &[Row],
    since: Date,
    truncated: bool,
    overlap_days: u32,
    max_rows: u32,
    query: &str,
) -> Result<Page, Failure> {
    let (groups, mut bad_records, latest) = group(rows);
    let Some(latest) = latest else {
        return Ok(Page {
            docs: Vec::new(),
            bad_records,
            cursor: None,
            more: false,
        });
    };
    if truncated {
        if latest <= since {
            return Err(fail::config(format!(
                "more than max_rows = {max_rows} voucher lines changed on {since}: raise connection.config.max_rows"
            )));
        }
        let dates: Vec<Date> = rows.iter().filter_map(|r| change_date(r).ok()).collect();
        if dates.windows(2).any(|w| w[0] > w[1]) {
            return Err(fail::config(format!(
                "query {query} must order its rows by change date so that a page cut at max_rows = {max_rows} can resume; add the ORDER BY or raise max_rows"
            )));
        }
    }
    let mut docs = Vec::new();
    for g in groups {
        match (g.doc, g.error) {
            (_, Some(reason)) => bad_records.push(BadRecord {
                key: g.key,
                reason: format!("voucher: {reason}"),
            }),
            (Some(doc), None) => {
                // In a cut page the latest date is re-read by the next page.
                if truncated && doc.last_update_date >= latest.to_string() {
                    continue;
                }
                docs.push(Doc {
                    key: g.key,
                    body: serde_json::to_string(&doc).unwrap_or_default(),
                });
            }
            (None, None) => {}
        }
    }
    let cursor = if truncated {
        latest
    } else {
        minus_days(latest, overlap_days).max(since)
    };
    Ok(Page {
        docs,
        bad_records,
        cursor: Some(cursor.to_string()),
        more: truncated,
    })
}

/// Reads the vouchers changed since the cursor date.
pub fn read(client: &Client<'_>, cursor: Option<&str>) -> Result<Page, Failure> {
    let cfg = client.config;
    let since_text = cursor.unwrap_or(&cfg.voucher_start_date);
    let since = parse_date(since_text).ok_or_else(|| {
        fail::config(format!(
            "vouchers cursor {since_text:?} is not a date YYYY-MM-DD: reset the flow's cursor"
        ))
    })?;
    let result = client.query(&cfg.voucher_query, &since.to_string(), cfg.max_rows + 1)?;
    let truncated = result.rows.len() > cfg.max_rows as usize;
    page_of(
        &result.rows,
        since,
        truncated,
        cfg.voucher_overlap_days,
        cfg.max_rows,
        &cfg.voucher_query.name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::WsdlCache;
    use crate::client::testing::*;
    use crate::config::Config;

    fn row(fields: &[(&str, &str)]) -> Row {
        Row {
            number: Some(1),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn line(bu: &str, id: &str, changed: &str, num: &str, po: &str, amt: &str) -> Row {
        row(&[
            ("BUSINESS_UNIT", bu),
            ("VOUCHER_ID", id),
            ("INVOICE_ID", "INV-1"),
            ("INVOICE_DT", "2026-11-01"),
            ("VENDOR_ID", "0000000101"),
            ("ENTRY_STATUS", "P"),
            ("MATCH_STATUS_VCHR", "M"),
            ("LASTUPDDTTM", changed),
            ("VOUCHER_LINE_NUM", num),
            ("PO_ID", po),
            ("LINE_NBR", num),
            ("MERCHANDISE_AMT", amt),
        ])
    }

    fn date(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn rows_group_into_one_document_per_voucher_with_its_lines() {
        let rows = vec![
            line(
                "US001",
                "00000001",
                "2026-11-03T10:00:00",
                "1",
                "0000100001",
                "125.00",
            ),
            line(
                "US001",
                "00000001",
                "2026-11-03T10:00:00",
                "2",
                "0000100001",
                "4.5",
            ),
            line("US001", "00000002", "2026-11-05T08:00:00", "1", "", "10"),
        ];
        let page = page_of(&rows, date("2026-11-01"), false, 1, 500, "Q").unwrap();
        assert_eq!(page.docs.len(), 2);
        assert_eq!(page.docs[0].key, "US001/00000001");
        let v: serde_json::Value = serde_json::from_str(&page.docs[0].body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"business_unit": "US001", "voucher_id": "00000001", "invoice_id": "INV-1",
                "invoice_date": "2026-11-01", "vendor_id": "0000000101", "entry_status": "P",
                "match_status_vchr": "M", "last_update_date": "2026-11-03",
                "lines": [
                    {"voucher_line_num": 1, "po_id": "0000100001", "line_nbr": 1, "merchandise_amt": "125.00"},
                    {"voucher_line_num": 2, "po_id": "0000100001", "line_nbr": 2, "merchandise_amt": "4.5"}]})
        );
        let second: serde_json::Value = serde_json::from_str(&page.docs[1].body).unwrap();
        assert_eq!(second["lines"][0]["po_id"], serde_json::Value::Null);
        // Last change date 11-05 minus one overlap day.
        assert_eq!(page.cursor.as_deref(), Some("2026-11-04"));
        assert!(!page.more);
    }

    #[test]
    fn cursor_never_moves_before_the_date_read() {
        let rows = vec![line("US001", "1", "2026-11-01", "1", "P", "1")];
        let page = page_of(&rows, date("2026-11-01"), false, 3, 500, "Q").unwrap();
        assert_eq!(page.cursor.as_deref(), Some("2026-11-01"));
    }

    #[test]
    fn empty_result_keeps_the_cursor() {
        let page = page_of(&[], date("2026-11-01"), false, 1, 500, "Q").unwrap();
        assert!(page.docs.is_empty());
        assert_eq!(page.cursor, None);
        assert!(!page.more);
    }

    #[test]
    fn cut_page_leaves_the_latest_date_for_the_next_page() {
        let rows = vec![
            line("US001", "1", "2026-11-02", "1", "P1", "1"),
            line("US001", "2", "2026-11-03", "1", "P2", "1"),
            line("US001", "3", "2026-11-04", "1", "P3", "1"),
        ];
        let page = page_of(&rows, date("2026-11-01"), true, 1, 2, "Q").unwrap();
        let keys: Vec<&str> = page.docs.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, vec!["US001/1", "US001/2"]);
        assert_eq!(page.cursor.as_deref(), Some("2026-11-04"));
        assert!(page.more);
    }

    #[test]
    fn cut_page_within_one_day_asks_to_raise_max_rows() {
        let rows = vec![
            line("US001", "1", "2026-11-01", "1", "P1", "1"),
            line("US001", "2", "2026-11-01", "1", "P2", "1"),
        ];
        let r = page_of(&rows, date("2026-11-01"), true, 1, 1, "Q");
        assert!(
            matches!(&r, Err(Failure::Config(m)) if m.contains("max_rows")),
            "{r:?}"
        );
    }

    #[test]
    fn cut_page_of_an_unordered_query_is_refused() {
        let rows = vec![
            line("US001", "1", "2026-11-04", "1", "P1", "1"),
            line("US001", "2", "2026-11-02", "1", "P2", "1"),
        ];
        let r = page_of(&rows, date("2026-11-01"), true, 1, 1, "MLC_VOUCHERS_SINCE");
        assert!(
            matches!(&r, Err(Failure::Config(m)) if m.contains("order its rows")),
            "{r:?}"
        );
    }

    #[test]
    fn bad_rows_become_bad_records_of_their_voucher() {
        let rows = vec![
            line("US001", "1", "2026-11-02", "1", "P1", "12,50"),
            line("US001", "1", "2026-11-02", "2", "P1", "1"),
            line("US001", "2", "not a date", "1", "P2", "1"),
            row(&[("VOUCHER_ID", "3")]),
            line("US001", "4", "2026-11-02", "1", "P4", "7"),
        ];
        let page = page_of(&rows, date("2026-11-01"), false, 1, 500, "Q").unwrap();
        assert_eq!(page.docs.len(), 1);
        assert_eq!(page.docs[0].key, "US001/4");
        let reasons: Vec<(&str, &str)> = page
            .bad_records
            .iter()
            .map(|b| (b.key.as_str(), b.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3);
        assert!(
            reasons
                .iter()
                .any(|(k, r)| *k == "US001/1" && r.contains("MERCHANDISE_AMT"))
        );
        assert!(
            reasons
                .iter()
                .any(|(k, r)| *k == "US001/2" && r.contains("LASTUPDDTTM"))
        );
        assert!(
            reasons
                .iter()
                .any(|(k, r)| *k == "3" && r.contains("BUSINESS_UNIT"))
        );
    }

    #[test]
    fn read_sends_the_cursor_as_prompt_and_asks_one_row_more_than_max_rows() {
        let env = fake_env();
        env.on("QAS_QRY_SERVICE.1.wsdl", |_| {
            ok(include_str!("../../tests/fixtures/QAS_QRY_SERVICE.1.wsdl"))
        });
        env.on("QAS_EXECUTEQRYSYNC_OPER.VERSION_1", |_| {
            ok(envelope(concat!(
                r#"<QAS_EXEQRY_SYNC_RESP_MSG><QAS_QUERYRESULTS_XMLP_RESP><query numrows="1" queryname="MLC_VOUCHERS_SINCE">"#,
                r#"<row rownumber="1"><BUSINESS_UNIT>US001</BUSINESS_UNIT><VOUCHER_ID>00000009</VOUCHER_ID><LASTUPDDTTM>2026-11-10T12:00:00</LASTUPDDTTM>"#,
                r#"<VOUCHER_LINE_NUM>1</VOUCHER_LINE_NUM><PO_ID>0000100001</PO_ID><LINE_NBR>1</LINE_NBR><MERCHANDISE_AMT>99.99</MERCHANDISE_AMT></row>"#,
                r#"</query></QAS_QUERYRESULTS_XMLP_RESP></QAS_EXEQRY_SYNC_RESP_MSG>"#
            )))
        });
        let cfg = Config::parse(
            "http://h:1",
            r#"{"node":"N","business_unit":"B","max_rows":50}"#,
        )
        .unwrap();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        let page = read(&client, Some("2026-11-08")).unwrap();
        assert_eq!(page.docs.len(), 1);
        assert_eq!(page.cursor.as_deref(), Some("2026-11-09"));
        let sent = &env.posted("QAS_EXECUTEQRYSYNC_OPER.VERSION_1")[0];
        assert!(
            sent.contains("<QueryName>MLC_VOUCHERS_SINCE</QueryName>"),
            "{sent}"
        );
        assert!(sent.contains("<MaxRow>51</MaxRow>"), "{sent}");
        assert!(
            sent.contains(
                "<UniquePromptName>BIND1</UniquePromptName><FieldValue>2026-11-08</FieldValue>"
            ),
            "{sent}"
        );
        let first = read(&client, None).unwrap();
        assert_eq!(first.docs.len(), 1);
        assert!(
            env.posted("QAS_EXECUTEQRYSYNC_OPER.VERSION_1")[1]
                .contains("<FieldValue>1900-01-01</FieldValue>")
        );
        assert!(matches!(
            read(&client, Some("garbage")),
            Err(Failure::Config(_))
        ));
    }
}
