//! The Procurify connector through the host against the Procurify emulator
//! (issue 4): every stream reads completely across pages, incremental reads
//! pick up changes, every write lands and is found by `lookup`, and each error
//! class comes from the matching emulator fault. The host authenticates with
//! OAuth2 client credentials (JSON body, audience) fetched once per test.

use http::Method;
use mlc_host::components::CONNECTOR_PROCURIFY;
use mlc_host::credentials::{Credentials, SecretRef, Setting, TokenBody, TokenEndpoint};
use mlc_host::events::{Event, TokenReason};
use mlc_host::runtime::{Connection, Connector, ConnectorInstance, Doc, Failure, Sandbox};
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_sandbox::procurify::{AUDIENCE, ProcurifyConfig, ProcurifySandbox, order_status, po_state};
use mlc_tests::SandboxBuilder;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const SECRET_NAME: &str = "procurify/client_secret";

/// The Procurify component, loaded once per test binary.
fn connector() -> Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            mlc_tests::runtime()
                .load("procurify", CONNECTOR_PROCURIFY)
                .expect("the procurify component loads")
                .0
        })
        .clone()
}

/// One emulated tenant, the host sandbox of its connection and the connection.
struct Env {
    emu: ProcurifySandbox,
    builder: SandboxBuilder,
    sandbox: Sandbox,
    conn: Connection,
}

impl Env {
    /// A small tenant (40 requisitions) read with `page_size`.
    async fn new(page_size: u32) -> Env {
        Env::with(
            ProcurifyConfig {
                requisitions: 40,
                ..ProcurifyConfig::default()
            },
            json!({ "page_size": page_size }),
            None,
        )
        .await
    }

    /// A tenant from `config`, connection settings `settings`, and the
    /// emulator's own client secret unless `secret` overrides it.
    async fn with(config: ProcurifyConfig, settings: Value, secret: Option<&str>) -> Env {
        let emu = ProcurifySandbox::start(config)
            .await
            .expect("the procurify emulator starts");
        let credentials = Credentials::OAuth2ClientCredentials {
            endpoint: TokenEndpoint {
                url: emu.token_url(),
                body: TokenBody::Json,
                audience: Some(AUDIENCE.into()),
                scope: None,
                default_ttl_secs: 3600,
            },
            client_id: Setting::Plain(emu.config().client_id.clone()),
            client_secret: SecretRef::parse(&format!("secret:{SECRET_NAME}")).unwrap(),
        };
        let secret = secret.map_or_else(|| emu.config().client_secret.clone(), str::to_string);
        let builder = SandboxBuilder::new("acme", &emu.base_url())
            .credentials(credentials)
            .secret(SECRET_NAME, &secret);
        let sandbox = builder.build();
        let conn = Connection {
            base_url: emu.base_url(),
            config: settings.to_string(),
        };
        Env {
            emu,
            builder,
            sandbox,
            conn,
        }
    }

    async fn instance(&self) -> ConnectorInstance {
        connector()
            .instantiate(&self.sandbox)
            .await
            .expect("the procurify component instantiates")
    }

    /// How many times the host asked the emulator for a token.
    fn token_fetches(&self) -> usize {
        self.emu
            .server()
            .requests()
            .iter()
            .filter(|r| r.request.path.starts_with("/oauth/token"))
            .count()
    }

    /// Requests that reached the API (everything but the token endpoint).
    fn api_requests(&self) -> Vec<mlc_sandbox::server::RecordedRequest> {
        self.emu
            .server()
            .requests()
            .into_iter()
            .filter(|r| !r.request.path.starts_with("/oauth/token"))
            .collect()
    }

    fn doc(key: &str, body: Value) -> Doc {
        Doc {
            key: key.to_string(),
            body: body.to_string(),
        }
    }
}

/// Everything one pass of a stream returned.
struct Pass {
    docs: Vec<Doc>,
    pages: usize,
    cursor: Option<String>,
}

impl Pass {
    fn keys(&self) -> Vec<String> {
        self.docs.iter().map(|d| d.key.clone()).collect()
    }

    /// Documents by key, after checking that no key came twice.
    fn by_key(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for d in &self.docs {
            let body: Value = serde_json::from_str(&d.body)
                .unwrap_or_else(|e| panic!("doc {} is not JSON ({e}): {}", d.key, d.body));
            assert!(
                out.insert(d.key.clone(), body).is_none(),
                "key {} read twice in one pass",
                d.key
            );
        }
        out
    }
}

/// Reads `stream` from `cursor` until the connector says no page follows;
/// every page must be free of bad records.
async fn read_pass(
    inst: &mut ConnectorInstance,
    conn: &Connection,
    stream: &str,
    cursor: Option<String>,
) -> Pass {
    let mut cursor = cursor;
    let mut docs = Vec::new();
    let mut pages = 0;
    loop {
        let page = inst
            .read(conn, stream, cursor.as_deref())
            .await
            .unwrap_or_else(|e| panic!("read {stream} page {}: {e}", pages + 1));
        pages += 1;
        assert!(
            page.bad_records.is_empty(),
            "read {stream} page {pages}: bad records {:?}",
            page.bad_records
                .iter()
                .map(|b| format!("{}: {}", b.key, b.reason))
                .collect::<Vec<_>>()
        );
        docs.extend(page.docs);
        if page.cursor.is_some() {
            cursor = page.cursor;
        }
        if !page.more {
            break;
        }
        assert!(
            pages < 500,
            "read {stream}: more than 500 pages, paging loops"
        );
    }
    Pass {
        docs,
        pages,
        cursor,
    }
}

/// Reads `stream` completely from the start and checks that the keys equal
/// `expected` exactly (no gaps, no extras, no duplicates) over several pages.
async fn read_complete(
    env: &Env,
    stream: &str,
    expected: &BTreeSet<String>,
) -> BTreeMap<String, Value> {
    let mut inst = env.instance().await;
    let pass = read_pass(&mut inst, &env.conn, stream, None).await;
    let docs = pass.by_key();
    let read: BTreeSet<String> = pass.keys().into_iter().collect();
    let missing: Vec<_> = expected.difference(&read).collect();
    let extra: Vec<_> = read.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "read {stream}: {} read, {} expected; missing {missing:?}, not in the emulator {extra:?}",
        read.len(),
        expected.len()
    );
    assert!(
        pass.pages >= 3,
        "read {stream}: {} records came in {} page(s); the test needs several pages",
        read.len(),
        pass.pages
    );
    assert_eq!(
        env.token_fetches(),
        1,
        "one token for the whole read of {stream}"
    );
    docs
}

fn keys<T>(items: impl IntoIterator<Item = T>, key: impl Fn(T) -> u64) -> BTreeSet<String> {
    items.into_iter().map(|t| key(t).to_string()).collect()
}

/// The canonical text of an exact decimal (what the connector must emit).
/// The emulator's decimals carry their own methods, so the suite needs no
/// decimal crate of its own.
macro_rules! dec {
    ($d:expr) => {
        $d.normalize().to_string()
    };
}

/// The canonical text of an amount as Procurify renders it, to cents.
macro_rules! cents {
    ($d:expr) => {
        $d.round_dp(2).normalize().to_string()
    };
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a decimal string, got {v}"))
}

// ------------------------------------------------------------------ reads

#[tokio::test]
async fn approved_requisitions_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(s.orders_with_status(order_status::APPROVED), |o| o.num)
    };
    let docs = read_complete(&env, "approved_requisitions", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let order = s.order(key.parse().unwrap()).unwrap();
        assert_eq!(doc["status"], 1, "requisition {key}");
        let lines = doc["lines"].as_array().expect("lines");
        let ids: Vec<u64> = lines.iter().map(|l| l["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, order.items, "requisition {key}: every line, in order");
        assert_eq!(doc["line_count"], order.items.len());
        let total = order
            .items
            .iter()
            .map(|id| s.item(*id).unwrap().total_cost())
            .reduce(|a, b| a + b)
            .expect("a requisition has lines");
        assert_eq!(
            text(&doc["total"]),
            cents!(total),
            "requisition {key}: total"
        );
        assert!(
            text(&doc["modified"])
                .starts_with(&order.date_modified.format("%Y-%m-%dT%H:%M:%S").to_string())
                && text(&doc["modified"]).ends_with('Z'),
            "requisition {key}: modified {} vs {}",
            doc["modified"],
            order.date_modified
        );
        for line in lines {
            let item = s.item(line["id"].as_u64().unwrap()).unwrap();
            let ctx = format!("requisition {key} line {}", item.id);
            assert_eq!(
                text(&line["quantity"]),
                dec!(item.approved_quantity.unwrap_or(item.quantity)),
                "{ctx}: quantity"
            );
            assert_eq!(
                text(&line["unit_price"]),
                dec!(item.approved_price.unwrap_or(item.price)),
                "{ctx}: unit price"
            );
            assert_eq!(
                text(&line["requested_quantity"]),
                dec!(item.quantity),
                "{ctx}"
            );
            assert_eq!(line["unit"], item.unit.as_str(), "{ctx}: unit");
            assert_eq!(line["vendor"]["id"], item.pref_vendor, "{ctx}: vendor");
            let vendor = s.vendor(item.pref_vendor).unwrap();
            assert_eq!(
                line["vendor"]["external_id"],
                json!(vendor.external_id),
                "{ctx}: vendor external id"
            );
            let currency = s.currency(item.currency).unwrap();
            assert_eq!(line["currency"]["code"], currency.name.as_str(), "{ctx}");
            // The department comes from the line's account, not the requisition.
            let account = s.account(item.account).unwrap();
            let code = s.account_code(account.account_code).unwrap();
            let dept = s.department(account.department).unwrap();
            assert_eq!(line["account"]["id"], item.account, "{ctx}: account");
            assert_eq!(line["account"]["code"], code.code.as_str(), "{ctx}: code");
            assert_eq!(line["department"]["id"], dept.id, "{ctx}: department");
            assert_eq!(
                line["department"]["external_id"],
                json!(dept.external_id),
                "{ctx}: department external id"
            );
        }
    }
}

#[tokio::test]
async fn ordered_items_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(s.items.iter().filter(|i| i.purchase_order.is_some()), |i| {
            i.id
        })
    };
    let docs = read_complete(&env, "ordered_items", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let item = s.item(key.parse().unwrap()).unwrap();
        let ctx = format!("ordered item {key}");
        assert_eq!(
            doc["purchase_order"],
            json!(item.purchase_order),
            "{ctx}: PO"
        );
        assert_eq!(doc["requisition_id"], item.order_num, "{ctx}");
        assert_eq!(
            text(&doc["quantity"]),
            dec!(item.approved_quantity.unwrap_or(item.quantity)),
            "{ctx}: quantity"
        );
        assert_eq!(
            text(&doc["unit_price"]),
            dec!(item.approved_price.unwrap_or(item.price)),
            "{ctx}: unit price"
        );
        assert_eq!(
            text(&doc["total_cost"]),
            cents!(item.total_cost()),
            "{ctx}: total cost"
        );
        let account = s.account(item.account).unwrap();
        assert_eq!(doc["department"]["id"], account.department, "{ctx}");
    }
}

#[tokio::test]
async fn purchase_orders_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(&s.purchase_orders, |p| p.id)
    };
    let docs = read_complete(&env, "purchase_orders", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let po = s.purchase_order(key.parse().unwrap()).unwrap();
        let ctx = format!("purchase order {key}");
        assert_eq!(doc["state"], po.state, "{ctx}: state");
        assert_eq!(doc["vendor"]["id"], po.vendor, "{ctx}: vendor");
        let ids: Vec<u64> = doc["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, po.items, "{ctx}: lines");
        let total = po
            .items
            .iter()
            .map(|id| s.item(*id).unwrap().total_cost())
            .reduce(|a, b| a + b)
            .expect("a purchase order has lines");
        assert_eq!(text(&doc["total"]), cents!(total), "{ctx}: total");
        for line in doc["lines"].as_array().unwrap() {
            let item = s.item(line["id"].as_u64().unwrap()).unwrap();
            assert_eq!(
                text(&line["quantity"]),
                dec!(item.approved_quantity.unwrap_or(item.quantity)),
                "{ctx} line {}: quantity",
                item.id
            );
            assert_eq!(
                text(&line["unit_price"]),
                dec!(item.approved_price.unwrap_or(item.price)),
                "{ctx} line {}: unit price",
                item.id
            );
        }
    }
}

#[tokio::test]
async fn vendors_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(s.vendors(), |v| v.id)
    };
    let docs = read_complete(&env, "vendors", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let v = s.vendor(key.parse().unwrap()).unwrap();
        assert_eq!(doc["name"], v.name.as_str(), "vendor {key}");
        assert_eq!(doc["external_id"], json!(v.external_id), "vendor {key}");
        assert_eq!(doc["email"], json!(v.email), "vendor {key}");
    }
}

#[tokio::test]
async fn account_codes_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(&s.account_codes, |c| c.id)
    };
    let docs = read_complete(&env, "account_codes", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let c = s.account_code(key.parse().unwrap()).unwrap();
        assert_eq!(doc["code"], c.code.as_str(), "account code {key}");
        assert_eq!(doc["description"], c.description.as_str());
        assert_eq!(doc["active"], c.active);
    }
}

#[tokio::test]
async fn departments_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(&s.departments, |d| d.id)
    };
    let docs = read_complete(&env, "departments", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let d = s.department(key.parse().unwrap()).unwrap();
        assert_eq!(doc["name"], d.name.as_str(), "department {key}");
        assert_eq!(doc["external_id"], json!(d.external_id), "department {key}");
        assert_eq!(doc["location"]["id"], d.branch, "department {key}");
    }
}

#[tokio::test]
async fn accounts_read_completely_across_pages() {
    let env = Env::new(40).await;
    let expected = {
        let s = env.emu.state();
        keys(&s.accounts, |a| a.id)
    };
    let docs = read_complete(&env, "accounts", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let a = s.account(key.parse().unwrap()).unwrap();
        assert_eq!(doc["account_code"]["id"], a.account_code, "account {key}");
        assert_eq!(doc["department"]["id"], a.department, "account {key}");
        assert_eq!(
            text(&doc["budget"]),
            dec!(a.budget),
            "account {key}: budget"
        );
    }
}

#[tokio::test]
async fn bills_read_completely_across_pages() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(&s.bills, |b| b.id)
    };
    let docs = read_complete(&env, "bills", &expected).await;
    let s = env.emu.state();
    for (key, doc) in &docs {
        let b = s.bills.iter().find(|b| b.id.to_string() == *key).unwrap();
        assert_eq!(
            text(&doc["total_with_tax"]),
            dec!(b.total),
            "bill {key}: total with tax"
        );
        assert_eq!(doc["invoice_number"], b.invoice_number.as_str());
        assert_eq!(doc["item_ids"], json!(b.items), "bill {key}");
    }
}

// ------------------------------------------------------------ incremental

#[tokio::test]
async fn approved_requisitions_cursor_returns_new_and_changed_requisitions() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let first = read_pass(&mut inst, &env.conn, "approved_requisitions", None).await;
    let saved = first.cursor.clone().expect("a cursor after the full pass");
    let before: BTreeSet<String> = first.keys().into_iter().collect();

    let (approved, modified, qty) = {
        let mut s = env.emu.state();
        let approved = s.approve_more(3);
        let modified = before.iter().next().unwrap().parse::<u64>().unwrap();
        s.modify_approved(modified).unwrap();
        let first_line = s.order(modified).unwrap().items[0];
        let qty = s.item(first_line).unwrap().approved_quantity.unwrap();
        (approved, modified, dec!(qty))
    };
    assert!(
        approved.iter().all(|n| !before.contains(&n.to_string())),
        "approve_more returned a requisition already approved: {approved:?}"
    );

    let second = read_pass(&mut inst, &env.conn, "approved_requisitions", Some(saved)).await;
    let docs = second.by_key();
    for num in &approved {
        assert!(
            docs.contains_key(&num.to_string()),
            "newly approved requisition {num} missing from the incremental read; got {:?}",
            docs.keys().collect::<Vec<_>>()
        );
    }
    let changed = docs.get(&modified.to_string()).unwrap_or_else(|| {
        panic!("modified requisition {modified} missing from the incremental read")
    });
    assert_eq!(
        text(&changed["lines"][0]["quantity"]),
        qty,
        "the change itself is in the document"
    );
    // The overlap may repeat some, but an incremental pass is not a full re-read.
    assert!(
        second.docs.len() < before.len() + approved.len(),
        "incremental pass re-read everything ({} docs)",
        second.docs.len()
    );
    assert_eq!(env.token_fetches(), 1);
}

#[tokio::test]
async fn vendors_scan_cursor_emits_only_the_vendor_added_since() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let first = read_pass(&mut inst, &env.conn, "vendors", None).await;
    let id = env
        .emu
        .state()
        .add_vendor("Näher & Söhne <GmbH>", Some("0000077001"));
    let second = read_pass(&mut inst, &env.conn, "vendors", first.cursor).await;
    assert_eq!(second.keys(), vec![id.to_string()]);
    let doc = &second.by_key()[&id.to_string()];
    assert_eq!(doc["name"], "Näher & Söhne <GmbH>");
    assert_eq!(doc["external_id"], "0000077001");
}

// ------------------------------------------------------------------ writes

#[tokio::test]
async fn vendor_create_lands_and_is_found_by_external_id() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let before = env.emu.state().vendors().len();
    let written = inst
        .write(
            &env.conn,
            "vendors",
            &Env::doc(
                "0000099001",
                json!({"name": "Grüne Wiese & Co <AG>", "email": ["ap@gruene.example.com"],
                       "address": {"line1": "1 Feldweg", "city": "Bern", "country": "CH"}}),
            ),
        )
        .await
        .expect("vendor create");
    assert_eq!(written.key, "0000099001");
    let id: u64 = written
        .target_key
        .parse()
        .expect("target key is the vendor id");
    {
        let s = env.emu.state();
        assert_eq!(s.vendors().len(), before + 1);
        let v = s.vendor(id).expect("the vendor exists in the emulator");
        assert_eq!(v.name, "Grüne Wiese & Co <AG>");
        assert_eq!(v.external_id.as_deref(), Some("0000099001"));
        assert_eq!(v.email, vec!["ap@gruene.example.com".to_string()]);
        assert_eq!(v.city.as_deref(), Some("Bern"));
    }
    let found = inst
        .lookup(&env.conn, "vendors", "0000099001")
        .await
        .unwrap();
    assert_eq!(found, Some(id.to_string()));
    let none = inst
        .lookup(&env.conn, "vendors", "0000099999")
        .await
        .unwrap();
    assert_eq!(none, None);
}

#[tokio::test]
async fn vendor_update_changes_the_existing_vendor_in_place() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let (id, before) = {
        let s = env.emu.state();
        let v = s
            .vendors()
            .iter()
            .find(|v| v.external_id.is_some())
            .unwrap();
        (v.id, s.vendors().len())
    };
    let external = env
        .emu
        .state()
        .vendor(id)
        .unwrap()
        .external_id
        .clone()
        .unwrap();
    // By external id (no Procurify id in the document) ...
    let written = inst
        .write(
            &env.conn,
            "vendors",
            &Env::doc(
                &external,
                json!({"name": "Renamed Supplier Ltd", "phone": "+1 555 0199"}),
            ),
        )
        .await
        .expect("vendor update by external id");
    assert_eq!(written.target_key, id.to_string());
    // ... and by id.
    inst.write(
        &env.conn,
        "vendors",
        &Env::doc(&external, json!({"id": id, "contact": "Jo Ames"})),
    )
    .await
    .expect("vendor update by id");
    let s = env.emu.state();
    assert_eq!(
        s.vendors().len(),
        before,
        "an update must not create a vendor"
    );
    let v = s.vendor(id).unwrap();
    assert_eq!(v.name, "Renamed Supplier Ltd");
    assert_eq!(v.phone_one.as_deref(), Some("+1 555 0199"));
    assert_eq!(v.contact.as_deref(), Some("Jo Ames"));
    assert_eq!(v.external_id.as_deref(), Some(external.as_str()));
}

#[tokio::test]
async fn account_code_write_lands_and_is_found_by_code() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let written = inst
        .write(
            &env.conn,
            "account_codes",
            &Env::doc(
                "699123",
                json!({"code": "699123", "description": "Lab consumables", "account_type": 2}),
            ),
        )
        .await
        .expect("account code create");
    let id: u64 = written.target_key.parse().unwrap();
    {
        let s = env.emu.state();
        let c = s.account_code(id).expect("the code exists in the emulator");
        assert_eq!(c.code, "699123");
        assert_eq!(c.description, "Lab consumables");
        assert_eq!(c.account_type, 2);
    }
    assert_eq!(
        inst.lookup(&env.conn, "account_codes", "699123")
            .await
            .unwrap(),
        Some(id.to_string())
    );
    // Writing the same code again updates it.
    let count = env.emu.state().account_codes.len();
    let again = inst
        .write(
            &env.conn,
            "account_codes",
            &Env::doc(
                "699123",
                json!({"code": "699123", "description": "Lab consumables and gases"}),
            ),
        )
        .await
        .expect("account code update");
    assert_eq!(again.target_key, id.to_string());
    let s = env.emu.state();
    assert_eq!(s.account_codes.len(), count);
    assert_eq!(
        s.account_code(id).unwrap().description,
        "Lab consumables and gases"
    );
}

#[tokio::test]
async fn department_write_lands_and_is_found_by_external_id() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let written = inst
        .write(
            &env.conn,
            "departments",
            &Env::doc(
                "99100",
                json!({"name": "Quality Lab", "external_id": "99100", "location": {"id": 2}}),
            ),
        )
        .await
        .expect("department create");
    let id: u64 = written.target_key.parse().unwrap();
    {
        let s = env.emu.state();
        let d = s
            .department(id)
            .expect("the department exists in the emulator");
        assert_eq!(d.name, "Quality Lab");
        assert_eq!(d.external_id.as_deref(), Some("99100"));
        assert_eq!(d.branch, 2);
    }
    assert_eq!(
        inst.lookup(&env.conn, "departments", "99100")
            .await
            .unwrap(),
        Some(id.to_string()),
        "department found by external id"
    );
    // Writing it again (renamed) updates the same department.
    let count = env.emu.state().departments.len();
    let again = inst
        .write(
            &env.conn,
            "departments",
            &Env::doc("99100", json!({"name": "Quality Laboratory"})),
        )
        .await
        .expect("department update");
    assert_eq!(again.target_key, id.to_string());
    let s = env.emu.state();
    assert_eq!(
        s.departments.len(),
        count,
        "an update must not create a department"
    );
    assert_eq!(s.department(id).unwrap().name, "Quality Laboratory");
    assert_eq!(
        s.department(id).unwrap().branch,
        2,
        "location kept on update"
    );
}

#[tokio::test]
async fn purchase_order_closure_lands_and_lookup_reports_it_closed() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let po = {
        let s = env.emu.state();
        s.purchase_orders
            .iter()
            .find(|p| p.state == po_state::PURCHASED)
            .expect("an open purchase order")
            .id
    };
    let key = po.to_string();
    assert_eq!(
        inst.lookup(&env.conn, "purchase_order_closures", &key)
            .await
            .unwrap(),
        None,
        "an open PO is not reported closed"
    );
    let written = inst
        .write(
            &env.conn,
            "purchase_order_closures",
            &Env::doc(
                "voucher-00042",
                json!({"purchase_order": po, "source": "PS voucher 00042"}),
            ),
        )
        .await
        .expect("close");
    assert_eq!(written.target_key, key);
    assert_eq!(
        env.emu.state().purchase_order(po).unwrap().state,
        po_state::CLOSED
    );
    assert_eq!(
        inst.lookup(&env.conn, "purchase_order_closures", &key)
            .await
            .unwrap(),
        Some(key.clone())
    );
    // Closing again is a no-op, not an error.
    inst.write(
        &env.conn,
        "purchase_order_closures",
        &Env::doc(&key, json!({})),
    )
    .await
    .expect("closing a closed PO again");
    assert_eq!(env.token_fetches(), 1);
}

// ------------------------------------------------------------------ errors

fn failure_of<T: std::fmt::Debug>(result: Result<T, mlc_host::runtime::CallError>) -> Failure {
    match result {
        Ok(v) => panic!("expected a failure, got {v:?}"),
        Err(e) => e
            .failure()
            .cloned()
            .unwrap_or_else(|| panic!("expected a classified failure, got {e}")),
    }
}

#[tokio::test]
async fn bad_client_secret_is_unauthorized_and_never_reaches_the_api() {
    let env = Env::with(
        ProcurifyConfig {
            requisitions: 10,
            ..ProcurifyConfig::default()
        },
        json!({"page_size": 4}),
        Some("not-the-secret-4711"),
    )
    .await;
    let mut inst = env.instance().await;
    match failure_of(inst.read(&env.conn, "vendors", None).await) {
        Failure::Unauthorized(msg) => {
            assert!(msg.contains("invalid_client"), "{msg}");
            assert!(!msg.contains("not-the-secret-4711"), "secret leaked: {msg}");
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    assert!(
        env.api_requests().is_empty(),
        "no API call without a token: {:?}",
        env.api_requests()
            .iter()
            .map(|r| r.request.path.clone())
            .collect::<Vec<_>>()
    );
    assert!(matches!(
        failure_of(inst.check(&env.conn).await),
        Failure::Unauthorized(_)
    ));
}

#[tokio::test]
async fn expired_token_mid_read_is_renewed_without_a_failure() {
    let env = Env::new(4).await;
    let expected = {
        let s = env.emu.state();
        keys(s.vendors(), |v| v.id)
    };
    let mut inst = env.instance().await;
    let first = inst.read(&env.conn, "vendors", None).await.unwrap();
    assert!(first.more, "vendors need more than one page");
    env.emu.expire_tokens();
    let rest = read_pass(&mut inst, &env.conn, "vendors", first.cursor.clone()).await;
    let mut read: Vec<String> = first.docs.iter().map(|d| d.key.clone()).collect();
    read.extend(rest.keys());
    let set: BTreeSet<String> = read.iter().cloned().collect();
    assert_eq!(set.len(), read.len(), "no duplicates");
    assert_eq!(set, expected, "the whole stream despite the expiry");
    assert_eq!(env.token_fetches(), 2, "one renewal after the 401");
    assert_eq!(
        env.api_requests()
            .iter()
            .filter(|r| r.status == 401)
            .count(),
        1,
        "exactly one request met the expired token"
    );
    let reasons: Vec<TokenReason> = env
        .builder
        .events
        .recent()
        .into_iter()
        .filter_map(|e| match e {
            Event::TokenRefreshed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![TokenReason::Initial, TokenReason::Rejected]);
}

#[tokio::test]
async fn forbidden_is_not_enabled_naming_the_permission() {
    let env = Env::new(4).await;
    env.emu
        .faults()
        .add(FaultRule::always(Fault::Status(403)).on_path("/api/v3/account-codes/"));
    let mut inst = env.instance().await;
    match failure_of(inst.read(&env.conn, "account_codes", None).await) {
        Failure::NotEnabled(msg) => {
            assert!(msg.contains("403"), "{msg}");
            assert!(
                msg.contains("view account codes"),
                "names the permission: {msg}"
            );
        }
        other => panic!("expected not-enabled, got {other:?}"),
    }
    match failure_of(inst.check(&env.conn).await) {
        Failure::NotEnabled(_) => {}
        other => panic!("check: expected not-enabled, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_write_is_rejected_with_the_field_message() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    let vendors = env.emu.state().vendors().len();
    match failure_of(
        inst.write(
            &env.conn,
            "vendors",
            &Env::doc(
                "0000099002",
                json!({"name": "Bad Mail Inc", "email": ["not-an-address"]}),
            ),
        )
        .await,
    ) {
        Failure::Rejected(msg) => {
            assert!(msg.contains("400"), "{msg}");
            assert!(msg.contains("email"), "names the field: {msg}");
            assert!(msg.contains("Enter a valid email address."), "{msg}");
        }
        other => panic!("expected rejected, got {other:?}"),
    }
    assert_eq!(env.emu.state().vendors().len(), vendors, "nothing created");

    match failure_of(
        inst.write(
            &env.conn,
            "departments",
            &Env::doc("99200", json!({"name": "Nowhere", "location": {"id": 999}})),
        )
        .await,
    ) {
        Failure::Rejected(msg) => {
            assert!(msg.contains("branch"), "names the field: {msg}");
            assert!(msg.contains("Invalid pk \"999\""), "{msg}");
        }
        other => panic!("expected rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_referenced_object_is_rejected() {
    let env = Env::new(4).await;
    let mut inst = env.instance().await;
    match failure_of(
        inst.write(
            &env.conn,
            "purchase_order_closures",
            &Env::doc("999999", json!({"purchase_order": 999_999})),
        )
        .await,
    ) {
        Failure::Rejected(msg) => assert!(msg.contains("404"), "{msg}"),
        other => panic!("expected rejected for an unknown PO, got {other:?}"),
    }
    match failure_of(
        inst.write(
            &env.conn,
            "vendors",
            &Env::doc("0000099003", json!({"id": 987_654, "name": "Ghost"})),
        )
        .await,
    ) {
        Failure::Rejected(msg) => assert!(msg.contains("404"), "{msg}"),
        other => panic!("expected rejected for an unknown vendor id, got {other:?}"),
    }
}

#[tokio::test]
async fn throttling_is_rate_limited_with_the_retry_after_seconds() {
    let env = Env::new(4).await;
    env.emu.faults().add(
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 17,
        })
        .on_path("/api/v3/vendors/")
        .times(1),
    );
    let mut inst = env.instance().await;
    match failure_of(inst.read(&env.conn, "vendors", None).await) {
        Failure::RateLimited(t) => {
            assert_eq!(t.retry_after_secs, Some(17), "{t:?}");
            assert!(t.message.contains("429"), "{}", t.message);
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    // Once the throttle passes, the same read works.
    inst.read(&env.conn, "vendors", None).await.unwrap();
}

/// Immediate repeats the connector makes of a list GET after a 5xx or a broken
/// connection (`connector_procurify::client::LIST_RETRIES`): a fault must
/// last that many more calls to surface.
const LIST_REPEATS: u32 = 3;

/// Reads page 2 of `stream` under `fault`, injected `1 + repeats` times (page
/// 1 was fine), and returns the failure.
async fn failure_mid_read(
    env: &Env,
    stream: &str,
    path: &str,
    fault: Fault,
    repeats: u32,
) -> Failure {
    let mut inst = env.instance().await;
    let first = inst.read(&env.conn, stream, None).await.unwrap();
    assert!(first.more);
    env.emu.faults().add(
        FaultRule::always(fault)
            .on(Method::GET, path)
            .times(1 + repeats),
    );
    let failure = failure_of(inst.read(&env.conn, stream, first.cursor.as_deref()).await);
    // The fault was one-off: retrying from the same cursor succeeds.
    inst.read(&env.conn, stream, first.cursor.as_deref())
        .await
        .expect("the retry after a one-off fault succeeds");
    failure
}

#[tokio::test]
async fn server_errors_are_transient() {
    let env = Env::new(4).await;
    for code in [500, 502, 503, 504] {
        match failure_mid_read(
            &env,
            "departments",
            "/api/v3/departments/",
            Fault::Status(code),
            LIST_REPEATS,
        )
        .await
        {
            Failure::Transient(msg) => assert!(msg.contains(&code.to_string()), "{msg}"),
            other => panic!("{code}: expected transient, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn dropped_connection_is_transient() {
    let env = Env::new(4).await;
    match failure_mid_read(
        &env,
        "bills",
        "/api/v3/ap/bills/",
        Fault::DropConnection,
        LIST_REPEATS,
    )
    .await
    {
        Failure::Transient(_) => {}
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn truncated_body_is_transient() {
    let env = Env::new(4).await;
    match failure_mid_read(
        &env,
        "vendors",
        "/api/v3/vendors/",
        Fault::TruncateBody,
        LIST_REPEATS,
    )
    .await
    {
        Failure::Transient(_) => {}
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_json_is_a_protocol_failure_with_an_excerpt() {
    let env = Env::new(4).await;
    match failure_mid_read(
        &env,
        "ordered_items",
        "/api/v3/order-items/",
        Fault::MalformedBody,
        0,
    )
    .await
    {
        Failure::Protocol(msg) => {
            assert!(
                msg.contains(r#"{"data": ["#) || msg.contains(r#"{\"data\": ["#),
                "quotes what came: {msg}"
            );
            assert!(msg.len() < 1000, "a short excerpt, not the page: {msg}");
        }
        other => panic!("expected protocol, got {other:?}"),
    }
}

// ------------------------------------------------------------ every request

#[tokio::test]
async fn every_request_carries_the_api_client_header_and_a_bearer_from_one_token() {
    let env = Env::new(25).await;
    let mut inst = env.instance().await;
    inst.check(&env.conn).await.expect("check");
    for stream in [
        "approved_requisitions",
        "ordered_items",
        "purchase_orders",
        "vendors",
        "account_codes",
        "departments",
        "accounts",
        "bills",
    ] {
        inst.read(&env.conn, stream, None)
            .await
            .unwrap_or_else(|e| panic!("read {stream}: {e}"));
    }
    // A second instance of the same connection reuses the token.
    let mut other = env.instance().await;
    other
        .write(
            &env.conn,
            "vendors",
            &Env::doc("0000099004", json!({"name": "Header Check Ltd"})),
        )
        .await
        .expect("vendor write");
    other
        .lookup(&env.conn, "departments", "Quality")
        .await
        .expect("department lookup");
    other
        .lookup(&env.conn, "purchase_order_closures", "1")
        .await
        .expect("closure lookup");

    let api = env.api_requests();
    assert!(api.len() >= 12, "only {} API requests", api.len());
    let mut tokens = BTreeSet::new();
    for r in &api {
        let what = format!("{} {}", r.request.method, r.request.path);
        assert_eq!(
            r.request.header("x-procurify-client"),
            Some("api"),
            "{what}: X-Procurify-Client"
        );
        let auth = r
            .request
            .header("authorization")
            .unwrap_or_else(|| panic!("{what}: no Authorization header"));
        let token = auth
            .strip_prefix("Bearer ")
            .unwrap_or_else(|| panic!("{what}: not a bearer token: {auth}"));
        tokens.insert(token.to_string());
        assert_eq!(r.status / 100, 2, "{what}: answered {}", r.status);
        assert!(r.request.path.ends_with('/'), "{what}: trailing slash");
    }
    assert_eq!(tokens.len(), 1, "one token for every call");
    assert_eq!(env.token_fetches(), 1, "the token was fetched once");
    let token_call = env
        .emu
        .server()
        .requests()
        .into_iter()
        .find(|r| r.request.path.starts_with("/oauth/token"))
        .unwrap();
    let body: Value = serde_json::from_slice(&token_call.request.body).expect("JSON token body");
    assert_eq!(body["grant_type"], "client_credentials");
    assert_eq!(body["audience"], AUDIENCE);
    assert_eq!(body["client_id"], env.emu.config().client_id.as_str());
}
