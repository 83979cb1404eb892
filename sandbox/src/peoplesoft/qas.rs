//! Query Access Services: `QAS_EXECUTEQRYSYNC_OPER` running the site's public
//! queries (vouchers changed since a date, active suppliers, active ChartField
//! values) and answering in the XMLP result format.

use chrono::NaiveDateTime;

use super::ci::parse_date;
use super::model::{ChartFieldValue, Records, current_row, now};
use super::soap::IbFault;
use super::wsdl::{QAS_REQ, QAS_RESP, QAS_RESP_MSG};
use super::xml::{Element, XmlWriter};

/// The public queries the site has built and granted to the integration user.
pub const QUERY_NAMES: &[&str] = &[
    "MLC_VOUCHERS_SINCE",
    "MLC_ACTIVE_SUPPLIERS",
    "MLC_ACCOUNTS",
    "MLC_DEPARTMENTS",
];

/// Message set of Query Access Services errors.
const QAS_SET: u32 = 263;

/// How a PeopleSoft DateTime is written in XMLP output.
pub fn format_datetime(dt: NaiveDateTime) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string()
}

fn qas_fault(number: u32, text: String, params: Vec<String>) -> IbFault {
    IbFault::new(
        QAS_SET,
        number,
        format!("{text} ({QAS_SET},{number})"),
        params,
    )
}

/// A parsed `QAS_EXEQRY_SYNC_REQ`.
#[derive(Debug)]
struct QueryRequest {
    name: String,
    owner: String,
    max_rows: usize,
    prompts: Vec<(String, String)>,
}

fn read_request(payload: &Element) -> Result<QueryRequest, IbFault> {
    let req = payload.child(QAS_REQ).ok_or_else(|| {
        qas_fault(
            1,
            format!(
                "Invalid QAS request: {} must contain {QAS_REQ}.",
                payload.local
            ),
            vec![],
        )
    })?;
    let name = req
        .child_text("QueryName")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            qas_fault(
                2,
                "Invalid QAS request: QueryName is required.".into(),
                vec![],
            )
        })?
        .to_owned();
    let text = |field: &str, default: &str| {
        req.child_text(field)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    if !text("isConnectedQuery", "N").eq_ignore_ascii_case("N") {
        return Err(qas_fault(
            3,
            format!(
                "Query {name}: connected queries are not supported by QAS_EXECUTEQRYSYNC_OPER; set isConnectedQuery to N."
            ),
            vec![name],
        ));
    }
    let result_type = text("OutResultType", "XMLP");
    if !result_type.eq_ignore_ascii_case("XMLP") {
        return Err(qas_fault(
            4,
            format!("Query {name}: OutResultType {result_type} is not supported; use XMLP."),
            vec![name, result_type],
        ));
    }
    let result_format = text("OutResultFormat", "NONFILE");
    if !result_format.eq_ignore_ascii_case("NONFILE") {
        return Err(qas_fault(
            5,
            format!("Query {name}: OutResultFormat {result_format} is not supported; use NONFILE."),
            vec![name, result_format],
        ));
    }
    let max_raw = text("MaxRow", "0");
    let max_rows = max_raw.parse::<usize>().map_err(|_| {
        qas_fault(
            6,
            format!("Query {name}: MaxRow '{max_raw}' is not a non-negative whole number."),
            vec![name.clone()],
        )
    })?;
    let prompts = req
        .child("Prompts")
        .map(|p| {
            p.children_named("PROMPT")
                .map(|prompt| {
                    (
                        prompt
                            .child_text("UniquePromptName")
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                        prompt
                            .child_text("FieldValue")
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(QueryRequest {
        owner: text("OwnerType", "PUBLIC").to_ascii_uppercase(),
        name,
        max_rows,
        prompts,
    })
}

/// Runs the query in `payload` for `user` and writes the XMLP reply payload.
pub(crate) fn execute(
    payload: &Element,
    response_ns: &str,
    part_ns: &str,
    user: &str,
    records: &Records,
) -> Result<String, IbFault> {
    let request = read_request(payload)?;
    let name = request.name.as_str();
    if request.owner != "PUBLIC" || !QUERY_NAMES.contains(&name) {
        return Err(qas_fault(
            10,
            format!(
                "Query {name} (OwnerType {}) does not exist or is not a public query user {user} may run.",
                request.owner
            ),
            vec![name.to_owned(), user.to_owned()],
        ));
    }
    let bind1 = request
        .prompts
        .iter()
        .find(|(p, _)| p == "BIND1")
        .map(|(_, v)| v.trim().to_owned())
        .ok_or_else(|| {
            qas_fault(
                11,
                format!("Query {name}: prompt BIND1 requires a value."),
                vec![name.to_owned(), "BIND1".to_owned()],
            )
        })?;
    let (columns, mut rows) = match name {
        "MLC_VOUCHERS_SINCE" => {
            let since = parse_date(&bind1).ok_or_else(|| {
                qas_fault(
                    12,
                    format!("Query {name}: prompt BIND1 value '{bind1}' is not a valid date (YYYY-MM-DD)."),
                    vec![name.to_owned(), "BIND1".to_owned()],
                )
            })?;
            (VOUCHER_COLUMNS, voucher_rows(records, since))
        }
        "MLC_ACTIVE_SUPPLIERS" => (SUPPLIER_COLUMNS, supplier_rows(records, &bind1)),
        "MLC_ACCOUNTS" => (ACCOUNT_COLUMNS, chartfield_rows(&records.accounts, &bind1)),
        _ => (
            DEPARTMENT_COLUMNS,
            chartfield_rows(&records.departments, &bind1),
        ),
    };
    if request.max_rows > 0 {
        rows.truncate(request.max_rows);
    }
    let mut w = XmlWriter::default();
    w.open(QAS_RESP_MSG, &[("xmlns", response_ns)])
        .open(QAS_RESP, &[("xmlns", part_ns)])
        .open(
            "query",
            &[
                ("numrows", &rows.len().to_string()),
                ("queryname", name),
                ("xmlns", ""),
                ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                ("xsi:noNamespaceSchemaLocation", ""),
            ],
        );
    for (i, row) in rows.iter().enumerate() {
        w.open("row", &[("rownumber", &(i + 1).to_string())]);
        for (column, value) in columns.iter().zip(row) {
            if value.is_empty() {
                w.empty(column, &[]);
            } else {
                w.leaf(column, value);
            }
        }
        w.close("row");
    }
    w.close("query").close(QAS_RESP).close(QAS_RESP_MSG);
    Ok(w.finish())
}

const VOUCHER_COLUMNS: &[&str] = &[
    "BUSINESS_UNIT",
    "VOUCHER_ID",
    "INVOICE_ID",
    "INVOICE_DT",
    "VENDOR_ID",
    "ENTRY_STATUS",
    "MATCH_STATUS_VCHR",
    "PO_ID",
    "LINE_NBR",
    "MERCHANDISE_AMT",
    "LASTUPDDTTM",
];
const SUPPLIER_COLUMNS: &[&str] = &[
    "SETID",
    "VENDOR_ID",
    "NAME1",
    "VENDOR_STATUS",
    "LASTUPDDTTM",
];
const ACCOUNT_COLUMNS: &[&str] = &[
    "SETID",
    "ACCOUNT",
    "DESCR",
    "EFFDT",
    "EFF_STATUS",
    "LASTUPDDTTM",
];
const DEPARTMENT_COLUMNS: &[&str] = &[
    "SETID",
    "DEPTID",
    "DESCR",
    "EFFDT",
    "EFF_STATUS",
    "LASTUPDDTTM",
];

/// One row per voucher line of vouchers updated on or after `since`, oldest first.
fn voucher_rows(records: &Records, since: chrono::NaiveDate) -> Vec<Vec<String>> {
    let mut vouchers: Vec<_> = records
        .vouchers
        .iter()
        .filter(|v| v.lastupddttm.date() >= since)
        .collect();
    vouchers.sort_by(|a, b| (a.lastupddttm, &a.voucher_id).cmp(&(b.lastupddttm, &b.voucher_id)));
    vouchers
        .into_iter()
        .flat_map(|v| {
            v.lines.iter().map(move |line| {
                vec![
                    v.business_unit.clone(),
                    v.voucher_id.clone(),
                    v.invoice_id.clone(),
                    v.invoice_dt.to_string(),
                    v.vendor_id.clone(),
                    v.entry_status.clone(),
                    v.match_status_vchr.clone(),
                    line.po_id.clone().unwrap_or_default(),
                    line.line_nbr.to_string(),
                    line.merchandise_amt.to_string(),
                    format_datetime(v.lastupddttm),
                ]
            })
        })
        .collect()
}

fn supplier_rows(records: &Records, setid: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<_> = records
        .vendors
        .iter()
        .filter(|v| v.setid == setid && v.vendor_status == "A")
        .collect();
    rows.sort_by(|a, b| a.vendor_id.cmp(&b.vendor_id));
    rows.into_iter()
        .map(|v| {
            vec![
                v.setid.clone(),
                v.vendor_id.clone(),
                v.name1.clone(),
                v.vendor_status.clone(),
                format_datetime(v.lastupddttm),
            ]
        })
        .collect()
}

/// Values whose row in effect today is active, one row each (the current one).
fn chartfield_rows(rows: &[ChartFieldValue], setid: &str) -> Vec<Vec<String>> {
    let today = now().date();
    let mut values: Vec<&str> = rows
        .iter()
        .filter(|r| r.setid == setid)
        .map(|r| r.value.as_str())
        .collect();
    values.sort_unstable();
    values.dedup();
    values
        .into_iter()
        .filter_map(|value| current_row(rows, setid, value, today))
        .filter(|r| r.eff_status == "A")
        .map(|r| {
            vec![
                r.setid.clone(),
                r.value.clone(),
                r.descr.clone(),
                r.effdt.to_string(),
                r.eff_status.clone(),
                format_datetime(r.lastupddttm),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peoplesoft::xml::parse;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn run(query: &str, bind1: &str, max: u32) -> Result<Element, IbFault> {
        let records = Records::seeded(&mut StdRng::seed_from_u64(3));
        let payload = parse(format!("<QAS_EXEQRY_SYNC_REQ_MSG><QAS_EXEQRY_SYNC_REQ><QueryName>{query}</QueryName><OwnerType>PUBLIC</OwnerType><MaxRow>{max}</MaxRow><OutResultType>XMLP</OutResultType><OutResultFormat>NONFILE</OutResultFormat><Prompts><PROMPT><UniquePromptName>BIND1</UniquePromptName><FieldValue>{bind1}</FieldValue></PROMPT></Prompts></QAS_EXEQRY_SYNC_REQ></QAS_EXEQRY_SYNC_REQ_MSG>").as_bytes()).unwrap();
        let xml = execute(&payload, "urn:m", "urn:p", "U", &records)?;
        Ok(parse(xml.as_bytes()).unwrap())
    }

    #[test]
    fn accounts_query_lists_only_active_values() {
        let root = run("MLC_ACCOUNTS", "SHARE", 0).unwrap();
        let query = root.child(QAS_RESP).unwrap().child("query").unwrap();
        assert_eq!(query.ns, None);
        let accounts: Vec<&str> = query
            .children_named("row")
            .map(|r| r.child_text("ACCOUNT").unwrap())
            .collect();
        assert_eq!(accounts.len(), crate::catalog::GL_ACCOUNTS.len());
        assert!(!accounts.contains(&super::super::model::INACTIVE_ACCOUNT));
        assert_eq!(
            query.attr("numrows"),
            Some(accounts.len().to_string().as_str())
        );
    }

    #[test]
    fn datetime_has_microseconds_and_offset() {
        let dt = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(10, 15, 30)
            .unwrap();
        assert_eq!(format_datetime(dt), "2026-11-01T10:15:30.000000+0000");
    }

    #[test]
    fn bad_prompt_date_is_a_fault_naming_the_query() {
        let fault = run("MLC_VOUCHERS_SINCE", "11/01/2026", 0).unwrap_err();
        assert!(
            fault.message.contains("MLC_VOUCHERS_SINCE"),
            "{}",
            fault.message
        );
        assert!(fault.message.contains("'11/01/2026'"), "{}", fault.message);
    }
}
