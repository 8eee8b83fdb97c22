//! System endpoints and the API's conventions: versions, headers, errors.

use std::io::{BufReader, Read};
use std::time::{Duration, Instant};

use crate::harness::{Berthd, read_head, write_request};

#[test]
fn docker_version_prints_client_and_server() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let out = d.docker(["version"]).ok();
    assert!(out.contains("Client:"), "{out}");
    assert!(out.contains("Server: berth"), "{out}");
    assert!(out.contains("1.41 (downgraded from"), "{out}");
    let api = d
        .docker(["version", "--format", "{{.Server.APIVersion}}"])
        .ok();
    assert_eq!(api.trim(), "1.41");
    let min = d
        .docker(["version", "--format", "{{.Server.MinAPIVersion}}"])
        .ok();
    assert_eq!(min.trim(), "1.24");
}

#[test]
fn docker_info_reports_the_daemon() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start_in(crate::harness::Layout::new(), &["--label", "tier=test"]);
    let text = d.docker(["info"]).ok();
    assert!(text.contains("Server Version: 20.10.24-berth"), "{text}");
    assert!(text.contains("Swarm: inactive"), "{text}");
    let info: serde_json::Value =
        serde_json::from_str(&d.docker(["info", "--format", "{{json .}}"]).ok()).unwrap();
    assert_eq!(info["DockerRootDir"], d.data.display().to_string());
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(info["OSType"], "linux");
    assert_eq!(info["DefaultRuntime"], "berth-runc");
    assert!(info["Runtimes"]["runc"].is_object(), "{info}");
    assert_eq!(info["Labels"], serde_json::json!(["tier=test"]));
    assert!(info["NCPU"].as_i64().unwrap() >= 1);
    assert!(info["MemTotal"].as_i64().unwrap() > 0);
    // The engine id persists across restarts of the same data root.
    assert_eq!(info["ID"].as_str().unwrap().len(), 36);
}

#[test]
fn ping_answers_ok_uncached_with_the_api_headers() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    for method in ["GET", "HEAD"] {
        let r = d.request(method, "/_ping", &[], None);
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(r.header("Api-Version"), Some("1.41"), "{method}");
        assert_eq!(r.header("Ostype"), Some("linux"));
        assert_eq!(r.header("Docker-Experimental"), Some("false"));
        assert!(
            r.header("Server").unwrap().starts_with("Docker/"),
            "{:?}",
            r.headers
        );
        assert!(r.header("Cache-Control").unwrap().contains("no-cache"));
        assert_eq!(r.header("Pragma"), Some("no-cache"));
        if method == "GET" {
            assert_eq!(r.text(), "OK");
        }
    }
}

#[test]
fn version_prefixes_are_optional_and_bounded() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    assert_eq!(d.get_json("/version")["ApiVersion"], "1.41");
    assert_eq!(d.get_json("/v1.41/version")["ApiVersion"], "1.41");
    assert_eq!(d.get_json("/v1.24/version")["ApiVersion"], "1.41");
    let r = d.request("GET", "/v1.50/version", &[], None);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "client version 1.50 is too new. Maximum supported API version is 1.41"
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let r = d.request("GET", "/v1.23/version", &[], None);
    assert_eq!(r.status, 400);
    assert!(r.message().contains("is too old"), "{}", r.text());
    // The CLI refuses a daemon that is too old for the version it is told to use.
    let run = d
        .docker_cmd(["version"])
        .env("DOCKER_API_VERSION", "1.45")
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("Maximum supported API version is 1.41"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn unknown_routes_and_bad_bodies_get_json_errors() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let r = d.request("GET", "/v1.41/nothing/here", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "page not found");
    assert_eq!(r.header("Api-Version"), Some("1.41"));
    let r = d.request("DELETE", "/_ping", &[], None);
    assert_eq!(r.status, 404);
    // A plugin probe from a generic `docker inspect` is a 404.
    let r = d.request("GET", "/v1.41/plugins/some/plugin:1/json", &[], None);
    assert_eq!(r.status, 404);
    let json = [("Content-Type", "application/json")];
    let r = d.request("POST", "/v1.41/auth", &json, Some(b"{\"username\": "));
    assert_eq!(r.status, 400);
    assert!(r.message().starts_with("invalid JSON"), "{}", r.text());
    let r = d.request("POST", "/v1.41/auth", &json, Some(b"{\"username\": 5}"));
    assert_eq!(r.status, 400);
    assert!(r.message().contains("username"), "{}", r.text());
    let r = d.request(
        "POST",
        "/v1.41/auth",
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 400);
    let big = vec![b' '; 11 << 20];
    let r = d.request("POST", "/v1.41/auth", &json, Some(&big));
    assert_eq!(r.status, 413);
    // The daemon keeps serving after all of that.
    assert_eq!(d.request("GET", "/_ping", &[], None).status, 200);
}

#[test]
fn login_to_an_absent_registry_fails_clearly() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    // Nothing listens there; logins against a real registry are in the
    // registry tests.
    let err = d
        .docker_stdin(
            [
                "login",
                "-u",
                "someone",
                "--password-stdin",
                "localhost:5999",
            ],
            b"secret\n",
        )
        .fails();
    assert!(err.contains("\"http://localhost:5999/v2/\""), "{err}");
}

#[test]
fn events_stream_sends_its_head_at_once_and_honours_until() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let mut s = d.connect().unwrap();
    write_request(&mut s, "GET", "/v1.41/events", &[], None, false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s);
    let (status, _, headers) = read_head(&mut r).expect("events head arrives before any event");
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "application/json")
    );
    // Nothing happens, so nothing more arrives.
    let mut buf = [0u8; 1];
    assert!(r.read(&mut buf).is_err(), "an event without a cause");

    // `until` one second ahead: the stream ends by itself.
    let t = Instant::now();
    let until = (std::time::SystemTime::now() + Duration::from_secs(1))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let r = d.request("GET", &format!("/events?until={until:.9}"), &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty(), "{}", r.text());
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let r = d.request("GET", "/events?since=x", &[], None);
    assert_eq!(r.status, 400);
    let r = d.request(
        "GET",
        "/events?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D",
        &[],
        None,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "Invalid filter 'bogus'");
}

#[test]
fn system_df_answers_with_empty_lists() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let out = d.docker(["system", "df"]).ok();
    assert!(out.contains("TYPE"), "{out}");
    assert!(out.contains("Images"), "{out}");
}
