//! The route table: a request path parsed into what it addresses.
//!
//! Repository names contain `/` and may even contain components named
//! `blobs` or `manifests`, so routes are recognised from the right end of
//! the path (the spec's endpoints all end in a fixed shape), and the rest
//! is the name.

/// What a path addresses. Names and references are unvalidated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: String },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: String },
    /// `/v2/<name>/blobs/uploads/<uuid>`
    Upload { name: String, uuid: String },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: String },
    /// `/token`: this registry's token endpoint.
    Token,
}

impl Route {
    pub fn parse(path: &str) -> Option<Route> {
        if path == "/token" {
            return Some(Route::Token);
        }
        let rest = path.strip_prefix("/v2")?;
        if rest.is_empty() || rest == "/" {
            return Some(Route::Base);
        }
        let rest = rest.strip_prefix('/')?;
        if rest == "_catalog" {
            return Some(Route::Catalog);
        }
        let segs: Vec<&str> = rest.split('/').collect();
        let n = segs.len();
        let name = |k: usize| (n > k).then(|| segs[..n - k].join("/"));
        let tail = |k: usize| segs.get(n.wrapping_sub(k)).copied();
        if let (Some("blobs"), Some("uploads"), Some(last)) = (tail(3), tail(2), tail(1)) {
            let name = name(3)?;
            return Some(if last.is_empty() {
                Route::UploadStart { name }
            } else {
                Route::Upload {
                    name,
                    uuid: last.to_owned(),
                }
            });
        }
        match (tail(2), tail(1)) {
            (Some("blobs"), Some("uploads")) => Some(Route::UploadStart { name: name(2)? }),
            (Some("tags"), Some("list")) => Some(Route::Tags { name: name(2)? }),
            (Some("manifests"), Some(r)) if !r.is_empty() => Some(Route::Manifest {
                name: name(2)?,
                reference: r.to_owned(),
            }),
            (Some("blobs"), Some(d)) if !d.is_empty() => Some(Route::Blob {
                name: name(2)?,
                digest: d.to_owned(),
            }),
            (Some("referrers"), Some(d)) if !d.is_empty() => Some(Route::Referrers {
                name: name(2)?,
                digest: d.to_owned(),
            }),
            _ => None,
        }
    }

    /// The repository the route is in, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Blob { name, .. }
            | Route::Referrers { name, .. } => Some(name),
            Route::Base | Route::Catalog | Route::Token => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn table() {
        assert_eq!(Route::parse("/v2/"), Some(Route::Base));
        assert_eq!(Route::parse("/v2"), Some(Route::Base));
        assert_eq!(Route::parse("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(Route::parse("/token"), Some(Route::Token));
        assert_eq!(
            Route::parse("/v2/a/b/c/tags/list"),
            Some(Route::Tags { name: s("a/b/c") })
        );
        assert_eq!(
            Route::parse("/v2/x/manifests/latest"),
            Some(Route::Manifest {
                name: s("x"),
                reference: s("latest")
            })
        );
        assert_eq!(
            Route::parse("/v2/x/blobs/uploads/"),
            Some(Route::UploadStart { name: s("x") })
        );
        assert_eq!(
            Route::parse("/v2/x/blobs/uploads"),
            Some(Route::UploadStart { name: s("x") })
        );
        assert_eq!(
            Route::parse("/v2/x/y/blobs/uploads/abc"),
            Some(Route::Upload {
                name: s("x/y"),
                uuid: s("abc")
            })
        );
        // A repository whose name has a `blobs` component.
        assert_eq!(
            Route::parse("/v2/blobs/manifests/blobs/sha256:00"),
            Some(Route::Blob {
                name: s("blobs/manifests"),
                digest: s("sha256:00")
            })
        );
        assert_eq!(
            Route::parse("/v2/x/referrers/sha256:00"),
            Some(Route::Referrers {
                name: s("x"),
                digest: s("sha256:00")
            })
        );
        assert_eq!(Route::parse("/v2/manifests/latest"), None);
        assert_eq!(Route::parse("/v2/x/manifests/"), None);
        assert_eq!(Route::parse("/v3/x"), None);
        assert_eq!(Route::parse("/v2/x"), None);
    }
}
