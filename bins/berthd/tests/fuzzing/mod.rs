//! The bodies of berthd's fuzz targets, shared by the cargo-fuzz targets
//! (`fuzz/`, libFuzzer through cargo-fuzz) and by the stable `fuzz_stable` test,
//! which feeds them seeded pseudo-random and mutated inputs with a fixed
//! budget. Each body takes arbitrary bytes and asserts what must hold for
//! *any* request; a panic or a failed assertion is a finding.
//!
//! - [`route`]: a method and a request target (as hyper hands them over)
//!   are routed as the daemon routes them: unknown is a 404, a version
//!   out of range a 400, a `/v1.41` prefix changes nothing else; every
//!   query decoder the handlers use answers with a value or a 400.
//! - [`body`]: arbitrary bytes as the JSON body of container create,
//!   exec create, network create, volume create and container update, or
//!   as the query of a build, decode to the typed request or to a 400;
//!   what decodes encodes and decodes back to itself.

#![allow(dead_code)]

use std::fmt::Debug;

use berthd::api::{self, ApiError};
use berthd::events_filter::{EventFilter, parse_timestamp};
use berthd::handlers::{attach_ws, build, containers, exec, filters, networks, volumes};
use berthd::hijack::DetachKeys;
use berthd::query::Query;
use berthd::router::{self, PluginRoute, Route};
use http::{Method, StatusCode, Uri};
use serde::Serialize;

/// The methods clients send; a first byte past them makes the method
/// from the input's bytes instead.
const METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::DELETE,
    Method::HEAD,
    Method::PUT,
    Method::OPTIONS,
    Method::PATCH,
];

/// What a handler's error must be: the client's fault, explained.
fn client_error(what: &str, e: &ApiError) {
    assert_eq!(e.status, StatusCode::BAD_REQUEST, "{what}: {e:?}");
    assert!(!e.message.is_empty(), "{what}: an empty message");
}

fn ok_or_400<T>(what: &str, r: Result<T, ApiError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            client_error(what, &e);
            None
        }
    }
}

/// The method, and the request target that follows it.
fn method_and_target(data: &[u8]) -> Option<(Method, &[u8])> {
    let (&m, rest) = data.split_first()?;
    if usize::from(m) < METHODS.len() * 32 {
        return Some((METHODS[usize::from(m) % METHODS.len()].clone(), rest));
    }
    // An extension method: a token up to the first space (hyper accepts
    // any token).
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let m = Method::from_bytes(&rest[..end]).ok()?;
    Some((m, rest.get(end + 1..).unwrap_or(&[])))
}

/// Routing and query decoding of one request (see the module doc).
pub fn route(data: &[u8]) {
    let Some((method, target)) = method_and_target(data) else {
        return;
    };
    // Whatever the bytes, the query parser takes them.
    let raw = String::from_utf8_lossy(target);
    decode_query(&Query::parse(raw.split_once('?').map(|(_, q)| q)));
    // hyper hands the daemon a parsed URI; other targets never reach it.
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let path = uri.path();
    match router::route(&method, path) {
        None => {
            let r = ApiError::not_found("page not found").into_response();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }
        Some(routed) => {
            check_route(&routed.route);
            match &routed.version {
                Some(v) => {
                    let _ = ok_or_400("version", api::check_version(v));
                    let _ = attach_ws::text_messages(Some(v));
                }
                // The version prefix is transparent.
                None if path.starts_with('/') => {
                    let again = router::route(&method, &format!("/v1.41{path}"));
                    let again = again.unwrap_or_else(|| panic!("/v1.41{path} is not routed"));
                    assert_eq!(again.version.as_deref(), Some("1.41"), "{path}");
                    assert_eq!(again.route, routed.route, "{path} with a version prefix");
                }
                None => {}
            }
        }
    }
    decode_query(&Query::parse(uri.query()));
}

/// A routed request names its object: never an empty one.
fn check_route(r: &Route) {
    let name = match r {
        Route::ImageInspect(n)
        | Route::ImageHistory(n)
        | Route::ImageSave(n)
        | Route::ImageTag(n)
        | Route::ImagePush(n)
        | Route::ImageRemove(n)
        | Route::Container(n, _)
        | Route::ExecStart(n)
        | Route::ExecResize(n)
        | Route::ExecInspect(n)
        | Route::Plugin(
            PluginRoute::Inspect(n)
            | PluginRoute::Enable(n)
            | PluginRoute::Upgrade(n)
            | PluginRoute::Other(n),
        )
        | Route::VolumeInspect(n)
        | Route::VolumeRemove(n)
        | Route::NetworkInspect(n)
        | Route::NetworkRemove(n)
        | Route::NetworkConnect(n)
        | Route::NetworkDisconnect(n) => n,
        _ => return,
    };
    assert!(!name.is_empty(), "{r:?} names nothing");
}

/// Every query decoder of the handlers, over one query.
fn decode_query(q: &Query) {
    for key in ["all", "stream", "logs", "force", "rm", "quiet"] {
        let _ = (q.bool(key), q.bool_or(key, true), q.all(key));
    }
    for key in ["limit", "t", "memory", "shmsize"] {
        let _ = ok_or_400(key, q.int(key));
    }
    if let Some(f) = ok_or_400("filters", filters(q)) {
        let _ = ok_or_400("event filters", EventFilter::new(f));
    }
    let _ = ok_or_400("build options", build::options(q));
    let _ = ok_or_400("resize", containers::size(q));
    for key in ["since", "until"] {
        if let Some(v) = q.nonempty(key) {
            let _ = ok_or_400(key, parse_timestamp(key, v));
        }
        let logs = berth_engine::containers::logs::parse_api_time(q.get(key).unwrap_or(""));
        let _ = ok_or_400(key, logs.map_err(ApiError::from));
    }
    let cond = berth_engine::containers::WaitCondition::parse(q.get("condition").unwrap_or(""));
    let _ = ok_or_400("condition", cond.map_err(ApiError::from));
    if let Err(m) = DetachKeys::parse(q.get("detachKeys").unwrap_or("")) {
        assert!(!m.is_empty());
    }
}

/// Request bodies (see the module doc): the first byte picks the decoder.
pub fn body(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => round_trip("container create", bytes, containers::create_request),
        1 => round_trip("exec create", bytes, exec::create_request),
        2 => round_trip("network create", bytes, networks::create_request),
        3 => round_trip("volume create", bytes, volumes::create_request),
        4 => round_trip("container update", bytes, containers::update_request),
        _ => {
            let q = Query::parse(Some(&String::from_utf8_lossy(bytes)));
            let _ = ok_or_400("build query", build::options(&q));
        }
    }
}

/// A body decodes to a value that survives encoding, or to a 400.
fn round_trip<T: Serialize + PartialEq + Debug>(
    what: &str,
    bytes: &[u8],
    decode: fn(&[u8]) -> Result<T, ApiError>,
) {
    let Some(v) = ok_or_400(what, decode(bytes)) else {
        return;
    };
    let encoded = serde_json::to_vec(&v).unwrap_or_else(|e| panic!("{what}: encode {v:?}: {e}"));
    match decode(&encoded) {
        Ok(back) => assert_eq!(back, v, "{what}: {}", String::from_utf8_lossy(&encoded)),
        Err(e) => panic!(
            "{what}: {} does not decode: {e:?}",
            String::from_utf8_lossy(&encoded)
        ),
    }
}

/// A small deterministic generator (xorshift), for the stable test.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// `seed` with a few bytes flipped, inserted, removed or spliced from
    /// `dict` (the mutations a coverage-guided fuzzer starts with). The
    /// first byte (which picks the method or the decoder) is kept.
    pub fn mutate(&mut self, seed: &[u8], dict: &[&[u8]]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = if v.len() <= 1 {
                v.len()
            } else {
                1 + self.below(v.len() - 1)
            };
            match self.below(5) {
                0 if at < v.len() => v[at] ^= 1 << self.below(8),
                1 => v.insert(at, self.next() as u8),
                2 if at < v.len() => {
                    let end = (at + 1 + self.below(8)).min(v.len());
                    v.drain(at..end);
                }
                3 if !dict.is_empty() => {
                    let w = dict[self.below(dict.len())];
                    v.splice(at..at, w.iter().copied());
                }
                _ => v.truncate(at.max(1)),
            }
        }
        v
    }
}
