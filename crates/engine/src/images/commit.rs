//! `POST /commit` (`docker commit`): a new image from a container's
//! read-write layer.
//!
//! The new image is the container's image plus one layer, the diff of the
//! container's rw snapshot (a layer tar, stored uncompressed, so its digest
//! is its diff ID). Its config follows dockerd 20.10: the request's config
//! (the container's own when the request has none), with the
//! Dockerfile-style `changes` applied, then merged with the container's
//! config ([`merge`]); the history gains one entry (author, comment, the
//! container's command as `created_by`), marked empty when the container
//! changed nothing (dockerd then adds no layer either). The parent image is
//! recorded in the config's legacy `parent` field, which inspect reports.
//!
//! A running container is paused for the diff unless `pause` is false, so
//! the layer is a consistent picture of one instant.
//!
//! The layer leaves out what docker keeps in a container's "init" layer
//! rather than its rw layer: the mount points the runtime creates for
//! `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, `/dev`, `/proc`,
//! `/sys` (berth's runtime creates them in the rw layer), with the
//! directories they alone changed. Volume and bind mount points stay, as
//! in docker's commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api_types::container::Config;
use berth_content::{Committed, ContentError, Digest};
use berth_image::config::{History, ImageConfig, RunConfig};
use berth_image::import::{ImportError, apply_changes, blob_descriptor, unique};
use berth_image::manifest::{Descriptor, MT_DOCKER_LAYER};
use berth_snapshots::SnapshotError;
use berth_snapshots::diff::Exclude;

use super::transfer::import_reference;
use super::{Error, ImageService};
use crate::{Engine, ErrorKind};

/// Errors of a commit.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{0}")]
    Container(#[source] crate::containers::Error),
    #[error("{0}")]
    Image(#[source] Error),
    #[error("You cannot commit container {id} which is Dead")]
    Dead { id: String },
    #[error("You cannot commit container {id} which is being removed")]
    Removing { id: String },
    /// A change whose instruction a commit does not take (docker's words).
    #[error("{0} is not a valid change command")]
    InvalidChange(String),
    #[error("invalid change {change:?}: {reason}")]
    BadChange {
        change: String,
        reason: &'static str,
    },
    #[error("invalid commit config: {0}")]
    BadConfig(#[source] serde_json::Error),
    /// A config that does not survive the conversion between the container
    /// and the image shapes (both are dockerd's `container.Config`).
    #[error("commit container {id}: convert config: {source}")]
    ConvertConfig {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("commit container {id}: store {what}: {source}")]
    Content {
        id: String,
        what: &'static str,
        #[source]
        source: Box<ContentError>,
    },
    /// A failure and the failure to unpause the container afterwards.
    #[error("{primary} (and unpausing the container: {unpause})")]
    Unpause {
        #[source]
        primary: Box<CommitError>,
        unpause: crate::containers::Error,
    },
}

impl CommitError {
    /// The Engine API class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommitError::Container(e) => e.kind(),
            CommitError::Image(e) => e.kind(),
            CommitError::Dead { .. } | CommitError::Removing { .. } => ErrorKind::Conflict,
            CommitError::InvalidChange(_)
            | CommitError::BadChange { .. }
            | CommitError::BadConfig(_) => ErrorKind::InvalidArgument,
            CommitError::ConvertConfig { .. } | CommitError::Content { .. } => ErrorKind::Internal,
            CommitError::Unpause { primary, .. } => primary.kind(),
        }
    }
}

/// What `POST /commit` asks for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `repo` and `tag`: the new image's tag (none: untagged).
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: String,
    pub author: String,
    /// Pause a running container during the commit (dockerd's default).
    pub pause: bool,
    /// Dockerfile instructions (`CMD`, `ENV`, ...).
    pub changes: Vec<String>,
    /// The request body's config; the container's when `None`.
    pub config: Option<Config>,
}

/// The instructions dockerd's commit accepts.
const COMMIT_INSTRUCTIONS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn keyword(change: &str) -> String {
    change
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn change_err(e: ImportError) -> CommitError {
    match e {
        ImportError::InvalidChange(kw) => CommitError::InvalidChange(kw),
        ImportError::BadChange { change, reason } => CommitError::BadChange { change, reason },
        other => CommitError::BadChange {
            change: other.to_string(),
            reason: "unexpected",
        },
    }
}

/// The body's config: none for an empty body or `null` (the CLI sends
/// nothing), else a `container.Config` object.
pub fn parse_body_config(body: &[u8]) -> Result<Option<Config>, CommitError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Option<Config>>(body).map_err(CommitError::BadConfig)
}

/// Applies `changes` to `base` as dockerd's `BuildFromConfig` does: each
/// instruction in order; an `ENTRYPOINT` before any `CMD` clears the
/// command (a Dockerfile's rule).
pub fn apply_commit_changes(base: &Config, changes: &[String]) -> Result<Config, CommitError> {
    for c in changes {
        let kw = keyword(c);
        if !COMMIT_INSTRUCTIONS.contains(&kw.as_str()) {
            return Err(CommitError::InvalidChange(kw));
        }
    }
    let conv = |source| CommitError::ConvertConfig {
        id: String::new(),
        source,
    };
    let mut rc: RunConfig = serde_json::to_value(base)
        .and_then(serde_json::from_value)
        .map_err(conv)?;
    let mut cmd_set = false;
    for c in changes {
        apply_changes(&mut rc, std::slice::from_ref(c)).map_err(change_err)?;
        match keyword(c).as_str() {
            "CMD" => cmd_set = true,
            "ENTRYPOINT" if !cmd_set => rc.cmd = None,
            _ => {}
        }
    }
    serde_json::to_value(&rc)
        .and_then(serde_json::from_value)
        .map_err(conv)
}

fn env_key(e: &str) -> &str {
    e.split('=').next().unwrap_or(e)
}

/// dockerd's `merge(userConf, imageConf)`: what the user's config leaves
/// unset comes from the container's; lists and maps are unions where the
/// user's entries win.
pub fn merge(user: &mut Config, container: &Config) {
    if user.user.is_empty() {
        user.user = container.user.clone();
    }
    match (&mut user.exposed_ports, &container.exposed_ports) {
        (Some(u), Some(c)) if !u.is_empty() => {
            for (k, v) in c {
                u.entry(k.clone()).or_insert(*v);
            }
        }
        (u, c) => {
            if u.as_ref().is_none_or(BTreeMap::is_empty) {
                *u = c.clone();
            }
        }
    }
    match &mut user.env {
        Some(u) if !u.is_empty() => {
            for e in container.env.iter().flatten() {
                if !u.iter().any(|x| env_key(x) == env_key(e)) {
                    u.push(e.clone());
                }
            }
        }
        u => *u = container.env.clone(),
    }
    let labels = user.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in container.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if user.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if user.cmd.as_ref().is_none_or(Vec::is_empty) {
            user.cmd = container.cmd.clone();
            user.args_escaped = container.args_escaped;
        }
        if user.entrypoint.is_none() {
            user.entrypoint = container.entrypoint.clone();
        }
    }
    match (&mut user.healthcheck, &container.healthcheck) {
        (None, Some(c)) => user.healthcheck = Some(c.clone()),
        (Some(u), Some(c)) => {
            if u.test.as_ref().is_none_or(Vec::is_empty) {
                u.test = c.test.clone();
            }
            if u.interval == 0 {
                u.interval = c.interval;
            }
            if u.timeout == 0 {
                u.timeout = c.timeout;
            }
            if u.start_period == 0 {
                u.start_period = c.start_period;
            }
            if u.retries == 0 {
                u.retries = c.retries;
            }
        }
        _ => {}
    }
    if user.working_dir.is_empty() {
        user.working_dir = container.working_dir.clone();
    }
    match (&mut user.volumes, &container.volumes) {
        (Some(u), Some(c)) if !u.is_empty() => {
            for (k, v) in c {
                u.insert(k.clone(), *v);
            }
        }
        (u, c) => *u = c.clone(),
    }
    if user.stop_signal.is_empty() {
        user.stop_signal = container.stop_signal.clone();
    }
}

/// The digest of an empty layer tar (two zero blocks): dockerd adds no
/// layer for it.
fn empty_layer_digest() -> Digest {
    Digest::of(&[0u8; 1024])
}

/// Everything the blocking part of a commit needs.
struct Plan {
    container_id: String,
    parent: String,
    config: Config,
    container_config: Config,
    author: String,
    comment: String,
    reference: Option<berth_image::Reference>,
}

fn desc(media_type: &str, c: &Committed) -> Descriptor {
    blob_descriptor(media_type, c.digest, c.size)
}

impl ImageService {
    /// The rw layer of container `key` as a layer tar, without the paths
    /// of docker's init layer (see the module doc).
    fn diff_without_init_paths(
        &self,
        key: &str,
        out: &mut dyn std::io::Write,
    ) -> Result<(), Error> {
        let exclude = Exclude::new(crate::containers::changes::INIT_PATHS);
        self.sn()
            .diff_excluding(key, &exclude, out)
            .map_err(|source| match source {
                SnapshotError::NotFound(k) => Error::NoSuchRootfs(k),
                e => Error::snapshot("diff", key, e),
            })
    }

    /// Writes the new image (layer, config, manifest, anchor record),
    /// unpacks it and tags it; returns its ID.
    fn commit_blocking(&self, plan: &Plan) -> Result<String, CommitError> {
        let _ops = self.read_ops();
        let id = &plan.container_id;
        let cerr = |what| {
            move |source| CommitError::Content {
                id: id.clone(),
                what,
                source: Box::new(source),
            }
        };
        let cat = self.catalog().map_err(CommitError::Image)?;
        let parent = cat.by_id_str(&plan.parent).map_err(CommitError::Image)?;
        let content = &self.inner.content;

        // The layer: the rw snapshot's diff, stored as it is written.
        let layer_ref = format!("commit-layer-{}", unique());
        let mut w = content.writer(&layer_ref, None).map_err(cerr("layer"))?;
        w.reset().map_err(cerr("layer"))?;
        if let Err(e) = self.diff_without_init_paths(id, &mut w) {
            drop(w);
            let _ = content.abort(&layer_ref);
            return Err(CommitError::Image(e));
        }
        let layer = if w.digest() == empty_layer_digest() {
            drop(w);
            // Nothing to keep: the ingest is the empty tar.
            let _ = content.abort(&layer_ref);
            None
        } else {
            Some(match w.commit(None, None) {
                Ok(c) => c,
                Err(ContentError::AlreadyExists(d)) => {
                    let size = content.info(&d).map_err(cerr("layer"))?.size;
                    Committed {
                        digest: d,
                        size,
                        created: false,
                    }
                }
                Err(e) => return Err(cerr("layer")(e)),
            })
        };

        let pc = parent.config();
        let conv = |source| CommitError::ConvertConfig {
            id: id.clone(),
            source,
        };
        let run: RunConfig = serde_json::to_value(&plan.config)
            .and_then(serde_json::from_value)
            .map_err(conv)?;
        let created = jiff::Timestamp::now().to_string();
        let mut rootfs = pc.rootfs.clone();
        if let Some(l) = &layer {
            rootfs.diff_ids.push(l.digest);
        }
        let mut history = pc.history.clone();
        history.push(History {
            created: Some(created.clone()),
            created_by: Some(
                plan.container_config
                    .cmd
                    .clone()
                    .unwrap_or_default()
                    .join(" "),
            ),
            author: Some(plan.author.clone()).filter(|a| !a.is_empty()),
            comment: Some(plan.comment.clone()).filter(|c| !c.is_empty()),
            empty_layer: layer.is_none(),
        });
        let mut extra = serde_json::Map::new();
        extra.insert("container".into(), id.clone().into());
        extra.insert(
            "container_config".into(),
            serde_json::to_value(&plan.container_config).map_err(conv)?,
        );
        if !plan.comment.is_empty() {
            extra.insert("comment".into(), plan.comment.clone().into());
        }
        extra.insert("parent".into(), parent.id_string().into());
        for k in ["os.version", "os.features"] {
            if let Some(v) = pc.extra.get(k) {
                extra.insert(k.into(), v.clone());
            }
        }
        let config = ImageConfig {
            created: Some(created),
            author: Some(plan.author.clone()).filter(|a| !a.is_empty()),
            architecture: pc.architecture.clone(),
            os: pc.os.clone(),
            variant: pc.variant.clone(),
            config: Some(run),
            rootfs,
            history,
            extra,
        };
        let mut layers = parent.resolved.manifest.layers.clone();
        if let Some(l) = &layer {
            layers.push(desc(MT_DOCKER_LAYER, l));
        }
        let (c, mut target) =
            berth_image::import::write_config_and_manifest(content, &config, layers, "commit")
                .map_err(|(what, source)| cerr(what)(source))?;
        target.platform = Some(self.inner.platform.clone());
        let new_id = c.digest.to_string();
        self.inner
            .records
            .put_all(vec![berth_image::ImageRecord {
                name: new_id.clone(),
                target,
                created_at: jiff::Timestamp::now().as_second(),
            }])
            .map_err(|e| CommitError::Image(Error::Records(e)))?;
        let cat = self.catalog().map_err(CommitError::Image)?;
        let img = cat.by_id_str(&new_id).map_err(CommitError::Image)?;
        self.unpack(img).map_err(CommitError::Image)?;
        if let Some(r) = &plan.reference {
            self.put_tag(img, r).map_err(CommitError::Image)?;
        }
        Ok(new_id)
    }
}

impl Engine {
    /// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`:
    /// returns the new image's ID. Publishes the container's `commit`
    /// event (attributes `comment`, `imageID`, `imageRef`) and, when
    /// tagged, the image's `tag`.
    pub async fn container_commit(
        self: &Arc<Self>,
        reference: &str,
        opts: CommitOptions,
    ) -> Result<String, CommitError> {
        // Everything the request can get wrong is refused before the
        // container is touched.
        let c = self
            .containers
            .get(reference)
            .map_err(CommitError::Container)?;
        let tag_ref = import_reference(opts.repo.as_deref(), opts.tag.as_deref())
            .map_err(CommitError::Image)?;
        let rec = c.snapshot();
        if rec.state.dead {
            return Err(CommitError::Dead { id: rec.id });
        }
        if rec.state.removing {
            return Err(CommitError::Removing { id: rec.id });
        }
        let base = opts.config.clone().unwrap_or_else(|| rec.config.clone());
        let mut config = apply_commit_changes(&base, &opts.changes)?;
        merge(&mut config, &rec.config);
        let plan = Plan {
            container_id: rec.id.clone(),
            parent: rec.image.clone(),
            config,
            container_config: rec.config.clone(),
            author: opts.author.clone(),
            comment: opts.comment.clone(),
            reference: tag_ref.clone(),
        };

        let paused = if opts.pause && rec.state.running && !rec.state.paused {
            match self.container_pause(&rec.id).await {
                Ok(()) => true,
                // It stopped (or began a restart) meanwhile: its layer
                // holds still without a pause.
                Err(
                    crate::containers::Error::NotRunning { .. }
                    | crate::containers::Error::Restarting { .. }
                    | crate::containers::Error::AlreadyPaused { .. },
                ) => false,
                Err(e) => return Err(CommitError::Container(e)),
            }
        } else {
            false
        };
        let svc = self.images.clone();
        let result = tokio::task::spawn_blocking(move || svc.commit_blocking(&plan))
            .await
            .map_err(|e| CommitError::Image(Error::Task(e)))
            .and_then(|r| r);
        if paused {
            match self.container_unpause(&rec.id).await {
                // It exited while paused (killed): nothing left to thaw.
                Ok(()) | Err(crate::containers::Error::NotPaused { .. }) => {}
                Err(unpause) => {
                    return Err(match result {
                        Err(primary) => CommitError::Unpause {
                            primary: Box::new(primary),
                            unpause,
                        },
                        Ok(_) => CommitError::Container(unpause),
                    });
                }
            }
        }
        let new_id = result?;
        let image_ref = tag_ref.as_ref().map(|r| r.familiar_string());
        if let Some(name) = &image_ref {
            self.image_event("tag", &new_id, name, BTreeMap::new());
        }
        self.container_event(
            &c,
            "commit",
            &[
                ("comment", opts.comment.clone()),
                ("imageID", new_id.clone()),
                ("imageRef", image_ref.unwrap_or_default()),
            ],
        );
        Ok(new_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: serde_json::Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn changes_apply_on_the_container_config_then_merge() {
        let container = cfg(serde_json::json!({
            "Env": ["PATH=/bin", "A=1"],
            "Cmd": ["sh", "-c", "echo hi > /f"],
            "WorkingDir": "/w",
            "Labels": {"l": "1"},
            "Image": "busybox",
        }));
        let changes = vec![
            r#"CMD ["cat", "/f"]"#.to_string(),
            "ENV A=2 B=3".to_string(),
        ];
        let mut c = apply_commit_changes(&container, &changes).unwrap();
        merge(&mut c, &container);
        assert_eq!(c.cmd.as_deref().unwrap(), ["cat", "/f"]);
        assert_eq!(c.env.as_deref().unwrap(), ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(c.working_dir, "/w");
        assert_eq!(c.labels.unwrap()["l"], "1");
        assert_eq!(c.image, "busybox");
    }

    #[test]
    fn entrypoint_before_cmd_clears_the_command() {
        let container = cfg(serde_json::json!({"Cmd": ["sh"]}));
        let c = apply_commit_changes(&container, &[r#"ENTRYPOINT ["/e"]"#.into()]).unwrap();
        assert_eq!(c.cmd, None);
        let mut m = c.clone();
        merge(&mut m, &container);
        assert_eq!(m.cmd, None, "an entrypoint keeps the container's cmd out");
        let c = apply_commit_changes(
            &container,
            &[r#"CMD ["x"]"#.into(), r#"ENTRYPOINT ["/e"]"#.into()],
        )
        .unwrap();
        assert_eq!(c.cmd.as_deref().unwrap(), ["x"]);
    }

    #[test]
    fn user_config_wins_and_fills_from_the_container() {
        let container = cfg(serde_json::json!({
            "User": "1", "Env": ["A=1", "C=1"], "Cmd": ["c"], "StopSignal": "SIGINT",
            "Volumes": {"/v": {}},
        }));
        let mut user = cfg(serde_json::json!({"Env": ["A=2"]}));
        merge(&mut user, &container);
        assert_eq!(user.user, "1");
        assert_eq!(user.env.as_deref().unwrap(), ["A=2", "C=1"]);
        assert_eq!(user.cmd.as_deref().unwrap(), ["c"]);
        assert_eq!(user.stop_signal, "SIGINT");
        assert!(user.volumes.unwrap().contains_key("/v"));
    }

    #[test]
    fn invalid_changes_and_bodies_are_refused() {
        let c = Config::default();
        let e = apply_commit_changes(&c, &["RUN true".into()]).unwrap_err();
        assert_eq!(e.to_string(), "RUN is not a valid change command");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(apply_commit_changes(&c, &["EXPOSE 99999".into()]).is_err());
        assert!(parse_body_config(b"").unwrap().is_none());
        assert!(parse_body_config(b"null").unwrap().is_none());
        let got = parse_body_config(br#"{"Cmd":["x"]}"#).unwrap().unwrap();
        assert_eq!(got.cmd.as_deref().unwrap(), ["x"]);
        assert!(matches!(
            parse_body_config(b"{oops"),
            Err(CommitError::BadConfig(_))
        ));
    }
}
