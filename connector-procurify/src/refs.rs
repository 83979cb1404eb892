//! Reference data that order lines point at by id (vendors, accounts with
//! their account code and department, currencies): the parsed shapes, and a
//! per-instance cache filled on demand so each id costs one call per
//! [`TTL_MS`], not one per line.

use std::collections::{BTreeMap, BTreeSet};

use mlc_guest::Failure;
use mlc_guest::host::Level;
use serde_json::{Value, json};

use crate::client::Client;
use crate::fields::{FieldError, Obj};

/// How long a cached reference stays valid: long enough for a backfill's
/// consecutive pages, short enough that a vendor's new `external_id` shows up
/// on the next poll.
pub const TTL_MS: u64 = 5 * 60 * 1000;

/// A vendor or department as other records refer to it: id, name and the
/// external (PeopleSoft) id.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRef {
    /// Procurify id.
    pub id: i64,
    /// Name.
    pub name: Option<String>,
    /// The external (PeopleSoft) id, when set: VENDOR_ID or DEPTID.
    pub external_id: Option<String>,
}

impl NamedRef {
    /// Reads a vendor object (`VendorRead`, `OptimizedVendor`,
    /// `SimpleAPVendor`) or a department object (`DepartmentSummary`,
    /// `DepartmentRead`).
    pub fn parse(o: Obj<'_>) -> Result<NamedRef, FieldError> {
        Ok(NamedRef {
            id: o.int("id")?,
            name: o.opt_str("name")?,
            external_id: o.opt_str("external_id")?,
        })
    }

    /// `{"id","name","external_id"}`.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "external_id": self.external_id})
    }
}

/// A vendor as lines and purchase orders refer to it.
pub type VendorRef = NamedRef;

/// A department as accounts and requisitions refer to it.
pub type DepartmentRef = NamedRef;

/// An entry of `/api/v3/accounts/`: one account code in one department.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRef {
    /// The accounts-endpoint id (what an order line's `account` holds).
    pub id: i64,
    /// The account code's id.
    pub account_code_id: Option<i64>,
    /// The GL code, e.g. `610000`.
    pub code: Option<String>,
    /// The account code's description.
    pub description: Option<String>,
    /// The department the account belongs to.
    pub department: Option<DepartmentRef>,
}

impl AccountRef {
    /// Reads an account object (`ChartOfAccountsAccount`, `AccountRead`).
    pub fn parse(o: Obj<'_>) -> Result<AccountRef, FieldError> {
        let code = o.opt_obj("account_code")?;
        Ok(AccountRef {
            id: o.int("id")?,
            account_code_id: code.map(|c| c.opt_int("id")).transpose()?.flatten(),
            code: code.map(|c| c.opt_str("code")).transpose()?.flatten(),
            description: code
                .map(|c| c.opt_str("description"))
                .transpose()?
                .flatten(),
            department: o
                .opt_obj("department")?
                .map(DepartmentRef::parse)
                .transpose()
                .map_err(|e| e.within("`department`"))?,
        })
    }
}

/// A currency (`Currency`, `CurrencySummary`, `SimpleCurrency`).
#[derive(Debug, Clone, PartialEq)]
pub struct CurrencyRef {
    /// Procurify currency id.
    pub id: Option<i64>,
    /// The currency code (Procurify's `name`, e.g. `USD`).
    pub code: Option<String>,
    /// Exchange rate to the base currency, exact decimal.
    pub rate: Option<String>,
}

impl CurrencyRef {
    /// Reads a currency object.
    pub fn parse(o: Obj<'_>) -> Result<CurrencyRef, FieldError> {
        Ok(CurrencyRef {
            id: o.opt_int("id")?,
            code: o.opt_str("name")?,
            rate: o.opt_decimal("rate")?,
        })
    }

    /// `{"id","code","rate"}`.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "code": self.code, "rate": self.rate})
    }
}

/// Resolved references for one batch of records (what normalizers read).
#[derive(Debug, Clone, Default)]
pub struct Refs {
    /// Vendors by id.
    pub vendors: BTreeMap<i64, VendorRef>,
    /// Accounts by id.
    pub accounts: BTreeMap<i64, AccountRef>,
    /// Currencies by id.
    pub currencies: BTreeMap<i64, CurrencyRef>,
}

/// Ids a batch of records needs resolved.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// Vendor ids.
    pub vendors: BTreeSet<i64>,
    /// Account ids.
    pub accounts: BTreeSet<i64>,
    /// Currency ids.
    pub currencies: BTreeSet<i64>,
}

struct Stamped<T> {
    at_ms: u64,
    value: T,
}

/// Per-instance cache of references; `None` values remember "not found".
/// (`BTreeMap`, not `HashMap`: no random hash seed, so no `wasi:random` import.)
#[derive(Default)]
pub struct Cache {
    base_url: String,
    vendors: BTreeMap<i64, Stamped<Option<VendorRef>>>,
    accounts: BTreeMap<i64, Stamped<Option<AccountRef>>>,
    currencies: Option<Stamped<BTreeMap<i64, CurrencyRef>>>,
}

impl Cache {
    /// Resolves every id in `needs`, from the cache or Procurify.
    pub fn resolve(
        &mut self,
        client: &Client<'_>,
        what: &str,
        needs: &Needs,
    ) -> Result<Refs, Failure> {
        if self.base_url != client.target.base_url {
            // Another connection in this instance: its references are not ours.
            *self = Cache {
                base_url: client.target.base_url.clone(),
                ..Cache::default()
            };
        }
        let now = client.env.now_ms();
        let fresh = |at: u64| now.saturating_sub(at) < TTL_MS;
        let mut refs = Refs::default();

        for &id in &needs.vendors {
            let cached = self.vendors.get(&id).filter(|s| fresh(s.at_ms));
            let value = match cached {
                Some(s) => s.value.clone(),
                None => {
                    let v = fetch_vendor(client, what, id)?;
                    self.vendors.insert(
                        id,
                        Stamped {
                            at_ms: now,
                            value: v.clone(),
                        },
                    );
                    v
                }
            };
            if let Some(v) = value {
                refs.vendors.insert(id, v);
            }
        }

        for &id in &needs.accounts {
            if !self.accounts.get(&id).is_some_and(|s| fresh(s.at_ms)) {
                self.fetch_account(client, what, id, now)?;
            }
            if let Some(Some(a)) = self.accounts.get(&id).map(|s| &s.value) {
                refs.accounts.insert(id, a.clone());
            }
        }

        if !needs.currencies.is_empty() {
            if self.currencies.as_ref().is_none_or(|s| !fresh(s.at_ms)) {
                let all = fetch_currencies(client, what)?;
                self.currencies = Some(Stamped {
                    at_ms: now,
                    value: all,
                });
            }
            if let Some(s) = &self.currencies {
                for id in &needs.currencies {
                    if let Some(c) = s.value.get(id) {
                        refs.currencies.insert(*id, c.clone());
                    }
                }
            }
        }
        Ok(refs)
    }

    /// Fetches account `id` with the documented `id` filter, caching every
    /// account the reply holds. If the reply shows the filter was ignored
    /// (other accounts, more pages) and `id` is not among them, the whole
    /// list is read once instead.
    fn fetch_account(
        &mut self,
        client: &Client<'_>,
        what: &str,
        id: i64,
        now: u64,
    ) -> Result<(), Failure> {
        let path = "/api/v3/accounts/";
        let what = format!("{what}: account {id}");
        let page = client.list(&what, PERMISSION_ACCOUNTS, path, &[("id", id.to_string())])?;
        let filter_ignored = page.next.is_some() || page.data.len() > 1;
        self.remember_accounts(client, &page.data, now);
        let found = self
            .accounts
            .get(&id)
            .is_some_and(|s| s.at_ms == now && s.value.is_some());
        if !found && filter_ignored {
            let mut all = Vec::new();
            client.each_page(
                &format!("{what}: all accounts"),
                PERMISSION_ACCOUNTS,
                path,
                &[],
                |data| {
                    all.extend(data);
                    true
                },
            )?;
            self.remember_accounts(client, &all, now);
        }
        let entry = self.accounts.entry(id).or_insert(Stamped {
            at_ms: now,
            value: None,
        });
        if entry.at_ms != now {
            // Not in any reply: remember that it is missing.
            *entry = Stamped {
                at_ms: now,
                value: None,
            };
        }
        if entry.value.is_none() {
            client.log(
                Level::Warn,
                &format!("{what}: account {id} not found in /api/v3/accounts/; its lines get no department"),
            );
        }
        Ok(())
    }

    fn remember_accounts(&mut self, client: &Client<'_>, data: &[Value], now: u64) {
        for raw in data {
            match Obj::new(raw).and_then(AccountRef::parse) {
                Ok(a) => {
                    self.accounts.insert(
                        a.id,
                        Stamped {
                            at_ms: now,
                            value: Some(a),
                        },
                    );
                }
                Err(e) => client.log(
                    Level::Warn,
                    &format!("accounts: unreadable account skipped: {e}"),
                ),
            }
        }
    }
}

/// Permission the API user needs for the accounts endpoint.
pub const PERMISSION_ACCOUNTS: &str = "view accounts (chart of accounts)";
/// Permission the API user needs for vendors.
pub const PERMISSION_VENDORS: &str = "view vendors";

fn fetch_vendor(client: &Client<'_>, what: &str, id: i64) -> Result<Option<VendorRef>, Failure> {
    let path = format!("/api/v3/vendors/{id}/");
    match client.object(
        &format!("{what}: vendor {id}"),
        PERMISSION_VENDORS,
        "GET",
        &path,
        None,
    ) {
        Ok(v) => match Obj::new(&v).and_then(VendorRef::parse) {
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(mlc_guest::fail::protocol(format!(
                "{what}: vendor {id}: {e}"
            ))),
        },
        // A vendor deleted since the line referenced it: the line keeps its name only.
        Err(Failure::Rejected(m)) if m.contains("404") => {
            client.log(
                Level::Warn,
                &format!("{what}: vendor {id} not found; lines keep the vendor name only"),
            );
            Ok(None)
        }
        Err(f) => Err(f),
    }
}

fn fetch_currencies(
    client: &Client<'_>,
    what: &str,
) -> Result<BTreeMap<i64, CurrencyRef>, Failure> {
    let mut all = BTreeMap::new();
    client.each_page(
        &format!("{what}: currencies"),
        "view currencies",
        "/api/v2/currencies/",
        &[],
        |data| {
            for raw in &data {
                if let Ok(c) = Obj::new(raw).and_then(CurrencyRef::parse)
                    && let Some(id) = c.id
                {
                    all.insert(id, c);
                }
            }
            true
        },
    )?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use mlc_guest::testing::Scripted as Script;

    const EMPTY_NEXT: &str = r#""metadata":{"pagination":{"next":null}}"#;

    #[test]
    fn each_vendor_is_fetched_once_within_the_ttl() {
        let t = config::resolve("http://h", "").unwrap();
        let s = Script::at(1_000);
        s.reply(
            200,
            r#"{"metadata":{},"data":{"id":7,"name":"Acme","external_id":"0000000101"}}"#,
        );
        let c = Client::new(&s, &t);
        let mut cache = Cache::default();
        let needs = Needs {
            vendors: [7].into(),
            ..Needs::default()
        };
        let refs = cache.resolve(&c, "read x", &needs).unwrap();
        assert_eq!(refs.vendors[&7].external_id.as_deref(), Some("0000000101"));
        let again = cache.resolve(&c, "read x", &needs).unwrap();
        assert_eq!(again.vendors[&7].name.as_deref(), Some("Acme"));
        assert_eq!(s.lines(), vec!["GET /api/v3/vendors/7/"]);
    }

    #[test]
    fn stale_entries_are_fetched_again_after_the_ttl() {
        let t = config::resolve("http://h", "").unwrap();
        let s = Script::at(1_000);
        s.reply(200, r#"{"data":{"id":7,"name":"Acme","external_id":null}}"#)
            .reply(200, r#"{"data":{"id":7,"name":"Acme","external_id":"V7"}}"#);
        let mut cache = Cache::default();
        let needs = Needs {
            vendors: [7].into(),
            ..Needs::default()
        };
        {
            let c = Client::new(&s, &t);
            assert_eq!(
                cache.resolve(&c, "r", &needs).unwrap().vendors[&7].external_id,
                None
            );
        }
        s.now_ms.set(s.now_ms.get() + TTL_MS);
        let c = Client::new(&s, &t);
        assert_eq!(
            cache.resolve(&c, "r", &needs).unwrap().vendors[&7]
                .external_id
                .as_deref(),
            Some("V7")
        );
    }

    #[test]
    fn missing_vendor_is_remembered_as_missing_not_failed() {
        let t = config::resolve("http://h", "").unwrap();
        let s = Script::default();
        s.reply(404, r#"{"detail":"Not found."}"#);
        let c = Client::new(&s, &t);
        let mut cache = Cache::default();
        let needs = Needs {
            vendors: [9].into(),
            ..Needs::default()
        };
        assert!(cache.resolve(&c, "r", &needs).unwrap().vendors.is_empty());
        assert!(cache.resolve(&c, "r", &needs).unwrap().vendors.is_empty());
        assert_eq!(s.lines().len(), 1);
    }

    #[test]
    fn account_is_found_with_the_id_filter() {
        let t = config::resolve("http://h", "").unwrap();
        let s = Script::default();
        s.reply(200, format!(
            r#"{{{EMPTY_NEXT},"data":[{{"id":12,"account_code":{{"id":3,"code":"610000","description":"Office Supplies"}},"department":{{"id":6,"name":"Finance","external_id":"10100","branch":{{"id":1,"name":"HQ"}}}}}}]}}"#
        ));
        let c = Client::new(&s, &t);
        let mut cache = Cache::default();
        let refs = cache
            .resolve(
                &c,
                "r",
                &Needs {
                    accounts: [12].into(),
                    ..Needs::default()
                },
            )
            .unwrap();
        let a = &refs.accounts[&12];
        assert_eq!(a.code.as_deref(), Some("610000"));
        assert_eq!(
            a.department.as_ref().unwrap().external_id.as_deref(),
            Some("10100")
        );
        assert_eq!(s.lines(), vec!["GET /api/v3/accounts/?id=12"]);
    }

    #[test]
    fn ignored_id_filter_falls_back_to_one_full_account_scan() {
        let t = config::resolve("http://h", r#"{"page_size": 2}"#).unwrap();
        let s = Script::default();
        let acct = |id: i64| {
            format!(
                r#"{{"id":{id},"account_code":{{"id":1,"code":"C{id}"}},"department":{{"id":1,"name":"D"}}}}"#
            )
        };
        let ignored = format!(
            r#"{{"metadata":{{"pagination":{{"next":"http://h/api/v3/accounts/?page=2"}}}},"data":[{},{}]}}"#,
            acct(1),
            acct(2)
        );
        s.reply(200, ignored.clone())
            .reply(200, ignored)
            .reply(200, format!(r#"{{"metadata":{{"pagination":{{"next":"http://h/api/v3/accounts/?page=2"}}}},"data":[{},{}]}}"#, acct(1), acct(2)))
            .reply(200, format!(r#"{{{EMPTY_NEXT},"data":[{}]}}"#, acct(3)));
        let c = Client::new(&s, &t);
        let mut cache = Cache::default();
        let refs = cache
            .resolve(
                &c,
                "r",
                &Needs {
                    accounts: [3, 2].into(),
                    ..Needs::default()
                },
            )
            .unwrap();
        assert_eq!(refs.accounts[&3].code.as_deref(), Some("C3"));
        assert_eq!(refs.accounts[&2].code.as_deref(), Some("C2"));
        assert_eq!(
            s.lines(),
            vec![
                "GET /api/v3/accounts/?id=2",
                "GET /api/v3/accounts/?id=3",
                "GET /api/v3/accounts/?page_size=2&page=1",
                "GET /api/v3/accounts/?page_size=2&page=2"
            ]
        );
    }

    #[test]
    fn currencies_are_read_once_and_mapped_by_id() {
        let t = config::resolve("http://h", "").unwrap();
        let s = Script::default();
        s.reply(200, format!(r#"{{{EMPTY_NEXT},"data":[{{"id":1,"name":"USD","rate":"1.000000","base":true}},{{"id":2,"name":"CAD","rate":"0.730000"}}]}}"#));
        let c = Client::new(&s, &t);
        let mut cache = Cache::default();
        let needs = Needs {
            currencies: [2].into(),
            ..Needs::default()
        };
        let refs = cache.resolve(&c, "r", &needs).unwrap();
        assert_eq!(
            refs.currencies[&2].to_json(),
            json!({"id": 2, "code": "CAD", "rate": "0.73"})
        );
        cache.resolve(&c, "r", &needs).unwrap();
        assert_eq!(
            s.lines(),
            vec!["GET /api/v2/currencies/?page_size=100&page=1"]
        );
    }
}
