//! `docker rmi` and `docker image prune`.
//!
//! Docker's rules (its daemon's `ImageDelete`), decided as a [`DeletePlan`]
//! before anything changes:
//! - By reference (`rmi busybox`): that reference is removed ("untagged").
//!   Refused without force when it is the image's only reference and a
//!   container uses the image. Removing the last tag of a repository also
//!   removes that repository's digest references. The image itself is
//!   deleted only when no reference is left, and then quietly: if a
//!   container still uses it (or, without force, a stopped one does), it
//!   stays as a dangling image.
//! - By ID (`rmi 1a2b3c`): when all its references are one tag (plus
//!   digests of that repository) they are removed, unless a container
//!   uses it; with several tags only force removes them all. Then the image
//!   is deleted unless a running container uses it, or without force, a
//!   reference is left or a stopped container uses it.
//! - An image that another image names as its parent (one made from it by
//!   commit or build) is never deleted: by ID that is docker's hard
//!   conflict "image has dependent child images"; by tag only the tag goes.
//!
//! Deleting removes all of the image's records in one atomic update;
//! garbage collection then removes the blobs and layer snapshots no other
//! image (and no container's rw layer) needs, and reports the layers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use berth_api_types::image::{DeleteItem, PruneResponse};
use berth_content::Digest;
use berth_content::gc::{self, GcOptions};
use berth_image::Reference;
use berth_image::store::{ImageRoots, ManifestChildren};
use berth_snapshots::Kind;

use super::catalog::{Catalog, Image, is_id_prefix};
use super::error::DeleteConflict;
use super::filters::PruneFilters;
use super::{Error, ImageService};

/// A container that uses an image, as the container service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    pub container: String,
    pub running: bool,
}

/// What one `rmi` does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct DeletePlan {
    /// The image the name resolved to.
    pub image: Option<Digest>,
    /// References to remove, in order.
    pub untag: Vec<Reference>,
    /// Whether the image itself goes (with all its other records).
    pub delete: bool,
}

/// docker's `isSingleReference`: one tag, possibly with digest references
/// of the same repository (or digests of a single repository only).
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical = BTreeSet::new();
    for r in refs {
        if r.digest.is_some() {
            canonical.insert(r.name());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical.len() == 1 && canonical.contains(&single.name())
}

/// Whether an image of `cat` names `img` as its parent (the config's
/// `parent`, which commit and build record): docker's image children.
fn has_children(cat: &Catalog, img: &Image) -> bool {
    let id = img.id_string();
    cat.images
        .iter()
        .any(|i| i.config().extra.get("parent").and_then(|p| p.as_str()) == Some(id.as_str()))
}

/// The first conflict deleting `img` meets, in docker's order: dependent
/// children and a running user always; without force also a remaining
/// reference (when `check_refs`) or a stopped user.
fn conflict(
    children: bool,
    remaining: &[Reference],
    users: &[ImageUser],
    force: bool,
    check_refs: bool,
) -> Option<DeleteConflict> {
    if children {
        return Some(DeleteConflict::DependentChildren);
    }
    if let Some(u) = users.iter().find(|u| u.running) {
        return Some(DeleteConflict::RunningContainer(u.container.clone()));
    }
    if force {
        return None;
    }
    if check_refs && !remaining.is_empty() {
        return Some(DeleteConflict::Referenced);
    }
    users
        .first()
        .map(|u| DeleteConflict::StoppedContainer(u.container.clone()))
}

/// Plans `rmi name` against `cat`; `users` are the containers using the
/// image `name` resolves to.
pub(crate) fn plan_delete(
    cat: &Catalog,
    name: &str,
    force: bool,
    users: &[ImageUser],
) -> Result<DeletePlan, Error> {
    let (img, _) = cat.lookup(name)?;
    let id = img.id_string();
    let mut plan = DeletePlan {
        image: Some(img.id),
        ..DeletePlan::default()
    };
    let refs = &img.refs;
    let children = has_children(cat, img);
    // docker's test: a name that is a prefix of the ID means the ID, even
    // when a tag of the same spelling exists.
    let by_id = is_id_prefix(&id, name);
    if !by_id {
        if !force && is_single_reference(refs) {
            if let Some(u) = users.first() {
                return Err(Error::ReferenceInUse {
                    reference: name.to_string(),
                    container: u.container.clone(),
                    image: id,
                });
            }
        }
        let r = Reference::parse_normalized(name)
            .map_err(Error::InvalidReference)?
            .with_default_tag();
        let mut remaining: Vec<Reference> = refs.iter().filter(|x| **x != r).cloned().collect();
        let same_repo_tag_left = remaining
            .iter()
            .any(|x| x.digest.is_none() && x.name() == r.name());
        plan.untag.push(r.clone());
        if r.digest.is_none() && !same_repo_tag_left {
            let (gone, kept): (Vec<_>, Vec<_>) = remaining
                .into_iter()
                .partition(|x| x.digest.is_some() && x.name() == r.name());
            plan.untag.extend(gone);
            remaining = kept;
        }
        if !remaining.is_empty() {
            return Ok(plan);
        }
        delete_helper(img, children, &remaining, users, force, true, &mut plan)?;
    } else {
        let mut remaining = refs.clone();
        if is_single_reference(refs) {
            if let Some(c) = conflict(children, &[], users, force, false) {
                return Err(Error::DeleteConflict {
                    image: id,
                    conflict: c,
                });
            }
            plan.untag.append(&mut remaining);
        }
        delete_helper(img, children, &remaining, users, force, false, &mut plan)?;
    }
    Ok(plan)
}

/// docker's `imageDeleteHelper`. `quiet`: a conflict leaves the image in
/// place without an error, unless it would be an unused dangling image
/// (no reference and no child).
fn delete_helper(
    img: &Image,
    children: bool,
    remaining: &[Reference],
    users: &[ImageUser],
    force: bool,
    quiet: bool,
    plan: &mut DeletePlan,
) -> Result<(), Error> {
    if let Some(c) = conflict(children, remaining, users, force, true) {
        let dangling = remaining.is_empty() && !children;
        if quiet && (!dangling || c.used()) {
            return Ok(());
        }
        return Err(Error::DeleteConflict {
            image: img.id_string(),
            conflict: c,
        });
    }
    plan.untag.extend(remaining.iter().cloned());
    plan.delete = true;
    Ok(())
}

/// The familiar form `Untagged` shows (digest references without a tag).
fn untagged_name(r: &Reference) -> String {
    let mut r = r.clone();
    if r.digest.is_some() {
        r.tag = None;
    }
    r.familiar_string()
}

/// (image ID, action) pairs of the events to publish: "untag", "delete".
pub(crate) type ImageEvents = Vec<(String, &'static str)>;

/// The containers using each image, by image ID.
pub(crate) type Users = HashMap<String, Vec<ImageUser>>;

/// What an applied plan did, for the response and the events.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub items: Vec<DeleteItem>,
    pub events: ImageEvents,
}

/// What a garbage collection removed.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Layer snapshots (chain IDs), top layers first.
    pub layers: Vec<String>,
    pub bytes: u64,
}

impl ImageService {
    /// `rmi name`: plans, applies, collects garbage. `users` maps image
    /// IDs to the containers using them.
    pub(crate) fn remove_image(
        &self,
        name: &str,
        force: bool,
        users: &Users,
    ) -> Result<Applied, Error> {
        let _ops = self.write_ops();
        let cat = self.catalog()?;
        let (img, _) = cat.lookup(name)?;
        let img_users = users.get(&img.id_string()).cloned().unwrap_or_default();
        let plan = plan_delete(&cat, name, force, &img_users)?;
        let mut applied = self.apply(&cat, &plan)?;
        if plan.delete {
            let c = self.collect()?;
            applied
                .items
                .extend(c.layers.into_iter().map(DeleteItem::deleted));
        }
        Ok(applied)
    }

    /// Applies `plan` to the records in one atomic update.
    fn apply(&self, cat: &Catalog, plan: &DeletePlan) -> Result<Applied, Error> {
        let mut applied = Applied::default();
        let Some(img) = plan.image.and_then(|d| cat.by_id(&d)) else {
            return Ok(applied);
        };
        let id = img.id_string();
        let mut delete: Vec<String> = plan.untag.iter().map(|r| r.to_string()).collect();
        if plan.delete {
            delete.extend(img.records.iter().cloned());
        }
        if delete.is_empty() {
            return Ok(applied);
        }
        self.inner
            .records
            .update(Vec::new(), &delete)
            .map_err(Error::Records)?;
        for r in &plan.untag {
            applied.items.push(DeleteItem::untagged(untagged_name(r)));
            applied.events.push((id.clone(), "untag"));
        }
        if plan.delete {
            applied.items.push(DeleteItem::deleted(id.clone()));
            applied.events.push((id, "delete"));
        }
        Ok(applied)
    }

    /// Removes blobs no record (or lease) references and layer snapshots
    /// no image and no active snapshot (a container's rw layer, an unpack
    /// in progress) sits on. The caller holds the ops lock exclusively.
    pub(crate) fn collect(&self) -> Result<Collected, Error> {
        let inner = &*self.inner;
        let report = gc::collect(
            &inner.content,
            &inner.leases,
            &[&ImageRoots(&inner.records)],
            Some(&ManifestChildren),
            &GcOptions {
                ingest_max_age: Some(std::time::Duration::from_secs(24 * 3600)),
            },
        )
        .map_err(|e| Error::Gc(Box::new(e)))?;
        let cat = self.catalog()?;
        let snap_err = |op, e| Error::snapshot(op, "", e);
        let all = self.sn().list().map_err(|e| snap_err("list", e))?;
        let mut live: BTreeSet<String> = all
            .iter()
            .filter(|i| i.kind != Kind::Committed)
            .map(|i| i.name.clone())
            .collect();
        for img in &cat.images {
            live.extend(img.chain_ids().iter().map(Digest::to_string));
        }
        // Sizes before removal: committed snapshots keep theirs recorded.
        let sizes: BTreeMap<String, u64> = all
            .iter()
            .filter(|i| !live.contains(&i.name))
            .filter_map(|i| Some((i.name.clone(), self.sn().usage(&i.name).ok()?.size)))
            .collect();
        let removed = berth_snapshots::gc::sweep(self.sn(), &live)
            .map_err(|e| snap_err("remove unused", e))?;
        let bytes =
            removed.iter().filter_map(|k| sizes.get(k)).sum::<u64>() + report.reclaimed_bytes;
        Ok(Collected {
            layers: removed,
            bytes,
        })
    }

    /// `image prune`: deletes dangling images (every unused image when
    /// `dangling_only` is false) that match `filters`, ignoring conflicts
    /// as docker does.
    pub(crate) fn prune(
        &self,
        dangling_only: bool,
        filters: &PruneFilters,
        users: &Users,
    ) -> Result<(PruneResponse, ImageEvents), Error> {
        let _ops = self.write_ops();
        let cat = self.catalog()?;
        let mut items = Vec::new();
        let mut events = Vec::new();
        let chosen: Vec<Image> = cat
            .images
            .iter()
            .filter(|i| filters.until.is_none_or(|u| i.created() <= u))
            .filter(|i| filters.matches(i.labels()))
            .filter(|i| !dangling_only || !i.tags().any(|_| true))
            .cloned()
            .collect();
        for img in chosen {
            let id = img.id_string();
            let img_users = users.get(&id).cloned().unwrap_or_default();
            // By each reference in turn, else by ID: the plan of one rmi
            // at a time, each against the records as the previous left them.
            let names: Vec<String> = if img.refs.is_empty() {
                vec![img.id.hex()]
            } else {
                img.refs.iter().map(Reference::to_string).collect()
            };
            for name in names {
                let cat = self.catalog()?;
                match plan_delete(&cat, &name, false, &img_users) {
                    Ok(plan) => {
                        let a = self.apply(&cat, &plan)?;
                        items.extend(a.items);
                        events.extend(a.events);
                    }
                    // Conflicts and names a previous step removed: skip.
                    Err(e) if e.kind() == crate::ErrorKind::Conflict => {}
                    Err(Error::NoSuchImage(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let c = self.collect()?;
        items.extend(c.layers.into_iter().map(DeleteItem::deleted));
        Ok((
            PruneResponse {
                images_deleted: (!items.is_empty()).then_some(items),
                space_reclaimed: c.bytes,
            },
            events,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_image::manifest::{self, Descriptor};
    use berth_image::store::ImageRecord;

    /// A catalog of one image (target byte 1) named by `names` plus its
    /// anchor; returns it with the image ID.
    fn cat(names: &[&str]) -> (Catalog, String) {
        let img = crate::images::catalog::test_image(1);
        let id = img.id.to_string();
        let target = Descriptor {
            media_type: manifest::MT_DOCKER_MANIFEST.into(),
            digest: Digest::of(&[1]),
            size: 1,
            urls: vec![],
            annotations: Default::default(),
            platform: None,
        };
        let records = std::iter::once(id.as_str())
            .chain(names.iter().copied())
            .map(|n| ImageRecord {
                name: n.into(),
                target: target.clone(),
                created_at: 0,
            })
            .collect();
        (
            Catalog::build(records, |_| Ok(Some(img.clone()))).unwrap(),
            id,
        )
    }

    fn untagged(p: &DeletePlan) -> Vec<String> {
        p.untag.iter().map(untagged_name).collect()
    }

    fn stopped() -> Vec<ImageUser> {
        vec![ImageUser {
            container: "c0ffee0123456789".into(),
            running: false,
        }]
    }

    fn running() -> Vec<ImageUser> {
        vec![ImageUser {
            container: "c0ffee0123456789".into(),
            running: true,
        }]
    }

    const BB: &str = "docker.io/library/busybox:latest";
    const B1: &str = "docker.io/library/busybox:1";

    #[test]
    fn by_tag_untags_and_deletes_the_last() {
        let (c, _) = cat(&[BB, B1]);
        let p = plan_delete(&c, "busybox", false, &[]).unwrap();
        assert_eq!(
            (untagged(&p), p.delete),
            (vec!["busybox:latest".into()], false)
        );
        let (c, _) = cat(&[BB]);
        let p = plan_delete(&c, "busybox:latest", false, &[]).unwrap();
        assert_eq!(
            (untagged(&p), p.delete),
            (vec!["busybox:latest".into()], true)
        );
    }

    #[test]
    fn by_tag_of_a_used_image_needs_force() {
        let (c, id) = cat(&[BB]);
        let e = plan_delete(&c, "busybox", false, &stopped()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "conflict: unable to remove repository reference \"busybox\" (must force) - container c0ffee012345 is using its referenced image {}",
                &id[7..19]
            )
        );
        // Forced: untagged; a stopped user does not keep it (docker
        // deletes it), a running one does, quietly.
        let p = plan_delete(&c, "busybox", true, &stopped()).unwrap();
        assert_eq!(
            (untagged(&p), p.delete),
            (vec!["busybox:latest".into()], true)
        );
        let p = plan_delete(&c, "busybox", true, &running()).unwrap();
        assert_eq!(
            (untagged(&p), p.delete),
            (vec!["busybox:latest".into()], false)
        );
        // With another tag left, untagging needs no force at all.
        let (c, _) = cat(&[BB, B1]);
        let p = plan_delete(&c, "busybox:1", false, &stopped()).unwrap();
        assert_eq!((untagged(&p), p.delete), (vec!["busybox:1".into()], false));
    }

    #[test]
    fn by_id_with_several_tags_must_be_forced() {
        let (c, id) = cat(&[BB, "docker.io/library/other:v"]);
        let e = plan_delete(&c, &id[7..19], false, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                &id[7..19]
            )
        );
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        let p = plan_delete(&c, &id, true, &[]).unwrap();
        assert_eq!(untagged(&p), ["busybox:latest", "other:v"]);
        assert!(p.delete);
    }

    #[test]
    fn by_id_with_one_tag_untags_and_deletes() {
        let (c, id) = cat(&[BB]);
        let p = plan_delete(&c, &id, false, &[]).unwrap();
        assert_eq!(
            (untagged(&p), p.delete),
            (vec!["busybox:latest".into()], true)
        );
        let e = plan_delete(&c, &id, false, &stopped()).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "(must be forced) - image is being used by stopped container c0ffee012345"
            ),
            "{e}"
        );
        let e = plan_delete(&c, &id, true, &running()).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "(cannot be forced) - image is being used by running container c0ffee012345"
            ),
            "{e}"
        );
        // A dangling image by ID.
        let (c, id) = cat(&[]);
        let p = plan_delete(&c, &id[7..], false, &[]).unwrap();
        assert_eq!((p.untag.len(), p.delete), (0, true));
    }

    #[test]
    fn digests_of_the_repository_go_with_its_last_tag() {
        let d = format!("docker.io/library/busybox@{}", Digest::of(b"m"));
        let (c, _) = cat(&[BB, &d]);
        assert!(is_single_reference(&c.images[0].refs));
        let p = plan_delete(&c, "busybox", false, &[]).unwrap();
        assert_eq!(
            untagged(&p),
            [
                "busybox:latest".to_string(),
                format!("busybox@{}", Digest::of(b"m"))
            ]
        );
        assert!(p.delete);
    }

    #[test]
    fn images_with_children_are_not_deleted() {
        // Image 2 was committed from image 1 (its config names the parent).
        let parent = crate::images::catalog::test_image(1);
        let mut child_cfg = crate::images::catalog::test_image(2).config.clone();
        child_cfg
            .extra
            .insert("parent".into(), parent.id.to_string().into());
        let child = std::sync::Arc::new(crate::images::catalog::Resolved {
            id: Digest::of(&child_cfg.to_bytes()),
            manifest: parent.manifest.clone(),
            config: child_cfg,
        });
        let rec = |name: &str, n: u8| ImageRecord {
            name: name.into(),
            target: Descriptor {
                media_type: manifest::MT_DOCKER_MANIFEST.into(),
                digest: Digest::of(&[n]),
                size: 1,
                urls: vec![],
                annotations: Default::default(),
                platform: None,
            },
            created_at: 0,
        };
        let (pid, cid) = (parent.id.to_string(), child.id.to_string());
        let records = vec![rec(&pid, 1), rec(BB, 1), rec(&cid, 2)];
        let c = Catalog::build(records, |t| {
            Ok(Some(if t.digest == Digest::of(&[1]) {
                parent.clone()
            } else {
                child.clone()
            }))
        })
        .unwrap();
        for force in [false, true] {
            let e = plan_delete(&c, &pid[7..19], force, &[]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    &pid[7..19]
                )
            );
            assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        }
        // By tag: the tag goes, the image stays (it is not dangling).
        let p = plan_delete(&c, "busybox", false, &[]).unwrap();
        assert_eq!(
            (untagged(&p), p.delete),
            (vec!["busybox:latest".into()], false)
        );
        // The child itself has no children.
        let p = plan_delete(&c, &cid, false, &[]).unwrap();
        assert!(p.delete);
    }

    #[test]
    fn missing_names_are_not_found() {
        let (c, _) = cat(&[BB]);
        let e = plan_delete(&c, "nope", false, &[]).unwrap_err();
        assert_eq!(e.to_string(), "No such image: nope:latest");
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
    }
}
