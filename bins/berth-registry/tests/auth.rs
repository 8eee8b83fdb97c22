//! Basic and token authentication against the real binary.

mod common;

use std::path::Path;

use common::*;

/// Writes an htpasswd file with bcrypt entries (cost 4 keeps tests fast).
fn htpasswd(path: &Path, users: &[(&str, &str)]) {
    let text: String = users
        .iter()
        .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 4).unwrap()))
        .collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("htpasswd");
    htpasswd(&users, &[("alice", "wonder"), ("bob", "builder")]);
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        "auth:\n  access:\n    - { account: alice, repository: \"*\", actions: [pull, push, delete] }\n    - { account: bob, repository: \"*\", actions: [pull] }\n",
    )
    .unwrap();
    let r = Registry::start(
        &dir.path().join("root"),
        &[
            "--auth",
            "basic",
            "--htpasswd",
            users.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let resp = r.req("GET", "/v2/").send();
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "UNAUTHORIZED");
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Basic realm=\"berth-registry\"")
    );
    assert_eq!(
        r.req("GET", "/v2/").basic("alice", "wrong").send().status,
        401
    );
    assert_eq!(
        r.req("GET", "/v2/")
            .basic("mallory", "wonder")
            .send()
            .status,
        401
    );
    assert_eq!(
        r.req("GET", "/v2/").basic("alice", "wonder").send().status,
        200
    );
    let d = digest(b"blob");
    let resp = r
        .req("POST", &format!("/v2/x/blobs/uploads/?digest={d}"))
        .basic("alice", "wonder")
        .body(b"blob".to_vec())
        .send();
    assert_eq!(resp.status, 201);
    // Bob may pull but not push.
    assert_eq!(
        r.req("GET", &format!("/v2/x/blobs/{d}"))
            .basic("bob", "builder")
            .send()
            .body,
        b"blob"
    );
    let resp = r
        .req("POST", "/v2/x/blobs/uploads/")
        .basic("bob", "builder")
        .send();
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "DENIED");
}

fn token_of(resp: &Resp) -> String {
    assert_eq!(resp.status, 200, "token request: {}", resp.text());
    let j = resp.json();
    assert_eq!(j["token"], j["access_token"]);
    assert!(j["expires_in"].as_u64().unwrap() > 0);
    j["token"].as_str().unwrap().to_owned()
}

/// The `key="value"` parameters of a challenge.
fn challenge_params(c: &str) -> Vec<(String, String)> {
    let rest = c.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut out = Vec::new();
    for part in rest.split("\",") {
        let (k, v) = part.split_once('=').unwrap();
        out.push((k.to_owned(), v.trim_matches('"').to_owned()));
    }
    out
}

#[test]
fn token_flow() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("htpasswd");
    htpasswd(&users, &[("alice", "wonder"), ("bob", "builder")]);
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        "auth:\n  mode: token\n  token: { service: test-registry }\n  access:\n    - { account: alice, repository: \"*\", actions: [pull, push, delete] }\n    - { account: bob, repository: \"team/*\", actions: [pull] }\n    - { account: anonymous, repository: \"public/*\", actions: [pull] }\n",
    )
    .unwrap();
    let r = Registry::start(
        &dir.path().join("root"),
        &[
            "--htpasswd",
            users.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    // 1. No token: 401 with a challenge naming realm, service and scope.
    let resp = r.req("POST", "/v2/team/app/blobs/uploads/").send();
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "UNAUTHORIZED");
    let params = challenge_params(resp.header("www-authenticate").unwrap());
    let get = |k: &str| {
        params
            .iter()
            .find(|(pk, _)| pk == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("realm"), format!("http://{}/token", r.addr));
    assert_eq!(get("service"), "test-registry");
    assert_eq!(get("scope"), "repository:team/app:pull,push");
    // 2. Ask the realm for a token with those scopes.
    let realm_path = get("realm").replace(&format!("http://{}", r.addr), "");
    let tok = token_of(
        &r.req(
            "GET",
            &format!("{realm_path}?service=test-registry&scope=repository:team/app:pull,push"),
        )
        .basic("alice", "wonder")
        .send(),
    );
    // 3. Retry with it.
    let resp = r
        .req("POST", "/v2/team/app/blobs/uploads/")
        .bearer(&tok)
        .send();
    assert_eq!(resp.status, 202);
    // The token is for that repository only.
    let resp = r
        .req("POST", "/v2/team/other/blobs/uploads/")
        .bearer(&tok)
        .send();
    assert_eq!(resp.status, 401);
    assert!(
        resp.header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
    // A tampered token is refused.
    let resp = r
        .req("POST", "/v2/team/app/blobs/uploads/")
        .bearer(&format!("{tok}x"))
        .send();
    assert_eq!(resp.status, 401);
    // Wrong password at the token endpoint: 401, no token.
    let resp = r
        .req(
            "GET",
            "/token?service=test-registry&scope=repository:team/app:pull",
        )
        .basic("alice", "nope")
        .send();
    assert_eq!(resp.status, 401);
    // Bob asks for push but is granted pull only: pulling works, pushing not.
    let tok = token_of(
        &r.req(
            "GET",
            "/token?service=test-registry&scope=repository:team/app:pull,push",
        )
        .basic("bob", "builder")
        .send(),
    );
    let resp = r.req("GET", "/v2/team/app/tags/list").bearer(&tok).send();
    assert_eq!(
        resp.status,
        404,
        "authorized, repository unknown: {}",
        resp.text()
    );
    assert_eq!(
        r.req("POST", "/v2/team/app/blobs/uploads/")
            .bearer(&tok)
            .send()
            .status,
        401
    );
    // Anonymous tokens: pull of public repositories only.
    let tok = token_of(
        &r.req(
            "GET",
            "/token?scope=repository:public/x:pull&scope=repository:team/app:pull",
        )
        .send(),
    );
    assert_eq!(
        r.req("GET", "/v2/public/x/tags/list")
            .bearer(&tok)
            .send()
            .status,
        404
    );
    assert_eq!(
        r.req("GET", "/v2/team/app/tags/list")
            .bearer(&tok)
            .send()
            .status,
        401
    );
    // The version check wants any valid token.
    assert_eq!(r.req("GET", "/v2/").send().status, 401);
    assert_eq!(r.req("GET", "/v2/").bearer(&tok).send().status, 200);
    // OAuth2 password grant (POST).
    let resp = r
        .req("POST", "/token")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"grant_type=password&username=alice&password=wonder&service=test-registry&scope=repository:a:pull".to_vec())
        .send();
    let tok = token_of(&resp);
    assert_eq!(
        r.req("GET", "/v2/a/tags/list").bearer(&tok).send().status,
        404
    );
}
