//! The token endpoint (`/token`), Docker's token protocol:
//! `GET /token?service=..&scope=..[&scope=..]` with optional Basic
//! credentials answers `{"token","access_token","expires_in","issued_at"}`;
//! `POST /token` takes the OAuth2 password grant form
//! (`grant_type=password&username&password&service&scope`).

use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Serialize;

use super::{App, json_response, query, query_all};
use crate::auth::policy::{Action, Scope};
use crate::auth::token::{Tokens, grant};
use crate::auth::{Mode, basic_credentials, check_password};
use crate::body::{self, Body};
use crate::errors::{ApiError, Code};

#[derive(Serialize)]
struct TokenResponse {
    token: String,
    access_token: String,
    expires_in: u64,
    issued_at: String,
}

pub async fn handle(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let Mode::Token { users, tokens, .. } = &app.auth.mode else {
        return Ok(super::not_found());
    };
    let (account, password, scopes) = match *req.method() {
        Method::GET => {
            let q = req.uri().query().map(str::to_owned);
            let scopes: Vec<Scope> = query_all(q.as_deref(), "scope")
                .iter()
                .flat_map(|s| s.split(' ').filter_map(Scope::parse).collect::<Vec<_>>())
                .collect();
            match basic_credentials(req.headers()) {
                Some((u, p)) => (Some(u), Some(p), scopes),
                None => (None, None, scopes),
            }
        }
        Method::POST => {
            let form = body::read_limited(req.into_body(), 64 << 10)
                .await
                .map_err(|e| ApiError::new(Code::Unsupported).message(e.to_string()))?;
            let text = String::from_utf8_lossy(&form).into_owned();
            let q = Some(text.as_str());
            if query(q, "grant_type").as_deref() != Some("password") {
                return Ok(oauth_error("unsupported_grant_type"));
            }
            let scopes = query_all(q, "scope")
                .iter()
                .flat_map(|s| s.split(' ').filter_map(Scope::parse).collect::<Vec<_>>())
                .collect();
            (query(q, "username"), query(q, "password"), scopes)
        }
        _ => return Err(ApiError::new(Code::Unsupported)),
    };
    // Credentials, when given, must be right: a wrong password is a 401,
    // not an anonymous token (`docker login` relies on that).
    let account = match (account, password) {
        (Some(user), Some(password)) => {
            let ok = match users {
                Some(u) => check_password(u, user.clone(), password).await,
                None => false,
            };
            if !ok {
                return Err(ApiError::new(Code::Unauthorized)
                    .message("invalid username or password")
                    .header(
                        header::WWW_AUTHENTICATE,
                        format!("Basic realm=\"{}\"", app.auth.basic_realm),
                    ));
            }
            Some(user)
        }
        _ => None,
    };
    Ok(issue(app, tokens, account.as_deref(), &scopes))
}

fn issue(app: &App, tokens: &Tokens, account: Option<&str>, scopes: &[Scope]) -> Response<Body> {
    let policy = &app.auth.policy;
    let access = grant(
        scopes,
        |_, name| {
            policy
                .allowed(account, name)
                .into_iter()
                .collect::<Vec<Action>>()
        },
        policy.catalog_allowed(account),
    );
    let (token, claims) = tokens.issue(account, access);
    let issued_at = jiff::Timestamp::from_second(claims.iat)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let resp = TokenResponse {
        token: token.clone(),
        access_token: token,
        expires_in: tokens.ttl.as_secs(),
        issued_at,
    };
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&resp).unwrap_or_default(),
    )
}

fn oauth_error(code: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        serde_json::json!({ "error": code })
            .to_string()
            .into_bytes(),
    )
}
