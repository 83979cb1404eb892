//! Seeded generator of a plausible Procurify tenant built on the shared
//! catalog: same GL accounts, cost centers and vendors as PeopleSoft, plus a
//! few Procurify-only records that exercise synchronization and parking.

use chrono::{DateTime, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use super::model::{
    Account, AccountCode, Bill, Currency, Department, Location, Order, OrderItem, ProcurifyState,
    PurchaseOrder, User, Vendor, item_status, order_status, po_state, uuid_from,
};
use crate::catalog;

/// Departments only Procurify has (no `external_id`).
pub const PROCURIFY_ONLY_DEPARTMENTS: &[&str] = &["R&D Lab", "Marketing Events"];

/// Account codes only Procurify has: (code, description).
pub const PROCURIFY_ONLY_ACCOUNT_CODES: &[(&str, &str)] = &[
    ("690100", "Petty Cash Purchases"),
    ("695000", "Employee Recognition <Gifts>"),
];

/// Vendors only Procurify has (no `external_id`), with names that stress
/// escaping and encodings.
pub const PROCURIFY_ONLY_VENDORS: &[&str] = &[
    "Smith & Sons Hardware",
    "<Best> Tools Ltd",
    "Ñandú Distribución S.A.",
    "北京办公用品有限公司",
    "Zoë's Café & Bistro",
];

const UNITS: &[&str] = &["Each", "Box", "Case", "Pack", "Hour", "Roll", "Kg"];

const ITEM_NAMES: &[&str] = &[
    "Nitrile gloves, size L",
    "A4 copy paper",
    "27\" monitor",
    "Laptop docking station",
    "Hydraulic hose 1/2\"",
    "Bearing 6204-2RS",
    "Safety glasses (clear)",
    "Cutting fluid, 20 L",
    "Pallet wrap film",
    "Consulting hours",
    "Annual software licence",
    "Hi-vis vest",
    "Cable ties 200 mm",
    "Toner cartridge",
    "Hotel night",
    "Steel sheet 2 mm",
];

const FIRST_NAMES: &[&str] = &[
    "Ana", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kai",
    "Lena",
];
const LAST_NAMES: &[&str] = &[
    "Silva", "Okafor", "Dubois", "Ivanov", "Müller", "Haddad", "Lee", "Tanaka", "García", "Berg",
    "Nakamura", "O'Neil",
];

/// Builds the tenant for `seed` with `requisitions` requisitions whose
/// timestamps lie in the six weeks before `now`.
pub fn generate(seed: u64, requisitions: usize, now: DateTime<Utc>) -> ProcurifyState {
    let mut state = ProcurifyState::empty(seed, now);
    let mut rng = StdRng::seed_from_u64(seed);
    let epoch = now - Duration::days(400);

    for (i, (name, description, rate)) in [
        ("USD", "US Dollar", Decimal::ONE),
        ("CAD", "Canadian Dollar", Decimal::new(1_365_000, 6)),
        ("EUR", "Euro", Decimal::new(921_500, 6)),
    ]
    .into_iter()
    .enumerate()
    {
        state.currencies.push(Currency {
            id: i as u64 + 1,
            name: name.to_owned(),
            description: description.to_owned(),
            rate,
            base: i == 0,
            active: true,
        });
    }

    for (i, (name, currency, city, postal, region, country)) in [
        (
            "Chicago Plant",
            1,
            "Chicago",
            "60607",
            "IL",
            "United States",
        ),
        ("Toronto Office", 2, "Toronto", "M5V 2T6", "ON", "Canada"),
        (
            "Rotterdam Depot",
            3,
            "Rotterdam",
            "3011 AA",
            "Zuid-Holland",
            "Netherlands",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        state.locations.push(Location {
            id: i as u64 + 1,
            name: name.to_owned(),
            currency,
            headquarter: i == 0,
            phone: format!("+1 312 555 01{:02}", i + 10),
            address_line: format!("{} Industrial Way", 100 + i * 25),
            city: city.to_owned(),
            postal_code: postal.to_owned(),
            state_province: region.to_owned(),
            country: country.to_owned(),
        });
    }

    for cc in catalog::COST_CENTERS {
        let id = state.departments.len() as u64 + 1;
        // Production and maintenance sit at the plant; the rest spread out.
        let branch = if cc.deptid.starts_with('2') || cc.deptid.starts_with('3') {
            1
        } else {
            1 + (id % 3)
        };
        state.departments.push(Department {
            id,
            name: cc.name.to_owned(),
            external_id: Some(cc.deptid.to_owned()),
            active: true,
            branch,
            punchout_email: None,
        });
    }
    for name in PROCURIFY_ONLY_DEPARTMENTS {
        let id = state.departments.len() as u64 + 1;
        state.departments.push(Department {
            id,
            name: (*name).to_owned(),
            external_id: None,
            active: true,
            branch: 1,
            punchout_email: None,
        });
    }

    let codes = catalog::GL_ACCOUNTS
        .iter()
        .map(|a| (a.code, a.description))
        .chain(PROCURIFY_ONLY_ACCOUNT_CODES.iter().copied());
    for (code, description) in codes {
        let id = state.account_codes.len() as u64 + 1;
        state.account_codes.push(AccountCode {
            id,
            code: code.to_owned(),
            description: description.to_owned(),
            account_type: 0,
            active: true,
            parent: None,
        });
    }
    for code in 1..=state.account_codes.len() as u64 {
        for dept in 1..=state.departments.len() as u64 {
            let id = state.accounts.len() as u64 + 1;
            state.accounts.push(Account {
                id,
                account_code: code,
                department: dept,
                active: true,
                budget: Decimal::from(rng.random_range(5u32..200) * 1000),
            });
        }
    }

    let vendors = catalog::SHARED_VENDORS
        .iter()
        .map(|v| (v.name, Some(v.vendor_id)))
        .chain(PROCURIFY_ONLY_VENDORS.iter().map(|n| (*n, None)));
    for (name, external_id) in vendors {
        let id = state.vendors.len() as u64 + 1;
        let slug: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
            .to_ascii_lowercase();
        let slug = if slug.is_empty() {
            format!("vendor{id}")
        } else {
            slug
        };
        state.vendors.push(Vendor {
            id,
            name: name.to_owned(),
            active: true,
            external_id: external_id.map(str::to_owned),
            vendor_type: 2,
            address_line_one: Some(format!("{} Commerce St", 10 + id * 7)),
            address_line_two: None,
            postal_code: Some(format!("{:05}", 10_000 + id * 311)),
            city: Some("Springfield".to_owned()),
            state_province: Some("IL".to_owned()),
            country: Some("United States".to_owned()),
            phone_one: Some(format!("+1 217 555 {:04}", 1000 + id)),
            email: vec![format!("orders@{slug}.example.com")],
            comments: None,
            contact: Some("Sales desk".to_owned()),
            url: Some(format!("https://{slug}.example.com")),
            currency: Some(1),
            overall_score: Some(Decimal::new(rng.random_range(50_000..99_000), 3)),
            is_1099_eligible: Some(false),
            is_auto_email_po_enabled: false,
            po_pdf_labels: String::new(),
            date_modified: epoch + Duration::days(rng.random_range(0..300)),
        });
    }

    for i in 0..12usize {
        let id = i as u64 + 1;
        let first = FIRST_NAMES[i % FIRST_NAMES.len()];
        let last = LAST_NAMES[i % LAST_NAMES.len()];
        let ascii: String = format!("{first}.{last}")
            .chars()
            .filter(|c| c.is_ascii_alphabetic() || *c == '.')
            .collect::<String>()
            .to_ascii_lowercase();
        state.users.push(User {
            id,
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email: format!("{ascii}@sandbox.example.com"),
            department: 1 + (i as u64 % catalog::COST_CENTERS.len() as u64),
            position: if i < 3 { "Purchaser" } else { "Requester" }.to_owned(),
            created_at: epoch + Duration::days(i as i64),
        });
    }

    state.orders.reserve(requisitions);
    state.items.reserve(requisitions * 5);
    for n in 0..requisitions {
        // The first seven cover every status, so even tiny tenants have all.
        let status = if n < 7 {
            [1, 0, 3, 5, 2, 4, 6][n]
        } else {
            pick_status(&mut rng)
        };
        let age = Duration::seconds(rng.random_range(3_600..42 * 86_400))
            + Duration::microseconds(rng.random_range(1..1_000_000));
        let submitted = now - age;
        make_order(&mut state, &mut rng, status, submitted, now);
    }
    // Mutations continue from this rng, so they stay reproducible too.
    state.rng = StdRng::seed_from_u64(rng.random());
    state
}

fn pick_status(rng: &mut StdRng) -> u8 {
    match rng.random_range(0..100) {
        0..3 => order_status::DRAFT,
        3..15 => order_status::PENDING,
        15..50 => order_status::APPROVED,
        50..55 => order_status::REJECTED,
        55..85 => order_status::PURCHASED,
        85..88 => order_status::CANCELLED,
        _ => order_status::RECEIVED,
    }
}

/// Adds one requisition submitted at `now`, in `status`, and returns its number.
pub(crate) fn add_order(state: &mut ProcurifyState, status: u8, now: DateTime<Utc>) -> u64 {
    let mut rng = StdRng::seed_from_u64(state.rng.random());
    make_order(state, &mut rng, status, now, now)
}

/// Builds a requisition and its lines (and PO and bill when purchased),
/// with every timestamp between `submitted` and `now`.
fn make_order(
    state: &mut ProcurifyState,
    rng: &mut StdRng,
    status: u8,
    submitted: DateTime<Utc>,
    now: DateTime<Utc>,
) -> u64 {
    let num = state.orders.len() as u64 + 1;
    let shared_depts = catalog::COST_CENTERS.len() as u64;
    // 6% of requisitions come from Procurify-only departments.
    let department = if rng.random_range(0..100) < 6 {
        shared_depts + 1 + rng.random_range(0..PROCURIFY_ONLY_DEPARTMENTS.len() as u64)
    } else {
        1 + rng.random_range(0..shared_depts)
    };
    let branch = state.department(department).map_or(1, |d| d.branch);
    let currency = state.location(branch).map_or(1, |l| l.currency);
    let user = 4 + rng.random_range(0..9u64);
    let approver = 1 + rng.random_range(0..3u64);
    let span = (now - submitted).num_seconds().max(1);
    let clamp = |t: DateTime<Utc>| if t > now { now } else { t };
    let approved_at = clamp(submitted + Duration::seconds(rng.random_range(600..=span.max(601))))
        .with_nanosecond(rng.random_range(1..1_000_000) * 1000)
        .map(clamp)
        .unwrap_or(now);
    let decided = matches!(
        status,
        order_status::APPROVED
            | order_status::PURCHASED
            | order_status::RECEIVED
            | order_status::CANCELLED
    );
    let purchased_at = clamp(
        approved_at
            + Duration::seconds(rng.random_range(0..=(now - approved_at).num_seconds().max(0))),
    );
    let modified = match status {
        order_status::PURCHASED | order_status::RECEIVED | order_status::CANCELLED => purchased_at,
        order_status::APPROVED | order_status::REJECTED => approved_at,
        _ => submitted,
    };
    let line_count = rng.random_range(1..=8usize);
    let shared_vendors = catalog::SHARED_VENDORS.len() as u64;
    let shared_codes = catalog::GL_ACCOUNTS.len() as u64;
    let dept_count = state.departments.len() as u64;
    let mut item_ids = Vec::with_capacity(line_count);
    for line in 0..line_count {
        let id = state.items.len() as u64 + 1;
        // 4% of lines name a Procurify-only vendor, 4% a Procurify-only code.
        let pref_vendor = if rng.random_range(0..100) < 4 {
            shared_vendors + 1 + rng.random_range(0..PROCURIFY_ONLY_VENDORS.len() as u64)
        } else {
            1 + rng.random_range(0..shared_vendors)
        };
        let code = if rng.random_range(0..100) < 4 {
            shared_codes + 1 + rng.random_range(0..PROCURIFY_ONLY_ACCOUNT_CODES.len() as u64)
        } else {
            1 + rng.random_range(0..shared_codes)
        };
        let account = (code - 1) * dept_count + department;
        let price = Decimal::new(rng.random_range(150..250_000), 2);
        let quantity = Decimal::from(rng.random_range(1..=40u32));
        let item_state = match status {
            order_status::DRAFT => item_status::REQUEST_DRAFT,
            order_status::PENDING => item_status::PURCHASE_PENDING,
            order_status::REJECTED => item_status::APPROVAL_DENIED,
            order_status::APPROVED => {
                if rng.random_range(0..10) == 0 {
                    item_status::PURCHASE_INUSE
                } else {
                    item_status::PURCHASE_PENDING
                }
            }
            order_status::PURCHASED => item_status::RECEIVE_PENDING,
            order_status::CANCELLED => item_status::REJECTED_FOR_PURCHASE,
            _ => {
                if rng.random_range(0..5) == 0 {
                    item_status::RECEIVE_PARTIAL
                } else {
                    item_status::RECEIVED
                }
            }
        };
        let received = match item_state {
            item_status::RECEIVED => quantity,
            item_status::RECEIVE_PARTIAL => (quantity / Decimal::TWO).floor().max(Decimal::ONE),
            _ => Decimal::ZERO,
        };
        let name = ITEM_NAMES[rng.random_range(0..ITEM_NAMES.len())];
        state.items.push(OrderItem {
            id,
            num: (line + 1).to_string(),
            order_num: num,
            name: name.to_owned(),
            sku: format!("SKU-{:05}", rng.random_range(0..100_000u32)),
            unit: UNITS[rng.random_range(0..UNITS.len())].to_owned(),
            account,
            price,
            quantity,
            approved_price: decided.then_some(price),
            approved_quantity: decided.then_some(quantity),
            currency,
            pref_vendor,
            status: item_state,
            approved_datetime: decided.then_some(approved_at),
            created_at: submitted,
            last_modified: modified,
            line_comment: (rng.random_range(0..4) == 0).then(|| "Urgent: line down".to_owned()),
            purchase_order: None,
            po_line_num: 0,
            purchaser: None,
            received_pass_qty: received,
        });
        item_ids.push(id);
    }
    let uuid = uuid_from(rng);
    state.orders.push(Order {
        num,
        uuid,
        description: format!(
            "Requisition {num} for {}",
            department_name(state, department)
        ),
        branch,
        user,
        department,
        currency,
        status,
        date: submitted,
        date_required: submitted + Duration::days(14),
        date_modified: modified,
        next_approver: approver,
        items: item_ids.clone(),
    });
    if matches!(status, order_status::PURCHASED | order_status::RECEIVED) {
        make_purchase_orders(state, rng, num, &item_ids, purchased_at, now, status);
    }
    num
}

fn department_name(state: &ProcurifyState, id: u64) -> String {
    state
        .department(id)
        .map_or_else(|| format!("department {id}"), |d| d.name.clone())
}

/// One PO per vendor among the requisition's lines; received requisitions'
/// POs are mostly closed or paid, and about half of them have a bill.
fn make_purchase_orders(
    state: &mut ProcurifyState,
    rng: &mut StdRng,
    num: u64,
    item_ids: &[u64],
    purchased_at: DateTime<Utc>,
    now: DateTime<Utc>,
    status: u8,
) {
    let mut by_vendor: Vec<(u64, Vec<u64>)> = Vec::new();
    for &id in item_ids {
        let Some(vendor) = state.item(id).map(|i| i.pref_vendor) else {
            continue;
        };
        match by_vendor.iter_mut().find(|(v, _)| *v == vendor) {
            Some((_, ids)) => ids.push(id),
            None => by_vendor.push((vendor, vec![id])),
        }
    }
    let purchaser = 1 + rng.random_range(0..3u64);
    let (currency, location) = state.order(num).map_or((1, 1), |o| (o.currency, o.branch));
    for (vendor, ids) in by_vendor {
        let po_id = state.purchase_orders.len() as u64 + 1;
        let mut total = Decimal::ZERO;
        for (line, id) in ids.iter().enumerate() {
            if let Some(item) = state.items.get_mut(*id as usize - 1) {
                item.purchase_order = Some(po_id);
                item.po_line_num = line as u32 + 1;
                item.purchaser = Some(purchaser);
                total += item.total_cost();
            }
        }
        let po_state = if status == order_status::RECEIVED {
            match rng.random_range(0..10) {
                0..4 => po_state::CLOSED,
                4..7 => po_state::PAID,
                _ => po_state::PURCHASED,
            }
        } else if rng.random_range(0..40) == 0 {
            po_state::CANCELLED
        } else {
            po_state::PURCHASED
        };
        let uuid = uuid_from(rng);
        state.purchase_orders.push(PurchaseOrder {
            id: po_id,
            number: format!("PO-{po_id:06}"),
            uuid,
            purchaser,
            vendor,
            currency,
            location,
            date: purchased_at,
            promise_date: purchased_at + Duration::days(rng.random_range(3..21)),
            state: po_state,
            closed_date: (po_state == po_state::CLOSED).then_some(purchased_at),
            last_modified: purchased_at,
            items: ids.clone(),
            version: 1,
        });
        if status == order_status::RECEIVED && rng.random_range(0..2) == 0 {
            let bill_id = state.bills.len() as u64 + 1;
            let span = (now - purchased_at).num_seconds().max(0);
            let modified = purchased_at + Duration::seconds(rng.random_range(0..=span));
            let uuid = uuid_from(rng);
            state.bills.push(Bill {
                id: bill_id,
                uuid,
                vendor,
                currency,
                user: purchaser,
                status: [0u8, 1, 3, 4][rng.random_range(0..4)],
                items: ids,
                invoice_number: format!("INV-{}-{bill_id:05}", 7000 + vendor),
                invoice_date: purchased_at,
                due_date: purchased_at + Duration::days(30),
                submitted_date: purchased_at,
                last_modified: modified,
                total: total.round_dp(2),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("valid timestamp")
    }

    #[test]
    fn same_seed_gives_identical_tenant() {
        let a = generate(7, 50, anchor());
        let b = generate(7, 50, anchor());
        assert_eq!(a.orders, b.orders);
        assert_eq!(a.items, b.items);
        assert_eq!(a.purchase_orders, b.purchase_orders);
        let c = generate(8, 50, anchor());
        assert_ne!(a.items, c.items);
    }

    #[test]
    fn every_order_status_appears_even_in_a_tiny_tenant() {
        let s = generate(1, 7, anchor());
        for status in 0..=6 {
            assert!(
                s.orders.iter().any(|o| o.status == status),
                "status {status}"
            );
        }
    }

    #[test]
    fn lines_per_order_and_timestamps_stay_in_range() {
        let s = generate(3, 300, anchor());
        for o in &s.orders {
            assert!((1..=8).contains(&o.items.len()));
            assert!(o.date <= o.date_modified && o.date_modified <= anchor());
            assert!(o.date >= anchor() - Duration::days(43));
        }
        for i in &s.items {
            if let Some(t) = i.approved_datetime {
                assert!(t <= anchor());
            }
            let account = s.account(i.account).expect("account exists");
            let order = s.order(i.order_num).expect("order exists");
            assert_eq!(account.department, order.department);
        }
    }

    #[test]
    fn catalog_records_are_present_with_external_ids() {
        let s = generate(1, 5, anchor());
        for cc in catalog::COST_CENTERS {
            assert!(
                s.departments
                    .iter()
                    .any(|d| d.external_id.as_deref() == Some(cc.deptid))
            );
        }
        for v in catalog::SHARED_VENDORS {
            assert!(
                s.vendors
                    .iter()
                    .any(|x| x.external_id.as_deref() == Some(v.vendor_id))
            );
        }
        for a in catalog::GL_ACCOUNTS {
            assert!(s.account_codes.iter().any(|c| c.code == a.code));
        }
        assert_eq!(
            s.departments
                .iter()
                .filter(|d| d.external_id.is_none())
                .count(),
            2
        );
        assert_eq!(
            s.vendors.iter().filter(|v| v.external_id.is_none()).count(),
            5
        );
        assert_eq!(
            s.accounts.len(),
            s.account_codes.len() * s.departments.len()
        );
    }

    #[test]
    fn approved_lines_mostly_reference_shared_records_but_not_all() {
        let s = generate(7, 2000, anchor());
        let approved: Vec<_> = s
            .items
            .iter()
            .filter(|i| s.order(i.order_num).map(|o| o.status) == Some(order_status::APPROVED))
            .collect();
        let shared = approved
            .iter()
            .filter(|i| {
                let a = s.account(i.account).expect("account");
                s.vendor(i.pref_vendor)
                    .is_some_and(|v| v.external_id.is_some())
                    && s.department(a.department)
                        .is_some_and(|d| d.external_id.is_some())
                    && (a.account_code as usize) <= catalog::GL_ACCOUNTS.len()
            })
            .count();
        assert!(
            shared * 100 >= approved.len() * 80,
            "{shared} of {}",
            approved.len()
        );
        assert!(shared < approved.len());
    }

    #[test]
    fn purchased_lines_sit_on_a_po_of_their_vendor() {
        let s = generate(5, 400, anchor());
        assert!(!s.purchase_orders.is_empty());
        assert!(!s.bills.is_empty());
        for po in &s.purchase_orders {
            for id in &po.items {
                let item = s.item(*id).expect("item");
                assert_eq!(item.pref_vendor, po.vendor);
                assert_eq!(item.purchase_order, Some(po.id));
            }
        }
    }
}
