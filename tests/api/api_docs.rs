//! The OpenAPI document at `/api/docs.json`: generated from the code, covering every REST
//! endpoint with its access requirement, schemas and problem responses.

use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_its_access() {
    let app = TestApp::spawn();
    let reply = app.call("GET", "/api/docs.json", None, None).await;
    reply.assert_status(200, "the document is public");
    let doc: Value = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let expected = [
        ("/api/users", &["get", "post"][..]),
        ("/api/users/{id}", &["get", "put", "patch", "delete"]),
        ("/api/token", &["get"]),
        ("/api/tokens", &["get", "post"]),
        ("/api/tokens/{id}", &["get", "patch", "delete"]),
        ("/api/tokens/{id}/regenerate", &["post"]),
        ("/api/sessions", &["post"]),
        ("/api/sessions/current", &["delete"]),
    ];
    for (path, methods) in expected {
        for method in methods {
            let operation = &doc["paths"][path][method];
            assert!(operation.is_object(), "{method} {path} is documented");
            let description = operation["description"].as_str().unwrap_or("");
            if path != "/api/sessions" {
                assert!(
                    description.contains("Read Access")
                        || description.contains("Full Access")
                        || description.contains("administrator")
                        || description.contains("session"),
                    "{method} {path} says what access it needs: {description:?}"
                );
                for status in ["400", "401", "403", "503"] {
                    let content = &operation["responses"][status]["content"]["application/problem+json"];
                    assert!(content.is_object(), "{method} {path} documents a {status} problem");
                }
            }
        }
    }
    assert!(doc["components"]["schemas"]["Token"]["properties"]["hint"].is_object());
    let created = doc["components"]["schemas"]["TokenCreated"].to_string();
    assert!(
        created.contains("\"token\""),
        "the created token carries its secret: {created}"
    );
    assert!(
        doc["components"]["schemas"]["User"]["properties"]
            .get("passwordHash")
            .is_none()
    );
}
