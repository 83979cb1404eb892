//! The thin layer that talks to the gateway: fetches and caches each service's
//! WSDL, posts SOAP envelopes built from it, and hands replies to `fault`.
//! Everything it needs from the outside world comes through the SDK's
//! [`Env`], so the whole request/reply path is unit-tested natively with
//! `mlc_guest::testing::Scripted` (plus SOAP routes, in the tests' `testing`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use mlc_guest::host::Level;
use mlc_guest::http::Request;
use mlc_guest::{Env, Failure, fail};

use crate::ci::{self, Created, Method, Prop};
use crate::config::{Config, QuerySetting};
use crate::envelope;
use crate::fault::{self, CallContext, CallKind, Reply};
use crate::qas::{self, QueryResult, QueryRun};
use crate::wsdl::{self, Operation, ServiceWsdl};
use crate::xml::{Element, OutElement};

/// Parsed WSDLs by URL (and SOAP version), kept for the instance's life (at
/// most one flow run of one connection, see the instance notes in
/// `wit/connector.wit`), so each service's WSDL is fetched once per run.
pub type WsdlCache = RefCell<HashMap<String, Rc<ServiceWsdl>>>;

/// A connection's client: configuration, host services and the WSDL cache.
pub struct Client<'a> {
    /// The connection's settings.
    pub config: &'a Config,
    /// Host services.
    pub env: &'a dyn Env,
    cache: &'a WsdlCache,
}

impl<'a> Client<'a> {
    /// A client over `config`, `env` and `cache`.
    pub fn new(config: &'a Config, env: &'a dyn Env, cache: &'a WsdlCache) -> Self {
        Client { config, env, cache }
    }

    /// The WSDL of `service`, fetched on first use.
    pub fn wsdl(&self, service: &str) -> Result<Rc<ServiceWsdl>, Failure> {
        let url = self.config.wsdl_url(service);
        let key = format!("{url}#{:?}", self.config.soap_version);
        if let Some(found) = self.cache.borrow().get(&key) {
            return Ok(found.clone());
        }
        let ctx = CallContext {
            operation: format!("GET {service}.1.wsdl"),
            node: self.config.node.clone(),
            kind: CallKind::Wsdl(service.to_string()),
        };
        let response = self
            .env
            .send(&Request::new("GET", url.as_str()))
            .map_err(|e| e.into_failure(&ctx.operation))?;
        let bytes = fault::read_wsdl_reply(
            response.status,
            response.retry_after_secs(),
            &response.body,
            &ctx,
        )?;
        let parsed = wsdl::parse(bytes, self.config.soap_version).map_err(|e| {
            fail::protocol(format!(
                "WSDL of service {service} at {url} is unusable: {e}"
            ))
        })?;
        let parsed = Rc::new(parsed);
        self.cache.borrow_mut().insert(key, parsed.clone());
        Ok(parsed)
    }

    /// Operation `operation` of `service` from its WSDL; `not-enabled` when the
    /// site does not offer it.
    pub fn operation(
        &self,
        service: &str,
        operation: &str,
    ) -> Result<(Rc<ServiceWsdl>, Operation), Failure> {
        let w = self.wsdl(service)?;
        let op = w.operation(operation).cloned().ok_or_else(|| {
            fail::not_enabled(missing_operations_message(
                service,
                &[operation],
                &self.config.node,
            ))
        })?;
        Ok((w, op))
    }

    /// Posts `body` to `op` and reads the reply.
    fn post(&self, op: &Operation, body: &OutElement, ctx: &CallContext) -> Result<Reply, Failure> {
        let version = self.config.soap_version;
        let mut request = Request::new("POST", self.config.listener_url())
            .body(envelope::build(version, body).into_bytes());
        request.headers = envelope::headers(version, &op.soap_action);
        let response = self
            .env
            .send(&request)
            .map_err(|e| e.into_failure(&ctx.operation))?;
        let reply = fault::read_reply(
            response.status,
            response.retry_after_secs(),
            &response.body,
            ctx,
        )?;
        if let (Reply::Body(got), Some(expected)) = (&reply, &op.response)
            && got.name != expected.name
        {
            return Err(fail::protocol(format!(
                "{}: reply body is <{}>, the WSDL declares <{}>",
                ctx.operation, got.name, expected.name
            )));
        }
        Ok(reply)
    }

    fn ci_call(
        &self,
        ci_name: &str,
        method: Method,
        props: &[Prop],
        kind: CallKind,
    ) -> Result<Reply, Failure> {
        let operation = ci::operation(ci_name, method);
        let (_, op) = self.operation(&ci::service(ci_name), &operation)?;
        // The body root comes from the WSDL; the CI naming rule is only a check.
        let expected_root = ci::request_root(ci_name, method);
        if op.request.name != expected_root {
            self.env.log(
                Level::Warn,
                &format!(
                    "{operation}: WSDL request element is {}, expected {expected_root}",
                    op.request.name
                ),
            );
        }
        let body = ci::body(&op.request.name, op.request.ns.as_deref(), props);
        let ctx = CallContext {
            operation,
            node: self.config.node.clone(),
            kind,
        };
        self.post(&op, &body, &ctx)
    }

    /// CI Create; returns the value of `key_field` from the reply, if given.
    pub fn ci_create(
        &self,
        ci_name: &str,
        props: &[Prop],
        key_field: &str,
    ) -> Result<Created, Failure> {
        let operation = ci::operation(ci_name, Method::Create);
        let ctx_op = operation.clone();
        let reply = self.ci_call(ci_name, Method::Create, props, CallKind::Create)?;
        let body = reply.into_body(&CallContext {
            operation: ctx_op,
            node: self.config.node.clone(),
            kind: CallKind::Create,
        })?;
        let created = ci::read_create(&body, &operation, key_field)?;
        for warning in &created.warnings {
            self.env.log(
                Level::Warn,
                &format!("{operation}: PeopleSoft warning: {warning}"),
            );
        }
        Ok(created)
    }

    /// Proves `ci_name`'s Create operation is active, routed and granted
    /// without creating anything: sends a Create with no properties, which
    /// passes the gateway's setup checks before the CI sees the record and is
    /// then refused by the CI (`notification` 0). Setup faults come back as
    /// their `not-enabled` to-do.
    pub fn ci_create_probe(&self, ci_name: &str) -> Result<(), Failure> {
        let operation = ci::operation(ci_name, Method::Create);
        let ctx = CallContext {
            operation: operation.clone(),
            node: self.config.node.clone(),
            kind: CallKind::Create,
        };
        let body = self
            .ci_call(ci_name, Method::Create, &[], CallKind::Create)?
            .into_body(&ctx)?;
        ci::read_probe(&body, &operation)
    }

    /// CI Find; returns the matches (leaf properties of each match holding `key_field`).
    pub fn ci_find(
        &self,
        ci_name: &str,
        props: &[Prop],
        key_field: &str,
    ) -> Result<Vec<HashMap<String, String>>, Failure> {
        let operation = ci::operation(ci_name, Method::Find);
        match self.ci_call(ci_name, Method::Find, props, CallKind::Find)? {
            Reply::NoMatch => Ok(Vec::new()),
            Reply::Body(body) => ci::read_find_rows(&body, &operation, key_field),
        }
    }

    /// Runs a query with one prompt value and returns its rows.
    pub fn query(
        &self,
        query: &QuerySetting,
        value: &str,
        max_rows: u32,
    ) -> Result<QueryResult, Failure> {
        let (w, op) = self.operation(qas::SERVICE, qas::OPERATION)?;
        let part_ns = qas::part_namespace(&w, &op.request);
        let body = qas::request_body(
            &op.request,
            part_ns.as_deref(),
            &QueryRun {
                name: &query.name,
                prompt: &query.prompt,
                value,
                max_rows,
            },
        );
        let ctx = CallContext {
            operation: qas::OPERATION.to_string(),
            node: self.config.node.clone(),
            kind: CallKind::Query(query.name.clone()),
        };
        let reply: Element = self.post(&op, &body, &ctx)?.into_body(&ctx)?;
        qas::read_result(&reply, &query.name)
    }
}

/// The administrator's to-do when a site's WSDL lacks operations.
pub fn missing_operations_message(service: &str, operations: &[&str], node: &str) -> String {
    let list = operations.join(", ");
    let (noun, pronoun) = if operations.len() == 1 {
        ("service operation", "it")
    } else {
        ("service operations", "them")
    };
    format!(
        "activate and publish {noun} {list} of service {service} in Integration Broker (with an any-to-local routing on node {node}), and grant {pronoun} to the integration user's permission list: the service's WSDL does not offer {pronoun}"
    )
}

#[cfg(test)]
pub(crate) mod testing {
    //! The scripted `Env` of these tests: the SDK's `Scripted`, with routes by
    //! URL suffix (GET, e.g. a WSDL) and by SOAPAction (POST), and a 404 for
    //! anything else, as a gateway answers an unknown path.

    use super::*;
    pub use mlc_guest::http::{Response, SendError};
    pub use mlc_guest::testing::{Answer, Scripted};

    /// A scripted gateway: routes added with [`Soap::on`], 404 otherwise.
    pub fn fake_env() -> Scripted {
        let env = Scripted::default();
        env.otherwise(|_| {
            Ok(Response {
                status: 404,
                headers: vec![],
                body: b"Not Found".to_vec(),
            })
        });
        env
    }

    fn soap_action(request: &Request) -> Option<&str> {
        request
            .headers
            .iter()
            .find(|(k, _)| k == "SOAPAction")
            .map(|(_, v)| v.as_str())
    }

    /// SOAP routes on a [`Scripted`].
    pub trait Soap {
        /// Answers requests whose URL ends with (GET) or SOAPAction equals (POST) `key`.
        fn on(&self, key: &str, answer: impl Fn(&Request) -> Answer + 'static);
        /// The bodies of POSTs sent with SOAPAction `action`.
        fn posted(&self, action: &str) -> Vec<String>;
    }

    impl Soap for Scripted {
        fn on(&self, key: &str, answer: impl Fn(&Request) -> Answer + 'static) {
            let key = key.to_string();
            self.route(
                move |r| match (soap_action(r), r.method.as_str()) {
                    (Some(a), "POST") => a == key,
                    (_, "GET") => r.url.ends_with(key.as_str()),
                    _ => false,
                },
                answer,
            );
        }

        fn posted(&self, action: &str) -> Vec<String> {
            self.sent
                .borrow()
                .iter()
                .filter(|r| soap_action(r) == Some(action))
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect()
        }
    }

    /// A 200 reply with `body`.
    pub fn ok(body: impl Into<String>) -> Answer {
        Ok(Response {
            status: 200,
            headers: vec![("content-type".into(), "text/xml; charset=UTF-8".into())],
            body: body.into().into_bytes(),
        })
    }

    /// A SOAP 1.1 envelope around `inner`.
    pub fn envelope(inner: &str) -> String {
        format!(
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"#
        )
    }

    /// A minimal but complete WSDL of a CI service offering `methods`.
    pub fn ci_wsdl(ci: &str, methods: &[&str], ns_digits: u32) -> String {
        let ns = format!("http://xmlns.oracle.com/Enterprise/Tools/schemas/M{ns_digits}.V1");
        let mut messages = String::new();
        let mut port = String::new();
        let mut binding = String::new();
        for m in methods {
            let verb = match *m {
                "C" => "Create",
                "F" => "Find",
                "G" => "Get",
                _ => "Update",
            };
            let root = format!("{verb}__CompIntfc__{ci}");
            messages.push_str(&format!(
                r#"<wsdl:message name="{root}"><wsdl:part name="parameter" element="m:{root}"/></wsdl:message><wsdl:message name="{root}Response"><wsdl:part name="parameter" element="m:{root}Response"/></wsdl:message>"#
            ));
            port.push_str(&format!(
                r#"<wsdl:operation name="CI_{ci}_{m}"><wsdl:input message="tns:{root}"/><wsdl:output message="tns:{root}Response"/></wsdl:operation>"#
            ));
            binding.push_str(&format!(
                r#"<wsdl:operation name="CI_{ci}_{m}"><soap:operation soapAction="CI_{ci}_{m}.V1"/></wsdl:operation>"#
            ));
        }
        format!(
            r#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="urn:svc" xmlns:m="{ns}" targetNamespace="urn:svc">{messages}<wsdl:portType name="P">{port}</wsdl:portType><wsdl:binding name="B" type="tns:P"><soap:binding style="document"/>{binding}</wsdl:binding></wsdl:definitions>"#
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    fn config() -> Config {
        Config::parse(
            "http://ps.test:8000",
            r#"{"node":"PSFT_EP","business_unit":"US001"}"#,
        )
        .unwrap()
    }

    #[test]
    fn wsdl_is_fetched_once_per_instance() {
        let env = fake_env();
        env.on("/PSFT_EP/CI_DEPT_CF.1.wsdl", |_| {
            ok(ci_wsdl("DEPT_CF", &["C"], 1))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        client.operation("CI_DEPT_CF", "CI_DEPT_CF_C").unwrap();
        client.operation("CI_DEPT_CF", "CI_DEPT_CF_C").unwrap();
        assert_eq!(env.sent.borrow().len(), 1);
        assert_eq!(
            env.sent.borrow()[0].url,
            "http://ps.test:8000/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP/CI_DEPT_CF.1.wsdl"
        );
    }

    #[test]
    fn operation_missing_from_wsdl_is_not_enabled_naming_it() {
        let env = fake_env();
        env.on("CI_PO_EXPRESS.1.wsdl", |_| {
            ok(ci_wsdl("PO_EXPRESS", &["C"], 1))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        match client
            .operation("CI_PO_EXPRESS", "CI_PO_EXPRESS_F")
            .unwrap_err()
        {
            Failure::NotEnabled(m) => {
                assert!(
                    m.starts_with("activate and publish service operation CI_PO_EXPRESS_F"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn soap_call_posts_to_the_listener_with_the_wsdl_action_and_namespace() {
        let env = fake_env();
        env.on("CI_DEPT_CF.1.wsdl", |_| {
            ok(ci_wsdl("DEPT_CF", &["C"], 424242))
        });
        env.on("CI_DEPT_CF_C.V1", |_| {
            ok(envelope(
                "<Create__CompIntfc__DEPT_CFResponse><notification>1</notification><detail><keys><DEPTID>777</DEPTID></keys></detail></Create__CompIntfc__DEPT_CFResponse>",
            ))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        let created = client
            .ci_create("DEPT_CF", &[ci::field("DEPTID", "777")], "DEPTID")
            .unwrap();
        assert_eq!(created.key.as_deref(), Some("777"));
        let sent = env.sent.borrow();
        let post = &sent[1];
        assert_eq!(
            post.url,
            "http://ps.test:8000/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP"
        );
        assert!(
            post.headers
                .contains(&("Content-Type".into(), "text/xml; charset=UTF-8".into()))
        );
        let body = String::from_utf8_lossy(&post.body);
        assert!(
            body.contains(r#"<Create__CompIntfc__DEPT_CF xmlns="http://xmlns.oracle.com/Enterprise/Tools/schemas/M424242.V1"><DEPTID>777</DEPTID>"#),
            "{body}"
        );
    }

    #[test]
    fn reply_with_another_root_than_the_wsdl_declares_is_protocol() {
        let env = fake_env();
        env.on("CI_DEPT_CF.1.wsdl", |_| ok(ci_wsdl("DEPT_CF", &["C"], 1)));
        env.on("CI_DEPT_CF_C.V1", |_| {
            ok(envelope(
                "<Something><notification>1</notification></Something>",
            ))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        let r = client.ci_create("DEPT_CF", &[], "DEPTID");
        assert!(matches!(r, Err(Failure::Protocol(_))), "{r:?}");
    }

    #[test]
    fn timeouts_and_dropped_connections_are_transient() {
        let env = fake_env();
        env.on("CI_DEPT_CF.1.wsdl", |_| {
            Err(SendError::Timeout("read".into()))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        assert!(matches!(
            client.wsdl("CI_DEPT_CF"),
            Err(Failure::Transient(_))
        ));
        env.on("CI_DEPT_CF.1.wsdl", |_| {
            Err(SendError::Connection("reset".into()))
        });
        assert!(matches!(
            client.wsdl("CI_DEPT_CF"),
            Err(Failure::Transient(_))
        ));
    }
}
