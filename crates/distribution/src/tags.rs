//! The tag list: `GET /v2/<name>/tags/list`, page by page (OCI
//! distribution spec, "Listing Tags": a `Link` header with `rel="next"`
//! names the next page, RFC 8288), as `docker pull --all-tags` needs it.

use reqwest::header::LINK;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{Request, Session, error_from, read_limited};
use crate::error::Error;

/// The most one page of the tag list may weigh.
const PAGE_LIMIT: u64 = 4 << 20;

/// How many pages are followed before the list is declared endless (a
/// registry whose `Link` never ends the list).
const MAX_PAGES: usize = 10_000;

#[derive(Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The target of a `Link: <target>; rel="next"` header value, if any.
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"').split(' ').any(|r| r == "next"))
                .unwrap_or(false)
        });
        next.then(|| target.to_owned())
    })
}

impl Session {
    /// Every tag of the repository, in the registry's order (lexical by
    /// the spec), following the pages the registry links.
    pub async fn tags(&self) -> Result<Vec<String>, Error> {
        self.tags_by_page(None).await
    }

    /// [`Session::tags`] asking for pages of at most `n` tags (`?n=`).
    pub async fn tags_by_page(&self, n: Option<u32>) -> Result<Vec<String>, Error> {
        let mut target = self.path("tags/list");
        if let Some(n) = n {
            target.push_str(&format!("?n={n}"));
        }
        let mut tags = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let build = |rb: reqwest::RequestBuilder| Ok(rb);
            let resp = self
                .send(&Request {
                    method: Method::GET,
                    target: &target,
                    build: &build,
                    extra_scopes: &[],
                    retry: true,
                })
                .await?;
            if resp.status() != StatusCode::OK {
                return Err(error_from(resp, "Get").await);
            }
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let url = resp.url().to_string();
            let body = read_limited(resp, PAGE_LIMIT, "tag list", "Get", &url).await?;
            let page: TagPage = serde_json::from_slice(&body).map_err(|source| Error::TagList {
                url: url.clone(),
                source,
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                // A link back to a page already read would loop forever.
                Some(n) if seen.insert(n.clone()) => target = n,
                _ => return Ok(tags),
            }
        }
        Err(Error::TagListEndless {
            url: self.path("tags/list"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_found_among_others() {
        assert_eq!(
            next_link(r#"</v2/t/b/tags/list?last=x&n=2>; rel="next""#).as_deref(),
            Some("/v2/t/b/tags/list?last=x&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/a>; rel="prev", <https://r/b>; rel=next"#).as_deref(),
            Some("https://r/b")
        );
        assert_eq!(next_link(r#"<https://r/a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
