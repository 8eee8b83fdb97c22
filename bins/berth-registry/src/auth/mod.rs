//! Authentication and authorization of requests.
//!
//! Three modes:
//! - `none`: every request may do everything.
//! - `basic`: HTTP Basic credentials checked against an htpasswd file on
//!   every request; 401 with `WWW-Authenticate: Basic` without them, 403
//!   DENIED when the access rules refuse the account.
//! - `token`: Docker's token flow. A request without a valid bearer token
//!   gets 401 with `WWW-Authenticate: Bearer realm=..,service=..,scope=..`;
//!   the client asks the realm (this registry's own `/token` endpoint,
//!   with Basic credentials or anonymously) for a token with those scopes,
//!   and retries with `Authorization: Bearer <token>`. A valid token that
//!   lacks a scope gets 401 with `error="insufficient_scope"`.

pub mod htpasswd;
pub mod policy;
pub mod token;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};

use crate::errors::{ApiError, Code};
use htpasswd::Htpasswd;
pub use policy::{Action, Need, Policy};
use token::Tokens;

/// The configured mode with what it needs.
#[derive(Debug)]
pub enum Mode {
    None,
    Basic {
        users: Arc<Htpasswd>,
    },
    Token {
        users: Option<Arc<Htpasswd>>,
        tokens: Tokens,
        realm: Option<String>,
    },
}

/// The authenticator of a server.
#[derive(Debug)]
pub struct Auth {
    pub mode: Mode,
    pub policy: Policy,
    /// The realm of Basic challenges.
    pub basic_realm: String,
}

/// Where a request came in, for building absolute realm URLs.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub tls: bool,
    /// The Host header, or the listening address.
    pub host: &'a str,
}

/// Basic credentials of a request, if any.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(decoded).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
}

/// Checks `user:password` against `users` on a blocking thread (bcrypt).
pub async fn check_password(users: &Arc<Htpasswd>, user: String, password: String) -> bool {
    let users = users.clone();
    tokio::task::spawn_blocking(move || users.verify(&user, &password))
        .await
        .unwrap_or(false)
}

impl Auth {
    /// The token endpoint's URL as clients are told it.
    pub fn token_realm(&self, origin: Origin<'_>) -> String {
        if let Mode::Token { realm: Some(r), .. } = &self.mode {
            return r.clone();
        }
        let scheme = if origin.tls { "https" } else { "http" };
        format!("{scheme}://{}/token", origin.host)
    }

    fn bearer_challenge(&self, origin: Origin<'_>, needs: &[Need], error: Option<&str>) -> String {
        let Mode::Token { tokens, .. } = &self.mode else {
            return String::new();
        };
        let mut c = format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            self.token_realm(origin),
            tokens.service
        );
        if !needs.is_empty() {
            let scopes: Vec<String> = needs.iter().map(Need::scope).collect();
            c.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if let Some(e) = error {
            c.push_str(&format!(",error=\"{e}\""));
        }
        c
    }

    /// Admits a request that needs `needs` (empty: only authentication,
    /// as for the version check), or says why not.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        needs: &[Need],
        origin: Origin<'_>,
    ) -> Result<(), ApiError> {
        match &self.mode {
            Mode::None => Ok(()),
            Mode::Basic { users } => {
                let challenge = format!("Basic realm=\"{}\"", self.basic_realm);
                let unauthorized = || {
                    ApiError::new(Code::Unauthorized)
                        .header(header::WWW_AUTHENTICATE, challenge.clone())
                };
                let Some((user, password)) = basic_credentials(headers) else {
                    return Err(unauthorized());
                };
                if !check_password(users, user.clone(), password).await {
                    return Err(unauthorized());
                }
                for need in needs {
                    if !self.policy.permits(Some(&user), need) {
                        return Err(ApiError::new(Code::Denied).detail(need.scope()));
                    }
                }
                Ok(())
            }
            Mode::Token { tokens, .. } => {
                let Some(tok) = bearer(headers) else {
                    return Err(ApiError::new(Code::Unauthorized)
                        .header(
                            header::WWW_AUTHENTICATE,
                            self.bearer_challenge(origin, needs, None),
                        )
                        .detail(needs.iter().map(Need::scope).collect::<Vec<_>>()));
                };
                let claims = match tokens.verify(tok) {
                    Ok(c) => c,
                    Err(e) => {
                        return Err(ApiError::new(Code::Unauthorized)
                            .message(e.to_string())
                            .header(
                                header::WWW_AUTHENTICATE,
                                self.bearer_challenge(origin, needs, Some("invalid_token")),
                            ));
                    }
                };
                if let Some(missing) = needs.iter().find(|n| !claims.covers(n)) {
                    return Err(ApiError::new(Code::Unauthorized)
                        .message("insufficient scope")
                        .detail(missing.scope())
                        .header(
                            header::WWW_AUTHENTICATE,
                            self.bearer_challenge(origin, needs, Some("insufficient_scope")),
                        ));
                }
                Ok(())
            }
        }
    }
}
