//! The wrk baseline: an axum server with one handler that answers "hello", built with the
//! same axum and tokio versions and profile as Portcullis.
//!
//! `cargo run --release --example hello -- 127.0.0.1:18081`

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".into());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("hello listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
