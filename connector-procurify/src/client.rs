//! The only layer that talks to the outside: a [`Client`] that sends Procurify
//! calls through the SDK's [`Env`] (the wasm host in production,
//! `mlc_guest::testing::Scripted` in tests) and turns every outcome into data
//! or a failure.

use mlc_guest::host::Level;
use mlc_guest::http::{Response, SendError};
use mlc_guest::{Env, Failure, fail};
use serde_json::Value;

use crate::api::{self, ListPage, Subject};
use crate::config::Target;

/// Extra immediate attempts of a list GET after a 5xx or a broken connection.
/// A page of requisitions costs one call per requisition for its lines, so
/// without them one transient failure in any of ~100 calls fails the whole
/// page (at a 1% error rate, most pages; at 20%, every page, forever). GETs are
/// safe to repeat. A 429 is left to the host, which honours Retry-After, and a
/// timeout is not repeated (it has spent the call's deadline).
pub const LIST_RETRIES: u32 = 3;

/// Sends Procurify calls for one connection.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    /// Where requests go.
    pub env: &'a dyn Env,
    /// The connection they are for.
    pub target: &'a Target,
}

impl<'a> Client<'a> {
    /// A client of `target` over `env`.
    pub fn new(env: &'a dyn Env, target: &'a Target) -> Client<'a> {
        Client { env, target }
    }

    /// Sends `method path?query` (with `body` as JSON) and returns the reply,
    /// whatever its status; a request that got no reply is a failure.
    fn send_raw(
        &self,
        what: &str,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response, Failure> {
        let url = api::url(&self.target.base_url, path, query);
        self.env
            .send(&api::request(method, url, body))
            .map_err(|e| e.into_failure(what))
    }

    /// Sends `method path?query` (with `body` as JSON) and returns the 2xx
    /// reply; anything else becomes the failure its status calls for.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        what: &str,
        permission: &str,
        subject: Subject,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response, Failure> {
        let what = format!("{what}: {method} {path}");
        let response = self.send_raw(&what, method, path, query, body)?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(api::classify(&what, permission, subject, &response))
        }
    }

    /// Reads one page of a list endpoint. DRF's "Invalid page." 404 (records
    /// vanished between pages) reads as an empty last page. A 5xx or a broken
    /// connection is tried again at once, up to [`LIST_RETRIES`] times.
    pub fn list(
        &self,
        what: &str,
        permission: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<ListPage, Failure> {
        let what = format!("{what}: GET {path}");
        let url = api::url(&self.target.base_url, path, query);
        let mut retries = 0;
        let response = loop {
            let result = self.env.send(&api::request("GET", url.clone(), None));
            let again = retries < LIST_RETRIES
                && match &result {
                    Err(SendError::Connection(_)) => true,
                    Ok(r) => matches!(r.status, 500 | 502 | 503 | 504),
                    Err(_) => false,
                };
            if !again {
                break result.map_err(|e| e.into_failure(&what))?;
            }
            retries += 1;
        };
        if api::is_invalid_page(&response) {
            return Ok(ListPage {
                data: Vec::new(),
                next: None,
                count: None,
            });
        }
        if !(200..300).contains(&response.status) {
            return Err(api::classify(&what, permission, Subject::List, &response));
        }
        api::parse_list(&response.body).map_err(|e| fail::protocol(format!("{what}: {e}")))
    }

    /// Sends a call whose reply is one object (`{"data":{…}}` or bare).
    pub fn object(
        &self,
        what: &str,
        permission: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let response = self.call(what, permission, Subject::Object, method, path, &[], body)?;
        api::parse_single(&response.body)
            .map_err(|e| fail::protocol(format!("{what}: {method} {path}: {e}")))
    }

    /// Reads a list from page 1 (with `page_size` from the settings), handing
    /// each page's records to `each` until it returns false or the pages end.
    pub fn each_page(
        &self,
        what: &str,
        permission: &str,
        path: &str,
        query: &[(&str, String)],
        mut each: impl FnMut(Vec<Value>) -> bool,
    ) -> Result<(), Failure> {
        let mut page = 1u32;
        loop {
            if page > api::MAX_PAGES {
                return Err(fail::protocol(format!(
                    "{what}: GET {path}: still a `next` page after {} pages; stopped",
                    api::MAX_PAGES
                )));
            }
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("page_size", self.target.settings.page_size.to_string()));
            q.push(("page", page.to_string()));
            let listed = self.list(&format!("{what}: page {page}"), permission, path, &q)?;
            if !each(listed.data) {
                return Ok(());
            }
            match listed.next {
                Some(next) => page = api::next_page(page, &next),
                None => return Ok(()),
            }
        }
    }

    /// Follows a list (from page 1) until `pick` returns a record or the
    /// pages end. With a server-side filter in `query` this is one call; the
    /// predicate keeps the match exact either way.
    pub fn find(
        &self,
        what: &str,
        permission: &str,
        path: &str,
        query: &[(&str, String)],
        mut pick: impl FnMut(&Value) -> bool,
    ) -> Result<Option<Value>, Failure> {
        let mut hit = None;
        self.each_page(what, permission, path, query, |data| {
            hit = data.into_iter().find(|v| pick(v));
            hit.is_none()
        })?;
        Ok(hit)
    }

    /// Logs through the environment.
    pub fn log(&self, level: Level, message: &str) {
        self.env.log(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use mlc_guest::http::Request;
    use mlc_guest::testing::Scripted as Script;

    fn target() -> Target {
        config::resolve("http://127.0.0.1:9", "").unwrap()
    }

    #[test]
    fn transport_errors_become_transient_or_config_failures_naming_the_call() {
        let t = target();
        let s = Script::default();
        s.fail(SendError::Timeout("read".into()));
        for _ in 0..=LIST_RETRIES {
            s.fail(SendError::Connection("reset by peer".into()));
        }
        s.fail(SendError::Denied("egress".into()));
        let c = Client::new(&s, &t);
        let q = [("page", "1".to_string())];
        match c.list(
            "read vendors: page 1",
            "view vendors",
            "/api/v3/vendors/",
            &q,
        ) {
            Err(Failure::Transient(m)) => {
                assert!(
                    m.starts_with("read vendors: page 1: GET /api/v3/vendors/: timed out"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(c.list("r", "p", "/x/", &q), Err(Failure::Transient(m)) if m.contains("reset by peer"))
        );
        assert!(matches!(
            c.list("r", "p", "/x/", &q),
            Err(Failure::Config(_))
        ));
    }

    #[test]
    fn list_repeats_a_5xx_or_broken_connection_at_once_but_leaves_429_and_timeouts_to_the_host() {
        let t = target();
        let s = Script::default();
        s.reply(503, "<html>503</html>")
            .fail(SendError::Connection("reset by peer".into()))
            .reply(502, "bad gateway")
            .reply(
                200,
                r#"{"data":[{"id":1}],"metadata":{"pagination":{"next":null}}}"#,
            );
        let c = Client::new(&s, &t);
        let page = c.list("r", "p", "/api/v3/order-items/", &[]).unwrap();
        assert_eq!(page.data.len(), 1);
        assert_eq!(s.sent.borrow().len(), 4);

        let s = Script::default();
        s.reply_with(429, &[("retry-after", "7")], "{}");
        let c = Client::new(&s, &t);
        assert!(matches!(
            c.list("r", "p", "/x/", &[]),
            Err(Failure::RateLimited(_))
        ));
        assert_eq!(s.sent.borrow().len(), 1, "a 429 must wait for Retry-After");

        let s = Script::default();
        s.fail(SendError::Timeout("first byte".into()));
        let c = Client::new(&s, &t);
        assert!(matches!(
            c.list("r", "p", "/x/", &[]),
            Err(Failure::Transient(_))
        ));
        assert_eq!(s.sent.borrow().len(), 1);

        let s = Script::default();
        for _ in 0..=LIST_RETRIES {
            s.reply(500, "boom");
        }
        let c = Client::new(&s, &t);
        assert!(matches!(
            c.list("r", "p", "/x/", &[]),
            Err(Failure::Transient(_))
        ));
        assert_eq!(s.sent.borrow().len() as u32, 1 + LIST_RETRIES);
    }

    #[test]
    fn unparseable_success_bodies_are_protocol_failures_with_an_excerpt() {
        let t = target();
        let s = Script::default();
        s.reply(200, "<html><body>Maintenance</body></html>");
        let c = Client::new(&s, &t);
        match c.list("read bills: page 3", "view bills", "/api/v3/ap/bills/", &[]) {
            Err(Failure::Protocol(m)) => {
                assert!(
                    m.starts_with("read bills: page 3: GET /api/v3/ap/bills/: reply is not JSON"),
                    "{m}"
                );
                assert!(m.contains("Maintenance"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_page_404_ends_the_list_quietly() {
        let t = target();
        let s = Script::default();
        s.reply(404, r#"{"detail":"Invalid page."}"#);
        let c = Client::new(&s, &t);
        let page = c.list("r", "p", "/api/v3/vendors/", &[]).unwrap();
        assert!(page.data.is_empty());
        assert_eq!(page.next, None);
    }

    /// Answers every request with a page that has a `next`.
    struct Endless;

    impl Env for Endless {
        fn send(&self, _request: &Request) -> Result<Response, SendError> {
            Ok(Response {
                status: 200,
                headers: Vec::new(),
                body: br#"{"metadata":{"pagination":{"next":"http://h/x/?page=1"}},"data":[]}"#
                    .to_vec(),
            })
        }
        fn now_ms(&self) -> u64 {
            0
        }
        fn log(&self, _level: Level, _message: &str) {}
    }

    #[test]
    fn a_list_that_never_ends_is_stopped_with_a_protocol_failure() {
        let t = target();
        let c = Client::new(&Endless, &t);
        match c.find(
            "lookup vendors X",
            "view vendors",
            "/api/v3/vendors/",
            &[],
            |_| false,
        ) {
            Err(Failure::Protocol(m)) => assert!(m.contains("after 10000 pages"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn find_follows_next_until_the_exact_match() {
        let t = target();
        let s = Script::default();
        s.reply(200, r#"{"metadata":{"pagination":{"next":"http://127.0.0.1:9/api/v3/vendors/?page=2"}},"data":[{"id":1,"external_id":"X1"}]}"#)
            .reply(200, r#"{"metadata":{"pagination":{"next":null}},"data":[{"id":2,"external_id":"X22"},{"id":3,"external_id":"X2"}]}"#);
        let c = Client::new(&s, &t);
        let hit = c
            .find(
                "lookup vendors X2",
                "view vendors",
                "/api/v3/vendors/",
                &[("external_id", "X2".into())],
                |v| v["external_id"] == "X2",
            )
            .unwrap();
        assert_eq!(hit.unwrap()["id"], 3);
        assert_eq!(
            s.lines(),
            vec![
                "GET /api/v3/vendors/?external_id=X2&page_size=100&page=1",
                "GET /api/v3/vendors/?external_id=X2&page_size=100&page=2"
            ]
        );
    }
}
