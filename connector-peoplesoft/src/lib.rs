//! ml-connector component for PeopleSoft Integration Broker: SOAP calls built
//! from each site's own WSDL, Component Interface creates and finds, Query
//! Access Services reads, and faults classified into the contract's failures.
//!
//! Built on the guest SDK's template: the streams are declared once in
//! [`streams::STREAMS`], `client` reaches the network only through the SDK's
//! [`mlc_guest::Env`] ([`mlc_guest::HostEnv`] in the component, `Scripted` in
//! unit tests), and `export_connector!` exports [`PeopleSoft`]. Its writes
//! are creates only (a Component Interface Create; the host's lookup before a
//! re-post is the "find"), so the SDK's upsert driver does not apply.

pub mod ci;
pub mod client;
pub mod config;
pub mod envelope;
pub mod fault;
pub mod qas;
pub mod streams;
pub mod values;
pub mod wsdl;
pub mod xml;

use mlc_guest::host::Level;
use mlc_guest::{
    AuthScheme, Connection, ConnectorSpec, Doc, Failure, HostEnv, Page, Written, fail,
};

use client::{Client, WsdlCache, missing_operations_message};
use config::Config;

/// Connector name published in the spec.
pub const NAME: &str = "peoplesoft";

/// The component's export type.
pub struct PeopleSoft;

/// The connector's description: configuration schema, streams, auth schemes.
pub fn spec() -> ConnectorSpec {
    streams::STREAMS.connector_spec(
        env!("CARGO_PKG_VERSION"),
        &config::schema().to_string(),
        vec![
            AuthScheme::Wsse,
            AuthScheme::Basic,
            AuthScheme::Bearer,
            AuthScheme::Oauth2ClientCredentials,
        ],
    )
}

/// The services and operations every stream of the connector needs.
pub fn required_operations(config: &Config) -> Vec<(String, Vec<String>)> {
    use ci::Method::{Create, Find};
    let ci_ops = |name: &str, methods: &[ci::Method]| {
        (
            ci::service(name),
            methods.iter().map(|m| ci::operation(name, *m)).collect(),
        )
    };
    vec![
        ci_ops(&config.purchase_order_ci, &[Create, Find]),
        ci_ops(&config.vendor_ci, &[Create]),
        ci_ops(&config.account_ci, &[Create]),
        ci_ops(&config.department_ci, &[Create]),
        (qas::SERVICE.to_string(), vec![qas::OPERATION.to_string()]),
    ]
}

/// Proves the connection: every WSDL fetched and offering its operations (all
/// missing ones reported at once), then authenticated calls that change
/// nothing: each configured query (one row), a PO Find, and an empty Create of
/// each CI the connector writes with (refused by an enabled operation). Every
/// operation that is inactive, unrouted or not granted is reported in one
/// `not-enabled`; any other failure (credentials, node, transport) ends the
/// check at once.
pub fn check(client: &Client<'_>) -> Result<(), Failure> {
    let cfg = client.config;
    let mut missing = Vec::new();
    for (service, operations) in required_operations(cfg) {
        let w = client.wsdl(&service)?;
        let absent: Vec<&str> = operations
            .iter()
            .map(String::as_str)
            .filter(|op| w.operation(op).is_none())
            .collect();
        if !absent.is_empty() {
            missing.push(missing_operations_message(&service, &absent, &cfg.node));
        }
    }
    if !missing.is_empty() {
        return Err(fail::not_enabled(missing.join("; ")));
    }
    let mut to_do = SetupToDo::default();
    let today = values::date_of_unix_ms(client.env.now_ms()).to_string();
    to_do.note(client.query(&cfg.voucher_query, &today, 1).map(drop))?;
    for query in [
        &cfg.supplier_query,
        &cfg.account_query,
        &cfg.department_query,
    ] {
        to_do.note(client.query(query, &cfg.setid, 1).map(drop))?;
    }
    to_do.note(streams::purchase_orders::lookup(client, "MLC-CHECK").map(drop))?;
    for ci_name in [
        &cfg.purchase_order_ci,
        &cfg.vendor_ci,
        &cfg.account_ci,
        &cfg.department_ci,
    ] {
        to_do.note(client.ci_create_probe(ci_name))?;
    }
    to_do.into_result()?;
    client.env.log(
        Level::Info,
        &format!(
            "node {}: WSDLs, queries, PO search and every Create operation answered",
            cfg.node
        ),
    );
    Ok(())
}

/// The `not-enabled` to-dos a check has met so far, each once (the four
/// queries share one QAS operation, so its to-do would otherwise repeat).
#[derive(Default)]
struct SetupToDo(Vec<String>);

impl SetupToDo {
    /// Keeps a `not-enabled` to-do and goes on; passes any other failure up.
    fn note(&mut self, result: Result<(), Failure>) -> Result<(), Failure> {
        match result {
            Err(Failure::NotEnabled(message)) => {
                if !self.0.contains(&message) {
                    self.0.push(message);
                }
                Ok(())
            }
            other => other,
        }
    }

    /// One `not-enabled` listing every to-do, or `Ok` when there is none.
    fn into_result(self) -> Result<(), Failure> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(fail::not_enabled(self.0.join("; ")))
        }
    }
}

thread_local! {
    /// WSDLs read by this instance: it lives at most one flow run of one
    /// connection (see the instance notes in wit/connector.wit), and a
    /// site's WSDLs do not change within a run.
    static WSDLS: WsdlCache = WsdlCache::default();
}

fn with_client<T>(
    conn: &Connection,
    f: impl FnOnce(&Client<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let config = Config::parse(&conn.base_url, &conn.config)?;
    WSDLS.with(|cache| f(&Client::new(&config, &HostEnv, cache)))
}

impl mlc_guest::plugin::Guest for PeopleSoft {
    fn spec() -> ConnectorSpec {
        spec()
    }

    fn check(conn: Connection) -> Result<(), Failure> {
        with_client(&conn, check)
    }
}

impl mlc_guest::source::Guest for PeopleSoft {
    fn read(conn: Connection, stream: String, cursor: Option<String>) -> Result<Page, Failure> {
        with_client(&conn, |c| streams::read(c, &stream, cursor.as_deref()))
    }
}

impl mlc_guest::sink::Guest for PeopleSoft {
    fn write(conn: Connection, stream: String, document: Doc) -> Result<Written, Failure> {
        with_client(&conn, |c| streams::write(c, &stream, &document))
    }

    fn lookup(conn: Connection, stream: String, key: String) -> Result<Option<String>, Failure> {
        with_client(&conn, |c| streams::lookup(c, &stream, &key))
    }
}

#[cfg(target_arch = "wasm32")]
mlc_guest::export_connector!(PeopleSoft);

#[cfg(test)]
mod tests {
    use super::*;
    use client::testing::*;

    fn config() -> Config {
        Config::parse(
            "http://ps.test:8000",
            r#"{"node":"PSFT_EP","business_unit":"US001"}"#,
        )
        .unwrap()
    }

    fn qas_reply() -> String {
        envelope(
            r#"<QAS_EXEQRY_SYNC_RESP_MSG><QAS_QUERYRESULTS_XMLP_RESP><query numrows="0" queryname="Q"/></QAS_QUERYRESULTS_XMLP_RESP></QAS_EXEQRY_SYNC_RESP_MSG>"#,
        )
    }

    fn full_site(env: &Scripted, po_methods: &'static [&'static str]) {
        env.on("CI_PO_EXPRESS.1.wsdl", move |_| {
            ok(ci_wsdl("PO_EXPRESS", po_methods, 1))
        });
        env.on("CI_VNDR_ID.1.wsdl", |_| {
            ok(ci_wsdl("VNDR_ID", &["C", "F", "G"], 2))
        });
        env.on("CI_ACCOUNT_CF.1.wsdl", |_| {
            ok(ci_wsdl("ACCOUNT_CF", &["C", "F"], 3))
        });
        env.on("CI_DEPT_CF.1.wsdl", |_| ok(ci_wsdl("DEPT_CF", &["C"], 4)));
        env.on("QAS_QRY_SERVICE.1.wsdl", |_| {
            ok(include_str!("../tests/fixtures/QAS_QRY_SERVICE.1.wsdl"))
        });
        env.on("QAS_EXECUTEQRYSYNC_OPER.VERSION_1", |_| ok(qas_reply()));
        env.on("CI_PO_EXPRESS_F.V1", |_| {
            ok(envelope("<Find__CompIntfc__PO_EXPRESSResponse/>"))
        });
        for ci in CREATE_CIS {
            env.on(&format!("CI_{ci}_C.V1"), move |_| {
                ok(envelope(&format!(
                    "<Create__CompIntfc__{ci}Response><notification>0</notification><messages><type>Error</type><messagetext>Required field missing.</messagetext></messages></Create__CompIntfc__{ci}Response>"
                )))
            });
        }
    }

    /// The CIs the connector creates with (default configuration).
    const CREATE_CIS: [&str; 4] = ["PO_EXPRESS", "VNDR_ID", "ACCOUNT_CF", "DEPT_CF"];

    /// An IB fault reply carrying `text`.
    fn ib_fault(text: &str) -> Answer {
        let mut reply = ok(envelope(&format!(
            r#"<SOAP-ENV:Fault xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>SOAP-ENV:Server</faultcode><faultstring>null</faultstring><detail><IBResponse type="error"><DefaultMessage><![CDATA[{text}]]></DefaultMessage></IBResponse></detail></SOAP-ENV:Fault>"#
        )));
        if let Ok(r) = &mut reply {
            r.status = 500;
        }
        reply
    }

    #[test]
    fn spec_declares_schema_streams_and_all_four_auth_schemes() {
        let s = spec();
        assert_eq!(s.name, "peoplesoft");
        assert_eq!(s.auth_schemes.len(), 4);
        assert_eq!(s.streams.len(), 5);
        let schema: serde_json::Value = serde_json::from_str(&s.config_schema).unwrap();
        assert_eq!(
            schema["required"],
            serde_json::json!(["node", "business_unit"])
        );
    }

    #[test]
    fn check_passes_on_a_fully_enabled_site() {
        let env = fake_env();
        full_site(&env, &["C", "F"]);
        let cfg = config();
        let cache = WsdlCache::default();
        check(&Client::new(&cfg, &env, &cache)).unwrap();
        assert_eq!(env.posted("QAS_EXECUTEQRYSYNC_OPER.VERSION_1").len(), 4);
        assert_eq!(env.posted("CI_PO_EXPRESS_F.V1").len(), 1);
        for ci in CREATE_CIS {
            let probes = env.posted(&format!("CI_{ci}_C.V1"));
            assert_eq!(probes.len(), 1, "{ci}");
            // The probe carries no property: nothing a CI could save.
            let root = format!("Create__CompIntfc__{ci}");
            let start = probes[0]
                .find(&format!("<{root} xmlns="))
                .expect("probe root");
            let end = probes[0]
                .find(&format!("</{root}>"))
                .expect("probe root end");
            let inside = &probes[0][start..end];
            assert!(inside.ends_with("\">"), "{}", probes[0]);
            assert_eq!(inside.matches('<').count(), 1, "{}", probes[0]);
        }
    }

    #[test]
    fn check_lists_every_inactive_unrouted_or_ungranted_create_in_one_not_enabled() {
        let env = fake_env();
        full_site(&env, &["C", "F"]);
        env.on("CI_PO_EXPRESS_C.V1", |_| {
            ib_fault("Service Operation CI_PO_EXPRESS_C is inactive. (158,10508)")
        });
        env.on("CI_VNDR_ID_C.V1", |_| {
            ib_fault(
                "No routing found for Service Operation CI_VNDR_ID_C to node PSFT_EP. (158,10509)",
            )
        });
        env.on("CI_DEPT_CF_C.V1", |_| {
            ib_fault(
                "User MLC_INT not authorized to invoke Service Operation CI_DEPT_CF_C. (158,536)",
            )
        });
        let cfg = config();
        let cache = WsdlCache::default();
        match check(&Client::new(&cfg, &env, &cache)).unwrap_err() {
            Failure::NotEnabled(m) => {
                assert!(
                    m.contains("activate service operation CI_PO_EXPRESS_C"),
                    "{m}"
                );
                assert!(m.contains("any-to-local routing for CI_VNDR_ID_C"), "{m}");
                assert!(m.contains("grant service operation CI_DEPT_CF_C"), "{m}");
                assert!(!m.contains("CI_ACCOUNT_CF_C"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_reports_an_inactive_query_operation_once() {
        let env = fake_env();
        full_site(&env, &["C", "F"]);
        env.on("QAS_EXECUTEQRYSYNC_OPER.VERSION_1", |_| {
            ib_fault("Service Operation QAS_EXECUTEQRYSYNC_OPER is inactive. (158,10508)")
        });
        let cfg = config();
        let cache = WsdlCache::default();
        match check(&Client::new(&cfg, &env, &cache)).unwrap_err() {
            Failure::NotEnabled(m) => {
                assert_eq!(
                    m.matches("QAS_EXECUTEQRYSYNC_OPER is inactive").count(),
                    1,
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        // The other operations were still probed, so their to-dos would show.
        assert_eq!(env.posted("CI_DEPT_CF_C.V1").len(), 1);
    }

    #[test]
    fn check_fails_when_an_empty_create_is_saved() {
        let env = fake_env();
        full_site(&env, &["C", "F"]);
        env.on("CI_ACCOUNT_CF_C.V1", |_| {
            ok(envelope(
                "<Create__CompIntfc__ACCOUNT_CFResponse><notification>1</notification></Create__CompIntfc__ACCOUNT_CFResponse>",
            ))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        match check(&Client::new(&cfg, &env, &cache)).unwrap_err() {
            Failure::Protocol(m) => assert!(m.contains("CI_ACCOUNT_CF_C"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_lists_every_missing_operation_in_one_not_enabled() {
        let env = fake_env();
        full_site(&env, &["G"]);
        let cfg = config();
        let cache = WsdlCache::default();
        match check(&Client::new(&cfg, &env, &cache)).unwrap_err() {
            Failure::NotEnabled(m) => {
                assert!(m.contains("service operations CI_PO_EXPRESS_C, CI_PO_EXPRESS_F of service CI_PO_EXPRESS"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        // Nothing was posted before the WSDLs were all fine.
        assert!(env.posted("QAS_EXECUTEQRYSYNC_OPER.VERSION_1").is_empty());
    }

    #[test]
    fn check_reports_refused_credentials_as_unauthorized() {
        let env = fake_env();
        full_site(&env, &["C", "F"]);
        env.on("QAS_EXECUTEQRYSYNC_OPER.VERSION_1", |_| {
            ok(envelope(r#"<SOAP-ENV:Fault xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>SOAP-ENV:Server</faultcode><faultstring>null</faultstring><detail><IBResponse type="error"><DefaultMessage><![CDATA[User password failed. (158,45)]]></DefaultMessage></IBResponse></detail></SOAP-ENV:Fault>"#))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        assert!(matches!(
            check(&Client::new(&cfg, &env, &cache)),
            Err(Failure::Unauthorized(_))
        ));
    }

    #[test]
    fn unknown_stream_and_unsupported_capability_are_config_failures() {
        let env = fake_env();
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        assert!(
            matches!(streams::read(&client, "invoices", None), Err(Failure::Config(m)) if m.contains("offers"))
        );
        assert!(
            matches!(streams::read(&client, "purchase_orders", None), Err(Failure::Config(m)) if m.contains("does not support read"))
        );
        let doc = Doc {
            key: "k".into(),
            body: "{}".into(),
        };
        assert!(matches!(
            streams::write(&client, "vouchers", &doc),
            Err(Failure::Config(_))
        ));
    }
}
