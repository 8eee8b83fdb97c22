//! The HTTP side: one [`Client`] per daemon (connection pools, the
//! endpoints found by pinging registries, cached tokens), and a
//! [`Session`] per operation on one repository with one set of
//! credentials.
//!
//! Every request goes through [`Session::send`]: it adds the
//! `Authorization` the registry's challenge calls for, answers a 401 by
//! fetching a fresh token (or sending Basic credentials) once, and retries
//! transport failures and 5xx/429 answers with exponential back-off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::auth::{
    Access, CachedToken, Challenge, Credentials, TokenCache, TokenKey, TokenResponse,
    parse_challenges, repository_scope,
};
use crate::endpoint::{
    DOCKER_HUB_DOMAIN, Repository, Site, is_insecure, is_insecure_resolved, needs_resolution,
    registry_host, resolve,
};
use crate::error::{Error, parse_errors};

/// The client ID Docker's token requests carry.
const CLIENT_ID: &str = "docker";

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Extra insecure registries (`host[:port]` or CIDR), as daemon.json's
    /// `insecure-registries`; registries in 127.0.0.0/8 always are.
    pub insecure_registries: Vec<String>,
    /// Docker Hub's mirrors, as daemon.json's `registry-mirrors`
    /// (`http[s]://host[:port]/`): pulls of `docker.io` repositories try
    /// them in order before Docker Hub (see [`Client::mirror_sites`]).
    pub mirrors: Vec<String>,
    /// Registries that take the bytes of foreign layers on push
    /// (`host[:port]` or CIDR), as daemon.json's
    /// `allow-nondistributable-artifacts` (see
    /// [`Client::allows_nondistributable`]).
    pub allow_nondistributable: Vec<String>,
    pub user_agent: String,
    /// How many times a request is tried before its failure is final.
    pub attempts: u32,
    /// The first retry's delay; each next one doubles it.
    pub backoff: Duration,
    /// Blobs larger than this are uploaded in PATCH chunks of this size
    /// (resumable); smaller ones with one PUT.
    pub chunk_size: u64,
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure_registries: Vec::new(),
            mirrors: Vec::new(),
            allow_nondistributable: Vec::new(),
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")).to_owned(),
            attempts: 5,
            backoff: Duration::from_millis(250),
            chunk_size: 64 << 20,
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// A registry host as the ping found it.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `https://host` or `http://host`.
    pub base: Url,
    /// Whether TLS to it is unverified (an insecure registry over HTTPS).
    pub unverified: bool,
    pub challenges: Vec<Challenge>,
}

impl Endpoint {
    fn bearer(&self) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.is_bearer())
    }

    fn basic(&self) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.is_basic())
    }

    /// `base` + `/v2/`, as Docker names it in login errors.
    pub fn v2_url(&self) -> String {
        format!("{}v2/", self.base)
    }
}

/// The shared registry client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: ClientConfig,
    /// Verifies certificates.
    verified: reqwest::Client,
    /// For insecure registries over HTTPS (dockerd skips verification
    /// for them).
    unverified: reqwest::Client,
    endpoints: Mutex<HashMap<String, Endpoint>>,
    tokens: Mutex<TokenCache>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Entries are replaced whole: a panic elsewhere leaves nothing torn.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Go's spelling of a method in client errors (`Get "url": ...`).
pub(crate) fn go_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::HEAD => "Head",
        Method::PUT => "Put",
        Method::POST => "Post",
        Method::PATCH => "Patch",
        Method::DELETE => "Delete",
        _ => "Request",
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Client {
    /// Builds the client (and installs rustls' ring provider as the process
    /// default when none is installed yet).
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        // Already installed (by us or the embedding program) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |verify: bool| {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .tls_danger_accept_invalid_certs(!verify)
                .build()
                .map_err(Error::Build)
        };
        Ok(Client {
            inner: Arc::new(ClientInner {
                verified: build(true)?,
                unverified: build(false)?,
                config,
                endpoints: Mutex::new(HashMap::new()),
                tokens: Mutex::new(TokenCache::default()),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A session on `repo` with `creds`, asking for `access`, at the
    /// repository's own registry.
    pub fn session(&self, repo: Repository, creds: Credentials, access: Access) -> Session {
        let site = Site::Registry(repo.host().to_owned());
        self.session_at(repo, site, creds, access)
    }

    /// A session on `repo` at `site` (a mirror of [`Client::mirror_sites`]).
    pub fn session_at(
        &self,
        repo: Repository,
        site: Site,
        creds: Credentials,
        access: Access,
    ) -> Session {
        let scope = repository_scope(&repo.path, access);
        Session {
            inner: Arc::new(SessionInner {
                client: self.clone(),
                site,
                repo,
                creds,
                scope,
            }),
        }
    }

    /// The mirrors a pull of `repo` tries, in order, before its own
    /// registry (dockerd's pull endpoints): the configured mirrors for a
    /// Docker Hub repository, none for any other. Pushes never use them.
    pub fn mirror_sites(&self, repo: &Repository) -> Vec<Site> {
        if repo.domain != DOCKER_HUB_DOMAIN && repo.domain != "index.docker.io" {
            return Vec::new();
        }
        self.inner
            .config
            .mirrors
            .iter()
            .cloned()
            .map(Site::Mirror)
            .collect()
    }

    pub(crate) fn http(&self, unverified: bool) -> &reqwest::Client {
        if unverified {
            &self.inner.unverified
        } else {
            &self.inner.verified
        }
    }

    /// The HTTP client for an absolute URL outside a registry's endpoint
    /// (a token realm): unverified TLS only for insecure hosts.
    fn http_for(&self, url: &Url) -> &reqwest::Client {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        };
        self.http(is_insecure(&host, &self.inner.config.insecure_registries))
    }

    /// The endpoint of `site`, pinging it the first time.
    pub(crate) async fn endpoint(&self, site: &Site) -> Result<Endpoint, Error> {
        if let Some(ep) = lock(&self.inner.endpoints).get(site.key()) {
            return Ok(ep.clone());
        }
        let ep = self.ping(site).await?;
        lock(&self.inner.endpoints).insert(site.key().to_owned(), ep.clone());
        Ok(ep)
    }

    fn remember_challenges(&self, site: &Site, challenges: Vec<Challenge>) {
        if let Some(ep) = lock(&self.inner.endpoints).get_mut(site.key()) {
            ep.challenges = challenges;
        }
    }

    /// Whether `host` is insecure (see [`is_insecure_resolved`]),
    /// resolving its name when the configuration alone does not say.
    async fn insecure(&self, host: &str) -> bool {
        let configured = &self.inner.config.insecure_registries;
        if !needs_resolution(host, configured) {
            return is_insecure(host, configured);
        }
        let resolved = resolve(host, self.inner.config.connect_timeout).await;
        is_insecure_resolved(host, configured, &resolved)
    }

    /// `GET /v2/` at a site. A registry is tried over HTTPS, and when it
    /// is insecure then over HTTP if HTTPS got no answer at all (dockerd's
    /// fallback: any HTTP answer settles the scheme); a mirror only with
    /// its configured scheme. 200 and 401 are a registry; the 401's
    /// challenges say how to authenticate.
    pub(crate) async fn ping(&self, site: &Site) -> Result<Endpoint, Error> {
        let tries = match site {
            Site::Registry(host) => {
                let insecure = self.insecure(host).await;
                let mut tries = vec![(format!("https://{host}/"), insecure)];
                if insecure {
                    tries.push((format!("http://{host}/"), false));
                }
                tries
            }
            Site::Mirror(url) => {
                let u = Url::parse(url).map_err(|_| Error::Url(url.clone()))?;
                let host = match (u.host_str(), u.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_owned(),
                    _ => return Err(Error::Url(url.clone())),
                };
                let unverified = u.scheme() == "https" && self.insecure(&host).await;
                vec![(url.clone(), unverified)]
            }
        };
        let mut last = None;
        for (base, unverified) in tries {
            let base = Url::parse(&base).map_err(|_| Error::Url(base.clone()))?;
            let url = format!("{base}v2/");
            match self.http(unverified).get(&url).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status != StatusCode::OK && status != StatusCode::UNAUTHORIZED {
                        return Err(Error::NotRegistry {
                            url,
                            status: status.as_u16(),
                        });
                    }
                    return Ok(Endpoint {
                        base,
                        unverified,
                        challenges: challenges_of(resp.headers()),
                    });
                }
                Err(source) => {
                    last = Some(Error::Transport {
                        method: "Get",
                        url,
                        source,
                    })
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Url(site.to_string())))
    }

    fn token_cached(&self, key: &TokenKey) -> Option<String> {
        lock(&self.inner.tokens).get(key, Instant::now())
    }

    fn token_store(&self, key: TokenKey, t: &TokenResponse) {
        lock(&self.inner.tokens).put(
            key,
            CachedToken {
                token: t.bearer().to_owned(),
                until: Instant::now() + t.usable_for(),
            },
        );
    }

    fn token_forget(&self, key: &TokenKey) {
        lock(&self.inner.tokens).forget(key);
    }

    /// Asks `realm` for a token (Docker's token protocol). `url` is the
    /// request that needed it, for the error message.
    pub(crate) async fn fetch_token(
        &self,
        challenge: &Challenge,
        host: &str,
        creds: &Credentials,
        scopes: &[String],
        offline: bool,
        url: &str,
    ) -> Result<TokenResponse, Error> {
        let realm = challenge.param("realm").ok_or_else(|| Error::NoRealm {
            host: host.to_owned(),
        })?;
        let service = challenge.param("service").unwrap_or("");
        let realm_url = Url::parse(realm).map_err(|_| Error::Url(realm.to_owned()))?;
        let http = self.http_for(&realm_url);
        let req = if !creds.identity_token.is_empty() {
            // OAuth2 refresh-token grant (RFC 6749 §6), as dockerd sends it.
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", &creds.identity_token)
                .append_pair("service", service)
                .append_pair("client_id", CLIENT_ID);
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            if offline {
                form.append_pair("access_type", "offline");
            }
            http.post(realm_url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.finish())
        } else {
            let mut u = realm_url;
            {
                let mut q = u.query_pairs_mut();
                if !service.is_empty() {
                    q.append_pair("service", service);
                }
                for s in scopes {
                    q.append_pair("scope", s);
                }
                if creds.has_basic() {
                    q.append_pair("account", &creds.username);
                }
                if offline {
                    q.append_pair("offline_token", "true")
                        .append_pair("client_id", CLIENT_ID);
                }
            }
            let mut rb = http.get(u);
            if let Some(h) = creds.basic_header() {
                rb = rb.header(AUTHORIZATION, h);
            }
            rb
        };
        let method = if creds.identity_token.is_empty() {
            "Get"
        } else {
            "Post"
        };
        let token_err = |status: u16, reason: String| Error::Token {
            method,
            url: url.to_owned(),
            status,
            reason,
        };
        let resp = req.send().await.map_err(|e| {
            let cause = Error::Transport {
                method,
                url: realm.to_owned(),
                source: e,
            };
            token_err(0, cause.to_string())
        })?;
        let status = resp.status();
        let body = read_limited(resp, 1 << 20, "token answer", method, realm).await?;
        if !status.is_success() {
            let reason = parse_errors(&body)
                .first()
                .map(ToString::to_string)
                .unwrap_or_else(|| {
                    format!(
                        "token request failed with status: {} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    )
                });
            return Err(token_err(status.as_u16(), reason));
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| token_err(status.as_u16(), format!("decode token answer: {e}")))?;
        if t.bearer().is_empty() {
            return Err(Error::EmptyToken {
                realm: realm.to_owned(),
            });
        }
        Ok(t)
    }

    /// Checks `creds` against the registry at `server` (`host[:port]`,
    /// optionally with a scheme and path, as `docker login` sends it):
    /// `GET /v2/` with Basic credentials, or a token fetched with them.
    /// Returns the identity token the token endpoint handed out, if any.
    pub async fn login(&self, server: &str, creds: &Credentials) -> Result<String, Error> {
        let host = login_host(server);
        // Fresh: a login checks the registry as it is now.
        let site = Site::Registry(host.clone());
        let ep = self.ping(&site).await?;
        lock(&self.inner.endpoints).insert(host.clone(), ep.clone());
        let url = ep.v2_url();
        let http = self.http(ep.unverified);
        let mut rb = http.get(&url);
        let mut identity = String::new();
        if let Some(ch) = ep.bearer() {
            let t = self.fetch_token(ch, &host, creds, &[], true, &url).await?;
            identity = t.refresh_token.clone();
            rb = rb.header(AUTHORIZATION, format!("Bearer {}", t.bearer()));
        } else if let Some(h) = creds.basic_header().filter(|_| ep.basic().is_some()) {
            // Without credentials the registry's 401 says it all.
            rb = rb.header(AUTHORIZATION, h);
        }
        let resp = rb.send().await.map_err(|source| Error::Transport {
            method: "Get",
            url: url.clone(),
            source,
        })?;
        if resp.status() != StatusCode::OK {
            return Err(Error::Login {
                url,
                status: resp.status().as_u16(),
            });
        }
        Ok(identity)
    }
}

/// The registry host a `docker login` server address names (Docker Hub's
/// legacy `https://index.docker.io/v1/` included).
pub fn login_host(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    if host.is_empty() {
        return crate::endpoint::DOCKER_HUB_HOST.to_owned();
    }
    registry_host(host).to_owned()
}

pub(crate) fn challenges_of(h: &HeaderMap) -> Vec<Challenge> {
    h.get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect()
}

/// The Content-Length header itself: for a HEAD the body is empty, so
/// the body's own length says 0.
pub(crate) fn header_length(resp: &Response) -> Option<u64> {
    resp.headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads a whole (small) body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: u64,
    what: &str,
    method: &'static str,
    url: &str,
) -> Result<Bytes, Error> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(Error::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    let mut buf = BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if buf.len() as u64 + c.len() as u64 > limit {
                    return Err(Error::TooLarge {
                        what: what.to_owned(),
                        limit,
                    });
                }
                buf.extend_from_slice(&c);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(source) => {
                return Err(Error::Transport {
                    method,
                    url: url.to_owned(),
                    source,
                });
            }
        }
    }
}

/// The error a non-success answer stands for (its error document, else
/// its status).
pub(crate) async fn error_from(resp: Response, method: &'static str) -> Error {
    let url = resp.url().to_string();
    let status = resp.status().as_u16();
    let body = read_limited(resp, 64 << 10, "error document", method, &url)
        .await
        .unwrap_or_default();
    let errors = parse_errors(&body);
    if errors.is_empty() {
        Error::Status {
            method,
            url,
            status,
        }
    } else {
        Error::Registry {
            method,
            url,
            status,
            errors,
        }
    }
}

/// One operation's view of a repository. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    client: Client,
    repo: Repository,
    site: Site,
    creds: Credentials,
    /// The scope of the session's access to its repository.
    scope: String,
}

/// What a request needs from [`Session::send`].
pub(crate) struct Request<'a> {
    pub method: Method,
    /// A path below the endpoint (`/v2/...`) or an absolute URL (an upload
    /// Location).
    pub target: &'a str,
    /// Adds headers and a body; called again for each attempt.
    pub build: &'a (dyn Fn(RequestBuilder) -> Result<RequestBuilder, Error> + Send + Sync),
    /// Scopes needed besides the session's (a mount's source repository).
    pub extra_scopes: &'a [String],
    /// Whether transport failures and 5xx answers are retried here. Not
    /// for upload bodies: a registry may have kept part of a failed one,
    /// so the caller starts the upload over instead.
    pub retry: bool,
}

impl Session {
    pub fn repository(&self) -> &Repository {
        &self.inner.repo
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.inner.client.inner.config
    }

    /// `/v2/<name>/<rest>`.
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/v2/{}/{rest}", self.inner.repo.path)
    }

    /// Where the session's requests go.
    pub fn site(&self) -> &Site {
        &self.inner.site
    }

    /// Pings the registry (once per client and site).
    pub async fn ping(&self) -> Result<(), Error> {
        self.inner.client.endpoint(&self.inner.site).await.map(drop)
    }

    fn scopes(&self, extra: &[String]) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once(self.inner.scope.clone())
            .chain(extra.iter().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn token_key(&self, ch: &Challenge, scopes: &[String]) -> TokenKey {
        TokenKey {
            realm: ch.param("realm").unwrap_or("").to_owned(),
            service: ch.param("service").unwrap_or("").to_owned(),
            account: self.inner.creds.username.clone(),
            scopes: scopes.to_vec(),
        }
    }

    /// The `Authorization` value for a request under `ep`'s challenges.
    async fn authorization(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        url: &str,
    ) -> Result<Option<String>, Error> {
        let creds = &self.inner.creds;
        if !creds.registry_token.is_empty() {
            return Ok(Some(format!("Bearer {}", creds.registry_token)));
        }
        if let Some(ch) = ep.bearer() {
            let key = self.token_key(ch, scopes);
            let client = &self.inner.client;
            if let Some(t) = client.token_cached(&key) {
                return Ok(Some(format!("Bearer {t}")));
            }
            let t = client
                .fetch_token(ch, self.inner.site.key(), creds, scopes, false, url)
                .await?;
            client.token_store(key, &t);
            return Ok(Some(format!("Bearer {}", t.bearer())));
        }
        if ep.basic().is_some() {
            return Ok(creds.basic_header());
        }
        Ok(None)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.config().backoff * 2u32.saturating_pow(attempt.min(10))
    }

    /// Sends `req` with authorization, retries and back-off; returns the
    /// final answer whatever its status (callers check it), or the error
    /// that ended the attempts.
    pub(crate) async fn send(&self, req: &Request<'_>) -> Result<Response, Error> {
        let client = &self.inner.client;
        let mut ep = client.endpoint(&self.inner.site).await?;
        let url = ep
            .base
            .join(req.target)
            .map_err(|_| Error::Url(req.target.to_owned()))?;
        let method = go_method(&req.method);
        let scopes = self.scopes(req.extra_scopes);
        let attempts = if req.retry {
            self.config().attempts.max(1)
        } else {
            1
        };
        let mut attempt = 0;
        let mut reauthorized = false;
        loop {
            let auth = self.authorization(&ep, &scopes, url.as_str()).await;
            let auth = match auth {
                Ok(a) => a,
                Err(e) if e.is_retryable() && attempt + 1 < attempts => {
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut rb = client
                .http(ep.unverified)
                .request(req.method.clone(), url.clone());
            if let Some(a) = &auth {
                rb = rb.header(AUTHORIZATION, a);
            }
            let rb = (req.build)(rb)?;
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(source) => {
                    let e = Error::Transport {
                        method,
                        url: url.to_string(),
                        source,
                    };
                    if e.is_retryable() && attempt + 1 < attempts {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(e);
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !reauthorized {
                reauthorized = true;
                let fresh = challenges_of(resp.headers());
                if !fresh.is_empty() {
                    client.remember_challenges(&self.inner.site, fresh.clone());
                    ep.challenges = fresh;
                }
                if let Some(ch) = ep.bearer() {
                    // The cached token may have expired early or lack a
                    // scope: drop it and ask again.
                    client.token_forget(&self.token_key(ch, &scopes));
                    continue;
                }
                if ep.basic().is_some() {
                    if !self.inner.creds.has_basic() {
                        return Err(Error::NoCredentials {
                            method,
                            url: url.to_string(),
                        });
                    }
                    if auth.is_none() {
                        continue;
                    }
                }
                return Ok(resp);
            }
            let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
            if transient && attempt + 1 < attempts {
                tokio::time::sleep(self.backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return Ok(resp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hosts_follow_docker() {
        assert_eq!(
            login_host("https://index.docker.io/v1/"),
            "registry-1.docker.io"
        );
        assert_eq!(login_host(""), "registry-1.docker.io");
        assert_eq!(login_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(login_host("http://localhost:5000/v2/"), "localhost:5000");
        assert_eq!(login_host("docker.io"), "registry-1.docker.io");
    }
}
