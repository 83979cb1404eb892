//! OAuth2 client-credentials tokens: fetched by the host from the configured
//! token endpoint, cached with their expiry, renewed before they expire and
//! once more when the remote side rejects one (401).

use super::{CredentialError, Secret};
use crate::clock::Clock;
use crate::events::TokenReason;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::time::Duration;

/// How the token request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBody {
    /// `application/json` (Procurify).
    Json,
    /// `application/x-www-form-urlencoded` (RFC 6749; most identity providers).
    Form,
}

/// Where and how to ask for tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpoint {
    /// Token URL (e.g. `https://acme.procurify.com/oauth/token`).
    pub url: String,
    /// Body encoding.
    pub body: TokenBody,
    /// `audience` parameter, when the provider wants one.
    pub audience: Option<String>,
    /// `scope` parameter, when the provider wants one.
    pub scope: Option<String>,
    /// Lifetime assumed when the reply has no `expires_in`, in seconds.
    pub default_ttl_secs: u64,
}

/// Largest token reply the host reads.
const MAX_TOKEN_REPLY: usize = 64 * 1024;
/// Time allowed for the whole token exchange.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// A token as the endpoint returned it.
#[derive(Debug)]
pub(super) struct FetchedToken {
    pub token: Secret,
    pub expires_in_secs: Option<u64>,
}

impl TokenEndpoint {
    /// Asks the endpoint for a token with these client credentials.
    pub(super) async fn fetch(
        &self,
        client_id: &Secret,
        client_secret: &Secret,
    ) -> Result<FetchedToken, CredentialError> {
        let unavailable = |detail: String| CredentialError::Unavailable {
            url: self.url.clone(),
            detail,
        };
        let (content_type, body) = self.request_body(client_id, client_secret);
        let request = http::Request::post(&self.url)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(
                Full::new(Bytes::from(body))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .map_err(|e| CredentialError::Config(format!("token URL {}: {e}", self.url)))?;
        let options = wasmtime_wasi_http::RequestOptions {
            connect_timeout: Some(Duration::from_secs(10)),
            first_byte_timeout: Some(TOKEN_TIMEOUT),
            between_bytes_timeout: Some(Duration::from_secs(10)),
        };
        let exchange = async {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options))
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            let worker = tokio::spawn(io);
            let status = response.status();
            let collected = http_body_util::Limited::new(response.into_body(), MAX_TOKEN_REPLY)
                .collect()
                .await
                .map_err(|e| unavailable(format!("reading the reply: {e}")))?
                .to_bytes();
            worker.abort();
            Ok::<_, CredentialError>((status, collected))
        };
        let (status, reply) = tokio::time::timeout(TOKEN_TIMEOUT, exchange)
            .await
            .map_err(|_| unavailable(format!("no answer within {TOKEN_TIMEOUT:?}")))??;
        parse_reply(&self.url, status.as_u16(), &reply)
    }

    fn request_body(&self, client_id: &Secret, client_secret: &Secret) -> (&'static str, Vec<u8>) {
        match self.body {
            TokenBody::Json => {
                let mut body = serde_json::json!({
                    "grant_type": "client_credentials",
                    "client_id": client_id.expose(),
                    "client_secret": client_secret.expose(),
                });
                if let Some(audience) = &self.audience {
                    body["audience"] = audience.as_str().into();
                }
                if let Some(scope) = &self.scope {
                    body["scope"] = scope.as_str().into();
                }
                ("application/json", body.to_string().into_bytes())
            }
            TokenBody::Form => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "client_credentials")
                    .append_pair("client_id", client_id.expose())
                    .append_pair("client_secret", client_secret.expose());
                if let Some(audience) = &self.audience {
                    form.append_pair("audience", audience);
                }
                if let Some(scope) = &self.scope {
                    form.append_pair("scope", scope);
                }
                (
                    "application/x-www-form-urlencoded",
                    form.finish().into_bytes(),
                )
            }
        }
    }
}

/// Reads a token reply. Error details keep only the endpoint's error code and
/// description, never anything from the request.
fn parse_reply(url: &str, status: u16, body: &[u8]) -> Result<FetchedToken, CredentialError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match status {
        200..=299 => {
            let token = field("access_token").ok_or_else(|| CredentialError::Unavailable {
                url: url.to_string(),
                detail: "the reply has no access_token".into(),
            })?;
            let expires_in_secs = json
                .as_ref()
                .and_then(|j| j.get("expires_in"))
                .and_then(|v| match v {
                    serde_json::Value::Number(n) => n.as_u64(),
                    serde_json::Value::String(s) => s.parse().ok(),
                    _ => None,
                });
            Ok(FetchedToken {
                token: Secret::new(token),
                expires_in_secs,
            })
        }
        400 | 401 | 403 => {
            let code = field("error").unwrap_or_else(|| format!("HTTP {status}"));
            let detail = match field("error_description") {
                Some(desc) => format!("{code} ({})", crate::excerpt(&desc, 200)),
                None => code,
            };
            Err(CredentialError::Rejected {
                url: url.to_string(),
                detail,
            })
        }
        _ => Err(CredentialError::Unavailable {
            url: url.to_string(),
            detail: format!("HTTP {status}"),
        }),
    }
}

/// Identifies one fetched token, so that a request rejected with an old token
/// does not throw away a newer one another request already fetched.
pub type TokenGeneration = u64;

#[derive(Debug)]
struct Cached {
    token: Secret,
    expires_at_ms: u64,
    refresh_at_ms: u64,
    generation: TokenGeneration,
}

/// One connection's token, fetched at most once at a time (single flight).
#[derive(Debug)]
pub(super) struct TokenCache {
    clock: Arc<dyn Clock>,
    current: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        TokenCache {
            clock,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The token to use now and its generation. `rejected` names the generation
    /// the remote side just refused: it is replaced unless already replaced.
    /// `persisted` offers a token saved by an earlier process (used when none
    /// is cached yet and it is not due for renewal); `save` keeps a new one.
    pub async fn get<F, Fut>(
        &self,
        rejected: Option<TokenGeneration>,
        default_ttl_secs: u64,
        persisted: impl FnOnce() -> Option<(Secret, u64)>,
        save: impl FnOnce(&Secret, u64),
        fetch: F,
    ) -> Result<(Secret, TokenGeneration), CredentialError>
    where
        F: FnOnce(TokenReason) -> Fut,
        Fut: Future<Output = Result<FetchedToken, CredentialError>>,
    {
        let mut current = self.current.lock().await;
        let now = self.clock.now_ms();
        if current.is_none()
            && let Some((token, expires_at_ms)) = persisted()
        {
            // The renewal margin is unknown for a saved token: renew in its
            // last five minutes.
            let refresh_at_ms = expires_at_ms.saturating_sub(300_000);
            if now < refresh_at_ms {
                *current = Some(Cached {
                    token,
                    expires_at_ms,
                    refresh_at_ms,
                    generation: 1,
                });
            }
        }
        let reason = match current.as_ref() {
            None => TokenReason::Initial,
            Some(c) if rejected == Some(c.generation) => TokenReason::Rejected,
            Some(c) if now >= c.refresh_at_ms || now >= c.expires_at_ms => TokenReason::Expiring,
            Some(c) => return Ok((c.token.clone(), c.generation)),
        };
        let fetched = fetch(reason).await?;
        let ttl_ms = fetched.expires_in_secs.unwrap_or(default_ttl_secs) * 1000;
        // Renew ahead of expiry: a tenth of the lifetime, at most five minutes.
        let margin_ms = (ttl_ms / 10).min(300_000);
        let generation = current.as_ref().map_or(1, |c| c.generation + 1);
        let cached = Cached {
            token: fetched.token,
            expires_at_ms: now + ttl_ms,
            refresh_at_ms: now + ttl_ms - margin_ms,
            generation,
        };
        let result = (cached.token.clone(), generation);
        save(&cached.token, cached.expires_at_ms);
        *current = Some(cached);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn token(value: &str, ttl: u64) -> Result<FetchedToken, CredentialError> {
        Ok(FetchedToken {
            token: Secret::new(value),
            expires_in_secs: Some(ttl),
        })
    }

    #[tokio::test]
    async fn token_is_fetched_once_then_reused_until_near_expiry() {
        let clock = ManualClock::new();
        let cache = TokenCache::new(Arc::new(clock.clone()));
        let fetches = AtomicU32::new(0);
        for _ in 0..3 {
            let (t, _) = cache
                .get(
                    None,
                    3600,
                    || None,
                    |_, _| {},
                    |_| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        token("t1", 86_400)
                    },
                )
                .await
                .unwrap();
            assert_eq!(t.expose(), "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // 24 h lifetime: renewed five minutes before the end.
        clock.advance_ms(86_400_000 - 299_000);
        let (t, _) = cache
            .get(
                None,
                3600,
                || None,
                |_, _| {},
                |reason| async move {
                    assert_eq!(reason, TokenReason::Expiring);
                    token("t2", 86_400)
                },
            )
            .await
            .unwrap();
        assert_eq!(t.expose(), "t2");
    }

    #[tokio::test]
    async fn rejected_token_is_replaced_once_not_per_request() {
        let cache = TokenCache::new(Arc::new(ManualClock::new()));
        let (_, g1) = cache
            .get(None, 60, || None, |_, _| {}, |_| async { token("t1", 600) })
            .await
            .unwrap();
        let (t, g2) = cache
            .get(
                Some(g1),
                60,
                || None,
                |_, _| {},
                |reason| async move {
                    assert_eq!(reason, TokenReason::Rejected);
                    token("t2", 600)
                },
            )
            .await
            .unwrap();
        assert_eq!(t.expose(), "t2");
        // A second request that was also refused with g1 reuses t2.
        let (t, g3) = cache
            .get(
                Some(g1),
                60,
                || None,
                |_, _| {},
                |_| async { token("t3", 600) },
            )
            .await
            .unwrap();
        assert_eq!((t.expose(), g3), ("t2", g2));
    }

    #[test]
    fn invalid_client_reply_is_a_rejection_with_the_error_code() {
        let err = parse_reply(
            "http://x/oauth/token",
            401,
            br#"{"error":"invalid_client","error_description":"Unauthorized"}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("invalid_client"), "{err}");
    }

    #[test]
    fn reply_without_access_token_is_unavailable() {
        assert!(matches!(
            parse_reply("u", 200, b"{}"),
            Err(CredentialError::Unavailable { .. })
        ));
        let ok = parse_reply("u", 200, br#"{"access_token":"a","expires_in":"86400"}"#).unwrap();
        assert_eq!(ok.expires_in_secs, Some(86_400));
    }

    #[test]
    fn json_and_form_bodies_carry_the_grant() {
        let mut endpoint = TokenEndpoint {
            url: "http://x/t".into(),
            body: TokenBody::Json,
            audience: Some("https://api.procurify.com/".into()),
            scope: None,
            default_ttl_secs: 3600,
        };
        let (ct, body) = endpoint.request_body(&Secret::new("id"), &Secret::new("s&cret"));
        assert_eq!(ct, "application/json");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["grant_type"], "client_credentials");
        assert_eq!(json["audience"], "https://api.procurify.com/");
        endpoint.body = TokenBody::Form;
        let (ct, body) = endpoint.request_body(&Secret::new("id"), &Secret::new("s&cret"));
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "grant_type=client_credentials&client_id=id&client_secret=s%26cret&audience=https%3A%2F%2Fapi.procurify.com%2F"
        );
    }
}
