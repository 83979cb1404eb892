//! The `wasi:http` outgoing-request hook of a sandbox: allowlist check,
//! credentials for the connection's own origin, capped timeouts and sizes,
//! and one token renewal after a 401.

use super::{ConnectionEgress, Verdict};
use crate::credentials::{CredentialError, OutgoingParts};
use crate::egress::Origin;
use crate::events::Event;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Header marking an answer the host made up itself instead of the remote
/// side (a credential problem), so a component's error can say so.
pub const SYNTHESIZED_HEADER: &str = "x-mlc-host-error";

type SendResult = Result<
    (
        Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

/// The hooks of one sandbox, bound to one connection's egress policy.
#[derive(Debug, Clone)]
pub struct EgressHooks {
    policy: Arc<ConnectionEgress>,
}

impl EgressHooks {
    /// Hooks enforcing `policy`.
    pub fn new(policy: Arc<ConnectionEgress>) -> Self {
        EgressHooks { policy }
    }
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let policy = self.policy.clone();
        // Taken here, on the component's task (the send runs on another).
        let lease = crate::coordination::current_write_lease();
        Box::new(send(policy, request, options, lease))
    }
}

async fn send(
    policy: Arc<ConnectionEgress>,
    request: Request<WasiBody>,
    options: Option<RequestOptions>,
    lease: Option<Arc<crate::coordination::FlowLease>>,
) -> SendResult {
    let method = request.method().to_string();
    let Some(origin) = Origin::of_uri(request.uri()) else {
        deny(
            &policy,
            &method,
            &target_for_event(request.uri()),
            "not an absolute http(s) URL (or one with user info)",
        );
        return Err(Error::HttpRequestDenied);
    };
    let verdict = policy.verdict(&origin);
    if verdict == Verdict::Denied {
        deny(
            &policy,
            &method,
            &origin.to_string(),
            "origin is not listed for this connection",
        );
        return Err(Error::HttpRequestDenied);
    }

    let (mut parts, body) = request.into_parts();
    let body = http_body_util::Limited::new(body, policy.limits.max_request_bytes)
        .collect()
        .await
        .map_err(|_| Error::HttpRequestBodySize(Some(policy.limits.max_request_bytes as u64)))?
        .to_bytes();
    // The component cannot choose where a request really goes, nor carry its
    // own credentials: Host follows the URI, Authorization comes from the host.
    parts.headers.remove(header::AUTHORIZATION);
    parts.headers.remove(header::PROXY_AUTHORIZATION);
    if let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(header::HOST, host);
    }
    let options = capped_options(options, &policy);

    let auth = match verdict {
        Verdict::OwnOrigin => policy.auth.clone(),
        _ => None,
    };
    let mut rejected = None;
    loop {
        let mut headers = parts.headers.clone();
        let mut body = body.clone();
        let mut generation = None;
        if let Some(auth) = &auth {
            match auth
                .apply(
                    OutgoingParts {
                        headers: &mut headers,
                        body: &mut body,
                    },
                    rejected,
                )
                .await
            {
                Ok(g) => generation = g,
                Err(e) => return Ok(synthesized(&e)),
            }
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut outgoing = Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .version(parts.version)
            .body(FencedBody::new(body, lease.clone()).boxed_unsync())
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        *outgoing.headers_mut() = headers;

        // A look before connecting: a write whose run may have lost its
        // lease (frozen, then taken over) is not sent. The last look is the
        // body's, once connected (`FencedBody`).
        if let Some(lease) = &lease
            && lease.is_lost()
        {
            let fence = lease.fence();
            tracing::warn!(tenant = %fence.tenant, flow = %fence.flow, token = fence.token, %method, "write not sent: the run may have lost its flow's lease");
            return Err(Error::HttpRequestDenied);
        }
        let (response, io) =
            wasmtime_wasi_http::default_send_request(outgoing, Some(options)).await?;
        let renew = response.status() == StatusCode::UNAUTHORIZED
            && rejected.is_none()
            && generation.is_some()
            && auth.as_ref().is_some_and(|a| a.renews_on_unauthorized());
        if renew {
            // Fetch a new token once and send again; a second 401 goes to the component.
            rejected = generation;
            continue;
        }
        if let Some(length) = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && length > policy.limits.max_response_bytes as u64
        {
            return Err(Error::HttpResponseBodySize(Some(length)));
        }
        let cap = policy.limits.max_response_bytes;
        let response = response.map(|b| CappedBody::new(b.boxed_unsync(), cap).boxed_unsync());
        return Ok((response, Box::new(io)));
    }
}

/// What a refused request targeted, for its event and audit row: scheme and
/// host only. User info (`user:password@`), path and query can carry a
/// credential, and events never do.
fn target_for_event(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("(no scheme)");
    match uri.authority() {
        Some(authority) => match authority.as_str().rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://(user info removed)@{host}"),
            None => format!("{scheme}://{authority}"),
        },
        None => format!("{scheme}://(no host)"),
    }
}

fn deny(policy: &ConnectionEgress, method: &str, origin: &str, reason: &str) {
    policy.events.emit(Event::EgressDenied {
        tenant: policy.tenant.clone(),
        connection: policy.connection.clone(),
        method: method.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    });
}

fn capped_options(options: Option<RequestOptions>, policy: &ConnectionEgress) -> RequestOptions {
    let cap =
        |asked: Option<Duration>, limit: Duration| Some(asked.map_or(limit, |a| a.min(limit)));
    let options = options.unwrap_or_default();
    RequestOptions {
        connect_timeout: cap(options.connect_timeout, policy.limits.connect_timeout),
        first_byte_timeout: cap(options.first_byte_timeout, policy.limits.first_byte_timeout),
        between_bytes_timeout: cap(
            options.between_bytes_timeout,
            policy.limits.between_bytes_timeout,
        ),
    }
}

/// A credential problem becomes an answer the component understands: 401 when
/// the credentials were refused or are missing, 503 when the token endpoint is
/// unreachable (retry later). The body says what to fix and holds no secret.
fn synthesized(
    error: &CredentialError,
) -> (
    Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
) {
    let status = match error {
        CredentialError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    let body = serde_json::json!({ "detail": format!("ml-connector host: {error}") }).to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(SYNTHESIZED_HEADER, HeaderValue::from_static("credentials"));
    (response, Box::new(async { Ok(()) }))
}

/// A request body that looks at the write's lease when the connection asks
/// for the bytes, the instant before they are written to the socket (after
/// the connect and handshake, which may have waited): if the run may have
/// lost its lease meanwhile, the body fails, the connection is cut before
/// the request is complete and the remote side never acts on it.
struct FencedBody {
    body: Option<Bytes>,
    lease: Option<Arc<crate::coordination::FlowLease>>,
}

impl FencedBody {
    fn new(body: Bytes, lease: Option<Arc<crate::coordination::FlowLease>>) -> Self {
        FencedBody {
            body: Some(body),
            lease,
        }
    }
}

impl Body for FencedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let Some(body) = self.body.take() else {
            return Poll::Ready(None);
        };
        if let Some(lease) = &self.lease
            && lease.is_lost()
        {
            let fence = lease.fence();
            tracing::warn!(tenant = %fence.tenant, flow = %fence.flow, token = fence.token, "write cut off before its body left: the run may have lost its flow's lease");
            return Poll::Ready(Some(Err(Error::HttpRequestDenied)));
        }
        Poll::Ready(Some(Ok(Frame::data(body))))
    }

    fn is_end_stream(&self) -> bool {
        // Never "already ended": the body is always polled, so the lease
        // is always looked at (an empty body too).
        self.body.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.body.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// A response body that fails once more than `cap` bytes have passed.
struct CappedBody {
    inner: WasiBody,
    cap: usize,
    seen: usize,
}

impl CappedBody {
    fn new(inner: WasiBody, cap: usize) -> Self {
        CappedBody {
            inner,
            cap,
            seen: 0,
        }
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len();
                    if this.seen > this.cap {
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.seen as u64,
                        )))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::target_for_event;

    #[test]
    fn a_refused_target_is_reported_without_user_info_path_or_query() {
        let uri: http::Uri = "http://acme:hunter2@10.0.0.1:8080/x?token=abc"
            .parse()
            .unwrap();
        assert_eq!(
            target_for_event(&uri),
            "http://(user info removed)@10.0.0.1:8080"
        );
        let plain: http::Uri = "https://elsewhere.example/p?q=s3cret".parse().unwrap();
        assert_eq!(target_for_event(&plain), "https://elsewhere.example");
        let relative: http::Uri = "/only/a/path".parse().unwrap();
        assert_eq!(target_for_event(&relative), "(no scheme)://(no host)");
    }
}
