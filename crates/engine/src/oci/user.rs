//! The container's user: a docker user string resolved against the
//! rootfs's /etc/passwd and /etc/group, with runc's libcontainer/user
//! rules (which dockerd uses), including their error messages.
//!
//! The forms: "" (root, uid 0), "name" or "uid", either followed by
//! ":group" or ":gid". A name must be in /etc/passwd; a number need not be.
//! A matched user without an explicit group gets its passwd gid and, as
//! supplementary groups, every /etc/group entry listing it as a member.
//! `group_add` entries (names or numbers) come after those.

use std::io::Read;
use std::path::Path;

use oci_spec::runtime::User;
use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::SpecError;

/// The largest uid/gid docker accepts (2^31 - 1, for 32-bit systems).
const MAX_ID: i64 = (1 << 31) - 1;

/// A resolved user: ids and the supplementary gids (the primary gid
/// first, as dockerd lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

impl ResolvedUser {
    pub fn to_oci(&self) -> User {
        let mut user = User::default();
        user.set_uid(self.uid);
        user.set_gid(self.gid);
        user.set_additional_gids(Some(self.additional_gids.clone()));
        user
    }
}

/// One /etc/passwd line.
#[derive(Debug)]
struct PasswdEntry {
    name: String,
    uid: i64,
    gid: i64,
}

/// One /etc/group line.
#[derive(Debug)]
struct GroupEntry {
    name: String,
    gid: i64,
    members: Vec<String>,
}

/// Go's `strconv.Atoi` with the error ignored, as runc parses id fields of
/// misbehaving files: anything unparsable is 0.
fn atoi_or_zero(field: &str) -> i64 {
    field.parse().unwrap_or(0)
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.split(':');
            PasswdEntry {
                name: fields.next().unwrap_or_default().to_string(),
                uid: atoi_or_zero(fields.nth(1).unwrap_or_default()),
                gid: atoi_or_zero(fields.next().unwrap_or_default()),
            }
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .map(str::trim)
        // Like glibc, group files may have comments.
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split(':');
            let name = fields.next().unwrap_or_default().to_string();
            let gid = atoi_or_zero(fields.nth(1).unwrap_or_default());
            let members = fields
                .next()
                .filter(|list| !list.is_empty())
                .map(|list| list.split(',').map(String::from).collect())
                .unwrap_or_default();
            GroupEntry { name, gid, members }
        })
        .collect()
}

/// Reads `/etc/<name>` of the rootfs, symlinks resolved inside the rootfs
/// (RESOLVE_IN_ROOT, openat2(2)): an image's symlink must not make the
/// daemon read a host file. A file that cannot be opened is no file, like
/// runc's GetExecUserPath has it.
fn read_etc(rootfs: &Path, path: &'static str) -> Result<Option<String>, SpecError> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SpecError::OpenRootfs {
        path: rootfs.to_path_buf(),
        source: e.into(),
    })?;
    // The image chooses what these paths are: a fifo must not block the
    // daemon (O_NONBLOCK), a device must not be read (regular files only),
    // and a huge file must not exhaust its memory (1 MiB is far more than
    // any real passwd or group file).
    let fd = match rustix::fs::openat2(
        &root,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => {
            return Err(SpecError::ReadRootfsFile {
                path,
                source: e.into(),
            });
        }
    };
    let file = std::fs::File::from(fd);
    let meta = file
        .metadata()
        .map_err(|source| SpecError::ReadRootfsFile { path, source })?;
    if !meta.is_file() {
        return Err(SpecError::ReadRootfsFile {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file"),
        });
    }
    let mut text = String::new();
    file.take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|source| SpecError::ReadRootfsFile { path, source })?;
    Ok(Some(text))
}

/// Resolves `spec` and `group_add` against the rootfs's files.
pub(crate) fn resolve(
    rootfs: &Path,
    spec: &str,
    group_add: &[String],
) -> Result<ResolvedUser, SpecError> {
    let passwd = read_etc(rootfs, "/etc/passwd")?;
    let group = read_etc(rootfs, "/etc/group")?;
    let passwd = passwd.as_deref().map(parse_passwd);
    let group = group.as_deref().map(parse_group);
    resolve_in(spec, group_add, passwd.as_deref(), group.as_deref())
}

fn resolve_in(
    spec: &str,
    group_add: &[String],
    passwd: Option<&[PasswdEntry]>,
    group: Option<&[GroupEntry]>,
) -> Result<ResolvedUser, SpecError> {
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or_default();
    let group_arg = parts.next().unwrap_or_default();
    let uid_num: Option<i64> = user_arg.parse().ok();
    let gid_num: Option<i64> = group_arg.parse().ok();

    let (mut uid, mut gid) = (0i64, 0i64);
    let matched = passwd
        .unwrap_or_default()
        .iter()
        .find(|u| match (user_arg, uid_num) {
            ("", _) => u.uid == 0,
            (_, Some(n)) => u.uid == n,
            (name, None) => u.name == name,
        });
    let mut matched_name = None;
    match matched {
        Some(entry) => {
            // First match wins, even if there are more.
            matched_name = Some(entry.name.as_str());
            uid = entry.uid;
            gid = entry.gid;
        }
        None if !user_arg.is_empty() => {
            // An unknown name is an error; an unknown number is fine.
            uid = uid_num.ok_or_else(|| SpecError::UserNotFound(user_arg.to_string()))?;
            if !(0..=MAX_ID).contains(&uid) {
                return Err(SpecError::IdOutOfRange);
            }
        }
        None => {}
    }

    let mut supplementary = Vec::new();
    if !group_arg.is_empty() {
        let found = group.unwrap_or_default().iter().find(|g| match gid_num {
            Some(n) => g.gid == n,
            None => g.name == group_arg,
        });
        gid = match found {
            Some(g) => g.gid,
            None => {
                let gid = gid_num.ok_or_else(|| SpecError::GroupNotFound(group_arg.to_string()))?;
                if !(0..=MAX_ID).contains(&gid) {
                    return Err(SpecError::IdOutOfRange);
                }
                gid
            }
        };
    } else if let Some(name) = matched_name {
        // Supplementary groups only in the implicit form.
        supplementary = group
            .unwrap_or_default()
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }

    let extra = additional_groups(group_add, group)?;
    let mut additional_gids = vec![gid as u32];
    additional_gids.extend(supplementary.into_iter().chain(extra).map(|g| g as u32));
    Ok(ResolvedUser {
        uid: uid as u32,
        gid: gid as u32,
        additional_gids,
    })
}

/// `--group-add`: each entry by name or gid from /etc/group (first match),
/// else a number; duplicates of an already added gid count as not found
/// (runc's rule). Order: as given (runc returns a Go map's order).
fn additional_groups(list: &[String], group: Option<&[GroupEntry]>) -> Result<Vec<i64>, SpecError> {
    let mut gids: Vec<i64> = Vec::new();
    for wanted in list {
        let found = group.unwrap_or_default().iter().find(|g| {
            (g.name == *wanted || g.gid.to_string() == *wanted) && !gids.contains(&g.gid)
        });
        let gid = match found {
            Some(g) => g.gid,
            None => {
                let gid: i64 = wanted
                    .parse()
                    .map_err(|_| SpecError::AdditionalGroupNotFound(wanted.clone()))?;
                if !(0..=MAX_ID).contains(&gid) {
                    return Err(SpecError::IdOutOfRange);
                }
                gid
            }
        };
        if !gids.contains(&gid) {
            gids.push(gid);
        }
    }
    Ok(gids)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = include_str!("../../tests/data/oci/passwd");
    const GROUP: &str = include_str!("../../tests/data/oci/group");

    fn resolve_test(spec: &str, group_add: &[&str]) -> Result<ResolvedUser, SpecError> {
        let passwd = parse_passwd(PASSWD);
        let group = parse_group(GROUP);
        let add: Vec<String> = group_add.iter().map(|s| s.to_string()).collect();
        resolve_in(spec, &add, Some(&passwd), Some(&group))
    }

    fn ids(user: ResolvedUser) -> (u32, u32, Vec<u32>) {
        (user.uid, user.gid, user.additional_gids)
    }

    #[test]
    fn forms_of_the_user_string() {
        assert_eq!(ids(resolve_test("", &[]).unwrap()), (0, 0, vec![0]));
        assert_eq!(ids(resolve_test("root", &[]).unwrap()), (0, 0, vec![0]));
        // alice is a member of users (100) and audio (29).
        assert_eq!(
            ids(resolve_test("alice", &[]).unwrap()),
            (1000, 1000, vec![1000, 100, 29])
        );
        assert_eq!(
            ids(resolve_test("1000", &[]).unwrap()),
            (1000, 1000, vec![1000, 100, 29])
        );
        // An explicit group replaces the gid and drops the memberships.
        assert_eq!(
            ids(resolve_test("bob:staff", &[]).unwrap()),
            (1001, 50, vec![50])
        );
        assert_eq!(
            ids(resolve_test("1001:44", &[]).unwrap()),
            (1001, 44, vec![44])
        );
        assert_eq!(
            ids(resolve_test("alice:4242", &[]).unwrap()),
            (1000, 4242, vec![4242])
        );
        // Numbers need no entry.
        assert_eq!(ids(resolve_test("2000", &[]).unwrap()), (2000, 0, vec![0]));
        assert_eq!(
            ids(resolve_test("2000:3000", &[]).unwrap()),
            (2000, 3000, vec![3000])
        );
        assert_eq!(ids(resolve_test(":video", &[]).unwrap()), (0, 44, vec![44]));
    }

    #[test]
    fn group_add_by_name_and_number() {
        assert_eq!(
            ids(resolve_test("alice", &["video", "50", "7000"]).unwrap()),
            (1000, 1000, vec![1000, 100, 29, 44, 50, 7000])
        );
        assert_eq!(
            ids(resolve_test("", &["audio", "29"]).unwrap()).2,
            vec![0, 29]
        );
    }

    #[test]
    fn docker_messages_when_not_found() {
        let err = resolve_test("mallory", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find user mallory: no matching entries in passwd file"
        );
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        let err = resolve_test("alice:nogroup", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        let err = resolve_test("alice", &["nogroup"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to find group nogroup: no matching entries in group file"
        );
        // A second mention of the same named group is "not found" (runc).
        assert!(resolve_test("", &["video", "video"]).is_err());
        for out_of_range in ["-1", "2147483648", "0:-5"] {
            assert!(
                matches!(
                    resolve_test(out_of_range, &[]),
                    Err(SpecError::IdOutOfRange)
                ),
                "{out_of_range}"
            );
        }
    }

    #[test]
    fn without_files_only_numbers_resolve() {
        assert_eq!(
            ids(resolve_in("", &[], None, None).unwrap()),
            (0, 0, vec![0])
        );
        assert_eq!(
            ids(resolve_in("5:6", &["7".into()], None, None).unwrap()),
            (5, 6, vec![6, 7])
        );
        assert!(matches!(
            resolve_in("alice", &[], None, None),
            Err(SpecError::UserNotFound(_))
        ));
    }

    #[test]
    fn reads_the_files_inside_the_rootfs_only() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(etc.join("passwd"), "eve:x:77:88::/:/bin/sh\n").unwrap();
        // A group file that escapes to the host's: resolved inside the
        // rootfs, where it points at nothing.
        std::os::unix::fs::symlink("/../../../../etc/group-not-here", etc.join("group")).unwrap();
        assert_eq!(
            ids(resolve(dir.path(), "eve", &[]).unwrap()),
            (77, 88, vec![88])
        );
        assert!(matches!(
            resolve(dir.path(), "eve:video", &[]),
            Err(SpecError::GroupNotFound(_))
        ));
        // An absolute symlink is taken relative to the rootfs.
        std::fs::write(dir.path().join("mygroup"), "video:x:44:eve\n").unwrap();
        std::fs::remove_file(etc.join("group")).unwrap();
        std::os::unix::fs::symlink("/mygroup", etc.join("group")).unwrap();
        assert_eq!(
            ids(resolve(dir.path(), "eve", &[]).unwrap()),
            (77, 88, vec![88, 44])
        );
        let err = resolve(&dir.path().join("missing"), "", &[]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
    }
}
