//! The Rust HTTP stack's own limit, as a baseline for `bench/run.sh` and `bench/wrk-token.sh`:
//! a bare hyper HTTP/1.1 server that answers every request `204 No Content`, on one runtime
//! thread as the benchmarked Portcullis runs (`serve --threads 1`). Portcullis serves with the
//! same hyper, so the gap between the two is Portcullis' own work.
//!
//! Usage: `cargo run --release --example hello -- 127.0.0.1:18081` (the example is this file,
//! named in Cargo.toml).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&address).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let answer = service_fn(|_request| async {
                    let mut response = Response::new(Body::empty());
                    *response.status_mut() = StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), answer)
                    .await;
            });
        }
    })
}
