//! Users from an htpasswd file with bcrypt entries (`user:$2y$...`), the
//! format `htpasswd -B` writes and Docker's registry reads. Other hash
//! schemes (MD5 `$apr1$`, SHA-1, crypt) are refused at load: they are weak,
//! and Docker's registry refuses them too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("read htpasswd {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("htpasswd {path} line {line}: expected user:bcrypt-hash")]
    Syntax { path: PathBuf, line: usize },
    #[error("htpasswd {path} line {line}: user {user:?} has a non-bcrypt hash (use htpasswd -B)")]
    NotBcrypt {
        path: PathBuf,
        line: usize,
        user: String,
    },
}

/// How long a successful check is remembered. bcrypt is slow on purpose
/// (tens of milliseconds at cost 10), and a docker push sends credentials
/// with each of dozens of requests.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// The users of one htpasswd file.
#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// (user, sha256 of password) → when it last verified.
    verified: Mutex<HashMap<(String, [u8; 32]), Instant>>,
}

impl Htpasswd {
    pub fn load(path: &Path) -> Result<Htpasswd, HtpasswdError> {
        let text = std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Htpasswd, HtpasswdError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(HtpasswdError::Syntax {
                    path: path.to_owned(),
                    line: i + 1,
                });
            };
            if user.is_empty() {
                return Err(HtpasswdError::Syntax {
                    path: path.to_owned(),
                    line: i + 1,
                });
            }
            if !hash.starts_with("$2") {
                return Err(HtpasswdError::NotBcrypt {
                    path: path.to_owned(),
                    line: i + 1,
                    user: user.to_owned(),
                });
            }
            users.insert(user.to_owned(), hash.to_owned());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Checks a password. Blocking (bcrypt): call from a blocking thread.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            // Spend the same time as for a real user, so response times do
            // not tell which names exist.
            let _ = bcrypt::verify(password, &DUMMY_HASH);
            return false;
        };
        let key = (user.to_owned(), Sha256::digest(password.as_bytes()).into());
        {
            // The guarded map is a cache: after a panic elsewhere it is
            // still a valid (if stale) cache.
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(&key).is_some_and(|t| t.elapsed() < CACHE_TTL) {
                return true;
            }
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|_, t| t.elapsed() < CACHE_TTL);
            cache.insert(key, Instant::now());
        }
        ok
    }
}

/// A bcrypt hash to check unknown users against, for timing parity.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| bcrypt::hash("unknown user", 10).unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_users() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# users\nalice:{hash}\n"), Path::new("f")).unwrap();
        assert!(h.verify("alice", "s3cret"));
        // Cached path gives the same answers.
        assert!(h.verify("alice", "s3cret"));
        assert!(!h.verify("alice", "wrong"));
        assert!(!h.verify("bob", "s3cret"));
        assert!(matches!(
            Htpasswd::parse("bob:$apr1$x$y", Path::new("f")),
            Err(HtpasswdError::NotBcrypt { line: 1, .. })
        ));
        assert!(matches!(
            Htpasswd::parse("nocolon", Path::new("f")),
            Err(HtpasswdError::Syntax { line: 1, .. })
        ));
    }
}
