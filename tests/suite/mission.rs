//! The mission end to end, with the shipped manifest and mappings against
//! both sandbox systems: approved requisitions become exactly the right
//! PeopleSoft POs, references arrive first, missing cost centers park,
//! vouchers close matched POs, setup gaps halt with the admin's to-do, and
//! token expiry costs no record.

use mlc_deployment_kit::{ExpectedPo, Kit, TENANT, assert_all_completed, expected_pos, report};
use mlc_host::pipeline::RunOutcome;
use mlc_host::store::{RecordState, Store};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

#[tokio::test]
async fn every_approved_requisition_becomes_exactly_the_right_pos_and_a_second_run_posts_nothing() {
    let kit = Kit::start(300).await;
    let reports = kit.sync().await;
    assert_all_completed(&reports);
    let (ready, waiting) = expected_pos(&kit.procurify);
    assert!(
        ready.len() > 100,
        "the seed should give many POs: {}",
        ready.len()
    );
    assert!(
        !waiting.is_empty(),
        "the seed should reference a cost center without DEPTID"
    );

    let pos = kit.peoplesoft.purchase_orders();
    let by_ref: BTreeMap<String, _> = pos
        .iter()
        .map(|p| (p.po_ref.clone().unwrap_or_default(), p))
        .collect();
    assert_eq!(by_ref.len(), pos.len(), "two POs share a PO_REF");
    let refs: Vec<&String> = by_ref.keys().collect();
    let expected_refs: Vec<&String> = ready.keys().collect();
    assert_eq!(
        refs, expected_refs,
        "PeopleSoft holds other POs than the approved requisitions give"
    );

    let vendor_ids: BTreeMap<String, String> = kit
        .peoplesoft
        .vendors()
        .into_iter()
        .map(|v| (v.name1.clone(), v.vendor_id.clone()))
        .collect();
    for (
        po_ref,
        ExpectedPo {
            vendor: vendor_name,
            lines,
        },
    ) in &ready
    {
        let po = by_ref[po_ref];
        assert_eq!(po.business_unit, "US001");
        assert_eq!(po.vendor_setid.as_deref(), Some("SHARE"));
        assert_eq!(po.buyer_id.as_deref(), Some("MLC_BUYER"));
        let name1: String = vendor_name.chars().take(40).collect();
        assert_eq!(
            Some(&po.vendor_id),
            vendor_ids.get(&name1),
            "{po_ref}: vendor"
        );
        assert_eq!(po.lines.len(), lines.len(), "{po_ref}: line count");
        for (line, (descr, qty, price, account, deptid)) in po.lines.iter().zip(lines) {
            assert_eq!(
                line.descr254_mixed.as_deref(),
                Some(descr.as_str()),
                "{po_ref}"
            );
            let sched = &line.schedules[0];
            assert_eq!(
                sched.qty_po.normalize(),
                qty.normalize(),
                "{po_ref} line {}: quantity",
                line.line_nbr
            );
            assert_eq!(
                sched.price_po.normalize(),
                price.normalize(),
                "{po_ref} line {}: price",
                line.line_nbr
            );
            let dist = &sched.distributions[0];
            assert_eq!(dist.qty_po.normalize(), qty.normalize());
            assert_eq!(
                &dist.account, account,
                "{po_ref} line {}: ACCOUNT",
                line.line_nbr
            );
            assert_eq!(
                dist.deptid.as_deref(),
                Some(deptid.as_str()),
                "{po_ref} line {}: DEPTID",
                line.line_nbr
            );
            assert_eq!(dist.business_unit_gl.as_deref(), Some("US001"));
        }
    }

    // Running again posts nothing new.
    let creates_before = po_creates(&kit);
    let codes_before = kit.procurify.state().account_codes.clone();
    let again = kit.sync().await;
    assert_all_completed(&again);
    // No echo: what one direction wrote in the first cycle is not written
    // back by the other in the second (codes created in Procurify keep their
    // own descriptions, not PeopleSoft's 30-character copies).
    for r in &again {
        assert_eq!(
            r.counts.delivered, 0,
            "{} writes in the second cycle: {:?}",
            r.flow, r.counts
        );
    }
    assert_eq!(
        kit.procurify.state().account_codes,
        codes_before,
        "account codes rewritten in Procurify"
    );
    assert_eq!(
        report(&again, "requisitions-to-purchase-orders")
            .counts
            .delivered,
        0
    );
    assert_eq!(kit.peoplesoft.purchase_orders().len(), pos.len());
    assert_eq!(
        po_creates(&kit),
        creates_before,
        "a second run posted a PO create"
    );

    let vendors = kit.procurify.state().vendors().len();
    let suppliers = kit.peoplesoft.vendors().len();
    assert_eq!(
        kit.sync()
            .await
            .iter()
            .map(|r| r.counts.delivered)
            .sum::<u64>(),
        0
    );
    assert_eq!(
        kit.procurify.state().vendors().len(),
        vendors,
        "vendors echoed into Procurify"
    );
    assert_eq!(
        kit.peoplesoft.vendors().len(),
        suppliers,
        "vendors echoed into PeopleSoft"
    );
}

/// PO Create calls PeopleSoft received.
fn po_creates(kit: &Kit) -> usize {
    kit.peoplesoft
        .server()
        .requests()
        .iter()
        .filter(|r| {
            r.request
                .header("soapaction")
                .is_some_and(|a| a.contains("CI_PO_EXPRESS_C"))
        })
        .count()
}

#[tokio::test]
async fn a_cost_center_without_deptid_parks_its_requisition_until_the_mapping_exists() {
    let kit = Kit::start(120).await;
    kit.sync().await;
    let (_, waiting) = expected_pos(&kit.procurify);
    let app = kit.app().await;
    let parked = app
        .store
        .ledger_in_state(
            TENANT,
            "requisitions-to-purchase-orders",
            RecordState::Parked,
            1000,
        )
        .unwrap();
    assert!(!parked.is_empty());
    for p in &parked {
        let reason = p.reason.as_deref().unwrap_or("");
        assert!(
            reason.starts_with("no department crosswalk entry for"),
            "{reason}"
        );
    }
    let pos: Vec<String> = kit
        .peoplesoft
        .purchase_orders()
        .iter()
        .filter_map(|p| p.po_ref.clone())
        .collect();
    for w in &waiting {
        assert!(
            !pos.contains(w),
            "{w} was posted although its cost center has no DEPTID"
        );
    }

    // The admin gives every Procurify-only cost center a DEPTID in Procurify.
    {
        let mut state = kit.procurify.state();
        let mut next = 70100;
        for dept in state
            .departments
            .iter_mut()
            .filter(|d| d.external_id.is_none())
        {
            dept.external_id = Some(next.to_string());
            next += 100;
        }
    }
    let reports = kit.sync().await;
    assert_all_completed(&reports);
    assert!(
        report(&reports, "departments-to-peoplesoft")
            .counts
            .delivered
            >= 1,
        "new DEPTIDs are created in PeopleSoft"
    );
    let (ready, waiting) = expected_pos(&kit.procurify);
    assert!(waiting.is_empty());
    let pos: Vec<String> = kit
        .peoplesoft
        .purchase_orders()
        .iter()
        .filter_map(|p| p.po_ref.clone())
        .collect();
    assert_eq!(pos.len(), ready.len());
    assert!(
        app.store
            .ledger_in_state(
                TENANT,
                "requisitions-to-purchase-orders",
                RecordState::Parked,
                10
            )
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn new_approvals_vendor_and_cost_center_arrive_in_order_on_the_next_cycle() {
    let kit = Kit::start(80).await;
    assert_all_completed(&kit.sync().await);
    let before = kit.peoplesoft.purchase_orders().len();

    let vendor = {
        let mut state = kit.procurify.state();
        let vendor = state.add_vendor("Nordic Tooling AB", None);
        let department = state.add_department("Paint Shop", Some("20400"));
        // A newly approved requisition buys from the new vendor for the new cost center.
        let approved = state.approve_more(3);
        let num = approved[0];
        let items = state.order(num).expect("order").items.clone();
        let code_id = state
            .account_codes
            .iter()
            .find(|c| c.code == "621000")
            .expect("code")
            .id;
        let account_id = state.accounts.len() as u64 + 1;
        state.accounts.push(mlc_sandbox::procurify::model::Account {
            id: account_id,
            account_code: code_id,
            department,
            active: true,
            budget: Decimal::new(10_000, 0),
        });
        for item in items {
            let line = &mut state.items[item as usize - 1];
            line.pref_vendor = vendor;
            line.account = account_id;
        }
        state.tick();
        vendor
    };
    let reports = kit.sync().await;
    assert_all_completed(&reports);
    assert_eq!(
        report(&reports, "vendors-to-peoplesoft").counts.delivered,
        1,
        "the new vendor reaches PeopleSoft"
    );
    assert_eq!(
        report(&reports, "departments-to-peoplesoft")
            .counts
            .delivered,
        1,
        "the new cost center reaches PeopleSoft"
    );
    let (ready, _) = expected_pos(&kit.procurify);
    let pos = kit.peoplesoft.purchase_orders();
    assert_eq!(pos.len(), ready.len());
    assert!(pos.len() > before);
    let new_vendor_id = kit
        .peoplesoft
        .vendors()
        .into_iter()
        .find(|v| v.name1 == "Nordic Tooling AB")
        .expect("vendor created in PeopleSoft")
        .vendor_id;
    let po = pos
        .iter()
        .find(|p| {
            p.po_ref
                .as_deref()
                .is_some_and(|r| r.ends_with(&format!("-V{vendor}")))
        })
        .expect("a PO for the new vendor");
    assert_eq!(po.vendor_id, new_vendor_id);
    assert!(
        po.lines
            .iter()
            .all(|l| l.schedules[0].distributions[0].deptid.as_deref() == Some("20400"))
    );
}

#[tokio::test]
async fn with_po_creation_inactive_the_flow_halts_with_the_todo_then_completes_after_activation() {
    let kit = Kit::start(60).await;
    kit.peoplesoft.deactivate("CI_PO_EXPRESS_C").unwrap();
    let reports = kit.sync().await;
    match &report(&reports, "requisitions-to-purchase-orders").outcome {
        RunOutcome::Halted(m) => assert!(
            m.contains("CI_PO_EXPRESS_C") && m.contains("activate"),
            "{m}"
        ),
        other => panic!("expected a halt, got {other:?}"),
    }
    assert!(kit.peoplesoft.purchase_orders().is_empty());
    assert_eq!(po_creates(&kit), 1, "the halt must come after one attempt");
    let app = kit.app().await;
    assert!(
        app.pipeline
            .dead_letters(TENANT, "requisitions-to-purchase-orders")
            .unwrap()
            .is_empty()
    );

    kit.peoplesoft.activate("CI_PO_EXPRESS_C").unwrap();
    let reports = kit.sync().await;
    assert_all_completed(&reports);
    let (ready, _) = expected_pos(&kit.procurify);
    assert_eq!(kit.peoplesoft.purchase_orders().len(), ready.len());
}

#[tokio::test]
async fn token_expiry_during_a_run_costs_no_record() {
    // PeopleSoft through OAuth2 bearer tokens of the site's identity provider.
    let kit = Kit::start(120).await;
    // The site's OAuth client secret is stored under the same secret name.
    kit.edit(|m| {
        let auth = m.auth("peoplesoft");
        auth.clear();
        auth.insert("scheme", "oauth2-client-credentials".into());
        auth.insert("token_url", kit.peoplesoft.token_url().into());
        auth.insert("body", "form".into());
        auth.insert("client_id", "mlc-connector".into());
        auth.insert("client_secret", "secret:peoplesoft/password".into());
    });
    {
        let key = mlc_host::vault::VaultKey::from_file(&kit.key_path()).unwrap();
        let store = std::sync::Arc::new(kit.store());
        mlc_host::vault::Vault::new(key, store)
            .set(
                TENANT,
                "peoplesoft/password",
                &mlc_host::credentials::Secret::new("demo-client-secret"),
            )
            .unwrap();
    }
    // Expire every token of both systems while the run is under way.
    let ps = kit.peoplesoft.emulator().clone();
    let ps_server_requests = {
        let kit_ps = &kit.peoplesoft;
        move || kit_ps.server().requests().len()
    };
    let app = kit.app().await;
    let sync = app.sync(None, None);
    let expirer = async {
        while ps_server_requests() < 40 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        ps.expire_tokens();
        kit.procurify.expire_tokens();
    };
    let (reports, ()) = tokio::join!(sync, expirer);
    let reports = reports.unwrap();
    assert_all_completed(&reports);
    for r in &reports {
        assert_eq!(
            (r.counts.dead, r.counts.deferred),
            (0, 0),
            "{}: {:?}",
            r.flow,
            r.counts
        );
    }
    let (ready, _) = expected_pos(&kit.procurify);
    assert_eq!(kit.peoplesoft.purchase_orders().len(), ready.len());
    let renewals = app
        .events
        .recent()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                mlc_host::events::Event::TokenRefreshed {
                    reason: mlc_host::events::TokenReason::Rejected,
                    ..
                }
            )
        })
        .count();
    assert!(renewals >= 1, "no token was renewed after the expiry");
}

#[tokio::test]
async fn vouchers_close_exactly_the_fully_matched_pos() {
    // The ordered-items trigger and the voucher flows, instead of requisitions.
    let kit = Kit::builder()
        .requisitions(200)
        .manifest(|m| {
            m.enable_flow("purchase-orders-to-peoplesoft", true);
            m.enable_flow("vouchers-close-purchase-orders", true);
            m.enable_flow("procurify-purchase-orders-index", true);
            m.enable_flow("requisitions-to-purchase-orders", false);
        })
        .start()
        .await;
    let reports = kit.sync().await;
    assert_all_completed(&reports);
    let pos = kit.peoplesoft.purchase_orders();
    assert!(
        pos.len() >= 6,
        "the seed should give Procurify POs: {}",
        pos.len()
    );
    let already_closed: Vec<u64> = kit
        .procurify
        .state()
        .closed_purchase_orders()
        .iter()
        .map(|p| p.id)
        .collect();

    // AP matches vouchers: fully for some POs, partially for others. Only POs
    // still open in Procurify (the seed closes some), in a fixed order: POs
    // are created concurrently, so PeopleSoft's order varies between runs.
    let open_in_procurify: Vec<String> = kit
        .procurify
        .state()
        .purchase_orders
        .iter()
        .filter(|p| !already_closed.contains(&p.id))
        .map(|p| p.number.clone())
        .collect();
    let mut pos: Vec<_> = pos
        .into_iter()
        .filter(|po| {
            po.po_ref
                .as_ref()
                .is_some_and(|r| open_in_procurify.contains(r))
        })
        .collect();
    pos.sort_by(|a, b| a.po_ref.cmp(&b.po_ref));
    assert!(pos.len() >= 6, "open POs to match: {}", pos.len());
    let mut matched = Vec::new();
    for (i, po) in pos.iter().take(6).enumerate() {
        let full = i % 2 == 0;
        kit.peoplesoft.add_voucher(&po.po_id, full).unwrap();
        if full {
            matched.push(po.po_ref.clone().unwrap());
        }
    }
    let reports = kit.sync().await;
    assert_all_completed(&reports);
    let state = kit.procurify.state();
    let closed_now: Vec<String> = state
        .closed_purchase_orders()
        .iter()
        .filter(|p| !already_closed.contains(&p.id))
        .map(|p| p.number.clone())
        .collect();
    let mut closed_now = closed_now;
    closed_now.sort();
    matched.sort();
    assert_eq!(closed_now, matched, "closed exactly the fully matched POs");
}

#[tokio::test]
async fn the_daemon_stops_gracefully_mid_run_and_a_restart_completes_without_duplicates() {
    let kit = Kit::start(300).await;
    let app = std::sync::Arc::new(kit.app().await);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = runs.clone();
    let daemon = tokio::spawn(mlc_host::scheduler::run(
        app.clone(),
        shutdown,
        std::sync::Arc::new(move |r: &mlc_host::pipeline::RunReport| {
            seen.lock().unwrap().push(r.clone())
        }),
    ));
    // Stop while purchase orders are being created.
    while kit.peoplesoft.purchase_orders().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), daemon)
        .await
        .expect("the daemon stops promptly")
        .unwrap();
    let runs = runs.lock().unwrap().clone();
    let names: Vec<&str> = runs.iter().map(|r| r.flow.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        names.len(),
        unique.len(),
        "a flow ran twice in one cycle: {names:?}"
    );
    let stopped = report(&runs, "requisitions-to-purchase-orders");
    assert!(
        matches!(
            stopped.outcome,
            RunOutcome::Incomplete(_) | RunOutcome::Completed
        ),
        "{stopped:?}"
    );

    // Every PO that reached PeopleSoft is recorded: nothing was left pending.
    let pending = app
        .store
        .ledger_in_state(
            TENANT,
            "requisitions-to-purchase-orders",
            RecordState::Pending,
            1000,
        )
        .unwrap();
    assert!(
        pending.is_empty(),
        "writes in flight were not recorded: {pending:?}"
    );
    drop(app);

    let reports = kit.sync().await;
    assert_all_completed(&reports);
    let (ready, _) = expected_pos(&kit.procurify);
    let pos = kit.peoplesoft.purchase_orders();
    assert_eq!(pos.len(), ready.len());
    assert_eq!(po_creates(&kit), pos.len(), "a PO was posted twice");
}
