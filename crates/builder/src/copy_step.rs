//! COPY and ADD: their sources (context files, heredocs, downloads, a
//! stage's or an image's files), the cache key and history text made of
//! the sources' checksum, and the layer written into a build rootfs.

use crate::build::{BuildError, Runner, StageState};
use crate::copy::{self, CopyError, CopyPlan, Source, SourceRoot};
use crate::history::nop_one;
use crate::instructions::Copy;
use crate::lex::NoVars;

/// The sources `words` name in `root` (none for no words), then
/// `contents`.
fn sources_of(
    root: SourceRoot<'_>,
    words: &[String],
    contents: Vec<Source>,
) -> Result<Vec<Source>, CopyError> {
    let mut all = if words.is_empty() {
        Vec::new()
    } else {
        copy::resolve_sources(root, words)?
    };
    all.extend(contents);
    Ok(all)
}

impl Runner {
    /// Runs COPY (`add` false) or ADD.
    pub(crate) async fn copy(
        &mut self,
        st: &mut StageState,
        c: &Copy,
        add: bool,
    ) -> Result<(), BuildError> {
        let keyword = if add { "ADD" } else { "COPY" };
        let cerr = move |source| BuildError::Copy { keyword, source };
        let dest_raw = self.expand(&c.dest, st)?;
        let dest = copy::normalize_dest(&st.config.working_dir, &dest_raw);
        let chown = match &c.chown {
            Some(o) => Some(self.expand(o, st)?),
            None => None,
        };
        let chmod = match &c.chmod {
            Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| BuildError::Invalid {
                what: "chmod",
                value: m.clone(),
                reason: "not an octal mode".into(),
            })?),
            None => None,
        };
        // The sources: heredocs, downloads, and paths.
        let env = self.args.expand_env(&st.env());
        let mut contents: Vec<Source> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        for w in &c.sources {
            let heredoc = w
                .strip_prefix("<<")
                .map(|n| n.trim_start_matches('-'))
                .and_then(|n| {
                    let n = self.lexer.process_word(n, &NoVars).unwrap_or_default();
                    c.heredocs.iter().find(|h| h.name == n)
                });
            if let Some(h) = heredoc {
                let data = if h.expand {
                    self.lexer
                        .process_word(&h.content, &env)
                        .unwrap_or_else(|_| h.content.clone())
                } else {
                    h.content.clone()
                };
                contents.push(Source::Content {
                    name: h.name.clone(),
                    data: data.into_bytes(),
                    mode: 0o644,
                    mtime: None,
                });
                continue;
            }
            let w = self.expand(w, st)?;
            if add && (w.starts_with("http://") || w.starts_with("https://")) {
                contents.push(
                    copy::download(&w, c.checksum.as_deref())
                        .await
                        .map_err(cerr)?,
                );
                continue;
            }
            words.push(w);
        }
        let from = match &c.from {
            Some(f) => Some(self.source_image(f, st)?),
            None => None,
        };
        let flags = format!("{chown:?} {chmod:?} {add}");
        // A checksum of what is copied; for an image source the image ID
        // and paths say it all (images do not change).
        let (label, key) = match &from {
            Some(img) => {
                let key = self.key(st, &[keyword, img, &words.join("\n"), &dest, &flags]);
                (None, key)
            }
            None => {
                let ctx = self.ctx.clone();
                let words2 = words.clone();
                let contents2 = contents.clone();
                let label = tokio::task::spawn_blocking(move || {
                    let root = SourceRoot::Context(&ctx);
                    copy::checksum(root, &sources_of(root, &words2, contents2)?)
                })
                .await
                .map_err(BuildError::Task)?
                .map_err(cerr)?;
                let key = self.key(st, &[keyword, &label, &dest, &flags]);
                (Some(label), key)
            }
        };
        // An image source's checksum needs its files: with cache sources
        // to match (by history text) it is taken before the probe.
        let mut src_rootfs = None;
        let mut label = label;
        if let (Some(img), true) = (&from, self.sources.is_some()) {
            let r = self.engine.build_rootfs(Some(img.clone())).await?;
            let path = r.path().to_path_buf();
            let words2 = words.clone();
            let contents2 = contents.clone();
            let sum = tokio::task::spawn_blocking(move || {
                let root = SourceRoot::Rootfs(&path);
                copy::checksum(root, &sources_of(root, &words2, contents2)?)
            })
            .await
            .map_err(BuildError::Task)
            .and_then(|r| r.map_err(cerr));
            match sum {
                Ok(l) => label = Some(l),
                Err(e) => {
                    let _ = self.engine.build_rootfs_release(r).await;
                    return Err(e);
                }
            }
            src_rootfs = Some(r);
        }
        let shell = st.shell();
        let created_by =
            |label: &str| nop_one(&shell, &format!("{keyword} {label} in {dest_raw} "));
        let probe_text = label.as_deref().map(created_by);
        match self.probe(st, &key, probe_text.as_deref()).await {
            Ok(None) => {}
            other => {
                if let Some(s) = src_rootfs.take() {
                    let _ = self.engine.build_rootfs_release(s).await;
                }
                if let Some(id) = other? {
                    return self.use_cache(st, id).await;
                }
            }
        }
        let src_rootfs = match (src_rootfs, &from) {
            (Some(r), _) => Some(r),
            (None, Some(img)) => Some(self.engine.build_rootfs(Some(img.clone())).await?),
            (None, None) => None,
        };
        let rootfs = match self.engine.build_rootfs(st.image.clone()).await {
            Ok(r) => r,
            Err(e) => {
                if let Some(s) = src_rootfs {
                    let _ = self.engine.build_rootfs_release(s).await;
                }
                return Err(e.into());
            }
        };
        let ctx = self.ctx.clone();
        let dst = rootfs.path().to_path_buf();
        let src = src_rootfs.as_ref().map(|r| r.path().to_path_buf());
        let done = tokio::task::spawn_blocking(move || {
            let root = match &src {
                Some(p) => SourceRoot::Rootfs(p),
                None => SourceRoot::Context(&ctx),
            };
            let all = sources_of(root, &words, contents)?;
            let owner = match &chown {
                Some(o) => copy::resolve_owner(&dst, o)?,
                None => (0, 0),
            };
            let plan = CopyPlan {
                dest,
                owner,
                chmod,
                unpack_archives: add,
                keyword,
            };
            copy::perform(&dst, root, &plan, &all)?;
            match label {
                Some(l) => Ok(l),
                None => copy::checksum(root, &all),
            }
        })
        .await;
        if let Some(s) = src_rootfs {
            let _ = self.engine.build_rootfs_release(s).await;
        }
        let label = match done.map_err(BuildError::Task).and_then(|r| r.map_err(cerr)) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.engine.build_rootfs_release(rootfs).await;
                return Err(e);
            }
        };
        let step = self.step_image(st, created_by(&label));
        let id = self.engine.build_commit_rootfs(rootfs, step).await?;
        self.record(key, st, id);
        Ok(())
    }

    /// The image a `--from` names: a previous stage (by name or index) or
    /// an image.
    fn source_image(&self, f: &str, st: &StageState) -> Result<String, BuildError> {
        let f = self
            .lexer
            .process_word(f, &self.args.meta_env())
            .unwrap_or_else(|_| f.to_string());
        let lower = f.to_ascii_lowercase();
        let stage = self.stage_names[..st.index]
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()))
            .or_else(|| f.parse::<usize>().ok().filter(|i| *i < st.index));
        if let Some(j) = stage {
            return self.stage_images[j]
                .clone()
                .ok_or(BuildError::NoImage("copy"));
        }
        Ok(self
            .engine
            .image_service()
            .resolve(&f)
            .map_err(BuildError::Image)?
            .id)
    }
}
