//! Access rules: which account may do what on which repositories, and the
//! scope grammar of Docker's token protocol
//! (`repository:<name>:<action>[,<action>]`, `registry:catalog:*`).

use std::collections::BTreeSet;

use serde::Deserialize;

/// What a request does to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    /// `*` in a scope asks for every action (Docker's token protocol).
    pub fn parse(s: &str) -> Option<Vec<Action>> {
        match s {
            "pull" => Some(vec![Action::Pull]),
            "push" => Some(vec![Action::Push]),
            "delete" => Some(vec![Action::Delete]),
            "*" => Some(Action::ALL.to_vec()),
            _ => None,
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Repository {
        name: String,
        actions: Vec<Action>,
    },
    /// `GET /v2/_catalog`: the `registry:catalog:*` scope.
    Catalog,
}

impl Need {
    pub fn repo(name: &str, actions: &[Action]) -> Need {
        Need::Repository {
            name: name.to_owned(),
            actions: actions.to_vec(),
        }
    }

    /// The scope string a client asks the token endpoint for.
    pub fn scope(&self) -> String {
        match self {
            Need::Repository { name, actions } => {
                let a: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
                format!("repository:{name}:{}", a.join(","))
            }
            Need::Catalog => "registry:catalog:*".to_owned(),
        }
    }
}

/// One parsed scope of a token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `type:name:actions`. The name sits between the first and the
    /// last colon (so a resource class such as `repository(plugin)` or a
    /// name with a colon survives); unparseable scopes are ignored by the
    /// caller, as Docker's token servers do.
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// One access rule of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A user name, `*` for any authenticated user, or `anonymous` for
    /// requests without credentials.
    pub account: String,
    /// A glob over repository names: `*` matches any run of characters,
    /// `/` included.
    pub repository: String,
    pub actions: Vec<Action>,
}

/// The access rules. With no rules, every authenticated account may do
/// everything and anonymous requests nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

pub const ANONYMOUS: &str = "anonymous";

impl Policy {
    /// The actions `account` (None: anonymous) may perform on `repo`: the
    /// union over every matching rule.
    pub fn allowed(&self, account: Option<&str>, repo: &str) -> BTreeSet<Action> {
        if self.rules.is_empty() {
            return match account {
                Some(_) => Action::ALL.into_iter().collect(),
                None => BTreeSet::new(),
            };
        }
        let mut out = BTreeSet::new();
        for r in &self.rules {
            let who = match account {
                Some(a) => r.account == a || r.account == "*",
                None => r.account == ANONYMOUS,
            };
            if who && glob(&r.repository, repo) {
                out.extend(r.actions.iter().copied());
            }
        }
        out
    }

    /// The catalog lists every name, so it needs pull on all of them: a
    /// rule whose pattern is `*` (or no rules and an account).
    pub fn catalog_allowed(&self, account: Option<&str>) -> bool {
        if self.rules.is_empty() {
            return account.is_some();
        }
        self.rules.iter().any(|r| {
            let who = match account {
                Some(a) => r.account == a || r.account == "*",
                None => r.account == ANONYMOUS,
            };
            who && r.repository == "*" && r.actions.contains(&Action::Pull)
        })
    }

    /// Whether `account` may do all that `need` asks.
    pub fn permits(&self, account: Option<&str>, need: &Need) -> bool {
        match need {
            Need::Repository { name, actions } => {
                let ok = self.allowed(account, name);
                actions.iter().all(|a| ok.contains(a))
            }
            Need::Catalog => self.catalog_allowed(account),
        }
    }
}

/// Matches `name` against `pattern` where `*` is any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "a/b"));
        assert!(glob("team/*", "team/x/y"));
        assert!(!glob("team/*", "other/x"));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abbbd"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::parse("repository:a/b:pull,push"),
            Some(Scope {
                kind: "repository".into(),
                name: "a/b".into(),
                actions: vec!["pull".into(), "push".into()]
            })
        );
        assert_eq!(Scope::parse("registry:catalog:*").unwrap().name, "catalog");
        assert_eq!(Scope::parse("nonsense"), None);
        assert_eq!(
            Need::repo("x", &[Action::Pull, Action::Push]).scope(),
            "repository:x:pull,push"
        );
    }

    #[test]
    fn rules() {
        let empty = Policy::default();
        assert_eq!(empty.allowed(Some("bob"), "x").len(), 3);
        assert!(empty.allowed(None, "x").is_empty());
        let p = Policy {
            rules: vec![
                Rule {
                    account: "alice".into(),
                    repository: "team/*".into(),
                    actions: vec![Action::Pull, Action::Push],
                },
                Rule {
                    account: "*".into(),
                    repository: "public/*".into(),
                    actions: vec![Action::Pull],
                },
                Rule {
                    account: ANONYMOUS.into(),
                    repository: "public/*".into(),
                    actions: vec![Action::Pull],
                },
            ],
        };
        assert!(p.permits(Some("alice"), &Need::repo("team/a", &[Action::Push])));
        assert!(!p.permits(Some("alice"), &Need::repo("team/a", &[Action::Delete])));
        assert!(!p.permits(Some("bob"), &Need::repo("team/a", &[Action::Pull])));
        assert!(p.permits(Some("bob"), &Need::repo("public/a", &[Action::Pull])));
        assert!(p.permits(None, &Need::repo("public/a", &[Action::Pull])));
        assert!(!p.permits(None, &Need::repo("public/a", &[Action::Push])));
        assert!(!p.catalog_allowed(Some("alice")));
    }
}
