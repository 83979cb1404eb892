//! Authentication the host applies on a connector's behalf. Components never
//! see a credential: the egress hook calls an [`Authenticator`] for requests to
//! the connection's own origin, and nowhere else.
//!
//! Secrets are named by configuration (`secret:peoplesoft/password`) and
//! resolved through a [`SecretSource`] only at the moment they are needed.

mod oauth2;
mod wsse;

pub use oauth2::{TokenBody, TokenEndpoint, TokenGeneration};

use crate::clock::Clock;
use crate::events::{Event, EventSink, TokenReason};
use base64::Engine as _;
use http::{HeaderValue, header};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A secret value. Its `Debug` and `Display` never show the value, so it cannot
/// leak through a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: call only where it is put on the wire or encrypted.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The name of a secret, written `secret:<name>` in configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretRef(String);

impl SecretRef {
    /// The prefix that marks a secret reference in configuration.
    pub const PREFIX: &'static str = "secret:";

    /// Parses `secret:<name>`; anything else is an error that says how to write it.
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        match text.strip_prefix(Self::PREFIX) {
            Some(name) if !name.trim().is_empty() => Ok(SecretRef(name.trim().to_string())),
            _ => Err(CredentialError::Config(
                "expected a secret reference like \"secret:peoplesoft/password\", got a literal value \
                 (secrets are stored with `ml-connector secrets set`, never written in the manifest)"
                    .into(),
            )),
        }
    }

    /// The secret's name (without the prefix).
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0)
    }
}

/// A configuration value that is either written in the manifest or kept as a
/// secret (client ids, user names: not secret in themselves, but some sites
/// prefer to keep them out of files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// Written in the manifest.
    Plain(String),
    /// Resolved from the secret store.
    Secret(SecretRef),
}

impl Setting {
    /// `secret:<name>` becomes a reference, anything else a plain value.
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        if text.starts_with(SecretRef::PREFIX) {
            SecretRef::parse(text).map(Setting::Secret)
        } else {
            Ok(Setting::Plain(text.to_string()))
        }
    }
}

/// Where secret values come from. The encrypted vault implements it; tests
/// use [`MemorySecrets`].
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// The value of secret `name` of `tenant`.
    fn get(&self, tenant: &str, name: &str) -> Result<Secret, CredentialError>;
}

/// Secrets held in memory (tests, the demo before a vault exists).
#[derive(Debug, Default)]
pub struct MemorySecrets {
    values: RwLock<HashMap<(String, String), Secret>>,
}

impl MemorySecrets {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets secret `name` of `tenant`.
    pub fn set(&self, tenant: &str, name: &str, value: &str) {
        if let Ok(mut values) = self.values.write() {
            values.insert((tenant.into(), name.into()), Secret::new(value));
        }
    }
}

impl SecretSource for MemorySecrets {
    fn get(&self, tenant: &str, name: &str) -> Result<Secret, CredentialError> {
        self.values
            .read()
            .ok()
            .and_then(|v| v.get(&(tenant.to_string(), name.to_string())).cloned())
            .ok_or_else(|| CredentialError::MissingSecret {
                tenant: tenant.to_string(),
                name: name.to_string(),
            })
    }
}

/// Where fetched tokens are kept between runs and restarts (the vault, which
/// encrypts them). Failures to save are logged, never fatal: the token stays
/// cached in memory.
pub trait TokenPersistence: Send + Sync + fmt::Debug {
    /// The saved token of a connection and its expiry (ms since the epoch).
    fn load(&self, tenant: &str, connection: &str) -> Option<(Secret, u64)>;
    /// Saves a connection's token and its expiry.
    fn save(&self, tenant: &str, connection: &str, token: &Secret, expires_ms: u64);
}

/// How a connection authenticates, as configured (secrets by reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No authentication.
    None,
    /// HTTP Basic.
    Basic {
        /// User name.
        username: Setting,
        /// Password.
        password: SecretRef,
    },
    /// A static bearer token.
    Bearer {
        /// The token.
        token: SecretRef,
    },
    /// OAuth2 client credentials: the host fetches and caches the token.
    OAuth2ClientCredentials {
        /// Where and how to ask for tokens.
        endpoint: TokenEndpoint,
        /// Client id.
        client_id: Setting,
        /// Client secret.
        client_secret: SecretRef,
    },
    /// WS-Security UsernameToken (PasswordText) in the SOAP header.
    Wsse {
        /// User name.
        username: Setting,
        /// Password.
        password: SecretRef,
    },
}

impl Credentials {
    /// The scheme's name as the manifest and the WIT spell it.
    pub fn scheme_name(&self) -> &'static str {
        match self {
            Credentials::None => "none",
            Credentials::Basic { .. } => "basic",
            Credentials::Bearer { .. } => "bearer",
            Credentials::OAuth2ClientCredentials { .. } => "oauth2-client-credentials",
            Credentials::Wsse { .. } => "wsse",
        }
    }
}

/// Errors of credential handling. None of them ever contains a secret value.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// The configuration is wrong.
    #[error("credentials: {0}")]
    Config(String),
    /// A referenced secret does not exist.
    #[error(
        "secret {name:?} of tenant {tenant:?} is not set; set it with `ml-connector secrets set {tenant} {name}`"
    )]
    MissingSecret {
        /// Tenant.
        tenant: String,
        /// Secret name.
        name: String,
    },
    /// The token endpoint refused the client credentials.
    #[error("token endpoint {url} refused the client credentials: {detail}")]
    Rejected {
        /// Token URL.
        url: String,
        /// What it said (error code, never the request).
        detail: String,
    },
    /// The token endpoint could not be reached or answered badly; may work later.
    #[error("token endpoint {url} failed: {detail}")]
    Unavailable {
        /// Token URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The SOAP body could not take a WS-Security header.
    #[error("cannot add the WS-Security header: {0}")]
    Soap(String),
}

/// A request about to be sent, as the authenticator may change it.
#[derive(Debug)]
pub struct OutgoingParts<'a> {
    /// Request headers.
    pub headers: &'a mut http::HeaderMap,
    /// Request body (a WS-Security header is inserted here).
    pub body: &'a mut bytes::Bytes,
}

/// Applies one connection's credentials to requests. Shared by every sandbox of
/// that connection so an OAuth2 token is fetched once and reused.
#[derive(Debug)]
pub struct Authenticator {
    tenant: String,
    connection: String,
    credentials: Credentials,
    secrets: Arc<dyn SecretSource>,
    events: Arc<dyn EventSink>,
    tokens: oauth2::TokenCache,
    persistence: Option<Arc<dyn TokenPersistence>>,
}

impl Authenticator {
    /// An authenticator for `connection` of `tenant`.
    pub fn new(
        tenant: &str,
        connection: &str,
        credentials: Credentials,
        secrets: Arc<dyn SecretSource>,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Authenticator {
            tenant: tenant.to_string(),
            connection: connection.to_string(),
            credentials,
            secrets,
            events,
            tokens: oauth2::TokenCache::new(clock),
            persistence: None,
        }
    }

    /// Keeps fetched tokens in `persistence` (encrypted by the vault), so a
    /// restart does not fetch a new one.
    pub fn with_token_persistence(mut self, persistence: Arc<dyn TokenPersistence>) -> Self {
        self.persistence = Some(persistence);
        self
    }

    /// The configured credentials (references only).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// True when a 401 answer should make the host fetch a new token and retry
    /// once (only fetched tokens can be renewed).
    pub fn renews_on_unauthorized(&self) -> bool {
        matches!(
            self.credentials,
            Credentials::OAuth2ClientCredentials { .. }
        )
    }

    /// Adds the credentials to `request`. `rejected` names a fetched token the
    /// remote side just refused (from an earlier call's return value): it is
    /// replaced before use. Returns the generation of the fetched token used,
    /// if any.
    pub async fn apply(
        &self,
        request: OutgoingParts<'_>,
        rejected: Option<TokenGeneration>,
    ) -> Result<Option<TokenGeneration>, CredentialError> {
        // Components may not choose their own credentials.
        request.headers.remove(header::AUTHORIZATION);
        match &self.credentials {
            Credentials::None => Ok(None),
            Credentials::Basic { username, password } => {
                let user = self.resolve(username)?;
                let pass = self.secret(password)?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    user.expose(),
                    pass.expose()
                ));
                set_authorization(request.headers, &format!("Basic {encoded}"))?;
                Ok(None)
            }
            Credentials::Bearer { token } => {
                let token = self.secret(token)?;
                set_authorization(request.headers, &format!("Bearer {}", token.expose()))?;
                Ok(None)
            }
            Credentials::OAuth2ClientCredentials {
                endpoint,
                client_id,
                client_secret,
            } => {
                let fetch = |reason: TokenReason| async move {
                    let id = self.resolve(client_id)?;
                    let secret = self.secret(client_secret)?;
                    let result = endpoint.fetch(&id, &secret).await;
                    match &result {
                        Ok(_) => self.events.emit(Event::TokenRefreshed {
                            tenant: self.tenant.clone(),
                            connection: self.connection.clone(),
                            reason,
                        }),
                        Err(e) => self.events.emit(Event::TokenFetchFailed {
                            tenant: self.tenant.clone(),
                            connection: self.connection.clone(),
                            error: e.to_string(),
                        }),
                    }
                    result
                };
                let persisted = || {
                    self.persistence
                        .as_ref()
                        .and_then(|p| p.load(&self.tenant, &self.connection))
                };
                let save = |token: &Secret, expires_ms: u64| {
                    if let Some(p) = &self.persistence {
                        p.save(&self.tenant, &self.connection, token, expires_ms);
                    }
                };
                let (token, generation) = self
                    .tokens
                    .get(rejected, endpoint.default_ttl_secs, persisted, save, fetch)
                    .await?;
                set_authorization(request.headers, &format!("Bearer {}", token.expose()))?;
                Ok(Some(generation))
            }
            // A body-less request (a WSDL download) has no envelope to carry a
            // token; the gateway serves those without one.
            Credentials::Wsse { .. } if request.body.is_empty() => Ok(None),
            Credentials::Wsse { username, password } => {
                let user = self.resolve(username)?;
                let pass = self.secret(password)?;
                let rewritten =
                    wsse::insert_username_token(request.body, user.expose(), pass.expose())?;
                *request.body = bytes::Bytes::from(rewritten);
                Ok(None)
            }
        }
    }

    fn secret(&self, reference: &SecretRef) -> Result<Secret, CredentialError> {
        self.secrets.get(&self.tenant, reference.name())
    }

    fn resolve(&self, setting: &Setting) -> Result<Secret, CredentialError> {
        match setting {
            Setting::Plain(value) => Ok(Secret::new(value.clone())),
            Setting::Secret(reference) => self.secret(reference),
        }
    }
}

fn set_authorization(headers: &mut http::HeaderMap, value: &str) -> Result<(), CredentialError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        CredentialError::Config(
            "credential contains characters that cannot go in an HTTP header".into(),
        )
    })?;
    value.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_shows_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_ref_requires_the_prefix() {
        assert_eq!(
            SecretRef::parse("secret:peoplesoft/password")
                .unwrap()
                .name(),
            "peoplesoft/password"
        );
        let err = SecretRef::parse("hunter2").unwrap_err().to_string();
        assert!(err.contains("secret:"), "{err}");
        assert!(
            !err.contains("hunter2"),
            "error must not echo the literal: {err}"
        );
    }

    #[test]
    fn missing_secret_names_the_command_to_set_it() {
        let err = MemorySecrets::new().get("acme", "ps/password").unwrap_err();
        assert!(
            err.to_string()
                .contains("ml-connector secrets set acme ps/password")
        );
    }
}
