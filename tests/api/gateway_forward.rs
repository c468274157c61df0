//! Forward-auth (issue 4.1): `/auth/verify` and `/auth/envoy/…` on the wire, and real nginx
//! (`auth_request`) and Caddy (`forward_auth`) in front of an upstream, configured with the
//! files that `docs/gateway.md` shows.

use crate::gateway_scenario::*;
use crate::gateway_support::*;
use crate::helpers::*;

/// `GET /auth/verify` over a raw connection with the given header lines.
fn verify(app: &TestApp, headers: &[&str]) -> Reply {
    let lines: Vec<&[u8]> = headers.iter().map(|h| h.as_bytes()).collect();
    app.raw_request("GET", "/auth/verify", &lines)
}

#[tokio::test]
async fn an_allowed_request_gets_204_without_a_body_and_the_identity_headers() {
    let app = TestApp::spawn();
    let (id, read) = app.create_token("read").await;
    let auth = format!("Authorization: Bearer {read}");
    for (method_header, uri_header) in [
        ("X-Original-Method: GET", "X-Original-URI: /inventory/items?page=2"),
        ("X-Forwarded-Method: HEAD", "X-Forwarded-Uri: /inventory"),
        ("X-Original-Method: OPTIONS", "X-Original-URI: http://api.example/x"),
    ] {
        let reply = verify(&app, &[&auth, method_header, uri_header]);
        reply.assert_status(204, method_header);
        assert_eq!(reply.body, "", "a 204 has no body");
        assert_eq!(reply.header("x-portcullis-token-id"), Some(id.to_string().as_str()));
        assert_eq!(reply.header("x-portcullis-token-name"), Some("read token"));
        assert_eq!(reply.header("x-portcullis-access"), Some("read"));
    }
}

#[tokio::test]
async fn denied_requests_get_the_errors_of_design_section_3() {
    let app = TestApp::spawn();
    let (read_id, read) = app.create_token("read").await;
    let (_, full) = app.create_token("full").await;
    let read_auth = format!("Authorization: Bearer {read}");
    let full_auth = format!("Authorization: Bearer {full}");
    let session = app.admin_session().await;
    let session_auth = format!("Authorization: Bearer {session}");
    let get = "X-Original-Method: GET";
    let uri = "X-Original-URI: /api-behind/items";
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let method = format!("X-Original-Method: {method}");
        verify(&app, &[&read_auth, &method, uri]).assert_problem(403, Some(WWW_SCOPE_FULL), &method);
        verify(&app, &[&full_auth, &method, uri]).assert_status(204, &method);
    }
    // The guarded API's own form bodies are its business: only the header carries the token.
    let form = "Content-Type: application/x-www-form-urlencoded";
    verify(&app, &[&full_auth, "X-Original-Method: POST", uri, form]).assert_status(204, "a form POST");
    let cases: Vec<(&str, Vec<&str>, u16, Option<&str>)> = vec![
        ("no token", vec![get, uri], 401, Some(WWW_NO_ERROR)),
        (
            "Basic",
            vec!["Authorization: Basic dXNlcjpwYXNz", get, uri],
            401,
            Some(WWW_NO_ERROR),
        ),
        (
            "empty Bearer",
            vec!["Authorization: Bearer ", get, uri],
            400,
            Some(WWW_INVALID_REQUEST),
        ),
        (
            "unknown token",
            vec![
                "Authorization: Bearer pcl_0123456789012345678901234567890123456789012abcdef",
                get,
                uri,
            ],
            401,
            Some(WWW_INVALID_TOKEN),
        ),
        (
            "a user session",
            vec![&session_auth, get, uri],
            401,
            Some(WWW_INVALID_TOKEN),
        ),
        ("no original method", vec![&read_auth, uri], 400, None),
        ("no original URI", vec![&read_auth, get], 400, None),
        (
            "a bad original method",
            vec![&read_auth, "X-Original-Method: G(T", uri],
            400,
            None,
        ),
        (
            "two different original methods",
            vec![&read_auth, get, "X-Forwarded-Method: POST", uri],
            400,
            None,
        ),
        (
            "a token in the original query",
            vec![&read_auth, get, "X-Original-URI: /x?access_token=abc"],
            400,
            Some(WWW_INVALID_REQUEST),
        ),
        (
            "an override header",
            vec![&read_auth, get, uri, "X-HTTP-Method-Override: DELETE"],
            403,
            Some(WWW_SCOPE_FULL),
        ),
        (
            "_method in the original query",
            vec![&read_auth, get, "X-Original-URI: /x?a=1&_method=PUT"],
            403,
            Some(WWW_SCOPE_FULL),
        ),
        (
            "a dot-segment",
            vec![&read_auth, get, "X-Original-URI: /a/../b"],
            400,
            None,
        ),
        (
            "an encoded slash",
            vec![&read_auth, get, "X-Original-URI: /a%2Fb"],
            400,
            None,
        ),
        ("a NUL byte", vec![&read_auth, get, "X-Original-URI: /a%00b"], 400, None),
    ];
    for (what, headers, status, www) in cases {
        verify(&app, &headers).assert_problem(status, www, what);
    }

    // `?access=full` on the verify URL asks Full Access even for reads.
    let reply = app.raw_request(
        "GET",
        "/auth/verify?access=full",
        &[read_auth.as_bytes(), get.as_bytes(), uri.as_bytes()],
    );
    reply.assert_problem(403, Some(WWW_SCOPE_FULL), "access=full with a read token");

    // A revoked token is refused at once.
    let revoked = app
        .call("DELETE", &format!("/api/tokens/{read_id}"), Some(&session), None)
        .await;
    assert!(revoked.status < 300, "{revoked:?}");
    verify(&app, &[&read_auth, get, uri]).assert_problem(401, Some(WWW_INVALID_TOKEN), "revoked");
}

#[tokio::test]
async fn the_envoy_variant_judges_the_method_and_path_envoy_forwards() {
    let app = TestApp::spawn();
    let (id, read) = app.create_token("read").await;
    let auth = format!("Authorization: Bearer {read}");
    let reply = app.raw_request("GET", "/auth/envoy/inventory/items?page=1", &[auth.as_bytes()]);
    reply.assert_status(200, "a read token's GET");
    assert_eq!(reply.header("x-portcullis-token-id"), Some(id.to_string().as_str()));
    assert_eq!(reply.header("x-portcullis-access"), Some("read"));
    app.raw_request("HEAD", "/auth/envoy", &[auth.as_bytes()])
        .assert_status(200, "HEAD /");
    app.raw_request("POST", "/auth/envoy/inventory/items", &[auth.as_bytes()])
        .assert_problem(403, Some(WWW_SCOPE_FULL), "a read token's POST");
    app.raw_request(
        "GET",
        "/auth/envoy/inventory",
        &[auth.as_bytes(), b"X-HTTP-Method: PUT"],
    )
    .assert_problem(403, Some(WWW_SCOPE_FULL), "an override");
    app.raw_request("GET", "/auth/envoy/a/../b", &[auth.as_bytes()])
        .assert_problem(400, None, "a dot-segment");
    app.raw_request("GET", "/auth/envoy/a%2fb", &[auth.as_bytes()])
        .assert_problem(400, None, "an encoded slash");
    app.raw_request("DELETE", "/auth/envoy/x", &[])
        .assert_problem(401, Some(WWW_NO_ERROR), "no token");
}

#[tokio::test]
async fn nginx_auth_request_guards_an_upstream() {
    let Some(nginx) = find_tool("nginx", "nginx_auth_request_guards_an_upstream") else {
        return;
    };
    let mut app = TestApp::spawn();
    let upstream = Upstream::start();
    let nginx = start_nginx(&nginx, app.addr, upstream.addr);
    guard_scenario(Front::Nginx, nginx.addr, &app, &upstream).await;
    fails_closed_without_portcullis(&mut app, nginx.addr, &upstream, 503).await;
}

/// With Portcullis stopped, the front refuses everything (`expected`) and forwards nothing.
async fn fails_closed_without_portcullis(
    app: &mut TestApp,
    front: std::net::SocketAddr,
    upstream: &Upstream,
    expected: u16,
) {
    let (_, full) = app.create_token("full").await;
    app.stop();
    upstream.clear();
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{front}/app/items"))
        .bearer_auth(&full)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), expected, "Portcullis is down");
    upstream.assert_nothing("Portcullis is down");
}

#[tokio::test]
async fn caddy_forward_auth_guards_an_upstream() {
    let Some(caddy) = find_tool("caddy", "caddy_forward_auth_guards_an_upstream") else {
        return;
    };
    let mut app = TestApp::spawn();
    let upstream = Upstream::start();
    let caddy = start_caddy(&caddy, app.addr, upstream.addr);
    guard_scenario(Front::Caddy, caddy.addr, &app, &upstream).await;
    fails_closed_without_portcullis(&mut app, caddy.addr, &upstream, 502).await;
}

#[test]
fn the_docs_show_the_nginx_and_caddy_configurations_the_tests_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/gateway.md")).unwrap();
    for name in ["nginx.conf", "Caddyfile"] {
        let config = std::fs::read_to_string(root.join("docs/gateway").join(name)).unwrap();
        assert!(
            doc.contains(&config),
            "docs/gateway.md must include docs/gateway/{name} verbatim (copy it in again)"
        );
    }
}
