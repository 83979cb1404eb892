//! What PeopleSoft must hold after the mission flow, computed from
//! Procurify's own state (not from what the connector read): one PO per
//! approved requisition and vendor, and the ones that must wait because a
//! cost center has no DEPTID.

use mlc_sandbox::procurify::ProcurifySandbox;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One expected PO line: description, quantity, price, ACCOUNT, DEPTID.
pub type ExpectedLine = (String, Decimal, Decimal, String, String);

/// A PO PeopleSoft must hold: its vendor's name and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedPo {
    /// The vendor's name.
    pub vendor: String,
    /// The lines, in requisition order.
    pub lines: Vec<ExpectedLine>,
}

/// The POs ready to post by PO_REF (`R<num>-V<vendor>`), and the PO_REFs
/// that wait for a cost center's DEPTID (a line without one parks the whole
/// requisition, all its POs).
pub fn expected_pos(procurify: &ProcurifySandbox) -> (BTreeMap<String, ExpectedPo>, Vec<String>) {
    let state = procurify.state();
    let mut ready = BTreeMap::new();
    let mut waiting = Vec::new();
    for order in state.orders_with_status(1) {
        let mut by_vendor: BTreeMap<u64, Vec<ExpectedLine>> = BTreeMap::new();
        let mut missing_dept = false;
        for item_id in &order.items {
            let item = state.item(*item_id).expect("item");
            let account = state.account(item.account).expect("account");
            let code = state
                .account_code(account.account_code)
                .expect("code")
                .code
                .clone();
            let dept = state.department(account.department).expect("department");
            missing_dept |= dept.external_id.is_none();
            by_vendor.entry(item.pref_vendor).or_default().push((
                item.name.clone(),
                item.approved_quantity.unwrap_or(item.quantity),
                item.approved_price.unwrap_or(item.price),
                code,
                dept.external_id.clone().unwrap_or_default(),
            ));
        }
        for (vendor, lines) in by_vendor {
            let po_ref = format!("R{}-V{vendor}", order.num);
            if missing_dept {
                waiting.push(po_ref);
            } else {
                let vendor = state.vendor(vendor).expect("vendor").name.clone();
                ready.insert(po_ref, ExpectedPo { vendor, lines });
            }
        }
    }
    (ready, waiting)
}

/// [`expected_pos`] with the vendor name only: PO_REF -> vendor name, and
/// the PO_REFs that wait.
pub fn expected_po_refs(procurify: &ProcurifySandbox) -> (BTreeMap<String, String>, Vec<String>) {
    let (ready, waiting) = expected_pos(procurify);
    let names = ready.into_iter().map(|(r, po)| (r, po.vendor)).collect();
    (names, waiting)
}

/// Approved requisitions in Procurify's state.
pub fn approved_requisitions(procurify: &ProcurifySandbox) -> usize {
    procurify.state().orders_with_status(1).len()
}
