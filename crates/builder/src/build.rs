//! The executor: runs a Dockerfile's stages against the engine, step by
//! step, with the classic builder's output and cache.
//!
//! Lifecycle: [`prepare`] reads the context, parses the Dockerfile and
//! checks the request (what fails here fails before any output, as
//! dockerd answers 400); [`Build::run`] then builds the stages the target
//! needs, in file order, streaming [`Event`]s, and tags the result.
//!
//! Per stage, the state is the current image and its run config; each
//! step makes a new image ([`crate::steps`]), or takes it from the cache
//! (" ---> Using cache"). Stages the target does not need (neither its
//! base nor a `COPY --from` source, transitively) are skipped.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api_types::container::Resources;
use berth_engine::Engine;
use berth_engine::images::{BuildStepError, StepImage};
use berth_image::config::RunConfig;
use tokio::sync::mpsc;

use crate::args::BuildArgs;
use crate::cache::{self, CacheIndex};
use crate::cache_from::CacheSources;
use crate::context::{Context, ContextError};
use crate::copy::CopyError;
use crate::instructions::{
    Command, Dockerfile, Instruction, KeyValue, parse_instruction, trigger_node,
};
use crate::lex::{LexError, Lexer};
use crate::parser::ParseError;

/// The default PATH a stage gets when its base sets none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a build is asked for (`POST /build`'s query).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's path in the context (`Dockerfile` when empty).
    pub dockerfile: String,
    /// `t`: names to tag the result with.
    pub tags: Vec<String>,
    /// `buildargs` (`None`: given without a value).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `labels`: added to the result as a last LABEL step.
    pub labels: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `rm`: remove intermediate containers after a successful step.
    pub remove: bool,
    /// `forcerm`: also after a failed one.
    pub force_remove: bool,
    /// `q`: only the image ID is printed.
    pub quiet: bool,
    /// `cachefrom`: images whose build steps may be reused.
    pub cache_from: Vec<String>,
    /// `networkmode` of RUN containers (`default`: the bridge).
    pub network_mode: String,
    pub platform: Option<String>,
    /// Resource limits of RUN containers (`memory`, `cpushares`, …).
    pub resources: Resources,
    pub shm_size: i64,
    pub extra_hosts: Vec<String>,
}

/// One piece of the build's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Text for the client's terminal (`{"stream": …}`).
    Stream(String),
    /// `{"aux": …}` (the image ID at the end).
    Aux(serde_json::Value),
}

/// Errors of a build. Display texts are dockerd's.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("failed to reach build target {0} in Dockerfile")]
    NoTarget(String),
    #[error("invalid reference format: {tag}: {reason}")]
    BadTag { tag: String, reason: String },
    #[error("\"{0}\" is not a supported platform (this daemon builds linux/{arch})", arch = std::env::consts::ARCH)]
    Platform(String),
    #[error("failed to process \"{word}\": {source}")]
    Expand {
        word: String,
        #[source]
        source: LexError,
    },
    #[error("The command '{cmd}' returned a non-zero code: {code}")]
    RunFailed { cmd: String, code: i64 },
    #[error("{keyword} failed: {source}")]
    Copy {
        keyword: &'static str,
        #[source]
        source: CopyError,
    },
    #[error("{0}")]
    Step(#[source] BuildStepError),
    #[error("{0}")]
    Container(#[source] berth_engine::containers::Error),
    #[error("{0}")]
    Image(#[source] berth_engine::images::Error),
    #[error("dockerfile parse error line {line}: {message}")]
    Trigger { line: usize, message: String },
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("Please provide a source image with `from` prior to {0}")]
    NoImage(&'static str),
    #[error("No image was generated. Is your Dockerfile empty?")]
    NoResult,
    #[error("build task: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// The client went away: the build stops.
    #[error("the client went away")]
    Cancelled,
}

impl BuildError {
    /// The exit code to report (`errorDetail.code`), for a failed RUN.
    pub fn code(&self) -> Option<i64> {
        match self {
            BuildError::RunFailed { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the request itself is wrong (dockerd's 400 class).
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            BuildError::Parse(_)
                | BuildError::Context(_)
                | BuildError::NoTarget(_)
                | BuildError::BadTag { .. }
                | BuildError::Platform(_)
        )
    }
}

/// A build ready to run.
pub struct Build {
    pub(crate) engine: Arc<Engine>,
    pub(crate) ctx: Arc<Context>,
    pub(crate) df: Dockerfile,
    pub(crate) opts: BuildOptions,
    target: usize,
    needed: Vec<bool>,
    tags: Vec<(String, String)>,
}

fn check_platform(p: &str) -> Result<(), BuildError> {
    let mut parts = p.split('/');
    let os = parts.next().unwrap_or("");
    let arch = parts.next();
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    if p.is_empty() || (os == "linux" && arch.is_none_or(|a| a == host_arch)) {
        Ok(())
    } else {
        Err(BuildError::Platform(p.to_string()))
    }
}

/// Splits `name[:tag]` (the tag after the last `/`); `latest` by default.
fn split_tag(t: &str) -> (String, String) {
    let slash = t.rfind('/').map_or(0, |i| i + 1);
    match t[slash..].rfind(':') {
        Some(i) => (t[..slash + i].to_string(), t[slash + i + 1..].to_string()),
        None => (t.to_string(), "latest".to_string()),
    }
}

/// Reads the context from `body` (a tar, blocking reader) and checks the
/// Dockerfile and the request.
pub async fn prepare<R: std::io::Read + Send + 'static>(
    engine: Arc<Engine>,
    body: R,
    opts: BuildOptions,
) -> Result<Build, BuildError> {
    let mut tags = Vec::new();
    for t in &opts.tags {
        berth_image::Reference::parse_normalized(t).map_err(|e| BuildError::BadTag {
            tag: t.clone(),
            reason: e.to_string(),
        })?;
        tags.push(split_tag(t));
    }
    if let Some(p) = &opts.platform {
        check_platform(p)?;
    }
    let tmp = engine.config().data_root.join("builder").join("tmp");
    let dockerfile = opts.dockerfile.clone();
    let ctx = tokio::task::spawn_blocking(move || Context::unpack(body, &tmp, &dockerfile))
        .await
        .map_err(BuildError::Task)??;
    let df = Dockerfile::parse(&ctx.dockerfile_name, &ctx.dockerfile)?;
    let target = match &opts.target {
        Some(t) if !t.is_empty() => df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
            .ok_or_else(|| BuildError::NoTarget(t.clone()))?,
        _ => df.stages.len() - 1,
    };
    let needed = needed_stages(&df, target, &opts.build_args);
    Ok(Build {
        engine,
        ctx: Arc::new(ctx),
        df,
        opts,
        target,
        needed,
        tags,
    })
}

pub use crate::instructions::needed_stages;

/// The state of the stage being built.
#[derive(Debug, Clone)]
pub(crate) struct StageState {
    pub index: usize,
    /// The current image (`None`: scratch, nothing built yet).
    pub image: Option<String>,
    pub config: RunConfig,
    pub author: Option<String>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
}

impl StageState {
    pub fn shell(&self) -> Vec<String> {
        match &self.config.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }

    pub fn env(&self) -> Vec<String> {
        self.config.env.clone().unwrap_or_default()
    }
}

/// The running build.
pub(crate) struct Runner {
    pub engine: Arc<Engine>,
    pub ctx: Arc<Context>,
    pub lexer: Lexer,
    pub escape: char,
    pub opts: BuildOptions,
    pub args: BuildArgs,
    pub tx: mpsc::Sender<Event>,
    pub cache_old: BTreeMap<String, String>,
    pub cache_new: BTreeMap<String, String>,
    /// `--cache-from`'s images (`None`: none asked for; see
    /// [`crate::cache_from`]).
    pub sources: Option<CacheSources>,
    step: usize,
    total: usize,
    /// The resulting image of each stage built so far.
    pub stage_images: Vec<Option<String>>,
    pub stage_names: Vec<Option<String>>,
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

impl Runner {
    pub async fn say(&self, text: impl Into<String>) -> Result<(), BuildError> {
        if self.opts.quiet {
            return Ok(());
        }
        self.tx
            .send(Event::Stream(text.into()))
            .await
            .map_err(|_| BuildError::Cancelled)
    }

    pub fn expand(&self, word: &str, st: &StageState) -> Result<String, BuildError> {
        let env = self.args.expand_env(&st.env());
        self.lexer
            .process_word(word, &env)
            .map_err(|source| BuildError::Expand {
                word: word.to_string(),
                source,
            })
    }

    pub fn expand_words(&self, word: &str, st: &StageState) -> Result<Vec<String>, BuildError> {
        let env = self.args.expand_env(&st.env());
        self.lexer
            .process_words(word, &env)
            .map_err(|source| BuildError::Expand {
                word: word.to_string(),
                source,
            })
    }

    /// The step's cache key: the parent, what the step does, and the
    /// resulting config.
    pub fn key(&self, st: &StageState, parts: &[&str]) -> String {
        let config = serde_json::to_string(&st.config).unwrap_or_default();
        let parent = st.image.as_deref().unwrap_or("scratch");
        let mut all = vec![parent, config.as_str()];
        all.extend_from_slice(parts);
        cache::key(&all)
    }

    /// Takes a cache hit: the stage moves to `id`.
    pub async fn use_cache(&self, st: &mut StageState, id: String) -> Result<(), BuildError> {
        self.say(" ---> Using cache\n").await?;
        st.image = Some(id);
        Ok(())
    }

    pub fn record(&mut self, key: String, st: &mut StageState, id: String) {
        self.cache_new.insert(key, id.clone());
        st.image = Some(id);
    }

    pub fn step_image(&self, st: &StageState, created_by: String) -> StepImage {
        StepImage {
            parent: st.image.clone(),
            config: st.config.clone(),
            created_by,
            comment: None,
            author: st.author.clone(),
            container: None,
            container_config: None,
        }
    }

    /// A config-only step: its history text is `#(nop)` and `comment`.
    pub async fn commit_config(
        &mut self,
        st: &mut StageState,
        comment: &str,
    ) -> Result<(), BuildError> {
        let created_by = crate::history::nop(&st.shell(), comment);
        let key = self.key(st, &[&created_by]);
        if let Some(id) = self.probe(st, &key, Some(&created_by)).await? {
            return self.use_cache(st, id).await;
        }
        let step = self.step_image(st, created_by);
        let id = self
            .engine
            .build_commit_config(step)
            .await
            .map_err(BuildError::Step)?;
        self.record(key, st, id);
        Ok(())
    }

    async fn begin_stage(
        &mut self,
        index: usize,
        df: &Dockerfile,
    ) -> Result<StageState, BuildError> {
        let stage = &df.stages[index];
        let env = self.args.meta_env();
        let base = self
            .lexer
            .process_word(&stage.base, &env)
            .map_err(|source| BuildError::Expand {
                word: stage.base.clone(),
                source,
            })?;
        if let Some(p) = &stage.platform {
            let p = self.lexer.process_word(p, &env).unwrap_or_default();
            if !p.is_empty() {
                check_platform(&p)?;
            }
        }
        self.args.start_stage();
        let lower = base.to_ascii_lowercase();
        let from_stage = self.stage_names[..index]
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()));
        let image = match from_stage {
            Some(j) => self.stage_images[j].clone(),
            None if lower == "scratch" => None,
            None => Some(
                self.engine
                    .image_service()
                    .resolve(&base)
                    .map_err(BuildError::Image)?
                    .id,
            ),
        };
        let config = match &image {
            Some(id) => self
                .engine
                .image_service()
                .resolve(id)
                .map_err(BuildError::Image)?
                .config
                .config
                .unwrap_or_default(),
            None => RunConfig::default(),
        };
        let mut st = StageState {
            index,
            image,
            config,
            author: None,
            cmd_set: false,
        };
        let env = st.config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.into());
        }
        Ok(st)
    }

    async fn run_triggers(&mut self, st: &mut StageState, line: usize) -> Result<(), BuildError> {
        let triggers = st.config.on_build.take().unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        let s = if triggers.len() == 1 { "" } else { "s" };
        self.say(format!("# Executing {} build trigger{s}\n", triggers.len()))
            .await?;
        for t in triggers {
            let bad = |message: String| BuildError::Trigger { line, message };
            let node = trigger_node(&t, self.escape).map_err(bad)?;
            let instruction = parse_instruction(&node, self.escape).map_err(bad)?;
            let cmd = Command {
                line,
                original: t.clone(),
                instruction,
            };
            self.dispatch(st, &cmd).await?;
        }
        Ok(())
    }

    async fn stage(
        &mut self,
        index: usize,
        df: &Dockerfile,
        extra: &[Command],
    ) -> Result<(), BuildError> {
        let stage = &df.stages[index];
        self.step += 1;
        self.say(format!(
            "Step {}/{} : {}",
            self.step, self.total, stage.original
        ))
        .await?;
        self.say("\n").await?;
        let mut st = self.begin_stage(index, df).await?;
        self.run_triggers(&mut st, stage.line).await?;
        self.say(format!(
            " ---> {}\n",
            st.image.as_deref().map(short).unwrap_or_default()
        ))
        .await?;
        for cmd in stage.commands.iter().chain(extra) {
            self.step += 1;
            self.say(format!(
                "Step {}/{} : {}",
                self.step, self.total, cmd.original
            ))
            .await?;
            self.say("\n").await?;
            self.dispatch(&mut st, cmd).await?;
            self.say(format!(
                " ---> {}\n",
                st.image.as_deref().map(short).unwrap_or_default()
            ))
            .await?;
        }
        self.stage_images[index] = st.image.clone();
        Ok(())
    }
}

/// The LABEL steps of the request's `labels`, one per label in key
/// order (as dockerd adds them), quoted so that substitution leaves them
/// as they are.
fn label_commands(labels: &BTreeMap<String, String>, line: usize) -> Vec<Command> {
    let quote = |s: &str| {
        let mut q = String::from("\"");
        for c in s.chars() {
            if matches!(c, '"' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    };
    labels
        .iter()
        .map(|(k, v)| Command {
            line,
            original: format!("LABEL {k}={v}"),
            instruction: Instruction::Label(vec![KeyValue {
                key: quote(k),
                value: quote(v),
            }]),
        })
        .collect()
}

impl Build {
    /// Builds the target, streaming events to `tx`; returns the image ID.
    /// The cache entries of the steps that finished are kept even when a
    /// later step fails.
    pub async fn run(self, tx: mpsc::Sender<Event>) -> Result<String, BuildError> {
        let index = CacheIndex::new(&self.engine.config().data_root);
        let escape = self.df.directives.escape;
        let last = self.df.stages[self.target]
            .commands
            .last()
            .map_or(1, |c| c.line);
        let extra = label_commands(&self.opts.labels, last);
        let total = self
            .df
            .stages
            .iter()
            .enumerate()
            .filter(|(i, _)| self.needed[*i])
            .map(|(_, s)| 1 + s.commands.len())
            .sum::<usize>()
            + extra.len();
        let mut r = Runner {
            engine: self.engine.clone(),
            ctx: self.ctx.clone(),
            lexer: Lexer::new(escape),
            escape,
            opts: self.opts.clone(),
            args: BuildArgs::new(self.opts.build_args.clone()),
            tx: tx.clone(),
            cache_old: index.load(),
            cache_new: BTreeMap::new(),
            sources: (!self.opts.cache_from.is_empty() && !self.opts.no_cache)
                .then(|| CacheSources::load(&self.engine, &self.opts.cache_from)),
            step: 0,
            total,
            stage_images: vec![None; self.df.stages.len()],
            stage_names: self.df.stages.iter().map(|s| s.name.clone()).collect(),
        };
        let result = self.run_stages(&mut r, &extra).await;
        // The steps that finished stay cached, whatever happened after.
        if let Err(e) = index.merge(&r.cache_new) {
            let _ = r.say(format!("[Warning] {e}\n")).await;
        }
        let id = result?;
        let unused = r.args.unused();
        if !unused.is_empty() {
            r.say(format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                unused.join(" ")
            ))
            .await?;
        }
        // Quiet: the ID is all the client gets (dockerd sends no aux then).
        let last = if self.opts.quiet {
            Event::Stream(format!("{id}\n"))
        } else {
            Event::Aux(serde_json::json!({ "ID": id }))
        };
        tx.send(last).await.map_err(|_| BuildError::Cancelled)?;
        r.say(format!("Successfully built {}\n", short(&id)))
            .await?;
        for (repo, tag) in &self.tags {
            // A rebuild that changed nothing leaves the tag where it is:
            // no record to write.
            let current = self
                .engine
                .image_service()
                .resolve(&format!("{repo}:{tag}"));
            if current.ok().map(|r| r.id).as_ref() != Some(&id) {
                self.engine
                    .image_tag(&id, repo, tag)
                    .await
                    .map_err(BuildError::Image)?;
            }
            r.say(format!("Successfully tagged {repo}:{tag}\n")).await?;
        }
        Ok(id)
    }

    async fn run_stages(&self, r: &mut Runner, extra: &[Command]) -> Result<String, BuildError> {
        for c in &self.df.meta_args {
            if let Instruction::Arg(decls) = &c.instruction {
                for d in decls {
                    let env = r.args.meta_env();
                    let v = match &d.default {
                        Some(v) => Some(r.lexer.process_word(v, &env).map_err(|source| {
                            BuildError::Expand {
                                word: v.clone(),
                                source,
                            }
                        })?),
                        None => None,
                    };
                    r.args.add_meta(&d.key, v);
                }
            }
        }
        for i in 0..=self.target {
            if !self.needed[i] {
                continue;
            }
            let extra = if i == self.target { extra } else { &[] };
            r.stage(i, &self.df, extra).await?;
        }
        r.stage_images[self.target]
            .clone()
            .ok_or(BuildError::NoResult)
    }
}

impl From<BuildStepError> for BuildError {
    fn from(e: BuildStepError) -> Self {
        BuildError::Step(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(split_tag("a"), ("a".into(), "latest".into()));
        assert_eq!(split_tag("a:1"), ("a".into(), "1".into()));
        assert_eq!(
            split_tag("host:5000/a/b:v"),
            ("host:5000/a/b".into(), "v".into())
        );
        assert_eq!(
            split_tag("host:5000/a"),
            ("host:5000/a".into(), "latest".into())
        );
    }

    #[test]
    fn platforms() {
        assert!(check_platform("").is_ok());
        assert!(check_platform("linux").is_ok());
        assert!(
            check_platform(&format!(
                "linux/{}",
                if cfg!(target_arch = "x86_64") {
                    "amd64"
                } else {
                    "arm64"
                }
            ))
            .is_ok()
        );
        assert!(check_platform("windows/amd64").is_err());
        assert!(check_platform("linux/s390x").is_err());
    }

    #[test]
    fn only_needed_stages_are_built() {
        let df = Dockerfile::parse(
            "Dockerfile",
            "ARG BASE=one\nFROM busybox AS one\nFROM busybox AS unused\nFROM busybox AS two\nCOPY --from=0 /a /a\nFROM $BASE AS three\nCOPY --from=two /b /b\n",
        )
        .unwrap();
        assert_eq!(
            needed_stages(&df, 3, &BTreeMap::new()),
            [true, false, true, true]
        );
        assert_eq!(
            needed_stages(&df, 1, &BTreeMap::new()),
            [false, true, false, false]
        );
        let mut o = BTreeMap::new();
        o.insert("BASE".to_string(), Some("unused".to_string()));
        assert_eq!(needed_stages(&df, 3, &o), [true, true, true, true]);
    }

    #[test]
    fn label_steps_quote_values() {
        let mut l = BTreeMap::new();
        l.insert("b".to_string(), "x$y z".to_string());
        l.insert("a".to_string(), "1".to_string());
        let c = label_commands(&l, 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].original, "LABEL a=1");
        assert_eq!(c[1].original, "LABEL b=x$y z");
        let env: Vec<String> = vec!["y=no".into()];
        let Instruction::Label(p) = &c[1].instruction else {
            panic!()
        };
        assert_eq!(
            Lexer::default().process_word(&p[0].value, &env).unwrap(),
            "x$y z"
        );
    }
}
