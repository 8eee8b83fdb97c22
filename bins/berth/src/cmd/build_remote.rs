//! Remote build contexts of `berth build URL`, fetched by the client as the docker
//! CLI fetches them with the classic builder (the daemon's `remote` parameter is
//! not used):
//!
//! - a git repository (`git://…`, `git@…`, `github.com/…`, or an http(s) URL ending
//!   in `.git`, each with an optional `#ref:subdir` fragment) is fetched with
//!   git(1) into a temporary directory — `init`, `remote add origin`, a shallow
//!   `fetch` of the ref where the server allows it, `checkout` — and sent as a
//!   directory context;
//! - any other `http://` or `https://` URL is downloaded; a tar archive (plain or
//!   compressed) is the context as it is, anything else is taken as the Dockerfile
//!   of a context of its own. The download is shown as docker's "Downloading build
//!   context from remote url" progress line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::CliError;

use berth_client::types::jsonmessage::ProgressDetail;

use super::build_source::is_archive;
use super::progress::progress_text;

/// Whether `s` is an http(s) URL (docker's `urlutil.IsURL`).
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Whether `s` names a git repository (docker's `urlutil.IsGitURL`): an http(s)
/// URL whose path ends in `.git` (before a fragment), or one of git's own forms.
pub fn is_git_url(s: &str) -> bool {
    if is_url(s) {
        let before_fragment = s.split_once('#').map_or(s, |(u, f)| {
            // `.git#` with an empty fragment does not count (docker's `(?:#.+)?$`).
            if f.is_empty() { s } else { u }
        });
        if before_fragment.ends_with(".git") {
            return true;
        }
    }
    ["git://", "github.com/", "git@"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// A repository to fetch: where, which ref, and the context's directory in it.
#[derive(Debug, PartialEq, Eq)]
struct GitRepo {
    remote: String,
    reference: String,
    subdir: String,
}

/// `ref:subdir` of a URL's fragment; the ref defaults to `master`, as docker's.
fn ref_and_subdir(fragment: &str) -> (String, String) {
    let (r, d) = fragment.split_once(':').unwrap_or((fragment, ""));
    let r = if r.is_empty() { "master" } else { r };
    (r.to_string(), d.to_string())
}

/// Docker's `parseRemoteURL`: a scheme-less name is fetched over https.
fn parse_git_url(url: &str) -> Result<GitRepo, String> {
    let transport = is_url(url) || url.starts_with("git://") || url.starts_with("git@");
    let url = if transport {
        url.to_string()
    } else {
        format!("https://{url}")
    };
    let (remote, fragment) = url.split_once('#').unwrap_or((&url, ""));
    let (reference, subdir) = ref_and_subdir(fragment);
    if reference.starts_with('-') {
        return Err(format!("invalid refspec: {reference}"));
    }
    Ok(GitRepo {
        remote: remote.to_string(),
        reference,
        subdir,
    })
}

/// A repository checked out in a temporary directory, removed on drop.
pub struct Checkout {
    _root: tempfile::TempDir,
    /// The context directory: the checkout, or its `subdir`.
    pub dir: PathBuf,
}

/// A failed git command: its combined output and how it ended.
struct GitFailure {
    output: String,
    exit: String,
}

impl GitFailure {
    /// Docker's `errors.Wrapf(err, "<what>: %s", output)`: the output, then the
    /// exit status.
    fn wrapped(&self, what: &str) -> String {
        format!("{what}: {}: {}", self.output, self.exit)
    }
}

/// Runs `git ARGS` in `dir`.
fn git(dir: &Path, args: &[&str]) -> Result<(), GitFailure> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        // Never ask for credentials on the terminal: a private repository fails.
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| GitFailure {
            output: String::new(),
            exit: format!("exec: \"git\": {e}"),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(GitFailure {
        output,
        exit: exit_text(&out.status),
    })
}

/// Go's `exec.ExitError` text.
fn exit_text(st: &std::process::ExitStatus) -> String {
    match st.code() {
        Some(c) => format!("exit status {c}"),
        None => "signal: killed".into(),
    }
}

/// Whether `remote` allows a shallow fetch: an http(s) server must be a smart one
/// (it answers the upload-pack service query with its advertisement); git's own
/// transports always do.
async fn supports_shallow(remote: &str) -> bool {
    if !is_url(remote) {
        return true;
    }
    let url = format!("{remote}/info/refs?service=git-upload-pack");
    match super::build_fetch::get(&url).await {
        Ok(resp) => resp.content_type == "application/x-git-upload-pack-advertisement",
        Err(_) => false,
    }
}

/// Fetches the repository `url` (docker's `GetContextFromGitURL` and `git.Clone`).
pub async fn clone(url: &str) -> Result<Checkout, CliError> {
    let prepare = |e: String| CliError::new(format!("unable to prepare context: {e}"));
    if which_git().is_none() {
        return Err(prepare(
            "unable to find 'git': exec: \"git\": executable file not found in $PATH".into(),
        ));
    }
    let wrap = |e: String| {
        prepare(format!(
            "unable to 'git clone' to temporary context directory: {e}"
        ))
    };
    let repo = parse_git_url(url).map_err(wrap)?;
    let shallow = supports_shallow(&repo.remote).await;
    let root = tempfile::Builder::new()
        .prefix("docker-build-git")
        .tempdir()
        .map_err(|e| wrap(format!("create a temporary directory: {e}")))?;
    let r = root.path();
    git(r, &["init"])
        .map_err(|e| wrap(e.wrapped(&format!("failed to init repo at {}", r.display()))))?;
    git(r, &["remote", "add", "origin", &repo.remote])
        .map_err(|e| wrap(e.wrapped(&format!("failed add origin repo at {}", r.display()))))?;
    let mut fetch = vec!["fetch"];
    if shallow {
        fetch.extend(["--depth", "1"]);
    }
    fetch.extend(["origin", "--", &repo.reference]);
    git(r, &fetch).map_err(|e| wrap(e.wrapped("error fetching")))?;
    // A branch name checks out as itself (HEAD names it); anything else is what
    // the fetch brought.
    if let Err(e) = git(r, &["checkout", &repo.reference]) {
        git(r, &["checkout", "FETCH_HEAD"])
            .map_err(|_| wrap(e.wrapped(&format!("error checking out {}", repo.reference))))?;
    }
    git(
        r,
        &["submodule", "update", "--init", "--recursive", "--depth=1"],
    )
    .map_err(|e| wrap(e.wrapped("error initializing submodules")))?;
    let dir = if repo.subdir.is_empty() {
        r.to_path_buf()
    } else {
        let d = inside(r, &repo.subdir).map_err(wrap)?;
        if !d.is_dir() {
            return Err(wrap(format!(
                "error setting git context, not a directory: {}",
                d.display()
            )));
        }
        d
    };
    Ok(Checkout { _root: root, dir })
}

/// `sub` under `root`, its symlinks resolved without leaving `root`.
fn inside(root: &Path, sub: &str) -> Result<PathBuf, String> {
    let joined = root.join(sub.trim_start_matches('/'));
    let real = std::fs::canonicalize(&joined)
        .map_err(|e| format!("error setting git context, path not accessible: {e}"))?;
    let real_root = std::fs::canonicalize(root).map_err(|e| e.to_string())?;
    if !real.starts_with(&real_root) {
        return Err(format!(
            "error setting git context, path outside the repository: {sub}"
        ));
    }
    Ok(real)
}

fn which_git() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
}

/// Downloads `url` (docker's `GetContextFromURL`): the body, with docker's
/// progress line written to `show` as it arrives.
pub async fn download(url: &str, show: &mut dyn FnMut(&str)) -> Result<Vec<u8>, CliError> {
    let fail = |e: String| {
        CliError::new(format!(
            "unable to prepare context: unable to download remote context {url}: {e}"
        ))
    };
    let resp = super::build_fetch::get(url).await.map_err(fail)?;
    let action = format!("Downloading build context from remote url: {url}");
    if resp.status >= 400 {
        let body = String::from_utf8_lossy(&resp.body);
        return Err(fail(format!(
            "failed to GET {url} with status {}: {}",
            resp.status_text,
            body.trim()
        )));
    }
    // docker's progress reader shows the count as the body arrives, and a last
    // time, ending the line, when a read finds the end. With a Content-Length,
    // Go's body hands over the last bytes and the end together: a tar, read
    // through a buffer that keeps that end, gets one line; a Dockerfile is read
    // again to its end and gets the line twice, the second ended. Without a
    // length, the first reads show nothing (under 512 KiB) and the end shows the
    // line once, ended.
    let total = resp.content_length.unwrap_or(0);
    let line = progress_line(&action, resp.body.len() as u64, total);
    show(&line);
    match resp.content_length {
        Some(_) if is_archive(&resp.body) => {}
        Some(_) => {
            show(&line);
            show("\r\n");
        }
        None => show("\r\n"),
    }
    Ok(resp.body)
}

/// One line of docker's raw progress formatter: the action and the progress text
/// (the terminal's width is unknown here, so Go's 200-column default shows the
/// bar), ended by `\r` — or by `\r\n` when there is no text.
fn progress_line(action: &str, current: u64, total: u64) -> String {
    let p = ProgressDetail {
        current: i64::try_from(current).unwrap_or(i64::MAX),
        total: i64::try_from(total).unwrap_or(i64::MAX),
        ..ProgressDetail::default()
    };
    let text = progress_text(&p, 200, 0);
    let end = if text.is_empty() { "\r\n" } else { "\r" };
    format!("{action} {text}{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_as_docker_tells_them() {
        for s in [
            "git://github.com/docker/docker",
            "git@github.com:docker/docker.git",
            "github.com/docker/docker",
            "https://github.com/docker/docker.git",
            "http://127.0.0.1:8000/repo.git#main:sub",
        ] {
            assert!(is_git_url(s), "{s}");
        }
        for s in [
            "http://127.0.0.1:8000/ctx.tar",
            "https://example.com/repo.git#",
            "./repo.git",
        ] {
            assert!(!is_git_url(s), "{s}");
        }
    }

    #[test]
    fn fragments_name_the_ref_and_the_subdirectory() {
        let r = parse_git_url("http://h/r.git#dev:app/web").unwrap();
        assert_eq!(
            r,
            GitRepo {
                remote: "http://h/r.git".into(),
                reference: "dev".into(),
                subdir: "app/web".into()
            }
        );
        let r = parse_git_url("github.com/a/b").unwrap();
        assert_eq!(
            (r.remote.as_str(), r.reference.as_str()),
            ("https://github.com/a/b", "master")
        );
        assert!(parse_git_url("http://h/r.git#-upload-pack=x").is_err());
    }

    #[test]
    fn progress_lines() {
        let l = progress_line("Downloading x", 100, 100);
        assert!(
            l.starts_with("Downloading x [==================================================>] ")
        );
        assert!(l.ends_with("100B/100B\r"), "{l:?}");
    }
}
