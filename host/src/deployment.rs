//! A manifest made runnable: connectors loaded and asked for their spec,
//! settings checked against each connector's schema, streams and auth
//! schemes checked against what it offers, mappings compiled, sandboxes and
//! flows built per tenant. Also what `check` and `validate` report.

use crate::clock::Clock;
use crate::components;
use crate::credentials::{Authenticator, Credentials, SecretSource, TokenPersistence};
use crate::egress::{ConnectionEgress, EgressLimits};
use crate::events::EventSink;
use crate::manifest::{ConnectionSpec, ConnectorRef, FlowSpec, Manifest, Schedule, schema};
use crate::mapping::Mapping;
use crate::pipeline::{ConnectionHandle, Endpoint, Flow};
use crate::runtime::{
    AuthScheme, Capabilities, Connection, Connector, ConnectorSpec, Runtime, Sandbox, SandboxLimits,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the host offers every tenant.
#[derive(Debug, Clone)]
pub struct Services {
    /// The wasm runtime.
    pub runtime: Arc<Runtime>,
    /// Where secrets come from (the vault).
    pub secrets: Arc<dyn SecretSource>,
    /// Where fetched tokens are kept between runs, if anywhere.
    pub tokens: Option<Arc<dyn TokenPersistence>>,
    /// Where runtime events go.
    pub events: Arc<dyn EventSink>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// Why a manifest cannot run: every problem found, each naming its key.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
pub struct DeploymentError {
    /// The manifest file.
    pub file: String,
    /// The problems, one line each.
    pub problems: Vec<String>,
}

/// One tenant, ready to run.
#[derive(Debug, Clone)]
pub struct TenantRuntime {
    /// Name.
    pub name: String,
    /// Connections by name.
    pub connections: BTreeMap<String, Arc<ConnectionHandle>>,
    /// Each connection's connector spec.
    pub specs: BTreeMap<String, ConnectorSpec>,
    /// Enabled flows.
    pub flows: Vec<Flow>,
    /// Each flow's schedule.
    pub schedules: BTreeMap<String, Schedule>,
}

/// Every tenant of a manifest, ready to run.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The manifest.
    pub manifest: Manifest,
    /// Tenants by name.
    pub tenants: BTreeMap<String, TenantRuntime>,
}

fn scheme_of(credentials: &Credentials) -> Option<AuthScheme> {
    match credentials {
        Credentials::None => None,
        Credentials::Basic { .. } => Some(AuthScheme::Basic),
        Credentials::Bearer { .. } => Some(AuthScheme::Bearer),
        Credentials::OAuth2ClientCredentials { .. } => Some(AuthScheme::Oauth2ClientCredentials),
        Credentials::Wsse { .. } => Some(AuthScheme::Wsse),
    }
}

impl Deployment {
    /// Builds every tenant of `manifest`; reports all problems at once.
    pub async fn build(
        manifest: Manifest,
        services: &Services,
    ) -> Result<Deployment, DeploymentError> {
        let mut problems = Vec::new();
        let mut tenants = BTreeMap::new();
        let mut loaded: BTreeMap<String, Connector> = BTreeMap::new();
        for (tname, tenant) in &manifest.tenants {
            let mut connections = BTreeMap::new();
            let mut specs = BTreeMap::new();
            for (cname, c) in &tenant.connections {
                let key = format!("tenants.{tname}.connections.{cname}");
                match connection(tname, c, services, &mut loaded).await {
                    Ok((handle, spec)) => {
                        for v in schema::violations(
                            &serde_json::from_str(&spec.config_schema).unwrap_or_default(),
                            &c.config,
                            &format!("{key}.config"),
                        ) {
                            problems.push(v);
                        }
                        if let Some(scheme) = scheme_of(&c.credentials)
                            && !spec.auth_schemes.contains(&scheme)
                        {
                            problems.push(format!(
                                "{key}.auth: connector {} does not accept scheme {}; it accepts {:?}",
                                spec.name,
                                c.credentials.scheme_name(),
                                spec.auth_schemes
                            ));
                        }
                        connections.insert(cname.clone(), Arc::new(handle));
                        specs.insert(cname.clone(), spec);
                    }
                    Err(e) => problems.push(format!("{key}: {e}")),
                }
            }
            let mut flows = Vec::new();
            let mut schedules = BTreeMap::new();
            for (fname, f) in &tenant.flows {
                let key = format!("tenants.{tname}.flows.{fname}");
                let mut endpoint = |side: &str,
                                    (conn, stream): &(String, String),
                                    need: Capabilities| {
                    let spec = specs.get(conn)?;
                    match spec.streams.iter().find(|s| &s.name == stream) {
                        None => {
                            let names: Vec<&str> =
                                spec.streams.iter().map(|s| s.name.as_str()).collect();
                            problems.push(format!(
                                "{key}.{side}: connector {} has no stream {stream:?}; streams are {names:?}",
                                spec.name
                            ));
                            None
                        }
                        Some(s) if !s.capabilities.contains(need) => {
                            problems.push(format!(
                                "{key}.{side}: stream {stream:?} of connector {} cannot be {}",
                                spec.name,
                                if need == Capabilities::READ {
                                    "read"
                                } else {
                                    "written"
                                }
                            ));
                            None
                        }
                        Some(_) => Some(Endpoint {
                            connection: connections.get(conn)?.clone(),
                            stream: stream.clone(),
                        }),
                    }
                };
                let source = endpoint("from", &f.from, Capabilities::READ);
                let sink = endpoint("to", &f.to, Capabilities::WRITE);
                let mapping = match std::fs::read_to_string(&f.mapping) {
                    Ok(code) => match Mapping::compile(&f.mapping.display().to_string(), &code) {
                        Ok(m) => Some(Arc::new(m)),
                        Err(e) => {
                            problems.push(format!("{key}.mapping: {e}"));
                            None
                        }
                    },
                    Err(e) => {
                        problems.push(format!(
                            "{key}.mapping: cannot read {}: {e}",
                            f.mapping.display()
                        ));
                        None
                    }
                };
                if let (Some(source), Some(sink), Some(mapping)) = (source, sink, mapping)
                    && f.enabled
                {
                    flows.push(Flow {
                        tenant: tname.clone(),
                        name: fname.clone(),
                        source,
                        sink,
                        mapping,
                        config: f.config.clone(),
                        on_change: f.on_change,
                        retry: f.retry,
                        concurrency: f.concurrency,
                        requires: f.requires.clone(),
                        exclusive_with: related_flows(&tenant.flows, fname),
                    });
                    schedules.insert(fname.clone(), f.schedule.clone());
                }
            }
            tenants.insert(
                tname.clone(),
                TenantRuntime {
                    name: tname.clone(),
                    connections,
                    specs,
                    flows,
                    schedules,
                },
            );
        }
        if problems.is_empty() {
            Ok(Deployment { manifest, tenants })
        } else {
            Err(DeploymentError {
                file: manifest.file.display().to_string(),
                problems,
            })
        }
    }
}

/// The flows `flow` is connected to by `requires`, either way and
/// transitively (itself excluded): they read and write the same crosswalks,
/// so they never run at the same time (in one process `requires` orders
/// them; across processes the leases do, see `Flow::exclusive_with`).
fn related_flows(flows: &BTreeMap<String, FlowSpec>, flow: &str) -> Vec<String> {
    let mut related = BTreeSet::new();
    for downstream in [false, true] {
        let mut stack = vec![flow.to_string()];
        while let Some(current) = stack.pop() {
            let next: Vec<&String> = if downstream {
                flows
                    .iter()
                    .filter(|(_, f)| f.requires.contains(&current))
                    .map(|(name, _)| name)
                    .collect()
            } else {
                flows
                    .get(&current)
                    .map(|f| f.requires.iter().collect())
                    .unwrap_or_default()
            };
            for name in next {
                if name != flow && related.insert(name.clone()) {
                    stack.push(name.clone());
                }
            }
        }
    }
    related.into_iter().collect()
}

async fn connection(
    tenant: &str,
    c: &ConnectionSpec,
    services: &Services,
    loaded: &mut BTreeMap<String, Connector>,
) -> Result<(ConnectionHandle, ConnectorSpec), String> {
    let cache_key = match &c.connector {
        ConnectorRef::Builtin(name) => format!("builtin:{name}"),
        ConnectorRef::File(path) => format!("file:{}", path.display()),
    };
    let connector = match loaded.get(&cache_key) {
        Some(c) => c.clone(),
        None => {
            let connector = match &c.connector {
                ConnectorRef::Builtin(name) => {
                    let wasm = components::builtin(name)
                        .ok_or_else(|| format!("no built-in connector {name}"))?;
                    services.runtime.load(name, wasm)
                }
                ConnectorRef::File(path) => services.runtime.load_file(
                    &path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    path,
                ),
            }
            .map_err(|e| e.to_string())?
            .0;
            loaded.insert(cache_key, connector.clone());
            connector
        }
    };
    let auth = match &c.credentials {
        Credentials::None => None,
        credentials => {
            let mut auth = Authenticator::new(
                tenant,
                &c.name,
                credentials.clone(),
                services.secrets.clone(),
                services.events.clone(),
                services.clock.clone(),
            );
            if let Some(tokens) = &services.tokens {
                auth = auth.with_token_persistence(tokens.clone());
            }
            Some(Arc::new(auth))
        }
    };
    let sandbox = Sandbox {
        limits: SandboxLimits {
            memory_bytes: c.memory_bytes,
            call_deadline: c.call_timeout,
        },
        egress: Arc::new(ConnectionEgress {
            tenant: tenant.to_string(),
            connection: c.name.clone(),
            origin: c.origin.clone(),
            extra_origins: c.extra_origins.clone(),
            auth,
            limits: EgressLimits::default(),
            events: services.events.clone(),
        }),
        events: services.events.clone(),
        clock: services.clock.clone(),
    };
    let mut instance = connector
        .instantiate(&sandbox)
        .await
        .map_err(|e| e.to_string())?;
    let spec = instance.spec().await.map_err(|e| e.to_string())?;
    Ok((
        ConnectionHandle {
            name: c.name.clone(),
            connector,
            sandbox,
            connection: Connection {
                base_url: c.base_url.clone(),
                config: c.config.to_string(),
            },
        },
        spec,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn flows_linked_by_requires_either_way_are_exclusive_and_unlinked_ones_are_not() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifest.toml");
        let manifest = Manifest::load(&shipped).expect("the shipped manifest loads");
        let flows = &manifest.tenants["sandbox"].flows;
        let vendors_back = related_flows(flows, "vendors-to-procurify");
        assert!(vendors_back.contains(&"vendors-to-peoplesoft".to_string()));
        assert!(
            vendors_back.contains(&"requisitions-to-purchase-orders".to_string()),
            "the PO flow requires vendors-to-peoplesoft, which requires this one"
        );
        assert!(!vendors_back.contains(&"accounts-to-procurify".to_string()));
        assert!(!vendors_back.contains(&"vendors-to-procurify".to_string()));
        let pos = related_flows(flows, "requisitions-to-purchase-orders");
        assert!(pos.contains(&"departments-to-procurify".to_string()));
        assert!(
            !pos.contains(&"purchase-orders-to-peoplesoft".to_string()),
            "two flows that only share requirements may run at once"
        );
    }
}
