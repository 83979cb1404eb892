//! Authentication: WS-Security, HTTP Basic, bearer (static and issued), and
//! every way each of them fails.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Method, StatusCode};
use mlc_sandbox::peoplesoft::{
    AuthPolicy, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_STATIC_TOKEN, DEMO_USER,
    PeopleSoftConfig, PeopleSoftSandbox, SiteUser, WSSE_NS,
};

use super::support::*;

fn find_payload(site: &PeopleSoftSandbox) -> String {
    message(
        site,
        "CI_VNDR_ID_F",
        "Find__CompIntfc__VNDR_ID",
        "<SETID>SHARE</SETID><VENDOR_ID>0000000101</VENDOR_ID>",
    )
}

/// The vendor find, authenticated only by the `Authorization` header `auth`.
async fn find_with_authorization(site: &PeopleSoftSandbox, auth: &str) -> Reply {
    call_with(
        site,
        "CI_VNDR_ID_F",
        "",
        &find_payload(site),
        &[("authorization", auth)],
    )
    .await
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A token from the site's token endpoint (client credentials), whose
/// lifetime must be `expires_in` seconds.
async fn fetch_token_expiring_in(site: &PeopleSoftSandbox, expires_in: u64) -> String {
    let reply = send(
        &site.base_url(),
        Method::POST,
        "/oauth2/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], expires_in);
    json["access_token"].as_str().unwrap().to_owned()
}

/// A token of the demo site's lifetime (an hour).
async fn fetch_token(site: &PeopleSoftSandbox) -> String {
    fetch_token_expiring_in(site, 3600).await
}

fn found_vendor(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && reply
            .payload()
            .child("VNDR_ID")
            .and_then(|v| v.child_text("VENDOR_ID"))
            == Some("0000000101")
}

/// How a row of the table below authenticates.
enum Presented {
    /// A WS-Security UsernameToken in the SOAP header.
    Wsse,
    /// An `Authorization` header.
    Header(String),
    /// A bearer token issued by the site's token endpoint.
    IssuedBearer,
}

/// Every credential the demo site accepts finds the vendor as the
/// integration user (one row per method; a failure names it).
#[tokio::test]
async fn wsse_basic_static_bearer_and_issued_bearer_each_authenticate() {
    let rows = [
        ("WS-Security UsernameToken", Presented::Wsse),
        (
            "HTTP Basic",
            Presented::Header(basic(DEMO_USER, DEMO_PASSWORD)),
        ),
        (
            "static bearer token",
            Presented::Header(format!("Bearer {DEMO_STATIC_TOKEN}")),
        ),
        ("issued bearer token", Presented::IssuedBearer),
    ];
    for (variant, presented) in rows {
        let site = demo_site().await;
        let reply = match presented {
            Presented::Wsse => call(&site, "CI_VNDR_ID_F", &find_payload(&site)).await,
            Presented::Header(auth) => find_with_authorization(&site, &auth).await,
            Presented::IssuedBearer => {
                let auth = format!("Bearer {}", fetch_token(&site).await);
                find_with_authorization(&site, &auth).await
            }
        };
        assert!(found_vendor(&reply), "{variant}: {}", reply.body);
    }
}

#[tokio::test]
async fn issued_tokens_are_jwt_shaped_and_client_basic_auth_works_at_the_token_endpoint() {
    let site = demo_site().await;
    let token = fetch_token(&site).await;
    assert_eq!(token.split('.').count(), 3, "JWT-shaped: {token}");

    let client_basic = basic(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    let reply = send(
        &site.base_url(),
        Method::POST,
        "/oauth2/token",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &client_basic),
        ],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn expired_token_answers_401_invalid_token_and_a_fresh_token_works() {
    let site = demo_site().await;
    let token = fetch_token(&site).await;
    site.expire_tokens();
    let auth = format!("Bearer {token}");
    let reply = find_with_authorization(&site, &auth).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = reply.header("www-authenticate").expect("WWW-Authenticate");
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(reply.fault_message().contains("expired"), "{}", reply.body);

    let fresh = format!("Bearer {}", fetch_token(&site).await);
    let reply = find_with_authorization(&site, &fresh).await;
    assert!(found_vendor(&reply), "{}", reply.body);
}

#[tokio::test]
async fn short_token_lifetime_expires_by_itself() {
    let site = site_with(PeopleSoftConfig {
        bearer_ttl_secs: 0,
        ..PeopleSoftConfig::default()
    })
    .await;
    let auth = format!("Bearer {}", fetch_token_expiring_in(&site, 0).await);
    let reply = find_with_authorization(&site, &auth).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_bearer_token_answers_401() {
    let site = demo_site().await;
    let reply = find_with_authorization(&site, "Bearer forged.token.value").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    assert!(reply.fault_message().contains("(158,"), "{}", reply.body);
}

#[tokio::test]
async fn token_endpoint_refuses_bad_client_and_grant() {
    let site = demo_site().await;
    let bad_client = send(
        &site.base_url(),
        Method::POST,
        "/oauth2/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret=wrong"),
    )
    .await;
    assert_eq!(bad_client.status, StatusCode::UNAUTHORIZED);
    assert!(
        bad_client.body.contains("\"invalid_client\""),
        "{}",
        bad_client.body
    );
    let bad_grant = send(
        &site.base_url(),
        Method::POST,
        "/oauth2/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        "grant_type=password&username=a&password=b",
    )
    .await;
    assert_eq!(bad_grant.status, StatusCode::BAD_REQUEST);
    assert!(bad_grant.body.contains("\"unsupported_grant_type\""));
}

#[tokio::test]
async fn wrong_password_is_a_158_45_fault() {
    let site = demo_site().await;
    let reply = call_with(
        &site,
        "CI_VNDR_ID_F",
        &wsse_header(DEMO_USER, "nope"),
        &find_payload(&site),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.fault_message(), "User password failed. (158,45)");
    let root = reply.xml();
    let fault = root.descendants("Fault")[0];
    assert_eq!(fault.child_text("faultstring"), Some("null"));
    assert_eq!(root.descendants("MessageID")[0].text, "45");

    let auth = basic(DEMO_USER, "nope");
    let reply = find_with_authorization(&site, &auth).await;
    assert_eq!(reply.fault_message(), "User password failed. (158,45)");
}

#[tokio::test]
async fn password_digest_is_not_accepted() {
    let site = demo_site().await;
    let header = wsse_header(DEMO_USER, DEMO_PASSWORD).replace("#PasswordText", "#PasswordDigest");
    let reply = call_with(&site, "CI_VNDR_ID_F", &header, &find_payload(&site), &[]).await;
    assert_eq!(reply.fault_message(), "User password failed. (158,45)");
}

#[tokio::test]
async fn unknown_user_is_a_158_55_fault() {
    let site = demo_site().await;
    let reply = call_with(
        &site,
        "CI_VNDR_ID_F",
        &wsse_header("NOBODY", "x"),
        &find_payload(&site),
        &[],
    )
    .await;
    assert_eq!(
        reply.fault_message(),
        "UserName not defined in database. (158,55)"
    );
    assert!(
        reply
            .body
            .contains("<Parameter><![CDATA[NOBODY]]></Parameter>"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn no_credentials_run_as_the_anonymous_default_user_who_is_not_authorized() {
    let site = demo_site().await;
    let reply = call_with(&site, "CI_VNDR_ID_F", "", &find_payload(&site), &[]).await;
    assert_eq!(
        reply.fault_message(),
        "User PSGUEST not authorized to invoke Service Operation CI_VNDR_ID_F. (158,536)"
    );
    // Granting the anonymous user the operation lets the same call through.
    site.grant("PSGUEST", "CI_VNDR_ID_F").unwrap();
    let reply = call_with(&site, "CI_VNDR_ID_F", "", &find_payload(&site), &[]).await;
    assert!(found_vendor(&reply), "{}", reply.body);
}

#[tokio::test]
async fn credentials_of_a_method_the_site_does_not_accept_are_ignored() {
    let site = site_with(PeopleSoftConfig {
        auth: AuthPolicy {
            basic: false,
            bearer: false,
            ..AuthPolicy::default()
        },
        ..PeopleSoftConfig::default()
    })
    .await;
    // One row per method the site does not accept; a failure names it.
    for (variant, auth) in [
        ("HTTP Basic", basic(DEMO_USER, DEMO_PASSWORD)),
        ("static bearer token", format!("Bearer {DEMO_STATIC_TOKEN}")),
    ] {
        let reply = find_with_authorization(&site, &auth).await;
        assert!(
            reply
                .fault_message()
                .starts_with("User PSGUEST not authorized"),
            "{variant}: {}",
            reply.body
        );
    }
    // WSSE is still accepted.
    assert!(found_vendor(
        &call(&site, "CI_VNDR_ID_F", &find_payload(&site)).await
    ));
}

#[tokio::test]
async fn wsse_in_a_pre_oasis_namespace_is_not_a_credential() {
    let site = demo_site().await;
    let header = wsse_header(DEMO_USER, DEMO_PASSWORD)
        .replace(WSSE_NS, "http://schemas.xmlsoap.org/ws/2002/07/secext");
    let reply = call_with(&site, "CI_VNDR_ID_F", &header, &find_payload(&site), &[]).await;
    assert!(
        reply
            .fault_message()
            .starts_with("User PSGUEST not authorized"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn password_with_xml_special_characters_round_trips() {
    let password = "p&ss<wörd>\"'東";
    let site = site_with(PeopleSoftConfig {
        users: vec![SiteUser::with_all_operations("ODD_USER", password)],
        ..PeopleSoftConfig::default()
    })
    .await;
    let reply = call_with(
        &site,
        "CI_VNDR_ID_F",
        &wsse_header("ODD_USER", password),
        &find_payload(&site),
        &[],
    )
    .await;
    assert!(found_vendor(&reply), "{}", reply.body);
}
