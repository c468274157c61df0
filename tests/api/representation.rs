//! DESIGN §4: Hydra JSON-LD versus plain JSON, content negotiation and pagination.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::*;

const USER_FIELDS: [&str; 10] = [
    "id",
    "username",
    "email",
    "firstName",
    "lastName",
    "active",
    "admin",
    "dateCreated",
    "dateModified",
    "dateLogged",
];

async fn get_with_accept(app: &TestApp, path: &str, credential: &str, accept: &str) -> Reply {
    let request = app
        .client()
        .get(app.url(path))
        .bearer_auth(credential)
        .header("Accept", accept);
    Reply::from(request.send().await.expect("the server answers")).await
}

#[track_caller]
fn assert_json_ld(reply: &Reply, what: &str) {
    let content_type = reply
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace(' ', "");
    assert_eq!(
        content_type, "application/ld+json;charset=utf-8",
        "{what}: Content-Type; {reply:?}"
    );
}

#[tokio::test]
async fn a_collection_is_a_hydra_document_by_default() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let auth = format!("Authorization: Bearer {token}");
    let mut replies = vec![(
        "no Accept header",
        app.raw_request("GET", "/api/users", &[auth.as_bytes()]),
    )];
    for accept in [
        "*/*",
        "application/ld+json",
        "application/ld+json, application/json;q=0.5",
        "application/*",
    ] {
        replies.push((accept, get_with_accept(&app, "/api/users", &token, accept).await));
    }
    for (what, reply) in replies {
        reply.assert_status(200, what);
        assert_json_ld(&reply, what);
        let doc = reply.json();
        assert_eq!(doc["@context"], "/api/contexts/User", "{what}: {doc}");
        assert_eq!(doc["@id"], "/api/users", "{what}: {doc}");
        assert_eq!(doc["@type"], "hydra:Collection", "{what}: {doc}");
        assert_eq!(doc["hydra:totalItems"], 1, "{what}: {doc}");
        let members = doc["hydra:member"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: hydra:member: {doc}"));
        assert_eq!(members.len(), 1, "{what}: {doc}");
        let admin = &members[0];
        assert_eq!(admin["@id"], "/api/users/1", "{what}: {admin}");
        assert_eq!(admin["@type"], "User", "{what}: {admin}");
        for field in USER_FIELDS {
            assert!(
                admin.get(field).is_some(),
                "{what}: a member carries `{field}`: {admin}"
            );
        }
        assert_eq!(admin["username"], "admin");
        assert_eq!(admin["admin"], true);
        assert_no_secret_fields(&doc);
        let view = &doc["hydra:view"];
        assert_eq!(view["@id"], "/api/users?page=1&limit=25", "{what}: {view}");
        assert_eq!(view["@type"], "hydra:PartialCollectionView", "{what}: {view}");
        assert_eq!(view["hydra:first"], "/api/users?page=1&limit=25", "{what}: {view}");
        assert_eq!(view["hydra:last"], "/api/users?page=1&limit=25", "{what}: {view}");
        assert!(view.get("hydra:next").is_none(), "{what}: no next page: {view}");
        assert!(view.get("hydra:previous").is_none(), "{what}: no previous page: {view}");
    }
}

#[tokio::test]
async fn accept_application_json_gets_a_plain_array() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let reply = get_with_accept(&app, "/api/users", &token, "application/json").await;
    reply.assert_status(200, "Accept: application/json");
    let content_type = reply.header("content-type").unwrap_or_default().to_ascii_lowercase();
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type application/json: {reply:?}"
    );
    let users = reply.json();
    let users = users
        .as_array()
        .unwrap_or_else(|| panic!("a plain JSON array: {}", reply.body));
    assert_eq!(users.len(), 1);
    for user in users {
        for field in USER_FIELDS {
            assert!(user.get(field).is_some(), "a user carries `{field}`: {user}");
        }
        assert!(
            user.get("@id").is_none() && user.get("@type").is_none(),
            "no JSON-LD keys: {user}"
        );
        assert_no_secret_fields(user);
    }
}

#[tokio::test]
async fn an_item_is_json_ld_by_default_and_plain_json_on_request() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let reply = app.get("/api/users/1", &token).await;
    reply.assert_status(200, "GET /api/users/1");
    assert_json_ld(&reply, "an item");
    let item = reply.json();
    assert_eq!(item["@context"], "/api/contexts/User", "{item}");
    assert_eq!(item["@id"], "/api/users/1", "{item}");
    assert_eq!(item["@type"], "User", "{item}");
    assert_eq!(item["id"], 1, "{item}");
    assert_no_secret_fields(&item);

    let reply = get_with_accept(&app, "/api/users/1", &token, "application/json").await;
    reply.assert_status(200, "GET /api/users/1 as plain JSON");
    assert!(
        reply
            .header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "{reply:?}"
    );
    let item = reply.json();
    assert!(item.is_object(), "{item}");
    assert!(
        item.get("@id").is_none() && item.get("@type").is_none() && item.get("@context").is_none(),
        "{item}"
    );
    assert_eq!(item["username"], "admin");
}

#[tokio::test]
async fn an_accept_header_that_allows_neither_representation_gets_406() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    for accept in ["text/html", "application/xml", "text/csv, text/plain"] {
        for path in ["/api/users", "/api/users/1"] {
            let reply = get_with_accept(&app, path, &token, accept).await;
            reply.assert_problem(406, None, &format!("GET {path} with Accept: {accept}"));
        }
    }
}

#[tokio::test]
async fn users_page_through_with_next_and_previous_links() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    for n in 0..30 {
        app.create_user_api(&session, &format!("pager{n:02}")).await;
    }
    let page = |n: u32| format!("/api/users?page={n}&limit=10");

    let mut seen = BTreeSet::new();
    let mut next = Some(page(1));
    let mut visited = 0;
    while let Some(path) = next.take() {
        visited += 1;
        assert!(
            visited <= 4,
            "31 users at 10 per page make 4 pages; followed too many next links"
        );
        let reply = app.get(&path, &session).await;
        reply.assert_status(200, &format!("GET {path}"));
        let doc = reply.json();
        assert_eq!(doc["hydra:totalItems"], 31, "{path}: {doc}");
        let view = &doc["hydra:view"];
        assert_eq!(view["@id"], path.as_str(), "{path}: {view}");
        assert_eq!(view["hydra:first"], page(1), "{path}: {view}");
        assert_eq!(view["hydra:last"], page(4), "{path}: {view}");
        let members = doc["hydra:member"].as_array().unwrap();
        let expected_len = if visited == 4 { 1 } else { 10 };
        assert_eq!(members.len(), expected_len, "{path}: {doc}");
        for member in members {
            assert!(
                seen.insert(member["id"].as_i64().unwrap()),
                "{path}: user {} seen twice",
                member["id"]
            );
        }
        match visited {
            1 => assert!(
                view.get("hydra:previous").is_none(),
                "the first page has no previous: {view}"
            ),
            n => assert_eq!(view["hydra:previous"], page(n - 1), "{path}: {view}"),
        }
        if visited == 4 {
            assert!(view.get("hydra:next").is_none(), "the last page has no next: {view}");
        } else {
            assert_eq!(view["hydra:next"], page(visited + 1), "{path}: {view}");
            next = view["hydra:next"].as_str().map(str::to_owned);
        }
    }
    assert_eq!(visited, 4, "4 pages");
    assert_eq!(seen.len(), 31, "every user on exactly one page");

    let reply = get_with_accept(&app, &page(2), &session, "application/json").await;
    let array = reply.json();
    assert_eq!(
        array.as_array().map(Vec::len),
        Some(10),
        "a page as plain JSON: {}",
        reply.body
    );

    let reply = app.get("/api/users", &session).await.json();
    assert_eq!(
        reply["hydra:member"].as_array().map(Vec::len),
        Some(25),
        "25 per page by default"
    );
    assert_eq!(
        reply["hydra:view"]["hydra:next"], "/api/users?page=2&limit=25",
        "{}",
        reply["hydra:view"]
    );
}

#[tokio::test]
async fn bad_pagination_parameters_get_400() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let cases = [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "limit=",
        "limit=1.5",
        "page=0",
        "page=-1",
        "page=abc",
        "page=",
        "page=1e3",
        "page=99999999999999999999999",
    ];
    for query in cases {
        let path = format!("/api/users?{query}");
        let reply = app.get(&path, &token).await;
        reply.assert_problem(400, None, &format!("GET {path}"));
    }
    for query in ["limit=1", "limit=100", "page=1&limit=25", "page=2"] {
        let path = format!("/api/users?{query}");
        app.get(&path, &token).await.assert_status(200, &format!("GET {path}"));
    }
    let tokens_session = app.admin_session().await;
    app.get("/api/tokens?limit=101", &tokens_session)
        .await
        .assert_problem(400, None, "GET /api/tokens?limit=101");
}

#[tokio::test]
async fn the_token_collection_is_hydra_with_token_items() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, _) = app.create_token_with(&session, "read").await;
    let reply = app.get("/api/tokens", &session).await;
    reply.assert_status(200, "GET /api/tokens");
    assert_json_ld(&reply, "the token collection");
    let doc = reply.json();
    assert_eq!(doc["@id"], "/api/tokens", "{doc}");
    assert_eq!(doc["@type"], "hydra:Collection", "{doc}");
    assert_eq!(doc["hydra:view"]["@id"], "/api/tokens?page=1&limit=25", "{doc}");
    let member: &Value = &doc["hydra:member"][0];
    assert_eq!(member["@id"], format!("/api/tokens/{id}"), "{member}");
    assert_eq!(member["@type"], "Token", "{member}");
}
