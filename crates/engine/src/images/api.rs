//! The image endpoints as async [`Engine`] methods. Store work is
//! blocking (file IO, fsync, tar streams), so each call runs it on
//! tokio's blocking pool; events are published once the work is done.
//!
//! Request bodies and response streams cross into the blocking pool as
//! `std::io` readers and writers: a caller holding a tokio `AsyncRead` or
//! `AsyncWrite` wraps it in [`ReadBridge`] / [`WriteBridge`].

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use berth_api_types::filters::Filters;
use berth_api_types::image::{DeleteItem, HistoryItem, InspectResponse, PruneResponse, Summary};
use berth_image::Reference;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::catalog::Image;
use super::filters::{ListFilters, PruneFilters, Raw};
use super::remove::{ImageUser, Users};
use super::{DiskUsage, Error, ImageService};
use crate::Engine;
use crate::events::Event;

/// A blocking [`Read`] over a tokio [`AsyncRead`]. Create it inside the
/// runtime; read from it only on a blocking thread (the image methods
/// do), since each read waits for the runtime to deliver bytes.
pub struct ReadBridge<R> {
    inner: R,
    handle: tokio::runtime::Handle,
}

impl<R: AsyncRead + Unpin> ReadBridge<R> {
    /// Panics outside a tokio runtime (as `Handle::current` does).
    pub fn new(inner: R) -> ReadBridge<R> {
        ReadBridge {
            inner,
            handle: tokio::runtime::Handle::current(),
        }
    }
}

impl<R: AsyncRead + Unpin> Read for ReadBridge<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handle.block_on(self.inner.read(buf))
    }
}

/// A blocking [`Write`] over a tokio [`AsyncWrite`]; the same rules as
/// [`ReadBridge`]. The writer is shut down when the save completes.
pub struct WriteBridge<W> {
    inner: W,
    handle: tokio::runtime::Handle,
}

impl<W: AsyncWrite + Unpin> WriteBridge<W> {
    /// Panics outside a tokio runtime (as `Handle::current` does).
    pub fn new(inner: W) -> WriteBridge<W> {
        WriteBridge {
            inner,
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// Shuts the async writer down (end of stream).
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.handle.block_on(self.inner.shutdown())
    }
}

impl<W: AsyncWrite + Unpin> Write for WriteBridge<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.handle.block_on(self.inner.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.handle.block_on(self.inner.flush())
    }
}

/// An image's labels, for event attributes.
fn labels_of(img: &Image) -> BTreeMap<String, String> {
    img.labels().cloned().unwrap_or_default()
}

fn raw(f: &Filters) -> Raw {
    f.keys()
        .map(|k| {
            (
                k.to_string(),
                f.get(k).into_iter().map(String::from).collect(),
            )
        })
        .collect()
}

impl Engine {
    /// The image service, for what runs outside the Engine API's image
    /// endpoints (the container service's rootfs calls, tests).
    pub fn image_service(&self) -> &ImageService {
        &self.images
    }

    /// Runs `f` on the blocking pool with a handle to the image service.
    async fn images_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(ImageService) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let svc = self.images.clone();
        tokio::task::spawn_blocking(move || f(svc))
            .await
            .map_err(Error::Task)?
    }

    /// Publishes an image event; `name` becomes the `name` attribute, on
    /// top of the image's labels (as dockerd does).
    pub(super) fn image_event(
        &self,
        action: &str,
        id: &str,
        name: &str,
        labels: BTreeMap<String, String>,
    ) {
        let mut attrs = labels;
        attrs.insert("name".into(), name.into());
        self.events()
            .publish(Event::new("image", action, id, attrs));
    }

    /// The containers using each image (all images when `only` is None).
    async fn image_users_map(&self, only: Option<String>) -> Result<Users, Error> {
        let ids = match only {
            Some(id) => vec![id],
            None => {
                self.images_blocking(|s| {
                    Ok(s.catalog()?.images.iter().map(|i| i.id_string()).collect())
                })
                .await?
            }
        };
        Ok(ids
            .into_iter()
            .map(|id| {
                let users = self
                    .containers
                    .image_users_running(&id)
                    .into_iter()
                    .map(|(container, running)| ImageUser { container, running })
                    .collect();
                (id, users)
            })
            .collect())
    }

    /// The ID (`sha256:<hex>`) of the image `name` means.
    pub async fn image_resolve(&self, name: &str) -> Result<String, Error> {
        let name = name.to_string();
        self.images_blocking(move |s| s.resolve(&name).map(|r| r.id))
            .await
    }

    /// `GET /images/json`. `digests` changes nothing: like dockerd 20.10,
    /// `RepoDigests` is always filled (the CLI decides what to show).
    /// Neither does `all`: imported and loaded images have no parent
    /// chain of intermediate images to reveal.
    pub async fn image_list(
        &self,
        _all: bool,
        filters: &Filters,
        _digests: bool,
    ) -> Result<Vec<Summary>, Error> {
        let f = ListFilters::parse(&raw(filters))?;
        self.images_blocking(move |s| s.list(&f)).await
    }

    /// `GET /images/{name}/json`.
    pub async fn image_inspect(&self, name: &str) -> Result<InspectResponse, Error> {
        let name = name.to_string();
        self.images_blocking(move |s| s.inspect(&name)).await
    }

    /// `GET /images/{name}/history`.
    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, Error> {
        let name = name.to_string();
        self.images_blocking(move |s| s.history(&name)).await
    }

    /// `POST /images/{name}/tag?repo=&tag=` (201 on success); publishes
    /// "tag".
    pub async fn image_tag(&self, source: &str, repo: &str, tag: &str) -> Result<(), Error> {
        let (source, repo, tag) = (source.to_string(), repo.to_string(), tag.to_string());
        let t = self
            .images_blocking(move |s| s.tag(&source, &repo, &tag))
            .await?;
        self.image_event("tag", &t.id, &t.name, t.labels);
        Ok(())
    }

    /// `DELETE /images/{name}?force=&noprune=`: docker's untag/delete rules
    /// (see the `remove` module); publishes "untag" and "delete".
    /// `noprune` changes nothing: images here have no parent images to
    /// prune.
    pub async fn image_remove(
        &self,
        name: &str,
        force: bool,
        _noprune: bool,
    ) -> Result<Vec<DeleteItem>, Error> {
        let id = self.image_resolve(name).await?;
        // A container created between this and the removal is not seen;
        // its rw snapshot still keeps the layers it sits on.
        let users = self.image_users_map(Some(id)).await?;
        let name = name.to_string();
        let (applied, labels) = self
            .images_blocking(move |s| {
                let labels = s.labels(&name);
                Ok((s.remove_image(&name, force, &users)?, labels))
            })
            .await?;
        for (id, action) in applied.events {
            let labels = if action == "untag" {
                labels.clone()
            } else {
                BTreeMap::new()
            };
            self.image_event(action, &id, &id, labels);
        }
        Ok(applied.items)
    }

    /// `POST /images/create?fromSrc=-`: imports the request body (a
    /// rootfs tarball, plain, gzip or zstd) as a one-layer image tagged
    /// `repo[:tag]` if given; returns its ID. Publishes "tag" (when
    /// tagged) and "import".
    pub async fn image_import<R: Read + Send + 'static>(
        &self,
        reader: R,
        repo: Option<String>,
        tag: Option<String>,
        changes: Vec<String>,
        message: Option<String>,
    ) -> Result<String, Error> {
        let imported = self
            .images_blocking(move |s| {
                s.import(
                    reader,
                    repo.as_deref(),
                    tag.as_deref(),
                    &changes,
                    message.as_deref(),
                )
            })
            .await?;
        let labels = self.image_labels(&imported.id).await;
        if let Some(t) = &imported.tagged {
            self.image_event("tag", &imported.id, t, labels.clone());
        }
        self.image_event("import", &imported.id, &imported.id, labels);
        Ok(imported.id)
    }

    /// `POST /images/create?fromSrc=<url>`: not supported until image
    /// transfer over the network lands; a 400 naming the source.
    pub fn image_import_url(&self, src: &str) -> Result<String, Error> {
        Err(Error::ImportUrl(src.to_string()))
    }

    /// `POST /images/load`: returns docker's output lines ("Loaded image:
    /// busybox:latest", "Loaded image ID: sha256:…") without newlines.
    /// `quiet` only suppresses progress in docker, and no progress is
    /// produced here. Publishes "load" per image.
    pub async fn image_load<R: Read + Send + 'static>(
        &self,
        reader: R,
        _quiet: bool,
    ) -> Result<Vec<String>, Error> {
        let out = self.images_blocking(move |s| s.load(reader)).await?;
        for id in &out.ids {
            let labels = self.image_labels(id).await;
            self.image_event("load", id, id, labels);
        }
        Ok(out.lines)
    }

    /// `GET /images/get?names=…`: writes the images as a `docker save`
    /// archive to `out` and returns it (a [`WriteBridge`] can then be shut
    /// down). Names are all resolved before anything is written, so an
    /// unknown name fails the request cleanly. Publishes "save" per image.
    pub async fn image_save<W: Write + Send + 'static>(
        &self,
        names: Vec<String>,
        out: W,
    ) -> Result<W, Error> {
        let (ids, out) = self
            .images_blocking(move |s| {
                let mut out = out;
                let ids = s.save(&names, &mut out)?;
                out.flush().map_err(|source| Error::Io {
                    op: "flush saved archive",
                    source,
                })?;
                Ok((ids, out))
            })
            .await?;
        for id in &ids {
            let labels = self.image_labels(id).await;
            self.image_event("save", id, id, labels);
        }
        Ok(out)
    }

    /// `POST /images/prune`: `dangling_only` is what the `dangling` filter
    /// says (true unless `dangling=false`); `filters` may also hold
    /// `label`, `label!` and `until`. Publishes "untag"/"delete" per image
    /// and one "prune" with the bytes reclaimed.
    pub async fn image_prune(
        &self,
        dangling_only: bool,
        filters: &Filters,
    ) -> Result<PruneResponse, Error> {
        let f = PruneFilters::parse(&raw(filters), jiff::Timestamp::now())?;
        let users = self.image_users_map(None).await?;
        let (report, events) = self
            .images_blocking(move |s| s.prune(dangling_only, &f, &users))
            .await?;
        for (id, action) in events {
            self.image_event(action, &id, &id, BTreeMap::new());
        }
        let mut attrs = BTreeMap::new();
        attrs.insert("reclaimed".to_string(), report.space_reclaimed.to_string());
        self.events()
            .publish(Event::new("image", "prune", "", attrs));
        Ok(report)
    }

    /// `docker info`'s lines under "Storage Driver".
    pub fn image_driver_status(&self) -> Vec<[String; 2]> {
        self.images.driver_status()
    }

    /// How many images there are (`docker info`).
    pub async fn image_count(&self) -> Result<usize, Error> {
        self.images_blocking(|s| s.image_count()).await
    }

    /// The image part of `GET /system/df`.
    pub async fn image_disk_usage(&self) -> Result<DiskUsage, Error> {
        let users = self.image_users_map(None).await?;
        self.images_blocking(move |s| s.disk_usage(&users)).await
    }

    /// The labels of image `id`, for event attributes (none once it is
    /// gone).
    async fn image_labels(&self, id: &str) -> BTreeMap<String, String> {
        let id = id.to_string();
        self.images_blocking(move |s| Ok(s.labels(&id)))
            .await
            .unwrap_or_default()
    }
}

/// What a tag operation reports for its event.
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    pub id: String,
    /// The new reference as the client wrote it, in familiar form.
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl ImageService {
    /// `docker tag source repo[:tag]`: a tag in `repo` is replaced by
    /// `tag` when that is given; digests and the repository name `sha256`
    /// are refused, as docker does.
    pub(crate) fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<Tagged, Error> {
        let _ops = self.read_ops();
        let cat = self.catalog()?;
        let (img, _) = cat.lookup(source)?;
        let mut r = Reference::parse_normalized(repo).map_err(Error::InvalidReference)?;
        if !tag.is_empty() {
            r = Reference::parse_normalized(&format!("{}:{tag}", r.name())).map_err(|e| {
                Error::InvalidReference(match e {
                    berth_image::ReferenceError::NameTooLong => e,
                    _ => berth_image::ReferenceError::InvalidFormat,
                })
            })?;
        }
        if r.digest.is_some() {
            return Err(Error::TagWithDigest);
        }
        let name = r.familiar_string();
        let r = r.with_default_tag();
        if r.familiar_name() == "sha256" {
            return Err(Error::AmbiguousTag);
        }
        self.put_tag(img, &r)?;
        Ok(Tagged {
            id: img.id_string(),
            name,
            labels: labels_of(img),
        })
    }

    /// The labels of the image `name` means; none when there is no such
    /// image (any more).
    pub(crate) fn labels(&self, name: &str) -> BTreeMap<String, String> {
        self.catalog()
            .ok()
            .and_then(|c| c.lookup(name).ok().map(|(i, _)| labels_of(i)))
            .unwrap_or_default()
    }
}
