//! Prints how long this connector takes, natively, to turn one page of 1000
//! Procurify order items into documents: once for the pure step (parse the
//! envelope, normalize, serialize) and once for a whole `read` call of
//! `ordered_items` against a canned in-memory remote (warm reference cache,
//! cursor included). Run: `cargo bench -p connector-procurify`.

use std::hint::black_box;
use std::time::Instant;

use connector_procurify::refs::{AccountRef, Cache, CurrencyRef, DepartmentRef, Refs, VendorRef};
use connector_procurify::streams::{self, Ctx, Outcome};
use connector_procurify::{api, client::Client, config};
use mlc_guest::Env;
use mlc_guest::host::Level;
use mlc_guest::http::{Request, Response, SendError};
use serde_json::{Value, json};

const ITEMS: usize = 1000;
const VENDORS: i64 = 40;
const ACCOUNTS: i64 = 60;

fn page_body() -> String {
    let data: Vec<Value> = (0..ITEMS as i64)
        .map(|i| {
            json!({
                "id": 100_000 + i, "num": format!("{}-{}", 9000 + i / 4, i % 4 + 1), "orderNum": 9000 + i / 4,
                "name": format!("Item {i}: nitrile gloves, box of 100 — size L"), "sku": format!("SKU-{i:05}"),
                "unit": "box", "quantity": "12.00000", "approved_quantity": "10.00000",
                "price": "12.50000000", "approved_price": "12.25000000", "total_cost": "122.50",
                "tax_amount": null, "approved_tax_amount": "7.35000000", "shipping_amount": null,
                "currency": 1, "pref_vendor": 1 + i % VENDORS, "vendor": "Acme Industrial Supply",
                "account": 1 + i % ACCOUNTS, "accountCode": "610000", "status": 2,
                "purchase_order": 3000 + i / 10, "PO_line_num": i % 10 + 1, "PO": [3000 + i / 10],
                "approved_datetime": "2026-11-02T09:15:00.000+00:00", "created_at": "2026-11-01T08:00:00.000+00:00",
                "last_modified": "2026-11-03T10:00:00.123456+00:00", "updated_at": "2026-11-03T10:00:00.123456+00:00",
                "lineComment": "Deliver to dock 4", "external_id": "", "hot": false, "active": true, "is_active": true,
                "receivedPassQty": "0.00000", "receivedFailQty": "0.00000", "item_attachments": [], "blanket": null
            })
        })
        .collect();
    json!({"metadata": {"pagination": {"count": ITEMS, "next": null, "previous": null, "page_size": ITEMS,
           "num_pages": 1, "current_page": 1}}, "data": data})
    .to_string()
}

fn refs() -> Refs {
    let mut r = Refs::default();
    for v in 1..=VENDORS {
        r.vendors.insert(
            v,
            VendorRef {
                id: v,
                name: Some(format!("Vendor {v}")),
                external_id: Some(format!("{v:010}")),
            },
        );
    }
    for a in 1..=ACCOUNTS {
        r.accounts.insert(a, account(a));
    }
    r.currencies.insert(
        1,
        CurrencyRef {
            id: Some(1),
            code: Some("USD".into()),
            rate: Some("1".into()),
        },
    );
    r
}

fn account(a: i64) -> AccountRef {
    AccountRef {
        id: a,
        account_code_id: Some(a),
        code: Some(format!("6{a:05}")),
        description: Some("Office Supplies".into()),
        department: Some(DepartmentRef {
            id: a,
            name: Some("Finance".into()),
            external_id: Some("10100".into()),
        }),
    }
}

/// Answers every call from memory, as a warm Procurify would.
struct Canned {
    page: String,
}

impl Env for Canned {
    fn send(&self, request: &Request) -> Result<Response, SendError> {
        let url = &request.url;
        let body = if url.contains("/api/v3/order-items/") {
            self.page.clone()
        } else if let Some(rest) = url.split("/api/v3/vendors/").nth(1) {
            let id: i64 = rest.trim_end_matches('/').parse().unwrap_or(0);
            json!({"data": {"id": id, "name": format!("Vendor {id}"), "external_id": format!("{id:010}")}}).to_string()
        } else if let Some(id) = url.split("id=").nth(1) {
            let id: i64 = id.parse().unwrap_or(0);
            json!({"metadata": {"pagination": {"next": null}}, "data": [{"id": id,
                   "account_code": {"id": id, "code": format!("6{id:05}"), "description": "Office Supplies"},
                   "department": {"id": id, "name": "Finance", "external_id": "10100"}}]})
            .to_string()
        } else {
            json!({"metadata": {"pagination": {"next": null}}, "data": [{"id": 1, "name": "USD", "rate": "1.000000"}]})
                .to_string()
        };
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            body: body.into_bytes(),
        })
    }
    fn now_ms(&self) -> u64 {
        0
    }
    fn log(&self, _level: Level, _message: &str) {}
}

/// CPU seconds this process has used (user + system), from /proc on Linux:
/// on a shared, loaded machine it is a steadier figure than wall time.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are 14th and 15th overall.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn report(label: &str, runs: u32, total: std::time::Duration, cpu: Option<f64>, bytes: usize) {
    let per_page = total / runs;
    let cpu = cpu.map_or("n/a".to_string(), |c| {
        format!("{:.3} ms", c * 1e3 / f64::from(runs))
    });
    println!(
        "{label}: {runs} runs, wall {:.3} ms per {ITEMS}-item page ({:.2} us per item), cpu {cpu} per page, page body {bytes} bytes",
        per_page.as_secs_f64() * 1e3,
        per_page.as_secs_f64() * 1e6 / ITEMS as f64,
    );
}

/// Runs `f` `runs` times and reports wall and CPU time.
fn measure(label: &str, runs: u32, bytes: usize, mut f: impl FnMut()) {
    let cpu0 = cpu_secs();
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    let wall = start.elapsed();
    let cpu = cpu0.zip(cpu_secs()).map(|(a, b)| b - a);
    report(label, runs, wall, cpu, bytes);
}

fn main() {
    let body = page_body();
    let refs = refs();
    let runs = 50;

    // Envelope parse alone (serde_json), the floor under everything else.
    measure("parse envelope only", runs, body.len(), || {
        black_box(api::parse_list(black_box(body.as_bytes())).expect("bench page parses"));
    });

    // Pure step: envelope parse + normalize + document serialization.
    let pure = |body: &str| {
        let page = api::parse_list(body.as_bytes()).expect("bench page parses");
        let out = streams::ordered_items::normalize_page(&page.data, &refs);
        let docs: usize = out
            .into_iter()
            .map(|o| match o {
                Outcome::Doc { body, .. } => body.to_string().len(),
                _ => panic!("bench record was not a document"),
            })
            .sum();
        black_box(docs)
    };
    pure(&body); // warm-up
    measure(
        "normalize (parse + normalize + serialize)",
        runs,
        body.len(),
        || {
            black_box(pure(black_box(&body)));
        },
    );

    // Whole read call through the stream driver with a warm cache.
    let target =
        config::resolve("http://127.0.0.1:9", r#"{"page_size": 1000}"#).expect("bench config");
    let remote = Canned { page: body.clone() };
    let mut cache = Cache::default();
    let mut read = || {
        let mut ctx = Ctx {
            client: Client::new(&remote, &target),
            cache: &mut cache,
        };
        let page = streams::read(&mut ctx, "ordered_items", None).expect("bench read");
        assert_eq!(page.docs.len(), ITEMS);
        black_box(page.docs.len())
    };
    read(); // fills the reference cache
    measure(
        "read ordered_items (driver, warm cache)",
        runs,
        body.len(),
        || {
            read();
        },
    );
}
