//! `pull`, `push`, `login` and `logout`, as the docker CLI does them: references
//! normalized on the client, the credentials for the reference's registry taken from
//! `config.json` and sent as `X-Registry-Auth`, a 401 answered by asking for
//! credentials once ("Login prior to pull:"), the daemon's JSON-message stream shown
//! with docker's progress rendering.

use std::io::{BufRead, Write};

use berth_client::api::RegistryOptions;
use berth_client::types::system::AuthConfig;
use clap::Args;

use super::progress::{self, Renderer};
use super::reference::{Named, parse_normalized_named};
use super::{Ctx, out, outln, tty};
use crate::cli::{Arity, PROG};
use crate::config::{AuthStore, INDEX_SERVER, convert_to_hostname};
use crate::error::{CliError, CliResult};

/// `pull` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NAME[:TAG|@DIGEST]")]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    all_tags: bool,
    /// Skip image verification
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    disable_content_trust: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `push` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NAME[:TAG]")]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long)]
    all_tags: bool,
    /// Skip image signing
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    disable_content_trust: bool,
    /// Push a platform-specific manifest as a single-platform image to the registry.
    #[arg(long, value_name = "string")]
    platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `login` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] [SERVER]")]
pub struct LoginArgs {
    /// Password or Personal Access Token (PAT)
    #[arg(short, long, value_name = "string")]
    password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long)]
    password_stdin: bool,
    /// Username
    #[arg(short, long, value_name = "string")]
    username: Option<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `logout` arguments.
#[derive(Debug, Args)]
#[command(override_usage = "[SERVER]")]
pub struct LogoutArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

/// The key of a registry's credentials in `auths` (docker's `getAuthConfigKey`):
/// Docker Hub's index URL, else the registry's `host[:port]`.
pub fn auth_key(domain: &str) -> String {
    if domain == "docker.io" || domain == "index.docker.io" {
        INDEX_SERVER.to_string()
    } else {
        domain.to_string()
    }
}

/// Opens the credential store of the configuration directory, warning about a
/// configured credential helper.
fn store(ctx: &Ctx) -> Result<AuthStore, CliError> {
    let s = AuthStore::open(&ctx.config_dir).map_err(CliError::new)?;
    if let Some(w) = s.helper_warning() {
        eprintln!("{w}");
    }
    Ok(s)
}

/// The `X-Registry-Auth` value for pulling or pushing `named`: the stored
/// credentials of its registry, `e30=` (`{}`) without any.
pub fn registry_auth(ctx: &Ctx, named: &Named) -> Result<String, CliError> {
    let s = store(ctx)?;
    Ok(s.get(&auth_key(&named.domain)).to_header_value())
}

/// docker's `FamiliarString`: `busybox:latest`, `me/app@sha256:…`,
/// `127.0.0.1:5000/t/app:1`.
pub fn familiar_string(n: &Named) -> String {
    let mut s = n.familiar_name();
    if let Some(t) = &n.tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = &n.digest {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// docker's `reference.String()`: the full name with its tag and digest.
pub fn full_string(n: &Named) -> String {
    let mut s = n.name();
    if let Some(t) = &n.tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = &n.digest {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// The `tag` parameter of a pull (docker's `getAPITagFromNamedRef`): the digest, else
/// the tag, else `latest`.
pub fn api_tag(n: &Named) -> String {
    n.digest.clone().unwrap_or_else(|| n.tag_or_latest())
}

/// Reads one line of `stdin` after printing `prompt` to stdout; `None` at the end of
/// the input.
fn read_input(prompt: &str) -> Option<String> {
    out(prompt);
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// Turns the echo of the terminal on stdin off until dropped.
struct NoEcho(rustix::termios::Termios);

impl NoEcho {
    fn enable() -> Result<NoEcho, CliError> {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).map_err(|e| CliError::new(e.to_string()))?;
        let mut t = saved.clone();
        t.local_modes.remove(LocalModes::ECHO);
        tcsetattr(&stdin, OptionalActions::Now, &t).map_err(|e| CliError::new(e.to_string()))?;
        Ok(NoEcho(saved))
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}

const REGISTER_SUGGEST: &str = "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";
const PAT_SUGGEST: &str = "You can log in with your password or a Personal Access Token (PAT). Using a limited-scope PAT grants better security and is required for organizations using SSO. Learn more at https://docs.docker.com/go/access-tokens/";

/// docker's `PromptUserForCredentials`: asks for what `user` and `password` leave
/// open (the password without echo).
fn prompt_credentials(
    user: &str,
    password: &str,
    default_user: &str,
    server: &str,
) -> Result<AuthConfig, CliError> {
    let mut user = user.trim().to_string();
    if user.is_empty() {
        if server == INDEX_SERVER {
            outln(REGISTER_SUGGEST);
            outln(PAT_SUGGEST);
            outln("");
        }
        let default_user = default_user.trim();
        let prompt = if default_user.is_empty() {
            "Username: ".to_string()
        } else {
            format!("Username ({default_user}): ")
        };
        user = read_input(&prompt).unwrap_or_default();
        if user.is_empty() {
            user = default_user.to_string();
        }
        if user.is_empty() {
            return Err(CliError::new("Error: Non-null Username Required"));
        }
    }
    let mut password = password.trim().to_string();
    if password.is_empty() {
        let guard = NoEcho::enable()?;
        password = read_input("Password: ").unwrap_or_default();
        drop(guard);
        outln("");
        if password.is_empty() {
            return Err(CliError::new("Error: Password Required"));
        }
    }
    Ok(AuthConfig {
        username: user,
        password,
        server_address: server.to_string(),
        ..AuthConfig::default()
    })
}

/// The answer to a 401 (docker's `RegistryAuthenticationPrivilegedFunc`): ask for
/// credentials and return them as a header value.
fn request_privilege(ctx: &Ctx, named: &Named, cmd: &str) -> Result<String, CliError> {
    out(&format!("\nLogin prior to {cmd}:\n"));
    let s = store(ctx)?;
    let default_user = s.get(&auth_key(&named.domain)).username;
    // docker names Docker Hub here whatever the registry (its own quirk, kept for the
    // same prompts).
    let a = prompt_credentials("", "", &default_user, INDEX_SERVER)?;
    Ok(a.to_header_value())
}

/// A renderer on stdout (discarding everything when `quiet`).
fn stdout_renderer(quiet: bool) -> Renderer<Box<dyn Write>> {
    if quiet {
        return Renderer::new(Box::new(std::io::sink()), false, 200);
    }
    let stdout = std::io::stdout();
    let width = progress::width_of(&stdout);
    Renderer::new(Box::new(stdout), tty::stdout_is_tty(), width)
}

/// A renderer on stderr, as `run` and `create` show the pull of a missing image.
pub fn stderr_renderer(quiet: bool) -> Renderer<Box<dyn Write>> {
    if quiet {
        return Renderer::new(Box::new(std::io::sink()), false, 200);
    }
    use std::io::IsTerminal;
    let stderr = std::io::stderr();
    let is_tty = stderr.is_terminal();
    let width = progress::width_of(&stderr);
    Renderer::new(Box::new(stderr), is_tty, width)
}

pub async fn pull(ctx: &Ctx, a: &PullArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    let mut n = parse_normalized_named(&a.args[0]).map_err(CliError::new)?;
    let name_only = n.tag.is_none() && n.digest.is_none();
    if a.all_tags && !name_only {
        return Err(CliError::new("tag can't be used with --all-tags/-a"));
    }
    if !a.all_tags && name_only {
        n.tag = Some("latest".into());
        if !a.quiet {
            outln("Using default tag: latest");
        }
    }
    let platform = a
        .platform
        .clone()
        .or_else(|| std::env::var("DOCKER_DEFAULT_PLATFORM").ok())
        .filter(|p| !p.is_empty())
        .map(|p| p.to_lowercase());
    let tag = (!a.all_tags).then(|| api_tag(&n));
    let auth = registry_auth(ctx, &n)?;
    let resp = {
        let o = RegistryOptions {
            tag: tag.as_deref(),
            platform: platform.as_deref(),
            auth: &auth,
        };
        match ctx.client.image_pull(&n.name(), &o).await {
            Ok(r) => r,
            Err(e) if e.is_unauthorized() => {
                let retry = request_privilege(ctx, &n, "pull")?;
                let o = RegistryOptions { auth: &retry, ..o };
                ctx.client.image_pull(&n.name(), &o).await?
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut r = stdout_renderer(a.quiet);
    progress::display(resp, "/images/create", &mut r, &mut |_| {}).await?;
    outln(&full_string(&n));
    Ok(())
}

pub async fn push(ctx: &Ctx, a: &PushArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    let platform = match a.platform.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            let json = platform_json(p).map_err(|e| {
                eprint!("Invalid platform {p}");
                CliError::new(e)
            })?;
            let note = "Using --platform pushes only the specified platform manifest of a multi-platform image index.\nOther components, like attestations, will not be included.\nTo push the complete multi-platform image, remove the --platform flag.\n";
            out(&print_note(note, tty::stdout_is_tty()));
            Some(json)
        }
        None => None,
    };
    let mut n = parse_normalized_named(&a.args[0]).map_err(CliError::new)?;
    let name_only = n.tag.is_none() && n.digest.is_none();
    if a.all_tags && !name_only {
        return Err(CliError::new("tag can't be used with --all-tags/-a"));
    }
    if !a.all_tags && name_only {
        n.tag = Some("latest".into());
        if !a.quiet {
            outln("Using default tag: latest");
        }
    }
    if n.digest.is_some() {
        return Err(CliError::new("cannot push a digest reference"));
    }
    // Without a tag the daemon pushes every tag of the repository.
    let tag = n.tag.clone();
    let auth = registry_auth(ctx, &n)?;
    let name = n.familiar_name();
    let resp = {
        let o = RegistryOptions {
            tag: tag.as_deref(),
            platform: platform.as_deref(),
            auth: &auth,
        };
        match ctx.client.image_push(&name, &o).await {
            Ok(r) => r,
            Err(e) if e.is_unauthorized() => {
                let retry = request_privilege(ctx, &n, "push")?;
                let o = RegistryOptions { auth: &retry, ..o };
                ctx.client.image_push(&name, &o).await?
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut r = stdout_renderer(a.quiet);
    progress::display(resp, "/images/push", &mut r, &mut |_| {}).await?;
    if a.quiet {
        outln(&full_string(&n));
    }
    Ok(())
}

/// The `platform` parameter of a push: the OCI platform as JSON, as docker sends it
/// (`{"architecture":"amd64","os":"linux"}`).
fn platform_json(p: &str) -> Result<String, String> {
    let parts: Vec<&str> = p.split('/').collect();
    let bad = || format!("\"{p}\": unknown operating system or architecture: invalid argument");
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|s| s.is_empty()) {
        return Err(bad());
    }
    let os = parts[0].to_lowercase();
    let arch = match parts.get(1).map(|a| a.to_lowercase()) {
        Some(a) if a == "x86_64" || a == "x86-64" => "amd64".to_string(),
        Some(a) if a == "aarch64" => "arm64".to_string(),
        Some(a) => a,
        None => host_arch().to_string(),
    };
    let mut v = serde_json::json!({"architecture": arch, "os": os});
    if let Some(variant) = parts.get(2) {
        v["variant"] = serde_json::Value::String(variant.to_lowercase());
    }
    Ok(v.to_string())
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// docker's `PrintNote`: ` Info -> ` before the first line, the others indented.
fn print_note(text: &str, terminal: bool) -> String {
    let (header, width) = if terminal {
        (
            "\x1b[1m\x1b[106m\x1b[30mi\x1b[0m\x1b[0m \x1b[96mInfo → \x1b[0m\x1b[0m",
            9,
        )
    } else {
        (" Info -> ", 9)
    };
    let mut s = format!("\n{header}");
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            s.push_str(&" ".repeat(width));
        }
        if terminal {
            s.push_str(&format!("\x1b[3m{line}\x1b[0m\n"));
        } else {
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

const UNENCRYPTED_WARNING: &str = "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n";

/// Stores `a` (docker's `storeCredentials`), warning once that the file holds them in
/// clear.
fn store_credentials(s: &mut AuthStore, a: &AuthConfig) -> CliResult {
    let written = s
        .store(a)
        .map_err(|e| CliError::new(format!("Error saving credentials: {e}")))?;
    if written && !a.password.is_empty() {
        eprintln!(
            "{}",
            UNENCRYPTED_WARNING.replace("{}", &s.path().display().to_string())
        );
    }
    Ok(())
}

pub async fn login(ctx: &Ctx, a: &LoginArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Max(1))?;
    if a.password_stdin {
        if a.password.is_some() {
            return Err(CliError::new(
                "conflicting options: cannot specify both --password and --password-stdin",
            ));
        }
        if a.username.is_none() {
            return Err(CliError::new(
                "the --password-stdin option requires --username to be set",
            ));
        }
    }
    if a.username.as_deref() == Some("") {
        return Err(CliError::new("username is empty"));
    }
    if a.password.as_deref() == Some("") {
        return Err(CliError::new("password is empty"));
    }
    let user = a.username.clone().unwrap_or_default();
    let mut password = a.password.clone().unwrap_or_default();
    if !password.is_empty() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if a.password_stdin {
        let mut all = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut all)
            .map_err(|e| CliError::new(e.to_string()))?;
        let p = all.strip_suffix('\n').unwrap_or(&all);
        password = p.strip_suffix('\r').unwrap_or(p).to_string();
    }
    let server = match a.args.first().map(String::as_str) {
        Some(s) if !s.is_empty() && s != "docker.io" => s.to_string(),
        _ => INDEX_SERVER.to_string(),
    };
    let is_default = server == INDEX_SERVER;
    let key = if is_default {
        server.clone()
    } else {
        convert_to_hostname(&server)
    };
    let mut s = store(ctx)?;
    // With neither flag, the stored credentials are tried first.
    let mut stored = if user.is_empty() && password.is_empty() {
        s.get(&key)
    } else {
        AuthConfig::default()
    };
    stored.server_address = key.clone();
    stored.identity_token.clear();
    if !stored.username.is_empty() && !stored.password.is_empty() {
        eprintln!(
            "Authenticating with existing credentials... [Username: {}]",
            stored.username
        );
        use std::io::IsTerminal;
        eprint!(
            "{}",
            print_note(
                &format!(
                    "To login with a different account, run '{PROG} logout' followed by '{PROG} login'"
                ),
                std::io::stderr().is_terminal()
            )
        );
        eprint!("\n\n");
        match ctx.client.registry_login(&stored).await {
            Ok(resp) => {
                let mut a2 = stored.clone();
                if !resp.identity_token.is_empty() {
                    a2.password.clear();
                    a2.identity_token = resp.identity_token;
                }
                store_credentials(&mut s, &a2)?;
                if !resp.status.is_empty() {
                    outln(&resp.status);
                }
                return Ok(());
            }
            Err(e) if e.is_unauthorized() => eprintln!("Stored credentials invalid or expired"),
            Err(e) => eprintln!("Login did not succeed, error: {e}"),
        }
    }
    if (user.is_empty() || password.is_empty()) && !tty::stdin_is_tty() {
        return Err(CliError::new(
            "Error: Cannot perform an interactive login from a non TTY device",
        ));
    }
    let creds = prompt_credentials(&user, &password, &stored.username, &key)?;
    let resp = ctx.client.registry_login(&creds).await?;
    let mut creds = creds;
    if !resp.identity_token.is_empty() {
        creds.password.clear();
        creds.identity_token = resp.identity_token;
    }
    store_credentials(&mut s, &creds)?;
    if !resp.status.is_empty() {
        outln(&resp.status);
    }
    Ok(())
}

pub async fn logout(ctx: &Ctx, a: &LogoutArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Max(1))?;
    let (server, is_default) = match a.args.first() {
        Some(s) if !s.is_empty() => (s.clone(), false),
        _ => (INDEX_SERVER.to_string(), true),
    };
    let mut keys = vec![server.clone()];
    let mut shown = server.clone();
    if !is_default {
        shown = convert_to_hostname(&server);
        // Older configurations kept the address in any of these forms.
        keys.push(shown.clone());
        keys.push(format!("http://{shown}"));
        keys.push(format!("https://{shown}"));
    }
    outln(&format!("Removing login credentials for {shown}"));
    let mut s = store(ctx)?;
    let mut errs = Vec::new();
    for k in &keys {
        if let Err(e) = s.erase(k) {
            errs.push(format!("{k}: {e}"));
        }
    }
    if errs.len() == keys.len() {
        eprintln!("WARNING: could not erase credentials:");
        for e in errs {
            eprintln!("{e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_print_like_docker() {
        let n = parse_normalized_named("busybox").unwrap();
        assert_eq!(auth_key(&n.domain), INDEX_SERVER);
        assert_eq!(api_tag(&n), "latest");
        let mut t = n.clone();
        t.tag = Some("latest".into());
        assert_eq!(familiar_string(&t), "busybox:latest");
        assert_eq!(full_string(&t), "docker.io/library/busybox:latest");
        let n = parse_normalized_named("127.0.0.1:5000/t/app:1").unwrap();
        assert_eq!(auth_key(&n.domain), "127.0.0.1:5000");
        assert_eq!(full_string(&n), "127.0.0.1:5000/t/app:1");
        let d = format!("sha256:{}", "a".repeat(64));
        let n = parse_normalized_named(&format!("me/app@{d}")).unwrap();
        assert_eq!(api_tag(&n), d);
    }

    #[test]
    fn push_platform_is_json() {
        assert_eq!(
            platform_json("linux/amd64").unwrap(),
            r#"{"architecture":"amd64","os":"linux"}"#
        );
        assert!(platform_json("linux//x").is_err());
        assert_eq!(print_note("a\nb", false), "\n Info -> a\n         b\n");
    }
}
