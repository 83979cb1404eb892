//! The reference data both emulators are seeded from, so that the two sandbox
//! systems describe one plausible company: the same GL accounts, cost centers
//! and (for vendors already synchronized) the same suppliers.
//!
//! Each system also gets records the other lacks (seeded by its own
//! generator), which is what the synchronization flows exist for.

/// The PeopleSoft SETID that holds shared vendors and ChartFields.
pub const SETID: &str = "SHARE";

/// Business units (GL and purchasing) the PeopleSoft sandbox knows.
pub const BUSINESS_UNITS: &[&str] = &["US001", "US002"];

/// The buyer the sandbox tenant's purchase orders are created under.
pub const BUYER_ID: &str = "MLC_BUYER";

/// A GL account known to both systems: PeopleSoft `ACCOUNT` = Procurify account `code`.
#[derive(Debug, Clone, Copy)]
pub struct GlAccount {
    /// The account value (`ACCOUNT` in PeopleSoft, `code` in Procurify).
    pub code: &'static str,
    /// Description.
    pub description: &'static str,
}

/// GL expense accounts present in both systems.
pub const GL_ACCOUNTS: &[GlAccount] = &[
    GlAccount {
        code: "610000",
        description: "Office Supplies",
    },
    GlAccount {
        code: "611000",
        description: "Computer Equipment",
    },
    GlAccount {
        code: "612000",
        description: "Software Subscriptions",
    },
    GlAccount {
        code: "620000",
        description: "Maintenance & Repairs",
    },
    GlAccount {
        code: "621000",
        description: "Shop Floor Consumables",
    },
    GlAccount {
        code: "630000",
        description: "Raw Materials",
    },
    GlAccount {
        code: "640000",
        description: "Freight & Shipping",
    },
    GlAccount {
        code: "650000",
        description: "Professional Services",
    },
    GlAccount {
        code: "660000",
        description: "Travel",
    },
    GlAccount {
        code: "670000",
        description: "Safety Equipment",
    },
];

/// A department (cost center) known to both systems: PeopleSoft `DEPTID` =
/// Procurify department `external_id`.
#[derive(Debug, Clone, Copy)]
pub struct CostCenter {
    /// PeopleSoft DEPTID.
    pub deptid: &'static str,
    /// Name (Procurify department name, PeopleSoft DESCR).
    pub name: &'static str,
}

/// Cost centers present in both systems.
pub const COST_CENTERS: &[CostCenter] = &[
    CostCenter {
        deptid: "10100",
        name: "Finance",
    },
    CostCenter {
        deptid: "10200",
        name: "Human Resources",
    },
    CostCenter {
        deptid: "20100",
        name: "Production Line A",
    },
    CostCenter {
        deptid: "20200",
        name: "Production Line B",
    },
    CostCenter {
        deptid: "20300",
        name: "Quality Assurance",
    },
    CostCenter {
        deptid: "30100",
        name: "Maintenance",
    },
    CostCenter {
        deptid: "40100",
        name: "IT",
    },
    CostCenter {
        deptid: "50100",
        name: "Logistics",
    },
];

/// A supplier present in both systems (already synchronized: the Procurify
/// vendor's `external_id` is the PeopleSoft `VENDOR_ID`).
#[derive(Debug, Clone, Copy)]
pub struct SharedVendor {
    /// PeopleSoft VENDOR_ID (10 characters max).
    pub vendor_id: &'static str,
    /// Name (PeopleSoft NAME1, Procurify name). Some carry XML-hostile characters on purpose.
    pub name: &'static str,
}

/// Suppliers present in both systems.
pub const SHARED_VENDORS: &[SharedVendor] = &[
    SharedVendor {
        vendor_id: "0000000101",
        name: "Acme Industrial Supply",
    },
    SharedVendor {
        vendor_id: "0000000102",
        name: "Barnes & Noble Office <B2B>",
    },
    SharedVendor {
        vendor_id: "0000000103",
        name: "Café Société Catering",
    },
    SharedVendor {
        vendor_id: "0000000104",
        name: "東京精密機器株式会社",
    },
    SharedVendor {
        vendor_id: "0000000105",
        name: "O'Brien \"Quality\" Fasteners",
    },
    SharedVendor {
        vendor_id: "0000000106",
        name: "Grainger Industrial",
    },
    SharedVendor {
        vendor_id: "0000000107",
        name: "Fastenal Company",
    },
    SharedVendor {
        vendor_id: "0000000108",
        name: "McMaster-Carr",
    },
];

/// Suppliers only PeopleSoft has at the start (the PeopleSoft -> Procurify
/// vendor flow creates them in Procurify).
pub const PEOPLESOFT_ONLY_VENDORS: &[SharedVendor] = &[
    SharedVendor {
        vendor_id: "0000000201",
        name: "Uline Shipping Supplies",
    },
    SharedVendor {
        vendor_id: "0000000202",
        name: "Würth Industrie Service",
    },
];
