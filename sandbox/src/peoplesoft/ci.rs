//! Component Interface based services: the CI definitions (`PO_EXPRESS`,
//! `VNDR_ID`, `ACCOUNT_CF`, `DEPT_CF`), how request bodies become rows, the
//! business validation a real CI performs, and the reply bodies.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::model::{
    ChartFieldValue, PoDistribution, PoLine, PoSchedule, PurchaseOrder, Records, Vendor,
    VendorAddress, current_row, now,
};
use super::soap::IbFault;
use super::xml::{Element, XmlWriter};
use crate::catalog;

/// A field's PeopleSoft type, which decides its XSD type and how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Character field of at most this many characters.
    Char(usize),
    /// Whole number.
    Number,
    /// Signed decimal.
    Decimal,
    /// Date, `YYYY-MM-DD`.
    Date,
}

impl Kind {
    pub(crate) fn xsd(self) -> &'static str {
        match self {
            Kind::Char(_) => "xsd:string",
            Kind::Number => "xsd:integer",
            Kind::Decimal => "xsd:decimal",
            Kind::Date => "xsd:date",
        }
    }
}

/// One CI property.
#[derive(Debug)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub kind: Kind,
}

/// A level of the CI: level 0 (named after the CI) or a collection (scroll).
#[derive(Debug)]
pub(crate) struct ScrollDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    pub children: &'static [ScrollDef],
    /// The field that identifies a row among its siblings (used by Update).
    pub key: Option<&'static str>,
}

impl ScrollDef {
    fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
    fn child(&self, name: &str) -> Option<&'static ScrollDef> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Which CI a definition is, to dispatch its business logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CiKind {
    PurchaseOrder,
    Vendor,
    Account,
    Department,
}

/// A CI method exposed as a service operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiMethod {
    /// `Create` (operation suffix `_C`).
    Create,
    /// `Get` (`_G`).
    Get,
    /// `Find` (`_F`).
    Find,
    /// `Update` (`_UP`).
    Update,
}

impl CiMethod {
    /// The operation-name suffix (`C`, `G`, `F`, `UP`).
    pub fn suffix(self) -> &'static str {
        match self {
            CiMethod::Create => "C",
            CiMethod::Get => "G",
            CiMethod::Find => "F",
            CiMethod::Update => "UP",
        }
    }
    /// The verb in the body root (`Create__CompIntfc__X`).
    pub fn verb(self) -> &'static str {
        match self {
            CiMethod::Create => "Create",
            CiMethod::Get => "Get",
            CiMethod::Find => "Find",
            CiMethod::Update => "Update",
        }
    }
}

/// A Component Interface and the methods the site exposes for it.
#[derive(Debug)]
pub(crate) struct CiDef {
    pub name: &'static str,
    pub kind: CiKind,
    pub level0: ScrollDef,
    pub methods: &'static [CiMethod],
    /// Keys a Get takes (and a Create/Update reply returns in `detail`).
    pub get_keys: &'static [&'static str],
    /// Fields a Find may filter on; a Find reply returns these per match.
    pub find_keys: &'static [&'static str],
}

impl CiDef {
    /// Body root of `method`'s request.
    pub(crate) fn request_root(&self, method: CiMethod) -> String {
        format!("{}__CompIntfc__{}", method.verb(), self.name)
    }
    /// Body root of `method`'s reply.
    pub(crate) fn response_root(&self, method: CiMethod) -> String {
        format!("{}Response", self.request_root(method))
    }
    /// The service operation name (`CI_PO_EXPRESS_C`).
    pub(crate) fn operation(&self, method: CiMethod) -> String {
        format!("CI_{}_{}", self.name, method.suffix())
    }
    /// The service name (`CI_PO_EXPRESS`).
    pub(crate) fn service(&self) -> String {
        format!("CI_{}", self.name)
    }
}

const fn f(name: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, kind }
}

/// The CIs this site exposes.
pub(crate) static CIS: [CiDef; 4] = [
    CiDef {
        name: "PO_EXPRESS",
        kind: CiKind::PurchaseOrder,
        level0: ScrollDef {
            name: "PO_EXPRESS",
            fields: &[
                f("BUSINESS_UNIT", Kind::Char(5)),
                f("PO_ID", Kind::Char(10)),
                f("VENDOR_SETID", Kind::Char(5)),
                f("VENDOR_ID", Kind::Char(10)),
                f("PO_DT", Kind::Date),
                f("BUYER_ID", Kind::Char(30)),
                f("CURRENCY_CD", Kind::Char(3)),
                f("PO_REF", Kind::Char(30)),
            ],
            children: &[ScrollDef {
                name: "PO_LINE",
                fields: &[
                    f("LINE_NBR", Kind::Number),
                    f("INV_ITEM_ID", Kind::Char(18)),
                    f("DESCR254_MIXED", Kind::Char(254)),
                    f("UNIT_OF_MEASURE", Kind::Char(3)),
                    f("CATEGORY_ID", Kind::Char(18)),
                ],
                children: &[ScrollDef {
                    name: "PO_LINE_SHIP",
                    fields: &[
                        f("SCHED_NBR", Kind::Number),
                        f("QTY_PO", Kind::Decimal),
                        f("PRICE_PO", Kind::Decimal),
                        f("DUE_DT", Kind::Date),
                        f("SHIPTO_ID", Kind::Char(10)),
                    ],
                    children: &[ScrollDef {
                        name: "PO_LINE_DISTRIB",
                        fields: &[
                            f("DISTRIB_LINE_NUM", Kind::Number),
                            f("QTY_PO", Kind::Decimal),
                            f("BUSINESS_UNIT_GL", Kind::Char(5)),
                            f("ACCOUNT", Kind::Char(10)),
                            f("DEPTID", Kind::Char(10)),
                            f("OPERATING_UNIT", Kind::Char(8)),
                            f("FUND_CODE", Kind::Char(5)),
                            f("PRODUCT", Kind::Char(6)),
                            f("PROJECT_ID", Kind::Char(15)),
                        ],
                        children: &[],
                        key: Some("DISTRIB_LINE_NUM"),
                    }],
                    key: Some("SCHED_NBR"),
                }],
                key: Some("LINE_NBR"),
            }],
            key: None,
        },
        methods: &[
            CiMethod::Create,
            CiMethod::Get,
            CiMethod::Find,
            CiMethod::Update,
        ],
        get_keys: &["BUSINESS_UNIT", "PO_ID"],
        find_keys: &["BUSINESS_UNIT", "PO_ID", "VENDOR_ID", "PO_REF"],
    },
    CiDef {
        name: "VNDR_ID",
        kind: CiKind::Vendor,
        level0: ScrollDef {
            name: "VNDR_ID",
            fields: &[
                f("SETID", Kind::Char(5)),
                f("VENDOR_ID", Kind::Char(10)),
                f("NAME1", Kind::Char(40)),
                f("NAME2", Kind::Char(40)),
                f("VENDOR_STATUS", Kind::Char(1)),
            ],
            children: &[ScrollDef {
                name: "VENDOR_ADDR",
                fields: &[
                    f("ADDRESS_SEQ_NUM", Kind::Number),
                    f("EFFDT", Kind::Date),
                    f("EFF_STATUS", Kind::Char(1)),
                    f("ADDRESS1", Kind::Char(55)),
                    f("CITY", Kind::Char(30)),
                    f("STATE", Kind::Char(6)),
                    f("POSTAL", Kind::Char(12)),
                    f("COUNTRY", Kind::Char(3)),
                ],
                children: &[],
                key: Some("ADDRESS_SEQ_NUM"),
            }],
            key: None,
        },
        methods: &[CiMethod::Create, CiMethod::Find, CiMethod::Get],
        get_keys: &["SETID", "VENDOR_ID"],
        find_keys: &["SETID", "VENDOR_ID", "NAME1"],
    },
    CiDef {
        name: "ACCOUNT_CF",
        kind: CiKind::Account,
        level0: ScrollDef {
            name: "ACCOUNT_CF",
            fields: &[
                f("SETID", Kind::Char(5)),
                f("ACCOUNT", Kind::Char(10)),
                f("EFFDT", Kind::Date),
                f("EFF_STATUS", Kind::Char(1)),
                f("DESCR", Kind::Char(30)),
            ],
            children: &[],
            key: None,
        },
        methods: &[CiMethod::Create, CiMethod::Find],
        get_keys: &["SETID", "ACCOUNT", "EFFDT"],
        find_keys: &["SETID", "ACCOUNT", "EFFDT", "DESCR"],
    },
    CiDef {
        name: "DEPT_CF",
        kind: CiKind::Department,
        level0: ScrollDef {
            name: "DEPT_CF",
            fields: &[
                f("SETID", Kind::Char(5)),
                f("DEPTID", Kind::Char(10)),
                f("EFFDT", Kind::Date),
                f("EFF_STATUS", Kind::Char(1)),
                f("DESCR", Kind::Char(30)),
            ],
            children: &[],
            key: None,
        },
        methods: &[CiMethod::Create, CiMethod::Find],
        get_keys: &["SETID", "DEPTID", "EFFDT"],
        find_keys: &["SETID", "DEPTID", "EFFDT", "DESCR"],
    },
];

/// Currencies the site's currency table holds.
const CURRENCIES: &[&str] = &["USD", "CAD", "EUR", "GBP", "JPY", "MXN"];

/// The most rows a Find returns (the PeopleSoft search-page default).
const FIND_MAX_ROWS: usize = 300;

/// One entry of a CI reply's `messages` (a PSMessages item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CiMessage {
    pub set: u32,
    pub number: u32,
    pub text: String,
    pub explain: String,
}

// Message catalog entries (set, number) the CI layer uses.
const INVALID_VALUE: (u32, u32) = (15, 11);
const REQUIRED: (u32, u32) = (15, 30);
const INVALID_NUMBER: (u32, u32) = (15, 6);
const INVALID_DATE: (u32, u32) = (15, 9);
const TOO_LONG: (u32, u32) = (15, 26);
const DUPLICATE: (u32, u32) = (18, 1);
const UNKNOWN_PROPERTY: (u32, u32) = (91, 13);
const NO_ROWS: (u32, u32) = (91, 50);
const VENDOR_INACTIVE: (u32, u32) = (10200, 43);
const CHARTFIELD_INACTIVE: (u32, u32) = (10200, 71);
const QTY_NOT_POSITIVE: (u32, u32) = (10200, 120);
const PRICE_NOT_POSITIVE: (u32, u32) = (10200, 121);
const DISTRIB_MISMATCH: (u32, u32) = (10200, 142);
const ROW_MISSING: (u32, u32) = (10200, 150);

const PROMPT_EXPLAIN: &str = "The value entered in the field does not match one of the allowable values. You can see the allowable values by pressing the Prompt button or hyperlink.";

fn message(code: (u32, u32), text: String, explain: impl Into<String>) -> CiMessage {
    CiMessage {
        set: code.0,
        number: code.1,
        text: format!("{text} ({},{})", code.0, code.1),
        explain: explain.into(),
    }
}

fn invalid_value(field: &str, value: &str, list: &str) -> CiMessage {
    message(
        INVALID_VALUE,
        format!(
            "{field}: Invalid value '{value}' -- press the prompt button or hyperlink for a list of valid values."
        ),
        format!("{PROMPT_EXPLAIN} '{value}' is not a valid {field} in {list}."),
    )
}

fn required(field: &str, at: &str) -> CiMessage {
    message(
        REQUIRED,
        format!("{field}: Required field is missing{at}."),
        format!("A value must be entered in {field}{at} before the component can be saved."),
    )
}

/// Generic CI data: property values by name, collections by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    pub fields: BTreeMap<&'static str, String>,
    pub scrolls: BTreeMap<&'static str, Vec<Row>>,
}

impl Row {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
    fn set(&mut self, name: &'static str, value: impl Into<String>) {
        self.fields.insert(name, value.into());
    }
    fn set_opt(&mut self, name: &'static str, value: &Option<String>) {
        if let Some(v) = value {
            self.fields.insert(name, v.clone());
        }
    }
    fn rows(&self, name: &str) -> &[Row] {
        self.scrolls.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Reads `element`'s children as the properties and collections of `def`.
/// Unknown names, nested data in a property, repeated properties and values
/// longer than the field become messages, as a real CI refuses them.
pub(crate) fn parse_row(
    element: &Element,
    def: &'static ScrollDef,
    messages: &mut Vec<CiMessage>,
) -> Row {
    let mut row = Row::default();
    for child in &element.children {
        if let Some(field) = def.field(&child.local) {
            if !child.children.is_empty() {
                messages.push(message(
                    UNKNOWN_PROPERTY,
                    format!(
                        "{}.{}: a property holds a value, not elements.",
                        def.name, field.name
                    ),
                    "Send the property as a simple element with text content.",
                ));
            } else if row.fields.contains_key(field.name) {
                messages.push(message(
                    UNKNOWN_PROPERTY,
                    format!(
                        "{}.{}: property given more than once.",
                        def.name, field.name
                    ),
                    "Each property of a row may appear once.",
                ));
            } else {
                if let Kind::Char(max) = field.kind {
                    let len = child.text.chars().count();
                    if len > max {
                        messages.push(message(
                            TOO_LONG,
                            format!(
                                "{}: value '{}' is {len} characters, longer than the field's {max}.",
                                field.name, child.text
                            ),
                            format!("{} holds at most {max} characters.", field.name),
                        ));
                    }
                }
                row.fields.insert(field.name, child.text.clone());
            }
        } else if let Some(scroll) = def.child(&child.local) {
            let parsed = parse_row(child, scroll, messages);
            row.scrolls.entry(scroll.name).or_default().push(parsed);
        } else {
            messages.push(message(
                UNKNOWN_PROPERTY,
                format!(
                    "{}: '{}' is not a property or collection of this level.",
                    def.name, child.local
                ),
                format!(
                    "Valid properties of {} are: {}.",
                    def.name,
                    def.fields
                        .iter()
                        .map(|f| f.name)
                        .chain(def.children.iter().map(|c| c.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    row
}

/// Writes `row`'s properties and collections in definition order.
pub(crate) fn write_row(w: &mut XmlWriter, row: &Row, def: &ScrollDef) {
    for field in def.fields {
        if let Some(value) = row.get(field.name) {
            w.leaf(field.name, value);
        }
    }
    for child in def.children {
        for r in row.rows(child.name) {
            w.open(child.name, &[]);
            write_row(w, r, child);
            w.close(child.name);
        }
    }
}

/// Update semantics: properties in `patch` replace those in `base`; rows of
/// a collection are matched by their key field, unmatched rows are added.
fn merge(base: &mut Row, patch: &Row, def: &ScrollDef) {
    for (k, v) in &patch.fields {
        base.fields.insert(k, v.clone());
    }
    for child in def.children {
        for patch_row in patch.rows(child.name) {
            let key = child
                .key
                .and_then(|k| patch_row.get(k).map(|v| (k, v.trim())));
            let existing = base.scrolls.entry(child.name).or_default();
            let target = key.and_then(|(k, v)| {
                existing
                    .iter_mut()
                    .find(|r| r.get(k).map(str::trim) == Some(v))
            });
            match target {
                Some(target) => merge(target, patch_row, child),
                None => existing.push(patch_row.clone()),
            }
        }
    }
}

/// What a CI call produced: a reply body (success or `notification` 0), or a fault.
#[derive(Debug)]
pub(crate) enum CiReply {
    Body(String),
    Fault(IbFault),
}

/// Runs `method` of `ci` on the request payload (already checked to be the
/// right root in the right namespace) and writes the reply payload in `response_ns`.
pub(crate) fn execute(
    ci: &'static CiDef,
    method: CiMethod,
    payload: &Element,
    response_ns: &str,
    user: &str,
    records: &mut Records,
) -> CiReply {
    let mut messages = Vec::new();
    let row = parse_row(payload, &ci.level0, &mut messages);
    let root = ci.response_root(method);
    match method {
        CiMethod::Create | CiMethod::Update => {
            let result = if messages.is_empty() {
                match (ci.kind, method) {
                    (CiKind::PurchaseOrder, CiMethod::Create) => create_po(&row, user, records),
                    (CiKind::PurchaseOrder, _) => update_po(&row, records),
                    (CiKind::Vendor, _) => create_vendor(&row, records),
                    (CiKind::Account, _) => {
                        create_chartfield(ci, &row, records, ChartField::Account)
                    }
                    (CiKind::Department, _) => {
                        create_chartfield(ci, &row, records, ChartField::Department)
                    }
                }
            } else {
                Err(messages)
            };
            CiReply::Body(save_reply(&root, response_ns, ci, result))
        }
        CiMethod::Find => {
            if !messages.is_empty() {
                return CiReply::Fault(messages_fault(ci, method, &messages));
            }
            let matches = find(ci, &row, records);
            let mut w = XmlWriter::default();
            w.open(&root, &[("xmlns", response_ns)]);
            for found in matches.iter().take(FIND_MAX_ROWS) {
                w.open(ci.name, &[]);
                for key in ci.find_keys {
                    if let Some(v) = found.get(key) {
                        w.leaf(key, v);
                    }
                }
                w.close(ci.name);
            }
            w.close(&root);
            CiReply::Body(w.finish())
        }
        CiMethod::Get => {
            if !messages.is_empty() {
                return CiReply::Fault(messages_fault(ci, method, &messages));
            }
            match get(ci, &row, records) {
                Ok(found) => {
                    let mut w = XmlWriter::default();
                    w.open(&root, &[("xmlns", response_ns)]);
                    write_row(&mut w, &found, &ci.level0);
                    w.close(&root);
                    CiReply::Body(w.finish())
                }
                Err(fault) => CiReply::Fault(fault),
            }
        }
    }
}

/// A Create/Update reply: `notification` 1 with the key block, or 0 with messages.
fn save_reply(root: &str, ns: &str, ci: &CiDef, result: Result<Row, Vec<CiMessage>>) -> String {
    let mut w = XmlWriter::default();
    w.open(root, &[("xmlns", ns)]);
    match result {
        Ok(keys) => {
            w.leaf("notification", "1");
            w.open("detail", &[]).open("keys", &[]);
            for key in ci.get_keys {
                if let Some(v) = keys.get(key) {
                    w.leaf(key, v);
                }
            }
            w.close("keys").close("detail");
        }
        Err(messages) => {
            w.leaf("notification", "0");
            for m in messages {
                w.open("messages", &[])
                    .leaf("type", "Error")
                    .leaf("messagesetnumber", &m.set.to_string())
                    .leaf("messagenumber", &m.number.to_string())
                    .leaf("messagetext", &m.text)
                    .leaf("explaintext", &m.explain)
                    .close("messages");
            }
        }
    }
    w.close(root);
    w.finish()
}

fn messages_fault(ci: &CiDef, method: CiMethod, messages: &[CiMessage]) -> IbFault {
    let first = &messages[0];
    IbFault::new(
        first.set,
        first.number,
        format!(
            "{} {} failed: {}",
            ci.name,
            method.verb(),
            messages
                .iter()
                .map(|m| m.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        vec![ci.name.to_owned()],
    )
}

/// PeopleSoft's Find matches character keys with "begins with", like a search page.
fn find(ci: &CiDef, criteria: &Row, records: &Records) -> Vec<Row> {
    let candidates: Vec<Row> = match ci.kind {
        CiKind::PurchaseOrder => records.purchase_orders.iter().map(po_to_row).collect(),
        CiKind::Vendor => records.vendors.iter().map(vendor_to_row).collect(),
        CiKind::Account => records
            .accounts
            .iter()
            .map(|c| chartfield_to_row(c, "ACCOUNT"))
            .collect(),
        CiKind::Department => records
            .departments
            .iter()
            .map(|c| chartfield_to_row(c, "DEPTID"))
            .collect(),
    };
    candidates
        .into_iter()
        .filter(|row| {
            criteria.fields.iter().all(|(k, wanted)| {
                let wanted = wanted.trim_end();
                wanted.is_empty() || row.get(k).is_some_and(|have| have.starts_with(wanted))
            })
        })
        .collect()
}

fn get(ci: &CiDef, keys: &Row, records: &Records) -> Result<Row, IbFault> {
    let missing: Vec<&str> = ci
        .get_keys
        .iter()
        .copied()
        .filter(|k| keys.get(k).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(IbFault::new(
            REQUIRED.0,
            REQUIRED.1,
            format!(
                "{} Get: required key {} missing. ({},{})",
                ci.name,
                missing.join(", "),
                REQUIRED.0,
                REQUIRED.1
            ),
            vec![ci.name.to_owned()],
        ));
    }
    let value = |k: &str| keys.get(k).unwrap_or_default();
    let found = match ci.kind {
        CiKind::PurchaseOrder => records
            .purchase_orders
            .iter()
            .find(|p| p.business_unit == value("BUSINESS_UNIT") && p.po_id == value("PO_ID"))
            .map(po_to_row),
        CiKind::Vendor => records
            .vendor(value("SETID"), value("VENDOR_ID"))
            .map(vendor_to_row),
        // ChartField CIs expose no Get here; kept total for safety.
        CiKind::Account | CiKind::Department => None,
    };
    found.ok_or_else(|| {
        let described = ci
            .get_keys
            .iter()
            .map(|k| format!("{k}={}", value(k)))
            .collect::<Vec<_>>()
            .join(", ");
        IbFault::new(
            NO_ROWS.0,
            NO_ROWS.1,
            format!(
                "No rows exist for the specified keys. {} {described} ({},{})",
                ci.name, NO_ROWS.0, NO_ROWS.1
            ),
            vec![ci.name.to_owned(), described],
        )
    })
}

// ---------------------------------------------------------------------------
// Typed conversions with field checks

/// Reads typed values out of a row, collecting one message per bad value.
struct Reader<'a> {
    messages: &'a mut Vec<CiMessage>,
    at: String,
}

impl Reader<'_> {
    fn required(&mut self, row: &Row, field: &str) -> String {
        match row.get(field) {
            Some(v) if !v.trim().is_empty() => v.to_owned(),
            _ => {
                self.messages.push(required(field, &self.at));
                String::new()
            }
        }
    }

    fn optional(&mut self, row: &Row, field: &str) -> Option<String> {
        row.get(field).map(str::to_owned)
    }

    fn number(&mut self, row: &Row, field: &str) -> u32 {
        let raw = self.required(row, field);
        if raw.is_empty() {
            return 0;
        }
        raw.trim().parse::<u32>().unwrap_or_else(|_| {
            self.messages.push(message(
                INVALID_NUMBER,
                format!("{field}: '{raw}' is not a valid whole number{}.", self.at),
                format!("{field} takes a non-negative whole number."),
            ));
            0
        })
    }

    fn decimal(&mut self, row: &Row, field: &str) -> Decimal {
        let raw = self.required(row, field);
        if raw.is_empty() {
            return Decimal::ZERO;
        }
        parse_decimal(raw.trim()).unwrap_or_else(|| {
            self.messages.push(message(
                INVALID_NUMBER,
                format!("{field}: '{raw}' is not a valid number{}.", self.at),
                format!("{field} takes a decimal number such as 12.50 (no exponent, no grouping)."),
            ));
            Decimal::ZERO
        })
    }

    fn date(&mut self, row: &Row, field: &str) -> Option<String> {
        let raw = row.get(field)?;
        if parse_date(raw).is_none() {
            self.messages.push(message(
                INVALID_DATE,
                format!("{field}: '{raw}' is not a valid date{}.", self.at),
                format!("{field} takes a date in the form YYYY-MM-DD."),
            ));
        }
        Some(raw.to_owned())
    }
}

/// Decimals as PeopleSoft accepts them: optional sign, digits, optional fraction.
fn parse_decimal(raw: &str) -> Option<Decimal> {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    Decimal::from_str_exact(raw.strip_prefix('+').unwrap_or(raw)).ok()
}

pub(crate) fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

fn po_from_row(row: &Row, messages: &mut Vec<CiMessage>, user: &str) -> PurchaseOrder {
    let mut r = Reader {
        messages,
        at: String::new(),
    };
    let mut po = PurchaseOrder {
        business_unit: r.required(row, "BUSINESS_UNIT"),
        po_id: r.required(row, "PO_ID"),
        vendor_setid: r.optional(row, "VENDOR_SETID"),
        vendor_id: r.required(row, "VENDOR_ID"),
        po_dt: r.date(row, "PO_DT"),
        buyer_id: r.optional(row, "BUYER_ID"),
        currency_cd: r.optional(row, "CURRENCY_CD"),
        po_ref: r.optional(row, "PO_REF"),
        lines: Vec::new(),
        created_by: user.to_owned(),
        lastupddttm: now(),
    };
    for line_row in row.rows("PO_LINE") {
        r.at = String::from(" in PO_LINE");
        let line_nbr = r.number(line_row, "LINE_NBR");
        let mut line = PoLine {
            line_nbr,
            inv_item_id: r.optional(line_row, "INV_ITEM_ID"),
            descr254_mixed: r.optional(line_row, "DESCR254_MIXED"),
            unit_of_measure: r.optional(line_row, "UNIT_OF_MEASURE"),
            category_id: r.optional(line_row, "CATEGORY_ID"),
            schedules: Vec::new(),
        };
        for ship_row in line_row.rows("PO_LINE_SHIP") {
            r.at = format!(" in PO_LINE {line_nbr} PO_LINE_SHIP");
            let sched_nbr = r.number(ship_row, "SCHED_NBR");
            r.at = format!(" in PO_LINE {line_nbr} PO_LINE_SHIP {sched_nbr}");
            let mut ship = PoSchedule {
                sched_nbr,
                qty_po: r.decimal(ship_row, "QTY_PO"),
                price_po: r.decimal(ship_row, "PRICE_PO"),
                due_dt: r.date(ship_row, "DUE_DT"),
                shipto_id: r.optional(ship_row, "SHIPTO_ID"),
                distributions: Vec::new(),
            };
            for dist_row in ship_row.rows("PO_LINE_DISTRIB") {
                r.at = format!(" in PO_LINE {line_nbr} PO_LINE_SHIP {sched_nbr} PO_LINE_DISTRIB");
                let distrib_line_num = r.number(dist_row, "DISTRIB_LINE_NUM");
                r.at = format!(
                    " in PO_LINE {line_nbr} PO_LINE_SHIP {sched_nbr} PO_LINE_DISTRIB {distrib_line_num}"
                );
                ship.distributions.push(PoDistribution {
                    distrib_line_num,
                    qty_po: r.decimal(dist_row, "QTY_PO"),
                    business_unit_gl: r.optional(dist_row, "BUSINESS_UNIT_GL"),
                    account: r.required(dist_row, "ACCOUNT"),
                    deptid: r.optional(dist_row, "DEPTID"),
                    operating_unit: r.optional(dist_row, "OPERATING_UNIT"),
                    fund_code: r.optional(dist_row, "FUND_CODE"),
                    product: r.optional(dist_row, "PRODUCT"),
                    project_id: r.optional(dist_row, "PROJECT_ID"),
                });
            }
            line.schedules.push(ship);
        }
        po.lines.push(line);
    }
    po
}

pub(crate) fn po_to_row(po: &PurchaseOrder) -> Row {
    let mut row = Row::default();
    row.set("BUSINESS_UNIT", &po.business_unit);
    row.set("PO_ID", &po.po_id);
    row.set_opt("VENDOR_SETID", &po.vendor_setid);
    row.set("VENDOR_ID", &po.vendor_id);
    row.set_opt("PO_DT", &po.po_dt);
    row.set_opt("BUYER_ID", &po.buyer_id);
    row.set_opt("CURRENCY_CD", &po.currency_cd);
    row.set_opt("PO_REF", &po.po_ref);
    let lines = po
        .lines
        .iter()
        .map(|line| {
            let mut l = Row::default();
            l.set("LINE_NBR", line.line_nbr.to_string());
            l.set_opt("INV_ITEM_ID", &line.inv_item_id);
            l.set_opt("DESCR254_MIXED", &line.descr254_mixed);
            l.set_opt("UNIT_OF_MEASURE", &line.unit_of_measure);
            l.set_opt("CATEGORY_ID", &line.category_id);
            let ships = line
                .schedules
                .iter()
                .map(|ship| {
                    let mut s = Row::default();
                    s.set("SCHED_NBR", ship.sched_nbr.to_string());
                    s.set("QTY_PO", ship.qty_po.to_string());
                    s.set("PRICE_PO", ship.price_po.to_string());
                    s.set_opt("DUE_DT", &ship.due_dt);
                    s.set_opt("SHIPTO_ID", &ship.shipto_id);
                    let dists = ship
                        .distributions
                        .iter()
                        .map(|d| {
                            let mut r = Row::default();
                            r.set("DISTRIB_LINE_NUM", d.distrib_line_num.to_string());
                            r.set("QTY_PO", d.qty_po.to_string());
                            r.set_opt("BUSINESS_UNIT_GL", &d.business_unit_gl);
                            r.set("ACCOUNT", &d.account);
                            r.set_opt("DEPTID", &d.deptid);
                            r.set_opt("OPERATING_UNIT", &d.operating_unit);
                            r.set_opt("FUND_CODE", &d.fund_code);
                            r.set_opt("PRODUCT", &d.product);
                            r.set_opt("PROJECT_ID", &d.project_id);
                            r
                        })
                        .collect();
                    s.scrolls.insert("PO_LINE_DISTRIB", dists);
                    s
                })
                .collect();
            l.scrolls.insert("PO_LINE_SHIP", ships);
            l
        })
        .collect();
    row.scrolls.insert("PO_LINE", lines);
    row
}

// ---------------------------------------------------------------------------
// PO_EXPRESS business rules

fn create_po(row: &Row, user: &str, records: &mut Records) -> Result<Row, Vec<CiMessage>> {
    let mut messages = Vec::new();
    let mut po = po_from_row(row, &mut messages, user);
    let requested = po.po_id.trim().to_owned();
    if requested != "NEXT"
        && !requested.is_empty()
        && records
            .purchase_orders
            .iter()
            .any(|p| p.business_unit == po.business_unit && p.po_id == po.po_id)
    {
        messages.push(message(
            DUPLICATE,
            format!(
                "PO_ID: Data being added conflicts with existing data: purchase order {} already exists in business unit {}.",
                po.po_id, po.business_unit
            ),
            "Send PO_ID NEXT to have the next number assigned, or a PO_ID not yet used in the business unit.",
        ));
    }
    validate_po(&po, records, &mut messages);
    if !messages.is_empty() {
        return Err(messages);
    }
    if requested == "NEXT" {
        po.po_id = format!("{:010}", records.next_po);
        records.next_po += 1;
    }
    let keys = po_keys(&po);
    records.purchase_orders.push(po);
    Ok(keys)
}

fn update_po(patch: &Row, records: &mut Records) -> Result<Row, Vec<CiMessage>> {
    let bu = patch.get("BUSINESS_UNIT").unwrap_or_default().to_owned();
    let po_id = patch.get("PO_ID").unwrap_or_default().to_owned();
    let Some(index) = records
        .purchase_orders
        .iter()
        .position(|p| p.business_unit == bu && p.po_id == po_id)
    else {
        return Err(vec![message(
            NO_ROWS,
            format!(
                "No rows exist for the specified keys. PO_EXPRESS BUSINESS_UNIT={bu}, PO_ID={po_id}"
            ),
            "Update needs the BUSINESS_UNIT and PO_ID of an existing purchase order.",
        )]);
    };
    let existing = &records.purchase_orders[index];
    let mut merged = po_to_row(existing);
    merge(&mut merged, patch, &CIS[0].level0);
    let mut messages = Vec::new();
    let mut updated = po_from_row(&merged, &mut messages, &existing.created_by);
    validate_po(&updated, records, &mut messages);
    if !messages.is_empty() {
        return Err(messages);
    }
    updated.lastupddttm = now();
    let keys = po_keys(&updated);
    records.purchase_orders[index] = updated;
    Ok(keys)
}

fn po_keys(po: &PurchaseOrder) -> Row {
    let mut keys = Row::default();
    keys.set("BUSINESS_UNIT", &po.business_unit);
    keys.set("PO_ID", &po.po_id);
    keys
}

/// The checks the express PO component makes on save.
fn validate_po(po: &PurchaseOrder, records: &Records, messages: &mut Vec<CiMessage>) {
    if !po.business_unit.is_empty() && !catalog::BUSINESS_UNITS.contains(&po.business_unit.as_str())
    {
        messages.push(invalid_value(
            "BUSINESS_UNIT",
            &po.business_unit,
            "the purchasing business units",
        ));
    }
    let setid = po.vendor_setid.as_deref().unwrap_or(catalog::SETID);
    if setid != catalog::SETID {
        messages.push(invalid_value("VENDOR_SETID", setid, "the SetIDs"));
    } else if !po.vendor_id.is_empty() {
        match records.vendor(setid, &po.vendor_id) {
            None => messages.push(invalid_value(
                "VENDOR_ID",
                &po.vendor_id,
                &format!("SETID {setid}'s suppliers"),
            )),
            Some(v) if v.vendor_status != "A" => messages.push(message(
                VENDOR_INACTIVE,
                format!(
                    "VENDOR_ID: Vendor '{}' ({}) is inactive in SETID {setid}.",
                    v.vendor_id, v.name1
                ),
                "Purchase orders may only be created for approved, active suppliers (VENDOR_STATUS A).",
            )),
            Some(_) => {}
        }
    }
    if let Some(currency) = &po.currency_cd
        && !CURRENCIES.contains(&currency.as_str())
    {
        messages.push(invalid_value("CURRENCY_CD", currency, "the currency codes"));
    }
    let asof = po
        .po_dt
        .as_deref()
        .and_then(parse_date)
        .unwrap_or_else(|| now().date());
    if po.lines.is_empty() {
        messages.push(message(
            ROW_MISSING,
            "PO_LINE: A purchase order needs at least one line.".to_owned(),
            "Add a PO_LINE with a PO_LINE_SHIP and a PO_LINE_DISTRIB.",
        ));
    }
    let mut seen_lines = Vec::new();
    for line in &po.lines {
        if seen_lines.contains(&line.line_nbr) {
            messages.push(duplicate_row("LINE_NBR", line.line_nbr, "PO_LINE"));
        }
        seen_lines.push(line.line_nbr);
        if line.schedules.is_empty() {
            messages.push(message(
                ROW_MISSING,
                format!("PO_LINE_SHIP: PO_LINE {} has no schedule.", line.line_nbr),
                "Each PO_LINE needs at least one PO_LINE_SHIP with QTY_PO and PRICE_PO.",
            ));
        }
        let mut seen_scheds = Vec::new();
        for ship in &line.schedules {
            let at = format!("PO_LINE {} PO_LINE_SHIP {}", line.line_nbr, ship.sched_nbr);
            if seen_scheds.contains(&ship.sched_nbr) {
                messages.push(duplicate_row(
                    "SCHED_NBR",
                    ship.sched_nbr,
                    &format!("PO_LINE {}", line.line_nbr),
                ));
            }
            seen_scheds.push(ship.sched_nbr);
            if ship.qty_po <= Decimal::ZERO {
                messages.push(message(
                    QTY_NOT_POSITIVE,
                    format!(
                        "QTY_PO: Quantity {} must be greater than zero in {at}.",
                        ship.qty_po
                    ),
                    "Schedule and distribution quantities must be positive.",
                ));
            }
            if ship.price_po <= Decimal::ZERO {
                messages.push(message(
                    PRICE_NOT_POSITIVE,
                    format!(
                        "PRICE_PO: Price {} must be greater than zero in {at}.",
                        ship.price_po
                    ),
                    "Enter a positive unit price for the schedule.",
                ));
            }
            if ship.distributions.is_empty() {
                messages.push(message(
                    ROW_MISSING,
                    format!("PO_LINE_DISTRIB: {at} has no distribution."),
                    "Each schedule needs at least one PO_LINE_DISTRIB with ACCOUNT and QTY_PO.",
                ));
                continue;
            }
            let mut seen_dists = Vec::new();
            let mut total = Decimal::ZERO;
            for d in &ship.distributions {
                let at = format!("{at} PO_LINE_DISTRIB {}", d.distrib_line_num);
                if seen_dists.contains(&d.distrib_line_num) {
                    messages.push(duplicate_row("DISTRIB_LINE_NUM", d.distrib_line_num, &at));
                }
                seen_dists.push(d.distrib_line_num);
                total += d.qty_po;
                if d.qty_po <= Decimal::ZERO {
                    messages.push(message(
                        QTY_NOT_POSITIVE,
                        format!(
                            "QTY_PO: Quantity {} must be greater than zero in {at}.",
                            d.qty_po
                        ),
                        "Schedule and distribution quantities must be positive.",
                    ));
                }
                if let Some(bu) = &d.business_unit_gl
                    && !catalog::BUSINESS_UNITS.contains(&bu.as_str())
                {
                    messages.push(invalid_value(
                        "BUSINESS_UNIT_GL",
                        bu,
                        "the GL business units",
                    ));
                }
                if !d.account.is_empty() {
                    check_chartfield(
                        &records.accounts,
                        "ACCOUNT",
                        &d.account,
                        asof,
                        &at,
                        messages,
                    );
                }
                if let Some(dept) = &d.deptid
                    && !dept.is_empty()
                {
                    check_chartfield(&records.departments, "DEPTID", dept, asof, &at, messages);
                }
            }
            if total != ship.qty_po {
                messages.push(message(
                    DISTRIB_MISMATCH,
                    format!(
                        "QTY_PO: Distribution quantities of {at} total {total}, which does not equal the schedule quantity {}.",
                        ship.qty_po
                    ),
                    "The sum of PO_LINE_DISTRIB.QTY_PO must equal PO_LINE_SHIP.QTY_PO.",
                ));
            }
        }
    }
}

fn duplicate_row(field: &str, value: u32, at: &str) -> CiMessage {
    message(
        DUPLICATE,
        format!(
            "{field}: Data being added conflicts with existing data: {field} {value} appears twice in {at}."
        ),
        format!("Each row needs its own {field}."),
    )
}

fn check_chartfield(
    rows: &[ChartFieldValue],
    field: &str,
    value: &str,
    asof: NaiveDate,
    at: &str,
    messages: &mut Vec<CiMessage>,
) {
    match current_row(rows, catalog::SETID, value, asof) {
        None => messages.push(invalid_value(
            field,
            value,
            &format!(
                "SETID {}'s {field} values as of {asof} ({at})",
                catalog::SETID
            ),
        )),
        Some(row) if row.eff_status != "A" => messages.push(message(
            CHARTFIELD_INACTIVE,
            format!(
                "{field}: ChartField value '{value}' is inactive as of {asof} in SETID {} ({at}).",
                catalog::SETID
            ),
            format!(
                "{field} {value} ({}) has EFF_STATUS I; use an active value.",
                row.descr
            ),
        )),
        Some(_) => {}
    }
}

// ---------------------------------------------------------------------------
// VNDR_ID

fn vendor_to_row(v: &Vendor) -> Row {
    let mut row = Row::default();
    row.set("SETID", &v.setid);
    row.set("VENDOR_ID", &v.vendor_id);
    row.set("NAME1", &v.name1);
    row.set_opt("NAME2", &v.name2);
    row.set("VENDOR_STATUS", &v.vendor_status);
    let addrs = v
        .addresses
        .iter()
        .map(|a| {
            let mut r = Row::default();
            r.set("ADDRESS_SEQ_NUM", a.address_seq_num.to_string());
            r.set("EFFDT", a.effdt.to_string());
            r.set("EFF_STATUS", &a.eff_status);
            r.set_opt("ADDRESS1", &a.address1);
            r.set_opt("CITY", &a.city);
            r.set_opt("STATE", &a.state);
            r.set_opt("POSTAL", &a.postal);
            r.set_opt("COUNTRY", &a.country);
            r
        })
        .collect();
    row.scrolls.insert("VENDOR_ADDR", addrs);
    row
}

fn status_of(r: &mut Reader<'_>, row: &Row, field: &str) -> String {
    match row.get(field) {
        None => "A".to_owned(),
        Some(s) if s == "A" || s == "I" => s.to_owned(),
        Some(other) => {
            r.messages
                .push(invalid_value(field, other, "A (active) and I (inactive)"));
            other.to_owned()
        }
    }
}

fn create_vendor(row: &Row, records: &mut Records) -> Result<Row, Vec<CiMessage>> {
    let mut messages = Vec::new();
    let mut r = Reader {
        messages: &mut messages,
        at: String::new(),
    };
    let setid = r.required(row, "SETID");
    let vendor_id = r.required(row, "VENDOR_ID");
    let name1 = r.required(row, "NAME1");
    let name2 = r.optional(row, "NAME2");
    let vendor_status = status_of(&mut r, row, "VENDOR_STATUS");
    let mut addresses = Vec::new();
    for (i, addr) in row.rows("VENDOR_ADDR").iter().enumerate() {
        r.at = format!(" in VENDOR_ADDR {}", i + 1);
        let address_seq_num = match addr.get("ADDRESS_SEQ_NUM") {
            Some(_) => r.number(addr, "ADDRESS_SEQ_NUM"),
            None => i as u32 + 1,
        };
        let effdt = r
            .date(addr, "EFFDT")
            .and_then(|d| parse_date(&d))
            .unwrap_or_else(|| now().date());
        let eff_status = status_of(&mut r, addr, "EFF_STATUS");
        let country = r.optional(addr, "COUNTRY");
        if let Some(c) = &country
            && !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            r.messages.push(invalid_value(
                "COUNTRY",
                c,
                "the 3-letter country codes (e.g. USA)",
            ));
        }
        addresses.push(VendorAddress {
            address_seq_num,
            effdt,
            eff_status,
            address1: r.optional(addr, "ADDRESS1"),
            city: r.optional(addr, "CITY"),
            state: r.optional(addr, "STATE"),
            postal: r.optional(addr, "POSTAL"),
            country,
        });
    }
    if !setid.is_empty() && setid != catalog::SETID {
        messages.push(invalid_value("SETID", &setid, "the SetIDs"));
    }
    let next = vendor_id.trim() == "NEXT";
    if !next && !vendor_id.is_empty() && records.vendor(&setid, &vendor_id).is_some() {
        messages.push(message(
            DUPLICATE,
            format!("VENDOR_ID: Data being added conflicts with existing data: vendor {vendor_id} already exists in SETID {setid}."),
            "Send VENDOR_ID NEXT to have the next number assigned.",
        ));
    }
    if !messages.is_empty() {
        return Err(messages);
    }
    let vendor_id = if next {
        // Skip numbers a client already used explicitly.
        loop {
            let candidate = format!("{:010}", records.next_vendor);
            records.next_vendor += 1;
            if records.vendor(&setid, &candidate).is_none() {
                break candidate;
            }
        }
    } else {
        vendor_id
    };
    let vendor = Vendor {
        setid,
        vendor_id,
        name1,
        name2,
        vendor_status,
        addresses,
        lastupddttm: now(),
    };
    let mut keys = Row::default();
    keys.set("SETID", &vendor.setid);
    keys.set("VENDOR_ID", &vendor.vendor_id);
    records.vendors.push(vendor);
    Ok(keys)
}

// ---------------------------------------------------------------------------
// ACCOUNT_CF / DEPT_CF

#[derive(Debug, Clone, Copy)]
enum ChartField {
    Account,
    Department,
}

impl ChartField {
    fn field(self) -> &'static str {
        match self {
            ChartField::Account => "ACCOUNT",
            ChartField::Department => "DEPTID",
        }
    }
}

fn chartfield_to_row(c: &ChartFieldValue, field: &'static str) -> Row {
    let mut row = Row::default();
    row.set("SETID", &c.setid);
    row.set(field, &c.value);
    row.set("EFFDT", c.effdt.to_string());
    row.set("EFF_STATUS", &c.eff_status);
    row.set("DESCR", &c.descr);
    row
}

fn create_chartfield(
    ci: &CiDef,
    row: &Row,
    records: &mut Records,
    which: ChartField,
) -> Result<Row, Vec<CiMessage>> {
    let field = which.field();
    let mut messages = Vec::new();
    let mut r = Reader {
        messages: &mut messages,
        at: String::new(),
    };
    let setid = r.required(row, "SETID");
    let value = r.required(row, field);
    let effdt = r
        .date(row, "EFFDT")
        .and_then(|d| parse_date(&d))
        .unwrap_or_else(|| now().date());
    let eff_status = status_of(&mut r, row, "EFF_STATUS");
    let descr = r.required(row, "DESCR");
    if !setid.is_empty() && setid != catalog::SETID {
        messages.push(invalid_value("SETID", &setid, "the SetIDs"));
    }
    let rows = match which {
        ChartField::Account => &mut records.accounts,
        ChartField::Department => &mut records.departments,
    };
    if rows
        .iter()
        .any(|c| c.setid == setid && c.value == value && c.effdt == effdt)
    {
        messages.push(message(
            DUPLICATE,
            format!(
                "{field}: Data being added conflicts with existing data: {} {value} effective {effdt} already exists in SETID {setid}.",
                ci.name
            ),
            "A ChartField value can have one row per effective date; use a new EFFDT to change it.",
        ));
    }
    if !messages.is_empty() {
        return Err(messages);
    }
    let created = ChartFieldValue {
        setid,
        value,
        effdt,
        eff_status,
        descr,
        lastupddttm: now(),
    };
    let keys = chartfield_to_row(&created, field);
    rows.push(created);
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peoplesoft::xml::parse;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn records() -> Records {
        Records::seeded(&mut StdRng::seed_from_u64(7))
    }

    fn po_xml(inner: &str) -> Element {
        parse(format!("<Create__CompIntfc__PO_EXPRESS xmlns=\"urn:x\">{inner}</Create__CompIntfc__PO_EXPRESS>").as_bytes()).unwrap()
    }

    const GOOD_LINES: &str = "<PO_LINE><LINE_NBR>1</LINE_NBR><DESCR254_MIXED>Bolts</DESCR254_MIXED><PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>10.50</QTY_PO><PRICE_PO>2.125</PRICE_PO><PO_LINE_DISTRIB><DISTRIB_LINE_NUM>1</DISTRIB_LINE_NUM><QTY_PO>10.5</QTY_PO><ACCOUNT>610000</ACCOUNT><DEPTID>10100</DEPTID></PO_LINE_DISTRIB></PO_LINE_SHIP></PO_LINE>";

    fn create(records: &mut Records, header: &str, lines: &str) -> String {
        let el = po_xml(&format!("{header}{lines}"));
        match execute(&CIS[0], CiMethod::Create, &el, "urn:r", "U", records) {
            CiReply::Body(b) => b,
            CiReply::Fault(f) => panic!("fault {f:?}"),
        }
    }

    #[test]
    fn decimals_are_parsed_strictly_and_keep_their_scale() {
        assert_eq!(parse_decimal("10.50").unwrap().to_string(), "10.50");
        assert_eq!(parse_decimal("-1").unwrap().to_string(), "-1");
        assert_eq!(parse_decimal(".5").unwrap().to_string(), "0.5");
        for bad in ["1e3", "1_000", "", ".", "1.2.3", "abc", "1,5"] {
            assert!(parse_decimal(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn create_assigns_next_po_ids_in_sequence() {
        let mut recs = records();
        let header = "<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID><VENDOR_ID>0000000101</VENDOR_ID>";
        let first = create(&mut recs, header, GOOD_LINES);
        let second = create(&mut recs, header, GOOD_LINES);
        assert!(first.contains("<notification>1</notification>"), "{first}");
        assert!(first.contains("<PO_ID>0000100001</PO_ID>"), "{first}");
        assert!(second.contains("<PO_ID>0000100002</PO_ID>"), "{second}");
        assert_eq!(
            recs.purchase_orders[0].lines[0].schedules[0]
                .qty_po
                .to_string(),
            "10.50"
        );
    }

    #[test]
    fn unknown_property_is_refused_with_the_valid_names() {
        let mut recs = records();
        let body = create(
            &mut recs,
            "<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID><VENDOR_ID>0000000101</VENDOR_ID><COLOUR>red</COLOUR>",
            GOOD_LINES,
        );
        assert!(body.contains("<notification>0</notification>"));
        assert!(
            body.contains("&apos;COLOUR&apos;") || body.contains("'COLOUR'"),
            "{body}"
        );
        assert!(recs.purchase_orders.is_empty());
    }

    #[test]
    fn update_merges_lines_by_key_and_revalidates() {
        let mut recs = records();
        create(
            &mut recs,
            "<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID><VENDOR_ID>0000000101</VENDOR_ID>",
            GOOD_LINES,
        );
        let patch = parse(b"<Update__CompIntfc__PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000100001</PO_ID><PO_REF>REQ-9</PO_REF><PO_LINE><LINE_NBR>1</LINE_NBR><DESCR254_MIXED>Nuts</DESCR254_MIXED></PO_LINE></Update__CompIntfc__PO_EXPRESS>").unwrap();
        let CiReply::Body(body) =
            execute(&CIS[0], CiMethod::Update, &patch, "urn:r", "U", &mut recs)
        else {
            panic!("fault")
        };
        assert!(body.contains("<notification>1</notification>"), "{body}");
        let po = &recs.purchase_orders[0];
        assert_eq!(po.po_ref.as_deref(), Some("REQ-9"));
        assert_eq!(po.lines.len(), 1);
        assert_eq!(po.lines[0].descr254_mixed.as_deref(), Some("Nuts"));
        assert_eq!(po.lines[0].schedules.len(), 1);

        let bad = parse(b"<Update__CompIntfc__PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000100001</PO_ID><PO_LINE><LINE_NBR>1</LINE_NBR><PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>11</QTY_PO></PO_LINE_SHIP></PO_LINE></Update__CompIntfc__PO_EXPRESS>").unwrap();
        let CiReply::Body(body) = execute(&CIS[0], CiMethod::Update, &bad, "urn:r", "U", &mut recs)
        else {
            panic!("fault")
        };
        assert!(
            body.contains("<messagenumber>142</messagenumber>"),
            "{body}"
        );
        assert_eq!(
            recs.purchase_orders[0].lines[0].schedules[0]
                .qty_po
                .to_string(),
            "10.50"
        );
    }

    #[test]
    fn chartfield_effective_dating_picks_the_latest_row_not_after_the_date() {
        let mut recs = records();
        let el = parse(b"<Create__CompIntfc__ACCOUNT_CF><SETID>SHARE</SETID><ACCOUNT>610000</ACCOUNT><EFFDT>2030-01-01</EFFDT><EFF_STATUS>I</EFF_STATUS><DESCR>Office Supplies</DESCR></Create__CompIntfc__ACCOUNT_CF>").unwrap();
        let CiReply::Body(body) = execute(&CIS[2], CiMethod::Create, &el, "urn:r", "U", &mut recs)
        else {
            panic!("fault")
        };
        assert!(body.contains("<notification>1</notification>"), "{body}");
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let later = NaiveDate::from_ymd_opt(2031, 1, 1).unwrap();
        assert_eq!(
            current_row(&recs.accounts, "SHARE", "610000", today)
                .unwrap()
                .eff_status,
            "A"
        );
        assert_eq!(
            current_row(&recs.accounts, "SHARE", "610000", later)
                .unwrap()
                .eff_status,
            "I"
        );
    }
}
