//! Security: egress reaches only listed origins (no redirect followed, no
//! Host or user-info trick), credentials go to their own origin only, no
//! secret lands in the database, its WAL, logs, audit export, events or
//! errors after a full mission run, a tampered vault row or a wrong key is
//! detected, and tenants of one host keep their ledgers, hosts and
//! misbehaving components to themselves.

use mlc_deployment_kit::manifest::quoted;
use mlc_deployment_kit::{Kit, PO_FLOW, TENANT, app_options, expected_po_refs, halted};
use mlc_host::credentials::{Credentials, Secret, SecretRef};
use mlc_host::events::{ContainmentReason, Event};
use mlc_host::pipeline::RunOutcome;
use mlc_host::store::{RecordState, SqliteStore, Store};
use mlc_host::vault::{Vault, VaultError, VaultKey};
use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::faults::FaultPlan;
use mlc_sandbox::peoplesoft::{DEMO_USER, PeopleSoftConfig, SiteUser};
use mlc_sandbox::procurify::ProcurifyConfig;
use mlc_sandbox::server::Server;
use mlc_tests::leaks::{LogCapture, leaked};
use mlc_tests::peers::echo_server;
use mlc_tests::{SandboxBuilder, fetch_connection, misbehaving};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Answers every request with a 302 to `location`.
struct Redirect {
    location: String,
}

impl Handler for Redirect {
    fn handle(&self, _request: &Request) -> Response {
        Response::new(http::StatusCode::FOUND, "text/plain", "moved")
            .with_header(http::header::LOCATION, &self.location)
    }
}

#[tokio::test]
async fn a_redirect_to_an_unlisted_origin_is_not_followed_and_carries_no_credentials() {
    let elsewhere = echo_server().await;
    let redirect = Server::start(
        Arc::new(Redirect {
            location: format!("{}/stolen", elsewhere.base_url()),
        }),
        Arc::new(FaultPlan::none()),
    )
    .await
    .unwrap();
    let sandbox = SandboxBuilder::new("acme", &redirect.base_url())
        .credentials(Credentials::Bearer {
            token: SecretRef::parse("secret:t").unwrap(),
        })
        .secret("t", "bearer-of-acme-51c9");
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let conn = fetch_connection(
        &redirect.base_url(),
        &format!("{}/start", redirect.base_url()),
        "GET",
        None,
    );
    let page = instance.read(&conn, "fetch", None).await.unwrap();
    let seen = &page.docs[0].body;
    assert!(
        seen.starts_with("status: 302"),
        "the host followed the redirect: {seen}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the unlisted origin was reached"
    );

    // The real Procurify connector behind the same redirect: an error, and
    // nobody else reached.
    let procurify = mlc_tests::runtime()
        .load("procurify", mlc_host::components::CONNECTOR_PROCURIFY)
        .unwrap()
        .0;
    let mut p = procurify.instantiate(&sandbox.build()).await.unwrap();
    let conn = mlc_host::runtime::Connection {
        base_url: redirect.base_url(),
        config: "{}".into(),
    };
    assert!(p.read(&conn, "vendors", None).await.is_err());
    assert!(
        elsewhere.requests().is_empty(),
        "the connector followed the redirect"
    );
}

#[tokio::test]
async fn user_info_ip_and_name_tricks_reach_only_the_listed_origin_with_the_right_host_header() {
    let own = echo_server().await;
    let elsewhere = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &own.base_url())
        .credentials(Credentials::Bearer {
            token: SecretRef::parse("secret:t").unwrap(),
        })
        .secret("t", "bearer-of-acme-51c9");
    let (own_port, other_port) = (own.addr().port(), elsewhere.addr().port());
    let tricks = [
        format!("http://127.0.0.1:{own_port}@127.0.0.1:{other_port}/userinfo"),
        format!("http://acme:pw@127.0.0.1:{other_port}/userinfo2"),
        format!("http://localhost:{other_port}/name"),
        format!("http://[::ffff:127.0.0.1]:{other_port}/mapped"),
        format!("http://127.0.0.1:{other_port}/plain"),
        format!("http://2130706433:{other_port}/decimal"),
        format!("https://127.0.0.1:{own_port}/scheme"),
    ];
    for url in &tricks {
        let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
        let conn = fetch_connection(&own.base_url(), url, "GET", None);
        let result = instance.read(&conn, "fetch", None).await;
        assert!(result.is_err(), "{url} was sent: {result:?}");
    }
    assert!(
        elsewhere.requests().is_empty(),
        "a trick reached another origin"
    );
    assert!(
        own.requests().is_empty(),
        "a trick reached the own origin over another name"
    );

    // The own origin gets a Host header that is its own authority.
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let conn = fetch_connection(
        &own.base_url(),
        &format!("{}/ok", own.base_url()),
        "GET",
        None,
    );
    instance.read(&conn, "fetch", None).await.unwrap();
    let got = &own.requests()[0].request;
    assert_eq!(got.header("host"), Some(&own.base_url()["http://".len()..]));
    assert_eq!(
        got.header("authorization"),
        Some("Bearer bearer-of-acme-51c9")
    );
    println!("egress tricks refused: {}", tricks.len());
}

/// Every secret-bearing thing that a run leaves on disk or in memory.
fn scan(what: &str, bytes: &[u8], secrets: &[&str]) {
    let found = leaked(bytes, secrets);
    assert!(
        found.is_empty(),
        "{what} holds a secret in plain text: {found:?}"
    );
}

#[tokio::test]
async fn after_a_mission_run_no_secret_is_in_the_database_wal_logs_audit_events_or_errors() {
    let client_secret = "procurify-client-secret-7Qz3";
    let password = "PeopleSoft-Pass-9xK2";
    let wrong = "wrong-client-secret-4Hd8";
    let logs = LogCapture::default();
    let _guard = tracing_subscriber::util::SubscriberInitExt::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(logs.clone())
            .finish(),
    );
    let stage = Kit::builder()
        .procurify(ProcurifyConfig {
            requisitions: 60,
            client_secret: client_secret.into(),
            ..ProcurifyConfig::default()
        })
        .peoplesoft(PeopleSoftConfig {
            users: vec![SiteUser::with_all_operations(DEMO_USER, password)],
            ..PeopleSoftConfig::default()
        })
        .fronts(1)
        .start()
        .await;
    let app = stage.app().await;
    let reports = app.sync(None, None).await.unwrap();
    assert!(
        reports.iter().all(|r| r.outcome == RunOutcome::Completed),
        "{reports:?}"
    );
    assert!(!stage.peoplesoft.purchase_orders().is_empty());
    // The tokens the host fetched are secrets too.
    let tokens: Vec<String> = stage
        .fronts()
        .procurify_server
        .requests()
        .iter()
        .filter_map(|r| r.request.header("authorization"))
        .filter_map(|a| a.strip_prefix("Bearer ").map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(!tokens.is_empty(), "Procurify saw no bearer token");

    // A wrong secret: the flows halt; the message names the secret, not its value.
    Vault::new(
        VaultKey::from_file(&stage.key_path()).unwrap(),
        app.store.clone(),
    )
    .set(TENANT, "procurify/client_secret", &Secret::new(wrong))
    .unwrap();
    stage.procurify.expire_tokens();
    let halted = stage.app().await.sync(None, None).await.unwrap();
    let messages: Vec<String> = halted.iter().map(|r| format!("{r:?}")).collect();
    assert!(
        halted
            .iter()
            .any(|r| matches!(r.outcome, RunOutcome::Halted(_))),
        "{messages:?}"
    );

    let mut secrets: Vec<&str> = vec![client_secret, password, wrong];
    secrets.extend(tokens.iter().map(String::as_str));
    let db = stage.store_path();
    let wal = stage.dir.path().join("ml-connector.db-wal");
    // While the host is open (the WAL holds recent pages), then after.
    scan(
        "the WAL",
        &std::fs::read(&wal).unwrap_or_default(),
        &secrets,
    );
    scan("the database", &std::fs::read(&db).unwrap(), &secrets);
    let events: Vec<String> = app
        .events
        .recent()
        .iter()
        .map(|e| format!("{e:?}"))
        .collect();
    scan("the events", events.join("\n").as_bytes(), &secrets);
    scan("the run reports", messages.join("\n").as_bytes(), &secrets);
    let mut export = Vec::new();
    mlc_host::audit::export(app.store.as_ref(), None, &mut export).unwrap();
    assert!(!export.is_empty());
    scan("the audit export", &export, &secrets);
    drop(app);
    scan(
        "the database (closed)",
        &std::fs::read(&db).unwrap(),
        &secrets,
    );
    scan(
        "the WAL (closed)",
        &std::fs::read(&wal).unwrap_or_default(),
        &secrets,
    );
    let captured = logs.bytes();
    assert!(captured.len() > 1000, "the log capture saw nothing");
    scan("the logs", &captured, &secrets);
    println!(
        "secret scan: {} secrets over db {} B, logs {} B, audit {} B, {} events",
        secrets.len(),
        std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0),
        captured.len(),
        export.len(),
        events.len()
    );
}

#[test]
fn a_tampered_or_swapped_vault_row_and_a_wrong_key_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let key = VaultKey::generate();
    let vault = Vault::new(key.clone(), store.clone());
    vault
        .set("acme", "ps/password", &Secret::new("acme-pass-1"))
        .unwrap();
    vault
        .set("globex", "ps/password", &Secret::new("globex-pass-2"))
        .unwrap();
    assert_eq!(
        vault.get("acme", "ps/password").unwrap().unwrap().expose(),
        "acme-pass-1"
    );

    // A wrong key.
    let other = Vault::new(VaultKey::generate(), store.clone());
    assert!(matches!(
        other.get("acme", "ps/password"),
        Err(VaultError::Unseal { .. })
    ));

    let db = rusqlite::Connection::open(&path).unwrap();
    // One flipped bit in the ciphertext.
    let sealed: Vec<u8> = db
        .query_row(
            "SELECT sealed FROM secrets WHERE tenant = 'acme' AND name = 'ps/password'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for position in [0, 1, 30, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[position] ^= 0x01;
        db.execute(
            "UPDATE secrets SET sealed = ?1 WHERE tenant = 'acme' AND name = 'ps/password'",
            [&bad],
        )
        .unwrap();
        let err = vault.get("acme", "ps/password").unwrap_err();
        assert!(
            matches!(err, VaultError::Unseal { .. }),
            "byte {position}: {err}"
        );
        assert!(!err.to_string().contains("acme-pass-1"));
    }
    // Globex's row copied over acme's: sealed for another tenant, refused.
    db.execute(
        "UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE tenant = 'globex') WHERE tenant = 'acme'",
        [],
    )
    .unwrap();
    assert!(matches!(
        vault.get("acme", "ps/password"),
        Err(VaultError::Unseal { .. })
    ));
    // A truncated row.
    db.execute(
        "UPDATE secrets SET sealed = X'01' WHERE tenant = 'acme'",
        [],
    )
    .unwrap();
    assert!(matches!(
        vault.get("acme", "ps/password"),
        Err(VaultError::Unseal { .. })
    ));
}

#[tokio::test]
async fn a_deployment_opened_with_the_wrong_key_halts_its_flows_and_says_why() {
    let stage = Kit::builder().requisitions(30).fronts(2).start().await;
    std::fs::remove_file(stage.key_path()).unwrap();
    VaultKey::create_file(&stage.key_path()).unwrap();
    let reports = stage.app().await.sync(None, None).await.unwrap();
    let halted = halted(&reports);
    assert!(!halted.is_empty(), "{reports:?}");
    assert!(
        halted.iter().any(|m| m.contains("wrong vault key")),
        "the halt must say the key is wrong: {halted:?}"
    );
    assert!(stage.peoplesoft.purchase_orders().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_in_one_host_keep_their_ledgers_and_cannot_reach_each_others_hosts() {
    let acme = Kit::builder().requisitions(60).fronts(1).start().await;
    let globex = Kit::builder()
        .procurify(ProcurifyConfig {
            requisitions: 45,
            seed: 99,
            ..ProcurifyConfig::default()
        })
        .fronts(2)
        .start()
        .await;
    // One manifest, two tenants; globex also runs a spy that tries to read
    // acme's PeopleSoft.
    let spy_wasm = acme.dir.path().join("spy.wasm");
    std::fs::write(&spy_wasm, mlc_tests::components::MISBEHAVING_COMPONENT).unwrap();
    std::fs::write(
        acme.dir.path().join("mappings/spy.jq"),
        "{key: .key, body: {}}",
    )
    .unwrap();
    let acme_ps = acme.fronts().peoplesoft_server.base_url();
    acme.edit(|m| {
        m.copy_tenant(TENANT, "globex");
        m.point_at(
            "globex",
            &globex.fronts().procurify_server.base_url(),
            &globex.fronts().peoplesoft_server.base_url(),
        );
        m.merge(&format!(
            "[tenants.globex.connections.spy]\nconnector = {}\nbase_url = {}\nconfig = {{ url = {} }}\n\n\
             [tenants.globex.flows.spy]\nfrom = \"spy.fetch\"\nto = \"spy.ok\"\nmapping = \"mappings/spy.jq\"\n",
            quoted(&spy_wasm.display().to_string()),
            quoted(&globex.fronts().peoplesoft_server.base_url()),
            // A secret in the refused URL's query must not reach the audit log.
            quoted(&format!(
                "{acme_ps}/spy-from-globex?password={}",
                mlc_sandbox::peoplesoft::DEMO_PASSWORD
            )),
        ));
    });
    let key = VaultKey::from_file(&acme.key_path()).unwrap();
    let vault = Vault::new(key, Arc::new(acme.store()));
    vault
        .set(
            "globex",
            "procurify/client_secret",
            &Secret::new(mlc_sandbox::procurify::DEMO_CLIENT_SECRET),
        )
        .unwrap();
    vault
        .set(
            "globex",
            "peoplesoft/password",
            &Secret::new(mlc_sandbox::peoplesoft::DEMO_PASSWORD),
        )
        .unwrap();

    let app = acme.app().await;
    let reports = app.sync(None, None).await.unwrap();
    for r in &reports {
        match (r.tenant.as_str(), r.flow.as_str(), &r.outcome) {
            ("globex", "spy", RunOutcome::Halted(m)) => {
                assert!(m.contains("refused"), "the spy's halt must say why: {m}")
            }
            ("globex", "spy", other) => panic!("the spy was not stopped: {other:?}"),
            (_, _, RunOutcome::Completed) => {}
            (t, f, other) => panic!("{t}/{f}: {other:?}"),
        }
    }
    assert!(
        acme.fronts()
            .peoplesoft
            .stamps()
            .iter()
            .all(|s| !s.line.contains("spy-from-globex")),
        "globex reached acme's PeopleSoft"
    );
    assert!(app.events.recent().iter().any(|e| matches!(
        e,
        Event::EgressDenied { tenant, .. } if tenant == "globex"
    )));
    // The denial is an audit row of globex naming the refused origin, with
    // neither the URL's query nor any secret in it; the chain still verifies.
    let mut export = Vec::new();
    mlc_host::audit::export(app.store.as_ref(), Some("globex"), &mut export).unwrap();
    let export = String::from_utf8(export).unwrap();
    let denial = export
        .lines()
        .find(|l| l.contains("\"event\":\"egress_denied\""))
        .unwrap_or_else(|| panic!("no egress_denied audit row for globex:\n{export}"));
    assert!(denial.contains(&acme_ps), "{denial}");
    scan(
        "the egress denial's audit row",
        denial.as_bytes(),
        &[
            mlc_sandbox::peoplesoft::DEMO_PASSWORD,
            mlc_sandbox::procurify::DEMO_CLIENT_SECRET,
            "spy-from-globex",
        ],
    );
    assert!(matches!(
        mlc_host::audit::verify(app.store.as_ref()).unwrap(),
        mlc_host::audit::Verification::Verified { .. }
    ));

    // Each tenant's ledger names only its own POs, in its own PeopleSoft.
    for (tenant, stage) in [(TENANT, &acme), ("globex", &globex)] {
        let (ready, _) = expected_po_refs(&stage.procurify);
        let pos: BTreeMap<String, String> = stage
            .peoplesoft
            .purchase_orders()
            .into_iter()
            .map(|p| (p.po_ref.unwrap_or_default(), p.po_id))
            .collect();
        assert_eq!(
            pos.keys().collect::<Vec<_>>(),
            ready.keys().collect::<Vec<_>>(),
            "{tenant}: PeopleSoft holds POs of the other tenant or misses its own"
        );
        let rows = app
            .store
            .ledger_in_state(tenant, PO_FLOW, RecordState::Delivered, usize::MAX >> 1)
            .unwrap();
        assert_eq!(rows.len(), ready.len(), "{tenant}");
        for row in rows {
            assert_eq!(row.tenant, tenant);
            assert_eq!(
                pos.get(&row.key),
                row.target_key.as_ref(),
                "{tenant}: ledger row {} is not in its PeopleSoft",
                row.key
            );
        }
    }
    // Globex's requisitions differ from acme's: a shared ledger would have
    // skipped them as already delivered.
    let (a, _) = expected_po_refs(&acme.procurify);
    let (g, _) = expected_po_refs(&globex.procurify);
    assert_ne!(a, g, "the two tenants' data should differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_and_a_hoarding_tenant_are_stopped_while_the_other_tenant_finishes() {
    let stage = Kit::builder().requisitions(60).fronts(4).start().await;
    let wasm = stage.dir.path().join("misbehaving.wasm");
    std::fs::write(&wasm, mlc_tests::components::MISBEHAVING_COMPONENT).unwrap();
    std::fs::write(
        stage.dir.path().join("mappings/any.jq"),
        "{key: .key, body: {}}",
    )
    .unwrap();
    // The looping connection has a 1 s deadline; the hoarding one a long one,
    // so that on a loaded machine it still runs into the memory limit rather
    // than the deadline.
    stage.edit(|m| {
        m.merge(&format!(
        "\n[tenants.runaway.connections.bad]\nconnector = {}\nbase_url = \"http://127.0.0.1:9\"\n\
         memory_mb = 32\ncall_timeout_secs = 1\n\n\
         [tenants.runaway.connections.hoarder]\nconnector = {}\nbase_url = \"http://127.0.0.1:9\"\n\
         memory_mb = 32\ncall_timeout_secs = 30\n\n\
         [tenants.runaway.flows.spin]\nfrom = \"bad.loop\"\nto = \"bad.ok\"\nmapping = \"mappings/any.jq\"\n\
         retry = {{ attempts = 2, base_ms = 10, cap_ms = 10 }}\n\n\
         [tenants.runaway.flows.hoard]\nfrom = \"hoarder.grow\"\nto = \"hoarder.ok\"\nmapping = \"mappings/any.jq\"\n\
         retry = {{ attempts = 2, base_ms = 10, cap_ms = 10 }}\n",
        quoted(&wasm.display().to_string()),
        quoted(&wasm.display().to_string()),
        ))
    });
    // The host runs on a runtime of its own thread, so that a component
    // that is never interrupted fails this test instead of hanging it (its
    // thread is then left spinning until the test binary exits).
    let manifest_path = stage.manifest.clone();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let app = mlc_host::app::App::open(&manifest_path, app_options())
                .await
                .unwrap();
            let reports = app.sync(None, None).await.unwrap();
            let mut audit = Vec::new();
            mlc_host::audit::export(app.store.as_ref(), Some("runaway"), &mut audit).unwrap();
            let _ = done.send((reports, app.events.recent(), audit));
        });
    });
    let (reports, events, audit) = tokio::task::spawn_blocking(move || {
        finished.recv_timeout(Duration::from_secs(240))
    })
    .await
    .unwrap()
    .expect(
        "a looping component was never interrupted: the host hung (is the epoch ticker running?)",
    );
    for r in &reports {
        if r.tenant == "runaway" {
            let stopped_by = if r.flow == "spin" {
                "deadline"
            } else {
                "memory"
            };
            assert!(
                matches!(&r.outcome, RunOutcome::Incomplete(m) | RunOutcome::Halted(m)
                    if m.contains(stopped_by)),
                "{}: {:?}",
                r.flow,
                r.outcome
            );
        } else {
            assert_eq!(r.outcome, RunOutcome::Completed, "{}", r.flow);
        }
    }
    let (ready, _) = expected_po_refs(&stage.procurify);
    assert_eq!(stage.peoplesoft.purchase_orders().len(), ready.len());
    let contained: Vec<ContainmentReason> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::ComponentContained { tenant, reason, .. } if tenant == "runaway" => Some(reason),
            _ => None,
        })
        .collect();
    assert!(
        contained
            .iter()
            .any(|r| matches!(r, ContainmentReason::Deadline { limit_ms: 1000 })),
        "{contained:?}"
    );
    assert!(
        contained.iter().any(|r| matches!(
            r,
            ContainmentReason::MemoryLimit {
                limit_bytes: 33_554_432
            }
        )),
        "{contained:?}"
    ); // Each stop is also an audit row of the tenant, saying which limit.
    let audit = String::from_utf8(audit).unwrap();
    let rows: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"component_contained\""))
        .collect();
    assert!(
        rows.iter().any(|l| l.contains("1000 ms deadline")),
        "{audit}"
    );
    assert!(
        rows.iter().any(|l| l.contains("limit of 32 MiB")),
        "{audit}"
    );
}
