//! Small HTTP peers for runtime tests, served by the sandbox crate's server:
//! an echo server (records everything, reflects header names) and an OAuth2
//! client-credentials issuer with a protected resource.

use http::StatusCode;
use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::faults::FaultPlan;
use mlc_sandbox::server::Server;
use std::sync::Arc;
use std::sync::Mutex;

/// Answers every request with a JSON description of it: method, path, header
/// names, body. It does not reflect header values, so a component's view of
/// the answer shows what the host attached only by name.
#[derive(Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    fn handle(&self, request: &Request) -> Response {
        let names: Vec<&str> = request.headers.keys().map(|k| k.as_str()).collect();
        Response::json(
            StatusCode::OK,
            &serde_json::json!({
                "method": request.method.as_str(),
                "path": request.path,
                "header_names": names,
                "body_bytes": request.body.len(),
            }),
        )
        .with_header(http::header::SERVER, "mlc-echo")
    }
}

/// Starts an echo server on 127.0.0.1.
pub async fn echo_server() -> Server {
    Server::start(Arc::new(Echo), Arc::new(FaultPlan::none()))
        .await
        .expect("echo server starts")
}

/// An OAuth2 client-credentials issuer (`POST /oauth/token`) guarding every
/// other path: only the most recently issued token is accepted.
#[derive(Debug)]
pub struct TokenIssuer {
    client_id: String,
    client_secret: String,
    state: Mutex<IssuerState>,
}

#[derive(Debug, Default)]
struct IssuerState {
    issued: u32,
    valid: Option<String>,
}

impl TokenIssuer {
    /// An issuer that accepts exactly these client credentials.
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        TokenIssuer {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            state: Mutex::new(IssuerState::default()),
        }
    }

    /// How many tokens were issued.
    pub fn issued(&self) -> u32 {
        self.state.lock().map(|s| s.issued).unwrap_or(0)
    }

    /// Invalidates the current token (the next call answers 401).
    pub fn revoke(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.valid = None;
        }
    }
}

impl Handler for TokenIssuer {
    fn handle(&self, request: &Request) -> Response {
        let Ok(mut state) = self.state.lock() else {
            return Response::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({}));
        };
        if request.path == "/oauth/token" {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            if body["client_id"] != self.client_id.as_str()
                || body["client_secret"] != self.client_secret.as_str()
                || body["grant_type"] != "client_credentials"
            {
                return Response::json(
                    StatusCode::UNAUTHORIZED,
                    &serde_json::json!({"error": "invalid_client", "error_description": "Unauthorized"}),
                );
            }
            state.issued += 1;
            let token = format!("token-{}", state.issued);
            state.valid = Some(token.clone());
            return Response::json(
                StatusCode::OK,
                &serde_json::json!({"access_token": token, "expires_in": 86400, "token_type": "Bearer", "scope": "api"}),
            );
        }
        let presented = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        match (&state.valid, presented) {
            (Some(valid), Some(p)) if valid == p => Response::json(
                StatusCode::OK,
                &serde_json::json!({"data": "protected", "token_number": state.issued}),
            ),
            _ => Response::json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"detail": "Authentication credentials were not provided."}),
            ),
        }
    }
}

/// Starts a token issuer on 127.0.0.1; returns the server and the issuer.
pub async fn token_issuer(client_id: &str, client_secret: &str) -> (Server, Arc<TokenIssuer>) {
    let issuer = Arc::new(TokenIssuer::new(client_id, client_secret));
    let server = Server::start(issuer.clone(), Arc::new(FaultPlan::none()))
        .await
        .expect("token issuer starts");
    (server, issuer)
}
