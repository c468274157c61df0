//! One delivery attempt: a POST over plain HTTP/1.1, bounded by a timeout.
//!
//! A fresh connection per attempt keeps it simple and isolates endpoints from each other;
//! deliveries are rare (token changes), so pooling would buy nothing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Uri, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered(u16),
    /// It answered with another status.
    Refused(u16),
    /// No answer: connection refused, timeout, broken response. The text is short and holds
    /// no secret (never the URL, which may carry one in its query).
    Failed(String),
}

/// One request to send.
pub struct Attempt<'a> {
    pub url: &'a str,
    /// `Portcullis-Event`, `Portcullis-Delivery`, `Portcullis-Signature`.
    pub headers: [(&'static str, String); 3],
    pub body: String,
    pub timeout: Duration,
}

/// Sends `attempt` and says how it ended; never panics, never waits past the timeout.
pub async fn send(attempt: Attempt<'_>) -> Outcome {
    match tokio::time::timeout(attempt.timeout, exchange(&attempt)).await {
        Ok(Ok(status)) if (200..300).contains(&status) => Outcome::Delivered(status),
        Ok(Ok(status)) => Outcome::Refused(status),
        Ok(Err(error)) => Outcome::Failed(error),
        Err(_) => Outcome::Failed(format!(
            "no answer within {}",
            humantime::format_duration(attempt.timeout)
        )),
    }
}

async fn exchange(attempt: &Attempt<'_>) -> Result<u16, String> {
    let uri: Uri = attempt.url.parse().map_err(|_| "invalid URL".to_owned())?;
    let authority = uri.authority().ok_or("URL without host")?.clone();
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connecting: {}", e.kind()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| short(&e))?;
    let mut request = Request::post(path)
        .header(header::HOST, authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("Portcullis-Webhooks/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in &attempt.headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Body::from(attempt.body.clone()))
        .map_err(|_| "could not build the request".to_owned())?;
    // The connection is driven here, not spawned, so nothing outlives the attempt.
    tokio::pin!(connection);
    tokio::select! {
        response = sender.send_request(request) => {
            response.map(|r| r.status().as_u16()).map_err(|e| short(&e))
        }
        closed = &mut connection => Err(match closed {
            Ok(()) => "connection closed before an answer".to_owned(),
            Err(e) => short(&e),
        }),
    }
}

/// An error as a short line (hyper's messages name no URL or header values).
fn short(error: &hyper::Error) -> String {
    let mut text = error.to_string();
    text.truncate(200);
    text
}
