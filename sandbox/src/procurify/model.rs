//! The Procurify emulator's data: plain records with dense ids (id = index + 1,
//! never deleted, so every lookup is an index) and the mutations tests use to
//! change that data over time.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

/// A currency (`/api/v2/currencies/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Currency {
    /// Id.
    pub id: u64,
    /// ISO code (`USD`).
    pub name: String,
    /// Description (`US Dollar`).
    pub description: String,
    /// Rate to the base currency.
    pub rate: Decimal,
    /// Whether this is the base currency.
    pub base: bool,
    /// Active.
    pub active: bool,
}

/// A location, which Procurify also calls a branch (`/api/v2/locations/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Local currency id.
    pub currency: u64,
    /// Whether this is the headquarters.
    pub headquarter: bool,
    /// Main phone.
    pub phone: String,
    /// Street address.
    pub address_line: String,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// State or province.
    pub state_province: String,
    /// Country.
    pub country: String,
}

/// A department, i.e. a cost center (`/api/v3/departments/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// The PeopleSoft DEPTID for synchronized departments; `None` for Procurify-only ones.
    pub external_id: Option<String>,
    /// Active.
    pub active: bool,
    /// Location (branch) id.
    pub branch: u64,
    /// Punchout e-mail, rarely set.
    pub punchout_email: Option<String>,
}

/// A GL account code (`/api/v3/account-codes/`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountCode {
    /// Id.
    pub id: u64,
    /// The code (PeopleSoft ACCOUNT).
    pub code: String,
    /// Description.
    pub description: String,
    /// `ExpenseTypeEnum` integer (0..=5); generated codes are 0.
    pub account_type: u8,
    /// Active.
    pub active: bool,
    /// Parent code id.
    pub parent: Option<u64>,
}

/// An account: one account code in one department (`/api/v3/accounts/`);
/// order items point at these.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Id.
    pub id: u64,
    /// Account code id.
    pub account_code: u64,
    /// Department id.
    pub department: u64,
    /// Active.
    pub active: bool,
    /// Budget amount.
    pub budget: Decimal,
}

/// A vendor (`/api/v3/vendors/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Vendor {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Active.
    pub active: bool,
    /// The PeopleSoft VENDOR_ID for synchronized vendors.
    pub external_id: Option<String>,
    /// `VendorTypeEnum` integer (2, 3, 4, 6 or 7).
    pub vendor_type: u8,
    /// Street address.
    pub address_line_one: Option<String>,
    /// Second address line.
    pub address_line_two: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state_province: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Phone.
    pub phone_one: Option<String>,
    /// E-mail addresses.
    pub email: Vec<String>,
    /// Free comments.
    pub comments: Option<String>,
    /// Contact person.
    pub contact: Option<String>,
    /// Web site.
    pub url: Option<String>,
    /// Default currency id.
    pub currency: Option<u64>,
    /// Supplier score (0..=99.999).
    pub overall_score: Option<Decimal>,
    /// US 1099 eligibility.
    pub is_1099_eligible: Option<bool>,
    /// Whether POs are e-mailed automatically.
    pub is_auto_email_po_enabled: bool,
    /// Labels printed on PO PDFs.
    pub po_pdf_labels: String,
    /// Last modification (`dateModified`).
    pub date_modified: DateTime<Utc>,
}

/// A Procurify user (requesters, approvers, purchasers).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// User profile id.
    pub id: u64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// Department id.
    pub department: u64,
    /// Position.
    pub position: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Requisition (order) status codes as documented.
pub mod order_status {
    /// Waiting for approval.
    pub const PENDING: u8 = 0;
    /// Approved, not purchased.
    pub const APPROVED: u8 = 1;
    /// Rejected by an approver.
    pub const REJECTED: u8 = 2;
    /// Purchased (on a Procurify PO).
    pub const PURCHASED: u8 = 3;
    /// Cancelled (legacy).
    pub const CANCELLED: u8 = 4;
    /// Received.
    pub const RECEIVED: u8 = 5;
    /// Draft.
    pub const DRAFT: u8 = 6;
}

/// Order item status codes as documented.
pub mod item_status {
    /// Approved but not purchased.
    pub const PURCHASE_PENDING: u8 = 0;
    /// Added to a purchaser's PO list.
    pub const PURCHASE_INUSE: u8 = 1;
    /// Purchased, nothing received.
    pub const RECEIVE_PENDING: u8 = 2;
    /// Fully received.
    pub const RECEIVED: u8 = 3;
    /// Rejected at procurement.
    pub const REJECTED_FOR_PURCHASE: u8 = 4;
    /// Partially received.
    pub const RECEIVE_PARTIAL: u8 = 5;
    /// Received but unused.
    pub const FULFILLED: u8 = 6;
    /// Denied in approval routing.
    pub const APPROVAL_DENIED: u8 = 7;
    /// Draft.
    pub const REQUEST_DRAFT: u8 = 8;
}

/// Procurify PO `state` codes as documented.
pub mod po_state {
    /// Purchased (open).
    pub const PURCHASED: u8 = 0;
    /// Cancelled.
    pub const CANCELLED: u8 = 1;
    /// Closed.
    pub const CLOSED: u8 = 3;
    /// Paid.
    pub const PAID: u8 = 4;
    /// Reopened after closing.
    pub const REOPENED: u8 = 5;
}

/// A requisition (`/api/v2/global/orders/`); its number `num` is its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Requisition number (id).
    pub num: u64,
    /// UUID.
    pub uuid: String,
    /// Description.
    pub description: String,
    /// Location id.
    pub branch: u64,
    /// Requester user id.
    pub user: u64,
    /// Department id.
    pub department: u64,
    /// Currency id.
    pub currency: u64,
    /// `order_status` code.
    pub status: u8,
    /// Submitted.
    pub date: DateTime<Utc>,
    /// Date required.
    pub date_required: DateTime<Utc>,
    /// Last modification.
    pub date_modified: DateTime<Utc>,
    /// Next approver user id.
    pub next_approver: u64,
    /// Line ids, in line order.
    pub items: Vec<u64>,
}

/// A requisition line (`/api/v3/order-items/`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// Id.
    pub id: u64,
    /// Line number within the requisition, as text.
    pub num: String,
    /// Requisition number.
    pub order_num: u64,
    /// Item name.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// Unit of measure.
    pub unit: String,
    /// Account id (code x department).
    pub account: u64,
    /// Unit price requested.
    pub price: Decimal,
    /// Quantity requested.
    pub quantity: Decimal,
    /// Unit price approved.
    pub approved_price: Option<Decimal>,
    /// Quantity approved.
    pub approved_quantity: Option<Decimal>,
    /// Currency id.
    pub currency: u64,
    /// Preferred vendor id.
    pub pref_vendor: u64,
    /// `item_status` code.
    pub status: u8,
    /// Approval time.
    pub approved_datetime: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last modification.
    pub last_modified: DateTime<Utc>,
    /// Line comment.
    pub line_comment: Option<String>,
    /// Procurify PO id, once purchased.
    pub purchase_order: Option<u64>,
    /// Line number on the PO.
    pub po_line_num: u32,
    /// Purchaser user id.
    pub purchaser: Option<u64>,
    /// Quantity received and accepted.
    pub received_pass_qty: Decimal,
}

impl OrderItem {
    /// Approved (else requested) price times quantity.
    pub fn total_cost(&self) -> Decimal {
        self.approved_price.unwrap_or(self.price) * self.approved_quantity.unwrap_or(self.quantity)
    }
}

/// A Procurify purchase order.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseOrder {
    /// `procurify_PO` id.
    pub id: u64,
    /// PO number shown to users.
    pub number: String,
    /// UUID.
    pub uuid: String,
    /// Purchaser user id.
    pub purchaser: u64,
    /// Vendor id.
    pub vendor: u64,
    /// Currency id.
    pub currency: u64,
    /// Buyer / receiving location id.
    pub location: u64,
    /// Created.
    pub date: DateTime<Utc>,
    /// Promised delivery.
    pub promise_date: DateTime<Utc>,
    /// `po_state` code.
    pub state: u8,
    /// When it was closed, while closed.
    pub closed_date: Option<DateTime<Utc>>,
    /// Last modification.
    pub last_modified: DateTime<Utc>,
    /// Line (order item) ids.
    pub items: Vec<u64>,
    /// Version number (bumped on change).
    pub version: u32,
}

/// An AP bill (`/api/v3/ap/bills/`), read-only through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    /// Id.
    pub id: u64,
    /// UUID.
    pub uuid: String,
    /// Vendor id.
    pub vendor: u64,
    /// Currency id.
    pub currency: u64,
    /// Creator user id.
    pub user: u64,
    /// `BillStatusEnum` integer.
    pub status: u8,
    /// Billed order item ids.
    pub items: Vec<u64>,
    /// Supplier invoice number.
    pub invoice_number: String,
    /// Invoice date.
    pub invoice_date: DateTime<Utc>,
    /// Due date.
    pub due_date: DateTime<Utc>,
    /// Submitted.
    pub submitted_date: DateTime<Utc>,
    /// Last modification.
    pub last_modified: DateTime<Utc>,
    /// Total with tax.
    pub total: Decimal,
}

/// Everything the emulated tenant holds. Ids are dense: `x.id == index + 1`.
#[derive(Debug)]
pub struct ProcurifyState {
    /// The instant generated data is anchored at (timestamps lie before it).
    pub generated_at: DateTime<Utc>,
    /// Currencies.
    pub currencies: Vec<Currency>,
    /// Locations.
    pub locations: Vec<Location>,
    /// Departments.
    pub departments: Vec<Department>,
    /// Account codes.
    pub account_codes: Vec<AccountCode>,
    /// Accounts (code x department).
    pub accounts: Vec<Account>,
    /// Vendors.
    pub vendors: Vec<Vendor>,
    /// Users.
    pub users: Vec<User>,
    /// Requisitions, index = num - 1.
    pub orders: Vec<Order>,
    /// Requisition lines, index = id - 1.
    pub items: Vec<OrderItem>,
    /// Procurify POs, index = id - 1.
    pub purchase_orders: Vec<PurchaseOrder>,
    /// Bills, index = id - 1.
    pub bills: Vec<Bill>,
    /// Source of randomness for mutations (seeded from the config seed).
    pub(crate) rng: StdRng,
    /// The last timestamp handed out, so mutation times strictly increase.
    pub(crate) clock: DateTime<Utc>,
}

/// Looks up a record by dense id.
fn by_id<T>(list: &[T], id: u64) -> Option<&T> {
    usize::try_from(id)
        .ok()?
        .checked_sub(1)
        .and_then(|i| list.get(i))
}

fn by_id_mut<T>(list: &mut [T], id: u64) -> Option<&mut T> {
    usize::try_from(id)
        .ok()?
        .checked_sub(1)
        .and_then(move |i| list.get_mut(i))
}

/// Why a state mutation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationError {
    /// No record with that id.
    #[error("procurify sandbox: no {kind} with id {id}")]
    NotFound {
        /// Record kind.
        kind: &'static str,
        /// Requested id.
        id: u64,
    },
    /// The record is not in a state that allows the change.
    #[error("procurify sandbox: {0}")]
    InvalidState(String),
}

impl ProcurifyState {
    pub(crate) fn empty(seed: u64, generated_at: DateTime<Utc>) -> ProcurifyState {
        ProcurifyState {
            generated_at,
            currencies: Vec::new(),
            locations: Vec::new(),
            departments: Vec::new(),
            account_codes: Vec::new(),
            accounts: Vec::new(),
            vendors: Vec::new(),
            users: Vec::new(),
            orders: Vec::new(),
            items: Vec::new(),
            purchase_orders: Vec::new(),
            bills: Vec::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x005e_ed0f_9a7c),
            clock: generated_at,
        }
    }

    /// A timestamp for a change happening now: the wall clock, but never at
    /// or before the previous one (so "modified since" always sees a change).
    pub fn tick(&mut self) -> DateTime<Utc> {
        let wall = Utc::now();
        let next = if wall > self.clock {
            wall
        } else {
            self.clock + Duration::microseconds(1)
        };
        self.clock = next;
        next
    }

    /// Currency by id.
    pub fn currency(&self, id: u64) -> Option<&Currency> {
        by_id(&self.currencies, id)
    }
    /// Location by id.
    pub fn location(&self, id: u64) -> Option<&Location> {
        by_id(&self.locations, id)
    }
    /// Department by id.
    pub fn department(&self, id: u64) -> Option<&Department> {
        by_id(&self.departments, id)
    }
    /// Account code by id.
    pub fn account_code(&self, id: u64) -> Option<&AccountCode> {
        by_id(&self.account_codes, id)
    }
    /// Account by id.
    pub fn account(&self, id: u64) -> Option<&Account> {
        by_id(&self.accounts, id)
    }
    /// Vendor by id.
    pub fn vendor(&self, id: u64) -> Option<&Vendor> {
        by_id(&self.vendors, id)
    }
    /// User by id.
    pub fn user(&self, id: u64) -> Option<&User> {
        by_id(&self.users, id)
    }
    /// Requisition by number.
    pub fn order(&self, num: u64) -> Option<&Order> {
        by_id(&self.orders, num)
    }
    /// Order item by id.
    pub fn item(&self, id: u64) -> Option<&OrderItem> {
        by_id(&self.items, id)
    }
    /// Procurify PO by id.
    pub fn purchase_order(&self, id: u64) -> Option<&PurchaseOrder> {
        by_id(&self.purchase_orders, id)
    }

    /// All vendors.
    pub fn vendors(&self) -> &[Vendor] {
        &self.vendors
    }

    /// Requisitions with `status`.
    pub fn orders_with_status(&self, status: u8) -> Vec<&Order> {
        self.orders.iter().filter(|o| o.status == status).collect()
    }

    /// Every closed Procurify PO (e.g. after the connector closed them).
    pub fn closed_purchase_orders(&self) -> Vec<&PurchaseOrder> {
        self.purchase_orders
            .iter()
            .filter(|p| p.state == po_state::CLOSED)
            .collect()
    }

    /// Approves `n` requisitions now: pending ones first (lowest number
    /// first), then newly created ones if there are not enough pending.
    /// Returns the approved requisition numbers.
    pub fn approve_more(&mut self, n: usize) -> Vec<u64> {
        let mut approved = Vec::with_capacity(n);
        let pending: Vec<u64> = self
            .orders
            .iter()
            .filter(|o| o.status == order_status::PENDING)
            .take(n)
            .map(|o| o.num)
            .collect();
        for num in pending {
            let now = self.tick();
            self.set_order_approved(num, now);
            approved.push(num);
        }
        while approved.len() < n {
            let now = self.tick();
            let num = crate::procurify::generate::add_order(self, order_status::PENDING, now);
            self.set_order_approved(num, now);
            approved.push(num);
        }
        approved
    }

    fn set_order_approved(&mut self, num: u64, now: DateTime<Utc>) {
        let Some(order) = by_id_mut(&mut self.orders, num) else {
            return;
        };
        order.status = order_status::APPROVED;
        order.date_modified = now;
        let items = order.items.clone();
        for id in items {
            if let Some(item) = by_id_mut(&mut self.items, id) {
                item.status = item_status::PURCHASE_PENDING;
                item.approved_datetime = Some(now);
                item.approved_price = Some(item.price);
                item.approved_quantity = Some(item.quantity);
                item.last_modified = now;
            }
        }
    }

    /// Modifies an approved requisition now: its first line's approved
    /// quantity goes up by one and its comment changes; the requisition's
    /// and that line's modification times move to now.
    pub fn modify_approved(&mut self, num: u64) -> Result<(), MutationError> {
        let status = self
            .order(num)
            .ok_or(MutationError::NotFound {
                kind: "requisition",
                id: num,
            })?
            .status;
        if status != order_status::APPROVED {
            return Err(MutationError::InvalidState(format!(
                "requisition {num} has status {status}, not 1 (approved)"
            )));
        }
        let now = self.tick();
        let order = by_id_mut(&mut self.orders, num).ok_or(MutationError::NotFound {
            kind: "requisition",
            id: num,
        })?;
        order.date_modified = now;
        let first = order.items.first().copied();
        if let Some(item) = first.and_then(|id| by_id_mut(&mut self.items, id)) {
            let qty = item.approved_quantity.unwrap_or(item.quantity) + Decimal::ONE;
            item.quantity = qty;
            item.approved_quantity = Some(qty);
            item.line_comment = Some(format!("Quantity changed to {qty} by approver"));
            item.last_modified = now;
        }
        Ok(())
    }

    /// Adds a vendor now and returns its id.
    pub fn add_vendor(&mut self, name: &str, external_id: Option<&str>) -> u64 {
        let now = self.tick();
        let id = self.vendors.len() as u64 + 1;
        self.vendors.push(Vendor {
            id,
            name: name.to_owned(),
            active: true,
            external_id: external_id.map(str::to_owned),
            vendor_type: 2,
            address_line_one: None,
            address_line_two: None,
            postal_code: None,
            city: None,
            state_province: None,
            country: None,
            phone_one: None,
            email: Vec::new(),
            comments: None,
            contact: None,
            url: None,
            currency: None,
            overall_score: None,
            is_1099_eligible: None,
            is_auto_email_po_enabled: false,
            po_pdf_labels: String::new(),
            date_modified: now,
        });
        id
    }

    /// Adds a department at the headquarters location and returns its id.
    pub fn add_department(&mut self, name: &str, external_id: Option<&str>) -> u64 {
        let branch = self
            .locations
            .iter()
            .find(|l| l.headquarter)
            .map_or(1, |l| l.id);
        let id = self.departments.len() as u64 + 1;
        self.departments.push(Department {
            id,
            name: name.to_owned(),
            external_id: external_id.map(str::to_owned),
            active: true,
            branch,
            punchout_email: None,
        });
        id
    }

    /// Marks the account code `code` inactive (and its accounts). Returns
    /// false when no such code exists.
    pub fn deactivate_account_code(&mut self, code: &str) -> bool {
        let Some(id) = self
            .account_codes
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.id)
        else {
            return false;
        };
        if let Some(c) = by_id_mut(&mut self.account_codes, id) {
            c.active = false;
        }
        for a in self.accounts.iter_mut().filter(|a| a.account_code == id) {
            a.active = false;
        }
        true
    }

    /// Closes PO `id` now (state 3). Refused when cancelled or already closed.
    pub fn close_purchase_order(&mut self, id: u64) -> Result<(), MutationError> {
        let now = self.tick();
        let po = by_id_mut(&mut self.purchase_orders, id).ok_or(MutationError::NotFound {
            kind: "purchase order",
            id,
        })?;
        match po.state {
            po_state::CLOSED => Err(MutationError::InvalidState(format!(
                "purchase order {id} is already closed"
            ))),
            po_state::CANCELLED => Err(MutationError::InvalidState(format!(
                "purchase order {id} is cancelled and cannot be closed"
            ))),
            _ => {
                po.state = po_state::CLOSED;
                po.closed_date = Some(now);
                po.last_modified = now;
                po.version += 1;
                Ok(())
            }
        }
    }

    /// Reopens closed PO `id` now (state 5). Refused unless closed.
    pub fn reopen_purchase_order(&mut self, id: u64) -> Result<(), MutationError> {
        let now = self.tick();
        let po = by_id_mut(&mut self.purchase_orders, id).ok_or(MutationError::NotFound {
            kind: "purchase order",
            id,
        })?;
        if po.state != po_state::CLOSED {
            return Err(MutationError::InvalidState(format!(
                "purchase order {id} is not closed (state {})",
                po.state
            )));
        }
        po.state = po_state::REOPENED;
        po.closed_date = None;
        po.last_modified = now;
        po.version += 1;
        Ok(())
    }

    pub(crate) fn vendor_mut(&mut self, id: u64) -> Option<&mut Vendor> {
        by_id_mut(&mut self.vendors, id)
    }
    pub(crate) fn department_mut(&mut self, id: u64) -> Option<&mut Department> {
        by_id_mut(&mut self.departments, id)
    }
    pub(crate) fn account_code_mut(&mut self, id: u64) -> Option<&mut AccountCode> {
        by_id_mut(&mut self.account_codes, id)
    }
}

/// A v4-layout UUID from `rng`.
pub(crate) fn uuid_from(rng: &mut StdRng) -> String {
    let a: u128 = rng.random();
    let a = (a & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_version_4_layout() {
        let mut rng = StdRng::seed_from_u64(1);
        let u = uuid_from(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }

    #[test]
    fn tick_strictly_increases() {
        let mut s = ProcurifyState::empty(1, Utc::now() + Duration::days(1));
        let a = s.tick();
        let b = s.tick();
        assert!(b > a);
    }

    #[test]
    fn dense_lookup_rejects_zero_and_out_of_range() {
        let list = vec![10, 20];
        assert_eq!(by_id(&list, 0), None);
        assert_eq!(by_id(&list, 1), Some(&10));
        assert_eq!(by_id(&list, 3), None);
    }
}
