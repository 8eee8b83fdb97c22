//! Bearer tokens: JSON Web Tokens signed with HMAC-SHA256 (RFC 7519,
//! RFC 7515 `HS256`) carrying Docker's `access` claim, a list of
//! `{type, name, actions}` grants (the docker/distribution token spec).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::policy::{Action, Need};

/// Clock skew tolerated on `nbf` and `exp`.
const LEEWAY_SECS: i64 = 30;

/// One grant of the `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The account; empty for an anonymous token.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<Grant>,
}

impl Claims {
    /// Whether the grants cover `need`.
    pub fn covers(&self, need: &Need) -> bool {
        let (kind, name, actions): (&str, &str, Vec<&str>) = match need {
            Need::Repository { name, actions } => (
                "repository",
                name,
                actions.iter().map(|a| a.as_str()).collect(),
            ),
            Need::Catalog => ("registry", "catalog", vec!["*"]),
        };
        actions.iter().all(|want| {
            self.access.iter().any(|g| {
                g.kind == kind && g.name == name && g.actions.iter().any(|a| a == want || a == "*")
            })
        })
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signature does not verify")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token issued for another service or issuer")]
    WrongAudience,
}

/// Issues and verifies this registry's tokens.
#[derive(Clone)]
pub struct Tokens {
    key: Vec<u8>,
    pub issuer: String,
    pub service: String,
    pub ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("issuer", &self.issuer)
            .field("service", &self.service)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

impl Tokens {
    pub fn new(key: Vec<u8>, issuer: String, service: String, ttl: Duration) -> Tokens {
        Tokens {
            key,
            issuer,
            service,
            ttl,
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length (RFC 2104 section 2).
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("hmac accepts any key length")
    }

    /// A signed token for `account` with `access`; returns the token and
    /// its claims.
    pub fn issue(&self, account: Option<&str>, access: Vec<Grant>) -> (String, Claims) {
        let iat = now();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: account.unwrap_or_default().to_owned(),
            aud: self.service.clone(),
            exp: iat + self.ttl.as_secs() as i64,
            nbf: iat,
            iat,
            jti: crate::random_hex(16),
            access,
        };
        let header = Header {
            alg: "HS256".into(),
            typ: "JWT".into(),
        };
        // Plain data with string keys: serializing cannot fail.
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{h}.{c}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        (format!("{signing_input}.{sig}"), claims)
    }

    /// Verifies signature, algorithm, audience, issuer and validity window.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        // Only our own algorithm: accepting `none` or another one would let
        // a client pick how its token is checked (RFC 8725 section 3.1).
        if header.alg != "HS256" {
            return Err(TokenError::Malformed);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(c.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.aud != self.service || claims.iss != self.issuer {
            return Err(TokenError::WrongAudience);
        }
        let t = now();
        if t >= claims.exp + LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if t + LEEWAY_SECS < claims.nbf {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// The grants for the requested scopes that `allowed` permits: each scope
/// keeps the intersection of what it asks for and what the account may do,
/// and scopes left empty are dropped (a token server hands out less than
/// asked, never an error, so the registry can answer insufficient_scope).
pub fn grant(
    scopes: &[super::policy::Scope],
    mut allowed: impl FnMut(&str, &str) -> Vec<Action>,
    catalog_allowed: bool,
) -> Vec<Grant> {
    let mut out: Vec<Grant> = Vec::new();
    for s in scopes {
        let actions: Vec<String> = match s.kind.as_str() {
            "repository" => {
                if !crate::names::valid_name(&s.name) {
                    continue;
                }
                let ok = allowed(&s.kind, &s.name);
                let mut want: Vec<Action> = s
                    .actions
                    .iter()
                    .filter_map(|a| Action::parse(a))
                    .flatten()
                    .filter(|a| ok.contains(a))
                    .collect();
                want.sort();
                want.dedup();
                want.iter().map(|a| a.as_str().to_owned()).collect()
            }
            "registry" if s.name == "catalog" && catalog_allowed => vec!["*".to_owned()],
            _ => Vec::new(),
        };
        if actions.is_empty() {
            continue;
        }
        match out
            .iter_mut()
            .find(|g| g.kind == s.kind && g.name == s.name)
        {
            Some(g) => {
                for a in actions {
                    if !g.actions.contains(&a) {
                        g.actions.push(a);
                    }
                }
            }
            None => out.push(Grant {
                kind: s.kind.clone(),
                name: s.name.clone(),
                actions,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::policy::Scope;
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(
            b"k".to_vec(),
            "iss".into(),
            "svc".into(),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn round_trip_and_tamper() {
        let t = tokens();
        let grants = grant(
            &[Scope::parse("repository:a/b:pull,push,bogus").unwrap()],
            |_, _| vec![Action::Pull],
            false,
        );
        assert_eq!(grants[0].actions, vec!["pull"]);
        let (tok, _) = t.issue(Some("alice"), grants);
        let c = t.verify(&tok).unwrap();
        assert_eq!(c.sub, "alice");
        assert!(c.covers(&Need::repo("a/b", &[Action::Pull])));
        assert!(!c.covers(&Need::repo("a/b", &[Action::Pull, Action::Push])));
        assert!(!c.covers(&Need::repo("a/c", &[Action::Pull])));
        // Another key, a flipped claim byte, and junk are all refused.
        let other = Tokens::new(
            b"other".to_vec(),
            "iss".into(),
            "svc".into(),
            Duration::from_secs(60),
        );
        assert_eq!(other.verify(&tok), Err(TokenError::Signature));
        let mut parts: Vec<String> = tok.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap())
                .unwrap()
                .replace("pull", "push"),
        );
        assert_eq!(t.verify(&parts.join(".")), Err(TokenError::Signature));
        assert_eq!(t.verify("a.b"), Err(TokenError::Malformed));
    }

    #[test]
    fn expiry() {
        let mut t = tokens();
        t.ttl = Duration::ZERO;
        let (tok, mut claims) = t.issue(None, Vec::new());
        // Rebuild an old token by hand with the same key.
        claims.exp -= 3600;
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let mut mac = t.mac();
        mac.update(format!("{h}.{c}").as_bytes());
        let s = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert_eq!(t.verify(&format!("{h}.{c}.{s}")), Err(TokenError::Expired));
        // A fresh zero-ttl token is still inside the leeway.
        assert!(t.verify(&tok).is_ok());
    }
}
