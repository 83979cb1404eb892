//! Who may call the site and how: the accepted authentication methods, the
//! site's users and their permission lists, and the client-credentials token
//! endpoint standing in for the site's identity provider.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{StatusCode, header};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::json;

use crate::exchange::{Request, Response};

/// Which authentication methods the site accepts. A credential of a method
/// the site does not accept is ignored, as the gateway ignores it: the call
/// then runs as the ANONYMOUS node's default user.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// WS-Security UsernameToken (PasswordText) in the SOAP header.
    pub wsse: bool,
    /// HTTP Basic.
    pub basic: bool,
    /// OAuth2 bearer tokens (static ones below, or issued by the token endpoint).
    pub bearer: bool,
    /// Long-lived bearer tokens the site trusts, each mapped to a user.
    pub static_tokens: Vec<StaticToken>,
    /// Clients allowed to fetch tokens with the client-credentials grant.
    pub oauth_clients: Vec<OAuthClient>,
}

/// A static bearer token and the user it runs as.
#[derive(Debug, Clone)]
pub struct StaticToken {
    /// The token as sent after `Bearer `.
    pub token: String,
    /// PeopleSoft user the token maps to.
    pub user_id: String,
}

/// A client of the emulated identity provider.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// PeopleSoft user the issued tokens map to.
    pub user_id: String,
}

/// A PeopleSoft user: password and the service operations its permission
/// lists grant.
#[derive(Debug, Clone)]
pub struct SiteUser {
    /// OPRID.
    pub user_id: String,
    /// Password.
    pub password: String,
    /// Granted service operations (e.g. `CI_PO_EXPRESS_C`).
    pub operations: Vec<String>,
}

impl SiteUser {
    /// A user granted every operation of the site.
    pub fn with_all_operations(user_id: &str, password: &str) -> Self {
        SiteUser {
            user_id: user_id.to_owned(),
            password: password.to_owned(),
            operations: super::all_operations(),
        }
    }

    /// A user granted exactly `operations`.
    pub fn with_operations(user_id: &str, password: &str, operations: &[&str]) -> Self {
        SiteUser {
            user_id: user_id.to_owned(),
            password: password.to_owned(),
            operations: operations.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// The demo integration user.
pub const DEMO_USER: &str = "MLC_INTEGRATION";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "Demo#Passw0rd";
/// The demo OAuth2 client id.
pub const DEMO_CLIENT_ID: &str = "mlc-connector";
/// The demo OAuth2 client secret.
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret";
/// The demo static bearer token.
pub const DEMO_STATIC_TOKEN: &str = "mlc-demo-static-token";

impl Default for AuthPolicy {
    /// All three methods accepted; the demo static token and OAuth client map
    /// to [`DEMO_USER`].
    fn default() -> Self {
        AuthPolicy {
            wsse: true,
            basic: true,
            bearer: true,
            static_tokens: vec![StaticToken {
                token: DEMO_STATIC_TOKEN.to_owned(),
                user_id: DEMO_USER.to_owned(),
            }],
            oauth_clients: vec![OAuthClient {
                client_id: DEMO_CLIENT_ID.to_owned(),
                client_secret: DEMO_CLIENT_SECRET.to_owned(),
                user_id: DEMO_USER.to_owned(),
            }],
        }
    }
}

/// A token the endpoint issued.
#[derive(Debug)]
struct IssuedToken {
    user_id: String,
    expires: Instant,
}

/// Tokens issued by the emulated identity provider.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    issued: HashMap<String, IssuedToken>,
}

/// What a presented bearer token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BearerCheck {
    Valid(String),
    Expired,
    Unknown,
}

impl TokenStore {
    /// Looks `token` up among the static and issued tokens.
    pub(crate) fn check(&self, policy: &AuthPolicy, token: &str) -> BearerCheck {
        if let Some(s) = policy.static_tokens.iter().find(|s| s.token == token) {
            return BearerCheck::Valid(s.user_id.clone());
        }
        match self.issued.get(token) {
            Some(t) if t.expires > Instant::now() => BearerCheck::Valid(t.user_id.clone()),
            Some(_) => BearerCheck::Expired,
            None => BearerCheck::Unknown,
        }
    }

    /// Makes every issued token expired now.
    pub(crate) fn expire_all(&mut self) {
        let now = Instant::now();
        for token in self.issued.values_mut() {
            token.expires = now;
        }
    }

    /// The client-credentials grant (`POST /oauth2/token`, form body).
    /// Client credentials come from HTTP Basic or the `client_id`/`client_secret` fields.
    pub(crate) fn token_endpoint(
        &mut self,
        policy: &AuthPolicy,
        ttl_secs: u64,
        rng: &mut StdRng,
        request: &Request,
    ) -> Response {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let grant = form
            .get("grant_type")
            .map(String::as_str)
            .unwrap_or_default();
        if grant != "client_credentials" {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type '{grant}' is not supported; use client_credentials"),
            );
        }
        let (client_id, secret) = match basic_credentials(request) {
            Some(pair) => pair,
            None => (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            ),
        };
        let Some(client) = policy
            .oauth_clients
            .iter()
            .find(|c| c.client_id == client_id && c.client_secret == secret)
        else {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
            .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"token\"");
        };
        let exp = chrono::Utc::now().timestamp() + i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2);
        // A JWT-shaped token (the site's identity provider issues JWTs); the
        // signature part is random because nothing here verifies it.
        let header_part = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({
            "iss": "https://idp.sandbox.invalid",
            "sub": client.user_id,
            "client_id": client.client_id,
            "exp": exp,
            "jti": rng.random::<u64>(),
        });
        let claims_part = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signature: [u8; 32] = rng.random();
        let token = format!(
            "{header_part}.{claims_part}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        );
        self.issued.insert(
            token.clone(),
            IssuedToken {
                user_id: client.user_id.clone(),
                expires: Instant::now() + Duration::from_secs(ttl_secs),
            },
        );
        Response::json(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl_secs,
            }),
        )
        .with_header(header::CACHE_CONTROL, "no-store")
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// `(user, password)` from an `Authorization: Basic` header.
pub(crate) fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let value = request.header("authorization")?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token from an `Authorization: Bearer` header.
pub(crate) fn bearer_token(request: &Request) -> Option<String> {
    let value = request.header("authorization")?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_owned())
}
