//! HTTPS with `serve --tls-cert --tls-key`: HTTP/2 and HTTP/1.1 by ALPN, and a certificate
//! reload on SIGHUP that new connections see while open ones keep working.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::helpers::TestApp;

/// Writes a fresh self-signed certificate for 127.0.0.1 to `dir`; returns its DER.
fn write_certificate(dir: &Path) -> CertificateDer<'static> {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("generate a certificate");
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    certified.cert.der().clone()
}

async fn connect(app: &TestApp, trusted: &[CertificateDer<'static>], alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.clone()).unwrap();
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into()), tcp)
        .await
        .expect("a TLS handshake with a trusted certificate")
}

/// Sends `GET /healthz` over an HTTP/1.1 keep-alive connection; returns the status line.
async fn http1_health(stream: &mut TlsStream<TcpStream>) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

fn spawn_tls(dir: &Path) -> TestApp {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    TestApp::spawn_with_env(&[
        ("PORTCULLIS_TLS_CERT", cert.to_str().unwrap()),
        ("PORTCULLIS_TLS_KEY", key.to_str().unwrap()),
    ])
}

#[tokio::test]
async fn https_speaks_http2_and_http1_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write_certificate(dir.path());
    let app = spawn_tls(dir.path());
    assert!(app.logs().contains("listening on https://"), "{}", app.logs());

    let stream = connect(&app, std::slice::from_ref(&cert), &[b"h2", b"http/1.1"]).await;
    assert_eq!(
        stream.get_ref().1.alpn_protocol(),
        Some(&b"h2"[..]),
        "HTTP/2 is preferred"
    );
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .expect("an HTTP/2 connection");
    tokio::spawn(connection);
    let request = hyper::Request::get("https://127.0.0.1/healthz")
        .body(String::new())
        .unwrap();
    let response = sender.send_request(request).await.expect("an HTTP/2 response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_2);

    let mut http1 = connect(&app, &[cert], &[b"http/1.1"]).await;
    assert_eq!(http1_health(&mut http1).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_certificate(dir.path());
    let app = spawn_tls(dir.path());
    let mut open = connect(&app, std::slice::from_ref(&old), &[b"http/1.1"]).await;
    assert_eq!(http1_health(&mut open).await, "HTTP/1.1 200 OK");

    let new = write_certificate(dir.path());
    assert_ne!(old, new);
    let hup = Command::new("kill")
        .args(["-HUP", &app.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let started = Instant::now();
    loop {
        let stream = connect(&app, &[old.clone(), new.clone()], &[b"http/1.1"]).await;
        let presented = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
        if presented == new {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the new certificate is served within 5 s of SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        http1_health(&mut open).await,
        "HTTP/1.1 200 OK",
        "the connection opened before the reload still works"
    );
}

#[test]
fn a_missing_key_or_a_wrong_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_certificate(dir.path());
    let cert = dir.path().join("cert.pem");
    let out = crate::helpers::run_bare(
        &["serve", "--listen", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap()],
        None,
        &[("PORTCULLIS_DATA_DIR", dir.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2), "clap refuses a certificate without a key");
    let out = crate::helpers::run_bare(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            cert.to_str().unwrap(),
        ],
        None,
        &[("PORTCULLIS_DATA_DIR", dir.path().to_str().unwrap())],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("private key"), "names the problem: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
