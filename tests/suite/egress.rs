//! Egress is denied by default: a sandbox reaches only its connection's
//! origin (with credentials) and listed extra origins (without).

use mlc_host::credentials::{Credentials, SecretRef};
use mlc_host::egress::EgressLimits;
use mlc_host::events::Event;
use mlc_host::runtime::{CallError, Failure};
use mlc_tests::peers::echo_server;
use mlc_tests::{SandboxBuilder, fetch_connection, misbehaving};

#[tokio::test]
async fn request_to_an_unlisted_origin_is_refused_and_reported() {
    let own = echo_server().await;
    let elsewhere = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &own.base_url());
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let target = format!("{}/steal", elsewhere.base_url());
    let conn = fetch_connection(&own.base_url(), &target, "GET", None);

    let err = instance.read(&conn, "fetch", None).await.unwrap_err();
    match err.failure() {
        Some(Failure::Config(msg)) => assert!(msg.contains("refused"), "{msg}"),
        other => panic!("expected a config failure for a denied request, got {other:?} ({err})"),
    }
    assert!(
        elsewhere.requests().is_empty(),
        "the unlisted origin was reached"
    );
    let denied: Vec<_> = sandbox
        .events
        .recent()
        .into_iter()
        .filter(|e| matches!(e, Event::EgressDenied { .. }))
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    if let Event::EgressDenied { tenant, origin, .. } = &denied[0] {
        assert_eq!(tenant, "acme");
        assert_eq!(*origin, elsewhere.base_url());
    }
}

#[tokio::test]
async fn same_host_on_another_port_is_another_origin() {
    let own = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &own.base_url());
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let other_port = own.addr().port().wrapping_add(1).max(1);
    let conn = fetch_connection(
        &own.base_url(),
        &format!("http://127.0.0.1:{other_port}/x"),
        "GET",
        None,
    );
    let err = instance.read(&conn, "fetch", None).await.unwrap_err();
    assert!(matches!(err.failure(), Some(Failure::Config(_))), "{err}");
}

#[tokio::test]
async fn credentials_for_connection_a_never_reach_origin_b() {
    let a = echo_server().await;
    let b = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &a.base_url())
        .allow(&b.base_url())
        .credentials(Credentials::Bearer {
            token: SecretRef::parse("secret:a/token").unwrap(),
        })
        .secret("a/token", "token-of-a-7f3e");
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();

    for (server, url) in [(&a, a.base_url()), (&b, b.base_url())] {
        let conn = fetch_connection(&a.base_url(), &format!("{url}/x"), "GET", None);
        instance.read(&conn, "fetch", None).await.unwrap();
        assert_eq!(server.requests().len(), 1);
    }
    let seen_by_a = a.requests()[0]
        .request
        .header("authorization")
        .map(str::to_string);
    let seen_by_b = b.requests()[0]
        .request
        .header("authorization")
        .map(str::to_string);
    assert_eq!(seen_by_a.as_deref(), Some("Bearer token-of-a-7f3e"));
    // B gets neither A's token nor the component's forged header.
    assert_eq!(seen_by_b, None);
}

#[tokio::test]
async fn a_component_cannot_forge_its_own_authorization() {
    let own = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &own.base_url());
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let conn = fetch_connection(
        &own.base_url(),
        &format!("{}/x", own.base_url()),
        "GET",
        None,
    );
    instance.read(&conn, "fetch", None).await.unwrap();
    assert_eq!(own.requests()[0].request.header("authorization"), None);
}

#[tokio::test]
async fn oversized_response_is_cut_off_by_the_host() {
    let own = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &own.base_url()).egress_limits(EgressLimits {
        max_response_bytes: 16,
        ..EgressLimits::default()
    });
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let conn = fetch_connection(
        &own.base_url(),
        &format!("{}/x", own.base_url()),
        "GET",
        None,
    );
    let err = instance.read(&conn, "fetch", None).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Failed { failure: Failure::Protocol(m), .. } if m.contains("larger")),
        "{err}"
    );
}
