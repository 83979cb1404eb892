//! A scripted [`Env`] for connectors' native unit tests: replies given in
//! order (`reply`, `fail`), or routed by request (`route`), with a fallback
//! for requests nothing answers; every request and log line is recorded.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use crate::env::Env;
use crate::host::Level;
use crate::http::{Request, Response, SendError};

/// One scripted answer.
pub type Answer = Result<Response, SendError>;

type Matcher = Box<dyn Fn(&Request) -> bool>;
type Responder = Box<dyn Fn(&Request) -> Answer>;

/// A scripted environment. A request is answered by the newest matching
/// route, else by the next queued reply, else by the fallback (by default a
/// connection failure naming the request, so a test that sends more than it
/// scripted fails loudly).
#[derive(Default)]
pub struct Scripted {
    routes: RefCell<Vec<(Matcher, Responder)>>,
    queue: RefCell<VecDeque<Answer>>,
    fallback: RefCell<Option<Responder>>,
    /// Requests received so far, in order.
    pub sent: RefCell<Vec<Request>>,
    /// Log lines written, in order.
    pub logs: RefCell<Vec<String>>,
    /// What `now_ms` answers.
    pub now_ms: Cell<u64>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted")
            .field("sent", &self.sent.borrow().len())
            .field("queued", &self.queue.borrow().len())
            .field("routes", &self.routes.borrow().len())
            .finish()
    }
}

impl Scripted {
    /// A scripted environment whose clock reads `now_ms`.
    pub fn at(now_ms: u64) -> Scripted {
        let s = Scripted::default();
        s.now_ms.set(now_ms);
        s
    }

    /// Queues a reply with `status` and a JSON content type.
    pub fn reply(&self, status: u16, body: impl Into<String>) -> &Self {
        self.reply_with(
            status,
            &[("content-type", "application/json")],
            &body.into(),
        )
    }

    /// Queues a reply with `headers`.
    pub fn reply_with(&self, status: u16, headers: &[(&str, &str)], body: &str) -> &Self {
        self.queue.borrow_mut().push_back(Ok(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }));
        self
    }

    /// Queues a transport error.
    pub fn fail(&self, e: SendError) -> &Self {
        self.queue.borrow_mut().push_back(Err(e));
        self
    }

    /// Answers every request `matches` accepts with `answer` (newer routes win).
    pub fn route(
        &self,
        matches: impl Fn(&Request) -> bool + 'static,
        answer: impl Fn(&Request) -> Answer + 'static,
    ) -> &Self {
        self.routes
            .borrow_mut()
            .push((Box::new(matches), Box::new(answer)));
        self
    }

    /// Answers requests no route or queued reply answers.
    pub fn otherwise(&self, answer: impl Fn(&Request) -> Answer + 'static) -> &Self {
        *self.fallback.borrow_mut() = Some(Box::new(answer));
        self
    }

    /// `METHOD /path?query` of every request sent, e.g. `GET /api/v3/vendors/?page=1`.
    pub fn lines(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .map(|r| {
                let path = r.url.splitn(4, '/').nth(3).unwrap_or("");
                format!("{} /{}", r.method, path)
            })
            .collect()
    }
}

impl Env for Scripted {
    fn send(&self, request: &Request) -> Answer {
        self.sent.borrow_mut().push(request.clone());
        if let Some((_, answer)) = self.routes.borrow().iter().rev().find(|(m, _)| m(request)) {
            return answer(request);
        }
        if let Some(answer) = self.queue.borrow_mut().pop_front() {
            return answer;
        }
        match &*self.fallback.borrow() {
            Some(answer) => answer(request),
            None => Err(SendError::Connection(format!(
                "the script has no reply for {} {}",
                request.method, request.url
            ))),
        }
    }
    fn log(&self, _level: Level, message: &str) {
        self.logs.borrow_mut().push(message.to_string());
    }
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_win_over_the_queue_and_an_unscripted_request_fails_naming_it() {
        let s = Scripted::at(42);
        s.reply(201, "{}");
        s.route(
            |r| r.url.ends_with("/ping"),
            |_| {
                Ok(Response {
                    status: 204,
                    headers: Vec::new(),
                    body: Vec::new(),
                })
            },
        );
        let ping = Request::new("GET", "http://h/ping");
        assert_eq!(s.send(&ping).unwrap().status, 204);
        assert_eq!(
            s.send(&Request::new("POST", "http://h/x")).unwrap().status,
            201
        );
        match s.send(&Request::new("GET", "http://h/y")) {
            Err(SendError::Connection(m)) => assert!(m.contains("GET http://h/y"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.lines(), vec!["GET /ping", "POST /x", "GET /y"]);
        assert_eq!(s.now_ms(), 42);
    }

    #[test]
    fn the_fallback_answers_what_nothing_else_does() {
        let s = Scripted::default();
        s.otherwise(|_| {
            Ok(Response {
                status: 404,
                headers: Vec::new(),
                body: b"Not Found".to_vec(),
            })
        });
        assert_eq!(
            s.send(&Request::new("GET", "http://h/z")).unwrap().status,
            404
        );
    }
}
