//! The PeopleSoft records the emulator keeps (purchase orders, suppliers,
//! ChartFields, vouchers), exactly as received, and the seeded starting data.

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::catalog;

/// An express purchase order (component `PURCHASE_ORDER_EXP`, CI `PO_EXPRESS`),
/// holding exactly the values the client sent (plus the assigned `PO_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    /// `BUSINESS_UNIT`.
    pub business_unit: String,
    /// `PO_ID` as stored (the assigned number when `NEXT` was sent).
    pub po_id: String,
    /// `VENDOR_SETID` as sent.
    pub vendor_setid: Option<String>,
    /// `VENDOR_ID`.
    pub vendor_id: String,
    /// `PO_DT` (YYYY-MM-DD) as sent.
    pub po_dt: Option<String>,
    /// `BUYER_ID` as sent.
    pub buyer_id: Option<String>,
    /// `CURRENCY_CD` as sent.
    pub currency_cd: Option<String>,
    /// `PO_REF` as sent (the Procurify reference, used for lookups).
    pub po_ref: Option<String>,
    /// `PO_LINE` rows.
    pub lines: Vec<PoLine>,
    /// The user whose credentials created the PO.
    pub created_by: String,
    /// Last update time (UTC).
    pub lastupddttm: NaiveDateTime,
}

/// One `PO_LINE` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoLine {
    /// `LINE_NBR`.
    pub line_nbr: u32,
    /// `INV_ITEM_ID` as sent.
    pub inv_item_id: Option<String>,
    /// `DESCR254_MIXED` as sent.
    pub descr254_mixed: Option<String>,
    /// `UNIT_OF_MEASURE` as sent.
    pub unit_of_measure: Option<String>,
    /// `CATEGORY_ID` as sent.
    pub category_id: Option<String>,
    /// `PO_LINE_SHIP` rows.
    pub schedules: Vec<PoSchedule>,
}

/// One `PO_LINE_SHIP` row (a schedule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoSchedule {
    /// `SCHED_NBR`.
    pub sched_nbr: u32,
    /// `QTY_PO` (exact decimal, scale as sent).
    pub qty_po: Decimal,
    /// `PRICE_PO` (exact decimal, scale as sent).
    pub price_po: Decimal,
    /// `DUE_DT` as sent.
    pub due_dt: Option<String>,
    /// `SHIPTO_ID` as sent.
    pub shipto_id: Option<String>,
    /// `PO_LINE_DISTRIB` rows.
    pub distributions: Vec<PoDistribution>,
}

/// One `PO_LINE_DISTRIB` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoDistribution {
    /// `DISTRIB_LINE_NUM`.
    pub distrib_line_num: u32,
    /// `QTY_PO` (exact decimal).
    pub qty_po: Decimal,
    /// `BUSINESS_UNIT_GL` as sent.
    pub business_unit_gl: Option<String>,
    /// `ACCOUNT`.
    pub account: String,
    /// `DEPTID` as sent.
    pub deptid: Option<String>,
    /// `OPERATING_UNIT` as sent.
    pub operating_unit: Option<String>,
    /// `FUND_CODE` as sent.
    pub fund_code: Option<String>,
    /// `PRODUCT` as sent.
    pub product: Option<String>,
    /// `PROJECT_ID` as sent.
    pub project_id: Option<String>,
}

impl PurchaseOrder {
    /// Sum of `QTY_PO * PRICE_PO` over all schedules of `line_nbr`.
    pub fn line_amount(&self, line_nbr: u32) -> Decimal {
        self.lines
            .iter()
            .filter(|l| l.line_nbr == line_nbr)
            .flat_map(|l| l.schedules.iter())
            .map(|s| s.qty_po * s.price_po)
            .sum()
    }

    /// The monetary amount of `line_nbr` as AP vouchers it (`MERCHANDISE_AMT`):
    /// [`Self::line_amount`] at the PO currency's precision.
    pub fn line_monetary_amount(&self, line_nbr: u32) -> Decimal {
        monetary(self.line_amount(line_nbr), self.currency_cd.as_deref())
    }
}

/// Decimal places of an amount in `currency` (`CURRENCY_CD_TBL.DECIMAL_POSITIONS`):
/// 0 for JPY, 2 for the other currencies the site holds and when none is given.
pub fn currency_decimals(currency: Option<&str>) -> u32 {
    match currency {
        Some("JPY") => 0,
        _ => 2,
    }
}

/// `amount` rounded to `currency`'s precision, half away from zero, and written
/// with exactly that many decimals (`166.666545000` -> `166.67`, `20` -> `20.00`).
/// Half away from zero (commercial rounding), not banker's: it is what an
/// invoice's extended amount shows and what the databases PeopleSoft runs on
/// do in SQL `ROUND` (Oracle, SQL Server, Db2 all round half away from zero).
pub fn monetary(amount: Decimal, currency: Option<&str>) -> Decimal {
    let places = currency_decimals(currency);
    let mut rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    // After rounding the scale is at most `places`; rescale only pads zeros.
    rounded.rescale(places);
    rounded
}

/// A supplier (record `VENDOR`, CI `VNDR_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    /// `SETID`.
    pub setid: String,
    /// `VENDOR_ID`.
    pub vendor_id: String,
    /// `NAME1`.
    pub name1: String,
    /// `NAME2` as sent.
    pub name2: Option<String>,
    /// `VENDOR_STATUS`: `A` (approved/active) or `I` (inactive).
    pub vendor_status: String,
    /// Effective-dated `VENDOR_ADDR` rows.
    pub addresses: Vec<VendorAddress>,
    /// Last update time (UTC).
    pub lastupddttm: NaiveDateTime,
}

/// One effective-dated `VENDOR_ADDR` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorAddress {
    /// `ADDRESS_SEQ_NUM`.
    pub address_seq_num: u32,
    /// `EFFDT`.
    pub effdt: NaiveDate,
    /// `EFF_STATUS` (`A`/`I`).
    pub eff_status: String,
    /// `ADDRESS1` as sent.
    pub address1: Option<String>,
    /// `CITY` as sent.
    pub city: Option<String>,
    /// `STATE` as sent.
    pub state: Option<String>,
    /// `POSTAL` as sent.
    pub postal: Option<String>,
    /// `COUNTRY` as sent.
    pub country: Option<String>,
}

/// One effective-dated ChartField row: a GL `ACCOUNT` (CI `ACCOUNT_CF`) or a
/// department `DEPTID` (CI `DEPT_CF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFieldValue {
    /// `SETID`.
    pub setid: String,
    /// The `ACCOUNT` or `DEPTID` value.
    pub value: String,
    /// `EFFDT`.
    pub effdt: NaiveDate,
    /// `EFF_STATUS`: `A` or `I`.
    pub eff_status: String,
    /// `DESCR`.
    pub descr: String,
    /// Last update time (UTC).
    pub lastupddttm: NaiveDateTime,
}

/// An AP voucher (tables `VOUCHER` and `VOUCHER_LINE`), readable through QAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    /// `BUSINESS_UNIT`.
    pub business_unit: String,
    /// `VOUCHER_ID` (8 digits).
    pub voucher_id: String,
    /// `INVOICE_ID`.
    pub invoice_id: String,
    /// `INVOICE_DT`.
    pub invoice_dt: NaiveDate,
    /// `VENDOR_ID`.
    pub vendor_id: String,
    /// `ENTRY_STATUS` (`P` postable, `R` recorded).
    pub entry_status: String,
    /// `MATCH_STATUS_VCHR` (`M` matched, `T` to be matched, `E` exceptions, `N` not applicable).
    pub match_status_vchr: String,
    /// `VOUCHER_LINE` rows.
    pub lines: Vec<VoucherLine>,
    /// Last update time (UTC).
    pub lastupddttm: NaiveDateTime,
}

/// One `VOUCHER_LINE` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherLine {
    /// `VOUCHER_LINE_NUM`.
    pub voucher_line_num: u32,
    /// `PO_ID` the line was matched against, if any.
    pub po_id: Option<String>,
    /// `LINE_NBR` of that PO line (0 without a PO).
    pub line_nbr: u32,
    /// `MERCHANDISE_AMT`.
    pub merchandise_amt: Decimal,
}

/// The date all seeded ChartFields and suppliers become effective.
pub(crate) fn seed_effdt() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

/// The current UTC time truncated to whole seconds (PeopleSoft stores DateTime
/// with microseconds, but the seconds are what clients compare).
pub(crate) fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now - Duration::nanoseconds(i64::from(now.and_utc().timestamp_subsec_nanos()))
}

/// Seeded suppliers: the shared catalog ones, the PeopleSoft-only ones, and one
/// inactive supplier that no purchase order may use.
pub(crate) fn seed_vendors(now: NaiveDateTime) -> Vec<Vendor> {
    let active = catalog::SHARED_VENDORS
        .iter()
        .chain(catalog::PEOPLESOFT_ONLY_VENDORS.iter())
        .map(|v| (v.vendor_id, v.name, "A"));
    let inactive = std::iter::once((INACTIVE_VENDOR_ID, "Defunct Tooling Ltd", "I"));
    active
        .chain(inactive)
        .enumerate()
        .map(|(i, (vendor_id, name, status))| Vendor {
            setid: catalog::SETID.to_owned(),
            vendor_id: vendor_id.to_owned(),
            name1: name.to_owned(),
            name2: None,
            vendor_status: status.to_owned(),
            addresses: vec![VendorAddress {
                address_seq_num: 1,
                effdt: seed_effdt(),
                eff_status: "A".to_owned(),
                address1: Some(format!("{} Industrial Way", 100 + i * 10)),
                city: Some("Springfield".to_owned()),
                state: Some("IL".to_owned()),
                postal: Some(format!("627{:02}", i)),
                country: Some("USA".to_owned()),
            }],
            lastupddttm: now - Duration::days(30 - i as i64),
        })
        .collect()
}

/// The seeded inactive supplier (`VENDOR_STATUS` `I`).
pub const INACTIVE_VENDOR_ID: &str = "0000000999";
/// A seeded GL account whose current row is inactive.
pub const INACTIVE_ACCOUNT: &str = "699000";
/// A seeded department whose current row is inactive.
pub const INACTIVE_DEPTID: &str = "99900";

/// Seeded GL accounts: the catalog ones (active) plus [`INACTIVE_ACCOUNT`].
pub(crate) fn seed_accounts(now: NaiveDateTime) -> Vec<ChartFieldValue> {
    catalog::GL_ACCOUNTS
        .iter()
        .map(|a| (a.code, a.description, "A"))
        .chain(std::iter::once((
            INACTIVE_ACCOUNT,
            "Obsolete - Do Not Use",
            "I",
        )))
        .map(|(value, descr, status)| chartfield(value, descr, status, now))
        .collect()
}

/// Seeded departments: the catalog cost centers (active) plus [`INACTIVE_DEPTID`].
pub(crate) fn seed_departments(now: NaiveDateTime) -> Vec<ChartFieldValue> {
    catalog::COST_CENTERS
        .iter()
        .map(|c| (c.deptid, c.name, "A"))
        .chain(std::iter::once((INACTIVE_DEPTID, "Closed Division", "I")))
        .map(|(value, descr, status)| chartfield(value, descr, status, now))
        .collect()
}

fn chartfield(value: &str, descr: &str, status: &str, now: NaiveDateTime) -> ChartFieldValue {
    ChartFieldValue {
        setid: catalog::SETID.to_owned(),
        value: value.to_owned(),
        effdt: seed_effdt(),
        eff_status: status.to_owned(),
        descr: descr.to_owned(),
        lastupddttm: now - Duration::days(60),
    }
}

/// First voucher number handed out (seeded and added vouchers count up from it).
pub(crate) const FIRST_VOUCHER: u64 = 10_001;

/// Seeded vouchers: non-PO invoices (`MATCH_STATUS_VCHR` `N`) from shared
/// suppliers, updated over the last weeks; none of them matches a PO.
pub(crate) fn seed_vouchers(rng: &mut StdRng, now: NaiveDateTime) -> Vec<Voucher> {
    (0..4u64)
        .map(|i| {
            let vendor = &catalog::SHARED_VENDORS[(i as usize * 3) % catalog::SHARED_VENDORS.len()];
            let updated = now
                - Duration::days(28 - 7 * i as i64)
                - Duration::minutes(rng.random_range(0..600));
            let lines = (1..=rng.random_range(1..=3u32))
                .map(|n| VoucherLine {
                    voucher_line_num: n,
                    po_id: None,
                    line_nbr: 0,
                    merchandise_amt: Decimal::new(rng.random_range(1_000..500_000), 2),
                })
                .collect();
            Voucher {
                business_unit: catalog::BUSINESS_UNITS[0].to_owned(),
                voucher_id: format!("{:08}", FIRST_VOUCHER + i),
                invoice_id: format!("INV-{}", 7000 + rng.random_range(0..1000) * 4 + i),
                invoice_dt: updated.date() - Duration::days(3),
                vendor_id: vendor.vendor_id.to_owned(),
                entry_status: "P".to_owned(),
                match_status_vchr: "N".to_owned(),
                lines,
                lastupddttm: updated,
            }
        })
        .collect()
}

/// First `PO_ID` number `NEXT` assigns (`0000100001`).
pub(crate) const FIRST_PO: u64 = 100_001;
/// First `VENDOR_ID` number `NEXT` assigns (`0000001001`).
pub(crate) const FIRST_VENDOR: u64 = 1_001;

/// Everything the emulated database holds, behind the emulator's lock.
#[derive(Debug)]
pub(crate) struct Records {
    pub vendors: Vec<Vendor>,
    pub accounts: Vec<ChartFieldValue>,
    pub departments: Vec<ChartFieldValue>,
    pub purchase_orders: Vec<PurchaseOrder>,
    pub vouchers: Vec<Voucher>,
    pub next_po: u64,
    pub next_vendor: u64,
    pub next_voucher: u64,
}

impl Records {
    /// The seeded starting data.
    pub(crate) fn seeded(rng: &mut StdRng) -> Self {
        let now = now();
        let vouchers = seed_vouchers(rng, now);
        Records {
            vendors: seed_vendors(now),
            accounts: seed_accounts(now),
            departments: seed_departments(now),
            purchase_orders: Vec::new(),
            next_voucher: FIRST_VOUCHER + vouchers.len() as u64,
            vouchers,
            next_po: FIRST_PO,
            next_vendor: FIRST_VENDOR,
        }
    }

    /// The supplier `vendor_id` in `setid`.
    pub(crate) fn vendor(&self, setid: &str, vendor_id: &str) -> Option<&Vendor> {
        self.vendors
            .iter()
            .find(|v| v.setid == setid && v.vendor_id == vendor_id)
    }
}

/// The row of `value` in `setid` in effect on `asof` (latest `EFFDT` not after it).
pub(crate) fn current_row<'a>(
    rows: &'a [ChartFieldValue],
    setid: &str,
    value: &str,
    asof: NaiveDate,
) -> Option<&'a ChartFieldValue> {
    rows.iter()
        .filter(|r| r.setid == setid && r.value == value && r.effdt <= asof)
        .max_by_key(|r| r.effdt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn monetary_amounts_round_half_away_from_zero_to_two_places() {
        assert_eq!(
            monetary(dec("166.666545000"), Some("USD")).to_string(),
            "166.67"
        );
        // Banker's rounding would give 0.12 and -0.12.
        assert_eq!(monetary(dec("0.125"), Some("USD")).to_string(), "0.13");
        assert_eq!(monetary(dec("-0.125"), None).to_string(), "-0.13");
        assert_eq!(monetary(dec("0.124999"), Some("EUR")).to_string(), "0.12");
    }

    #[test]
    fn monetary_amounts_carry_exactly_the_currency_precision() {
        assert_eq!(monetary(dec("20"), Some("USD")).to_string(), "20.00");
        assert_eq!(monetary(dec("136.5"), Some("CAD")).to_string(), "136.50");
        assert_eq!(monetary(dec("1234.5"), Some("JPY")).to_string(), "1235");
    }
}
