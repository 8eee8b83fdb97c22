//! The bodies of the image library's fuzz targets, shared by the
//! cargo-fuzz targets (`fuzz/`, libFuzzer through cargo-fuzz) and by the
//! stable `fuzz_stable` test, which feeds them seeded pseudo-random and
//! mutated inputs with a fixed budget. Each body takes arbitrary bytes and
//! asserts the properties that must hold for *any* input; a panic or a
//! failed assertion is a finding.
//!
//! - [`apply_layer`]: a layer tar (built from the bytes, or the bytes
//!   themselves) applied into a fresh directory never panics and never
//!   writes outside that directory.
//! - [`manifests`]: the manifest/index parser, the config parser and
//!   platform selection never panic, and what they accept serializes to a
//!   fixed point.
//! - [`references`]: the reference parser never panics, and what it
//!   accepts parses back to itself from both its full and familiar forms.
//! - [`load_archive`]: an archive (built from the bytes) loads or fails
//!   without a panic, and a failed load records no image.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_content::{Digest, Leases, Store};
use berth_image::apply::{ApplyOptions, WhiteoutMode, apply_layer as apply};
use berth_image::compression::Compression;
use berth_image::config::{ImageConfig, chain_ids};
use berth_image::manifest::{self, Index, Manifest, Parsed, Platform};
use berth_image::reference::Reference;
use berth_image::{ImageStore, archive};

/// Reads structure out of fuzz bytes; past the end it yields zeros, so any
/// input decodes to something.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }

    pub fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) << 8 | u16::from(self.byte())
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos += n;
        &self.data[start..end]
    }

    /// A length byte (at most `max`), then that many bytes.
    pub fn chunk(&mut self, max: u8) -> &'a [u8] {
        let n = usize::from(self.byte()) % (usize::from(max) + 1);
        self.take(n)
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }
}

/// Path components: distinctive names (so an escape is recognisable
/// wherever it lands), the traversal forms, and the names of the sentinel
/// that lives beside the root.
const COMPONENTS: &[&str] = &[
    "fz_a",
    "fz_b",
    "fz_c",
    "..",
    ".",
    "",
    "outside",
    "sentinel",
    ".wh.fz_a",
    ".wh.fz_b",
    ".wh..wh..opq",
    "fz_d",
];

/// Link targets: absolute, climbing, and ordinary.
const TARGETS: &[&str] = &[
    "/",
    "..",
    "../..",
    "../../..",
    "../../../..",
    "../outside",
    "../outside/sentinel",
    "/fz_a",
    "/fz_a/fz_b",
    "fz_b",
    "fz_a/../../fz_c",
    "/proc/self/root",
];

/// The names an escape would create: checked in the sandbox, its parent
/// and the filesystem root.
const ESCAPE_NAMES: &[&str] = &["fz_a", "fz_b", "fz_c", "fz_d"];

fn path(b: &mut Bytes<'_>) -> Vec<u8> {
    let n = 1 + usize::from(b.byte() % 4);
    let mut out = Vec::new();
    if b.byte() % 4 == 0 {
        out.push(b'/');
    }
    for i in 0..n {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(b.pick(COMPONENTS).as_bytes());
    }
    out
}

fn target(b: &mut Bytes<'_>) -> Vec<u8> {
    if b.byte() % 2 == 0 {
        b.pick(TARGETS).as_bytes().to_vec()
    } else {
        path(b)
    }
}

fn set_raw(slot: &mut [u8], value: &[u8]) {
    let n = value.len().min(slot.len());
    slot.fill(0);
    slot[..n].copy_from_slice(&value[..n]);
}

/// A tar whose entries the bytes choose: regular files, directories,
/// symlinks, hardlinks, fifos, devices, whiteouts, with names and link
/// targets from [`COMPONENTS`] and [`TARGETS`]. Names are written raw into
/// the header (the tar crate's builder refuses `..`, an archive need not).
pub fn build_tar(b: &mut Bytes<'_>) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut n = 0;
    while !b.done() && n < 24 {
        n += 1;
        let kind = b.byte() % 8;
        let mut h = tar::Header::new_gnu();
        let name = path(b);
        set_raw(&mut h.as_old_mut().name, &name);
        h.set_mode(u32::from(b.u16()) & 0o7777);
        h.set_uid(u64::from(b.byte() % 3));
        h.set_gid(u64::from(b.byte() % 3));
        h.set_mtime(u64::from(b.u16()));
        let mut data: &[u8] = &[];
        match kind {
            0 | 1 => {
                h.set_entry_type(tar::EntryType::Regular);
                data = b.chunk(63);
            }
            2 => h.set_entry_type(tar::EntryType::Directory),
            3 => {
                h.set_entry_type(tar::EntryType::Symlink);
                set_raw(&mut h.as_old_mut().linkname, &target(b));
            }
            4 => {
                h.set_entry_type(tar::EntryType::Link);
                set_raw(&mut h.as_old_mut().linkname, &target(b));
            }
            5 => h.set_entry_type(tar::EntryType::Fifo),
            6 => {
                h.set_entry_type(b.pick(&[tar::EntryType::Char, tar::EntryType::Block]));
                // 0:0 is the whiteout device; 1:3 is /dev/null.
                let (major, minor) = b.pick(&[(0, 0), (1, 3), (7, 0)]);
                let _ = h.set_device_major(major);
                let _ = h.set_device_minor(minor);
            }
            _ => {
                // An entry type the applier may not know.
                h.set_entry_type(tar::EntryType::new(b.byte()));
            }
        }
        h.set_size(data.len() as u64);
        h.set_cksum();
        if out.append(&h, data).is_err() {
            break;
        }
    }
    out.into_inner().unwrap_or_default()
}

/// What [`apply_layer`] checks is unchanged: the sentinel beside the root.
struct Sandbox {
    _dir: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    sentinel: PathBuf,
}

const SENTINEL: &[u8] = b"must not change";

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("create sandbox");
        let base = dir.path().to_owned();
        let root = base.join("root");
        let outside = base.join("outside");
        fs::create_dir(&root).expect("create root");
        fs::create_dir(&outside).expect("create outside");
        let sentinel = outside.join("sentinel");
        fs::write(&sentinel, SENTINEL).expect("write sentinel");
        Sandbox {
            _dir: dir,
            base,
            root,
            sentinel,
        }
    }

    /// Panics when anything outside the root changed.
    fn check(&self, input: &[u8]) {
        let md = fs::symlink_metadata(&self.sentinel)
            .unwrap_or_else(|e| panic!("sentinel gone ({e}) after input {input:?}"));
        assert!(md.is_file(), "sentinel replaced after input {input:?}");
        assert_eq!(md.nlink(), 1, "sentinel hardlinked after input {input:?}");
        assert_eq!(
            fs::read(&self.sentinel).ok().as_deref(),
            Some(SENTINEL),
            "sentinel rewritten after input {input:?}"
        );
        let mut base_names: Vec<_> = fs::read_dir(&self.base)
            .expect("list sandbox")
            .map(|e| e.expect("list sandbox").file_name())
            .collect();
        base_names.sort();
        assert_eq!(
            base_names,
            ["outside", "root"],
            "entries created beside the root after input {input:?}"
        );
        let outside: Vec<_> = fs::read_dir(self.sentinel.parent().expect("parent"))
            .expect("list outside")
            .map(|e| e.expect("list outside").file_name())
            .collect();
        assert_eq!(
            outside,
            ["sentinel"],
            "entries created outside after input {input:?}"
        );
        let parents = [
            self.base.parent().map(Path::to_owned),
            Some(PathBuf::from("/")),
        ];
        for dir in parents.iter().flatten() {
            for n in ESCAPE_NAMES {
                let p = dir.join(n);
                assert!(
                    fs::symlink_metadata(&p).is_err(),
                    "{} created outside the root after input {input:?}",
                    p.display()
                );
            }
        }
    }
}

/// Fuzz target: apply a layer into a fresh directory. The first byte
/// chooses raw bytes as the tar, a tar built from the bytes, or that tar
/// gzip-compressed; and the whiteout mode.
pub fn apply_layer(data: &[u8]) {
    let mut b = Bytes::new(data);
    let sel = b.byte();
    let whiteouts = if sel & 1 == 0 {
        WhiteoutMode::Overlay
    } else {
        WhiteoutMode::Delete
    };
    let (tar, compression) = match (sel >> 1) % 4 {
        0 => (
            data.get(1..).unwrap_or_default().to_vec(),
            Compression::None,
        ),
        1 => {
            let t = build_tar(&mut b);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&t).expect("gzip in memory");
            (gz.finish().expect("gzip in memory"), Compression::Gzip)
        }
        _ => (build_tar(&mut b), Compression::None),
    };
    let sb = Sandbox::new();
    // Either outcome is fine; a panic or a write outside is not.
    let _ = apply(&sb.root, &tar[..], compression, &ApplyOptions { whiteouts });
    sb.check(data);
    // A second layer on top (what a snapshot chain does), from the same
    // bytes: links made by the first must not become ways out.
    let _ = apply(&sb.root, &tar[..], compression, &ApplyOptions { whiteouts });
    sb.check(data);
}

const HINTS: &[Option<&str>] = &[
    None,
    Some(manifest::MT_OCI_MANIFEST),
    Some(manifest::MT_OCI_INDEX),
    Some(manifest::MT_DOCKER_MANIFEST),
    Some(manifest::MT_DOCKER_LIST),
    Some("application/octet-stream"),
];

const PLATFORMS: &[&str] = &[
    "linux/amd64",
    "linux/arm/v7",
    "linux/arm64",
    "windows/amd64",
    "linux/amd64/v3",
];

/// Serializes `v`, parses it back as `T` and serializes again: the two
/// serializations must agree (what berth writes, it reads back the same).
fn fixed_point<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T, what: &str) {
    let once = serde_json::to_vec(v).expect("serialize");
    let back: T = serde_json::from_slice(&once)
        .unwrap_or_else(|e| panic!("{what} does not parse back: {e}: {once:?}"));
    let twice = serde_json::to_vec(&back).expect("serialize");
    assert_eq!(once, twice, "{what} is not a fixed point");
}

/// Fuzz target: the manifest/index parser, platform selection, the image
/// config parser and platform strings.
pub fn manifests(data: &[u8]) {
    let d = Digest::of(data);
    for hint in HINTS {
        match manifest::parse(&d, *hint, data) {
            Ok(Parsed::Manifest(m)) => fixed_point::<Manifest>(&m, "manifest"),
            Ok(Parsed::Index(i)) => {
                fixed_point::<Index>(&i, "index");
                for p in PLATFORMS {
                    let want = Platform::parse(p).expect("valid platform");
                    if let Ok(sel) = i.select(&d, &want) {
                        assert!(i.manifests.contains(sel), "selection not from the index");
                        let have = sel.platform.as_ref().expect("selected without platform");
                        assert!(
                            want.rank(have).is_some(),
                            "selected a platform that cannot run"
                        );
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if let Ok(c) = ImageConfig::parse(&d, data) {
        fixed_point::<ImageConfig>(&c, "config");
        let ids = chain_ids(&c.rootfs.diff_ids);
        assert_eq!(ids.len(), c.rootfs.diff_ids.len());
        assert!(c.check_layers(&d, ids.len()).is_ok());
        assert!(c.check_layers(&d, ids.len() + 1).is_err());
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(p) = Platform::parse(s) {
            let n = p.normalized();
            assert_eq!(n.normalized(), n, "normalizing {s:?} is not idempotent");
            assert_eq!(p.rank(&p), Some(0), "{s:?} does not run itself");
        }
    }
}

/// Fuzz target: the reference parser.
pub fn references(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse_normalized(s) else {
        return;
    };
    let full = r.to_string();
    assert_eq!(
        Reference::parse_normalized(&full).as_ref(),
        Ok(&r),
        "{s:?}: the full form {full:?} parses differently"
    );
    let familiar = r.familiar_string();
    // Docker's familiar form is ambiguous when a Docker Hub path starts
    // with what reads as a domain (`docker.io/a.b/c` shows as `a.b/c`,
    // which names host `a.b`): the same holds for Docker's own parser.
    let first = familiar.split('/').next().unwrap_or("");
    let ambiguous = r.domain == "docker.io"
        && familiar.contains('/')
        && (first.contains(['.', ':']) || first == "localhost");
    assert!(
        ambiguous || Reference::parse_normalized(&familiar).as_ref() == Ok(&r),
        "{s:?}: the familiar form {familiar:?} parses differently"
    );
    let tagged = r.clone().with_default_tag();
    assert!(tagged.tag.is_some() || tagged.digest.is_some());
    assert_eq!(tagged.clone().with_default_tag(), tagged);
    assert!(r.name().starts_with(&r.domain));
}

/// Files an archive may hold, as the bytes choose them.
const ARCHIVE_NAMES: &[&str] = &[
    "manifest.json",
    "index.json",
    "oci-layout",
    "repositories",
    "c.json",
    "l/layer.tar",
    "blobs/sha256/x",
];

/// Fuzz target: load an archive. The bytes build a tar of small files
/// under the names a `docker save` archive or an OCI layout has; a JSON
/// body is either raw bytes or a valid-looking document that points at
/// the archive's own files, so the loader gets past its first checks.
pub fn load_archive(data: &[u8]) {
    let mut b = Bytes::new(data);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let layer = {
        let mut lb = Bytes::new(b.chunk(255));
        build_tar(&mut lb)
    };
    let layer_digest = Digest::of(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let config_digest = Digest::of(config.as_bytes());
    while !b.done() && files.len() < 8 {
        let name = match b.byte() % 3 {
            0 => format!(
                "blobs/sha256/{}",
                b.pick(&[layer_digest, config_digest]).hex()
            ),
            _ => b.pick(ARCHIVE_NAMES).to_owned(),
        };
        let body = match b.byte() % 6 {
            0 => layer.clone(),
            1 => config.clone().into_bytes(),
            2 => format!(
                r#"[{{"Config":"{}","RepoTags":["{}"],"Layers":["{}"]}}]"#,
                b.pick(&["c.json", "blobs/sha256/x", "missing"]),
                b.pick(&["fz:1", "Bad Tag", "fz@sha256:00"]),
                b.pick(&["l/layer.tar", "../l/layer.tar", "missing"]),
            )
            .into_bytes(),
            3 => format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":{}}}]}}"#,
                b.pick(&[manifest::MT_OCI_MANIFEST, manifest::MT_OCI_INDEX, "x/y"]),
                b.pick(&[layer_digest, config_digest]),
                b.u16()
            )
            .into_bytes(),
            4 => br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            _ => b.chunk(255).to_vec(),
        };
        files.insert(name, body);
    }
    let mut t = tar::Builder::new(Vec::new());
    for (name, body) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        if h.set_path(name).is_err() {
            continue;
        }
        h.set_cksum();
        let _ = t.append(&h, &body[..]);
    }
    let tar = t.into_inner().unwrap_or_default();

    let dir = tempfile::tempdir().expect("create store dir");
    let content = Store::open(dir.path().join("content")).expect("open content store");
    let leases = Leases::open(dir.path().join("leases")).expect("open leases");
    let images = ImageStore::open(dir.path().join("images.json")).expect("open image store");
    match archive::load_any_archive(
        &content,
        &leases,
        &images,
        &tar[..],
        Some("fz"),
        &Platform::default_linux(),
    ) {
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
            assert!(
                images.list().is_empty(),
                "a failed load recorded images: {e}"
            );
        }
    }
    assert!(
        leases.list().expect("list leases").is_empty(),
        "a load left its lease behind"
    );
    assert!(
        content.ingests().expect("list ingests").is_empty(),
        "a load left an ingest behind"
    );
}

/// A small deterministic generator (xorshift64*) for the stable runs.
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
    /// `dict` (the mutations a coverage-guided fuzzer starts with).
    pub fn mutate(&mut self, seed: &[u8], dict: &[&[u8]]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = if v.is_empty() { 0 } else { self.below(v.len()) };
            match self.below(5) {
                0 if !v.is_empty() => v[at] ^= 1 << self.below(8),
                1 => v.insert(at, self.next() as u8),
                2 if !v.is_empty() => {
                    let end = (at + 1 + self.below(8)).min(v.len());
                    v.drain(at..end);
                }
                3 if !dict.is_empty() => {
                    let w = dict[self.below(dict.len())];
                    v.splice(at..at, w.iter().copied());
                }
                _ => v.truncate(at),
            }
        }
        v
    }
}
