//! Registry authentication: the challenges a registry answers with
//! (`WWW-Authenticate`, RFC 7235 §4.1), the credentials a client holds,
//! and Docker's token protocol.
//!
//! Vocabulary. A *challenge* is what a 401 (or the `/v2/` ping) announces:
//! `Basic realm=".."`, or `Bearer realm="<token url>",service="..",scope=".."`.
//! A *scope* names what a token grants: `repository:<name>:pull,push`.
//! With a Bearer challenge the client asks the realm for a token for its
//! scopes (GET with Basic credentials, or anonymously; with an identity
//! token it uses the OAuth2 refresh-token grant instead) and sends
//! `Authorization: Bearer <token>`; tokens are cached per realm, service,
//! account and scope set until shortly before they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`).
    pub scheme: String,
    /// Its auth-params, keys lowercased.
    pub params: HashMap<String, String>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    pub fn is_bearer(&self) -> bool {
        self.scheme == "bearer"
    }

    pub fn is_basic(&self) -> bool {
        self.scheme == "basic"
    }
}

/// Parses one `WWW-Authenticate` header value, which may hold several
/// challenges (`Basic realm="a", Bearer realm="b",service="c"`). Unparsable
/// input yields what could be read before it; a registry's odd header is
/// then answered as if it had no challenge.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Lexer {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip_ws_commas();
        let Some(word) = p.token() else {
            break;
        };
        p.skip_ws();
        if p.peek() == Some(b'=') {
            // A parameter of the current challenge.
            p.i += 1;
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                match p.quoted() {
                    Some(v) => v,
                    None => break,
                }
            } else {
                p.token().unwrap_or_default()
            };
            match out.last_mut() {
                Some(c) => {
                    c.params.insert(word.to_ascii_lowercase(), value);
                }
                None => break,
            }
        } else {
            // A new scheme. Token68 forms (`Negotiate abc==`) carry no
            // parameters a registry client needs; they are skipped.
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: HashMap::new(),
            });
        }
    }
    out
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    /// An RFC 7230 token (tchar+), plus `/` and trailing `=` of token68
    /// values.
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&c);
            if !tchar {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted-string with `\` escapes; `None` when unterminated.
    fn quoted(&mut self) -> Option<String> {
        self.i += 1;
        let mut v = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&v).into_owned()),
                b'\\' => {
                    let next = self.peek()?;
                    self.i += 1;
                    v.push(next);
                }
                c => v.push(c),
            }
        }
        None
    }
}

/// What a client presents to a registry. All fields may be empty
/// (anonymous access).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth2 refresh token (`docker login`'s IdentityToken); when set,
    /// tokens are fetched with the refresh-token grant.
    pub identity_token: String,
    /// A bearer token to send as is, bypassing the token protocol.
    pub registry_token: String,
}

impl Credentials {
    pub fn anonymous() -> Credentials {
        Credentials::default()
    }

    pub fn basic(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            ..Credentials::default()
        }
    }

    pub fn has_basic(&self) -> bool {
        !self.username.is_empty() && !self.password.is_empty()
    }

    /// The `Authorization` value for Basic (RFC 7617), if a username and
    /// password are set.
    pub fn basic_header(&self) -> Option<String> {
        use base64::Engine as _;
        self.has_basic().then(|| {
            let raw = format!("{}:{}", self.username, self.password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        })
    }
}

/// The actions a session needs on its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    /// Pull and push (a push reads too: HEAD of blobs, mounts).
    Push,
}

/// The scope string for `actions` on repository `name`.
pub fn repository_scope(name: &str, access: Access) -> String {
    match access {
        Access::Pull => format!("repository:{name}:pull"),
        Access::Push => format!("repository:{name}:pull,push"),
    }
}

/// A token endpoint's answer (Docker's token spec: `token`, with
/// `access_token` as the OAuth2 alias; `expires_in` defaults to 60 s).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub expires_in: u64,
    #[serde(default)]
    pub refresh_token: String,
}

impl TokenResponse {
    /// The bearer token, whichever field carried it.
    pub fn bearer(&self) -> &str {
        if self.access_token.is_empty() {
            &self.token
        } else {
            &self.access_token
        }
    }

    /// How long the token may be used: its lifetime less a margin for
    /// clock skew and request latency, at least a few seconds.
    pub fn usable_for(&self) -> Duration {
        // The token spec's minimum lifetime is 60 s.
        let secs = if self.expires_in == 0 {
            60
        } else {
            self.expires_in
        };
        Duration::from_secs(secs.saturating_sub(10).max(5))
    }
}

/// What tokens are cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub realm: String,
    pub service: String,
    pub account: String,
    /// Sorted and deduplicated.
    pub scopes: Vec<String>,
}

/// A cached token.
#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    pub token: String,
    pub until: Instant,
}

/// Tokens by key; expired ones are dropped on lookup.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    map: HashMap<TokenKey, CachedToken>,
}

impl TokenCache {
    pub fn get(&mut self, key: &TokenKey, now: Instant) -> Option<String> {
        match self.map.get(key) {
            Some(t) if t.until > now => Some(t.token.clone()),
            Some(_) => {
                self.map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&mut self, key: TokenKey, token: CachedToken) {
        self.map.insert(key, token);
    }

    pub fn forget(&mut self, key: &TokenKey) {
        self.map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/busybox:pull"));

        let c = parse_challenges(r#"Basic realm="a \"b\"", Bearer Realm=x,service="s""#);
        assert_eq!(c.len(), 2);
        assert!(c[0].is_basic());
        assert_eq!(c[0].param("realm"), Some("a \"b\""));
        assert_eq!(c[1].param("realm"), Some("x"), "keys are case-insensitive");
        assert_eq!(c[1].param("service"), Some("s"));

        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("=x").is_empty());
        // Unterminated quotes: the challenge is kept without the param.
        let c = parse_challenges(r#"Bearer realm="oops"#);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].param("realm"), None);
    }

    #[test]
    fn scopes_and_basic_headers() {
        assert_eq!(
            repository_scope("t/busybox", Access::Pull),
            "repository:t/busybox:pull"
        );
        assert_eq!(
            repository_scope("t/busybox", Access::Push),
            "repository:t/busybox:pull,push"
        );
        assert_eq!(
            Credentials::basic("aladdin", "opensesame").basic_header(),
            Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_owned())
        );
        assert_eq!(Credentials::basic("u", "").basic_header(), None);
    }

    #[test]
    fn tokens_expire_from_the_cache() {
        let t = TokenResponse {
            access_token: "a".into(),
            token: "b".into(),
            expires_in: 300,
            ..Default::default()
        };
        assert_eq!(t.bearer(), "a");
        assert_eq!(t.usable_for(), Duration::from_secs(290));
        assert_eq!(
            TokenResponse::default().usable_for(),
            Duration::from_secs(50)
        );
        let key = TokenKey {
            realm: "r".into(),
            service: "s".into(),
            account: String::new(),
            scopes: vec!["repository:x:pull".into()],
        };
        let mut cache = TokenCache::default();
        let now = Instant::now();
        cache.put(
            key.clone(),
            CachedToken {
                token: "t".into(),
                until: now + Duration::from_secs(1),
            },
        );
        assert_eq!(cache.get(&key, now).as_deref(), Some("t"));
        assert_eq!(cache.get(&key, now + Duration::from_secs(2)), None);
        assert_eq!(cache.get(&key, now), None, "the expired token was dropped");
    }
}
