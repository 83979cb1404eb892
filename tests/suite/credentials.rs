//! The host authenticates on the component's behalf: Basic, static bearer,
//! OAuth2 client credentials (fetched once, renewed on expiry and after a 401)
//! and WS-Security; the component never receives a secret.

use base64::Engine as _;
use mlc_host::clock::ManualClock;
use mlc_host::credentials::{Credentials, SecretRef, Setting, TokenBody, TokenEndpoint};
use mlc_host::events::{Event, TokenReason};
use mlc_host::runtime::Failure;
use mlc_tests::peers::{echo_server, token_issuer};
use mlc_tests::{SandboxBuilder, fetch_connection, misbehaving};
use std::sync::Arc;

const PASSWORD: &str = "pa&ss<w0rd>-91c2";

fn secret(name: &str) -> SecretRef {
    SecretRef::parse(&format!("secret:{name}")).unwrap()
}

fn oauth2(token_url: String) -> Credentials {
    Credentials::OAuth2ClientCredentials {
        endpoint: TokenEndpoint {
            url: token_url,
            body: TokenBody::Json,
            audience: Some("https://api.procurify.com/".into()),
            scope: None,
            default_ttl_secs: 3600,
        },
        client_id: Setting::Plain("client-1".into()),
        client_secret: secret("procurify/client_secret"),
    }
}

#[tokio::test]
async fn component_never_sees_a_secret_even_in_everything_it_receives() {
    let own = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &own.base_url())
        .credentials(Credentials::Bearer {
            token: secret("ps/token"),
        })
        .secret("ps/token", "static-bearer-5a9d");
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let conn = fetch_connection(
        &own.base_url(),
        &format!("{}/x", own.base_url()),
        "GET",
        None,
    );
    let dump = instance.read(&conn, "fetch", None).await.unwrap().docs[0]
        .body
        .clone();
    let snoop = instance.read(&conn, "snoop", None).await.unwrap().docs[0]
        .body
        .clone();
    // The remote side got the token ...
    assert_eq!(
        own.requests()[0].request.header("authorization"),
        Some("Bearer static-bearer-5a9d")
    );
    // ... and the component, which dumps every header and body it received
    // and everything it could find, saw none of it.
    assert!(
        dump.contains("status: 200") && dump.contains("authorization"),
        "{dump}"
    );
    for text in [&dump, &snoop] {
        assert!(
            !text.contains("static-bearer-5a9d"),
            "secret leaked into the component: {text}"
        );
    }
}

#[tokio::test]
async fn oauth2_token_is_fetched_once_reused_and_renewed_after_expiry_and_401() {
    let (server, issuer) = token_issuer("client-1", "s3cret-oauth").await;
    let clock = ManualClock::new();
    let sandbox = SandboxBuilder::new("acme", &server.base_url())
        .credentials(oauth2(format!("{}/oauth/token", server.base_url())))
        .secret("procurify/client_secret", "s3cret-oauth")
        .clock(Arc::new(clock.clone()));
    let built = sandbox.build();
    let conn = fetch_connection(
        &server.base_url(),
        &format!("{}/api", server.base_url()),
        "GET",
        None,
    );

    // Three calls, across two instances of the connection: one token.
    for _ in 0..2 {
        let mut instance = misbehaving().instantiate(&built).await.unwrap();
        for _ in 0..3 {
            let body = instance.read(&conn, "fetch", None).await.unwrap().docs[0]
                .body
                .clone();
            assert!(body.contains("status: 200"), "{body}");
        }
    }
    assert_eq!(issuer.issued(), 1);

    // A day later the token has expired: a new one is fetched first.
    clock.advance_ms(86_400_000);
    let mut instance = misbehaving().instantiate(&built).await.unwrap();
    instance.read(&conn, "fetch", None).await.unwrap();
    assert_eq!(issuer.issued(), 2);

    // The remote side revokes it: the 401 is absorbed by one renewal.
    issuer.revoke();
    let body = instance.read(&conn, "fetch", None).await.unwrap().docs[0]
        .body
        .clone();
    assert!(
        body.contains("status: 200"),
        "the component saw the 401: {body}"
    );
    assert_eq!(issuer.issued(), 3);

    let reasons: Vec<TokenReason> = sandbox
        .events
        .recent()
        .into_iter()
        .filter_map(|e| match e {
            Event::TokenRefreshed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            TokenReason::Initial,
            TokenReason::Expiring,
            TokenReason::Rejected
        ]
    );
}

#[tokio::test]
async fn refused_client_credentials_surface_as_unauthorized_without_the_secret() {
    let (server, issuer) = token_issuer("client-1", "the-right-one").await;
    let sandbox = SandboxBuilder::new("acme", &server.base_url())
        .credentials(oauth2(format!("{}/oauth/token", server.base_url())))
        .secret("procurify/client_secret", "a-wrong-secret-77");
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let conn = fetch_connection(
        &server.base_url(),
        &format!("{}/api", server.base_url()),
        "GET",
        None,
    );
    let err = instance.read(&conn, "fetch", None).await.unwrap_err();
    match err.failure() {
        Some(Failure::Unauthorized(msg)) => {
            assert!(msg.contains("invalid_client"), "{msg}");
            assert!(!msg.contains("a-wrong-secret-77"));
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    assert_eq!(issuer.issued(), 0);
    // Only the token endpoint was called; the API never saw a request.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.request.path == "/oauth/token")
    );
    let events = format!("{:?}", sandbox.events.recent());
    assert!(events.contains("TokenFetchFailed") && !events.contains("a-wrong-secret-77"));
}

/// A request the misbehaving component sends through the host with the
/// credentials of one scheme, and what the own origin must receive.
struct AttachRow {
    variant: &'static str,
    credentials: Credentials,
    path: &'static str,
    method: &'static str,
    body: Option<&'static str>,
    check: fn(&str, &mlc_sandbox::exchange::Request),
}

const ENVELOPE: &str = "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Header/><soapenv:Body><Get__CompIntfc__PO_EXPRESS/></soapenv:Body></soapenv:Envelope>";

/// HTTP Basic: an Authorization header for the own origin. WS-Security: a
/// UsernameToken inserted into the SOAP header (password XML-escaped),
/// Content-Length following the rewritten body, no Authorization header.
/// One row per scheme; a failure names it.
#[tokio::test]
async fn basic_is_attached_as_a_header_and_wsse_is_inserted_into_the_soap_header() {
    let rows = [
        AttachRow {
            variant: "HTTP Basic",
            credentials: Credentials::Basic {
                username: Setting::Plain("MLC_INTEGRATION".into()),
                password: secret("ps/password"),
            },
            path: "/x",
            method: "GET",
            body: None,
            check: |variant, recorded| {
                let expected = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("MLC_INTEGRATION:{PASSWORD}"))
                );
                assert_eq!(
                    recorded.header("authorization"),
                    Some(expected.as_str()),
                    "{variant}"
                );
            },
        },
        AttachRow {
            variant: "WS-Security UsernameToken",
            credentials: Credentials::Wsse {
                username: Setting::Plain("MLC_INTEGRATION".into()),
                password: secret("ps/password"),
            },
            path: "/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP",
            method: "POST",
            body: Some(ENVELOPE),
            check: |variant, recorded| {
                let body = String::from_utf8(recorded.body.to_vec()).unwrap();
                let escaped = PASSWORD
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                assert!(
                    body.starts_with("<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Header><wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:UsernameToken><wsse:Username>MLC_INTEGRATION</wsse:Username>"),
                    "{variant}: {body}"
                );
                assert!(
                    body.contains(&format!("PasswordText\">{escaped}</wsse:Password>")),
                    "{variant}: {body}"
                );
                assert!(body.ends_with("</soapenv:Header><soapenv:Body><Get__CompIntfc__PO_EXPRESS/></soapenv:Body></soapenv:Envelope>"), "{variant}: {body}");
                // Content-Length follows the rewritten body, and no Authorization header is sent.
                assert_eq!(
                    recorded.header("content-length").map(str::to_string),
                    Some(body.len().to_string()),
                    "{variant}"
                );
                assert_eq!(recorded.header("authorization"), None, "{variant}");
            },
        },
    ];
    for row in rows {
        let own = echo_server().await;
        let sandbox = SandboxBuilder::new("acme", &own.base_url())
            .credentials(row.credentials)
            .secret("ps/password", PASSWORD);
        let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
        let conn = fetch_connection(
            &own.base_url(),
            &format!("{}{}", own.base_url(), row.path),
            row.method,
            row.body,
        );
        instance
            .read(&conn, "fetch", None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", row.variant));
        (row.check)(row.variant, &own.requests()[0].request);
    }
}
