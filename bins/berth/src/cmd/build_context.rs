//! The build context as the docker CLI sends it: the context directory as a tar
//! stream without what `.dockerignore` excludes (moby's `patternmatcher` rules:
//! `*`, `?`, `[...]`, `**`, `!` exceptions, the last matching pattern wins), with the
//! Dockerfile and `.dockerignore` kept whatever the patterns say.
//!
//! The tar is written as Go's `archive/tar` writes it for docker (PAX format,
//! owner 0:0, seconds-precision times, a PAX record only for names longer than 100
//! bytes, hard links as links, no record padding), so the context has the size
//! docker reports ("Sending build context to Docker daemon  2.048kB").

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use regex::Regex;

/// `.dockerignore` read like docker's `ignorefile.ReadAll`: comments (`#` in the
/// first column) and blank lines skipped, each pattern trimmed and cleaned, a
/// leading `/` dropped, `!` kept in front.
pub fn parse_dockerignore(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut p = if p.is_empty() {
            String::new()
        } else {
            super::outfile::go_clean(p)
        };
        if p.len() > 1 && p.starts_with('/') {
            p.remove(0);
        }
        out.push(if invert { format!("!{p}") } else { p });
    }
    out
}

/// Reads `<dir>/.dockerignore`; none is no patterns.
pub fn read_dockerignore(dir: &Path) -> Result<Vec<String>, String> {
    match fs::read(dir.join(".dockerignore")) {
        Ok(b) => Ok(parse_dockerignore(&String::from_utf8_lossy(&b))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!(
            "open {}: {}",
            dir.join(".dockerignore").display(),
            super::parse::io_text(&e)
        )),
    }
}

/// How a pattern matches (patternmatcher's fast paths, else a regex).
#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `dir/**`: the text before `/**`.
    Prefix,
    /// `**/name`: the text after `**`.
    Suffix,
    Regex(Regex),
}

/// One pattern of the matcher.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    dirs: usize,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    fn compile(cleaned: String, exclusion: bool) -> Result<Pattern, String> {
        let mut re = String::from("^");
        let mut kind = 0; // 0 exact, 1 prefix, 2 suffix, 3 regex
        let chars: Vec<char> = cleaned.chars().collect();
        let mut i = 0;
        let mut first = true;
        while i < chars.len() {
            let ch = chars[i];
            i += 1;
            match ch {
                '*' => {
                    if chars.get(i) == Some(&'*') {
                        i += 1;
                        if chars.get(i) == Some(&'/') {
                            i += 1;
                        }
                        if i >= chars.len() {
                            if kind == 0 {
                                kind = 1;
                            } else {
                                re.push_str(".*");
                                kind = 3;
                            }
                        } else {
                            re.push_str("(.*/)?");
                            kind = 3;
                        }
                        if first {
                            kind = 2;
                        }
                    } else {
                        re.push_str("[^/]*");
                        kind = 3;
                    }
                }
                '?' => {
                    re.push_str("[^/]");
                    kind = 3;
                }
                '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                    re.push('\\');
                    re.push(ch);
                }
                '\\' => {
                    if let Some(next) = chars.get(i) {
                        re.push('\\');
                        re.push(*next);
                        i += 1;
                        kind = 3;
                    } else {
                        re.push_str("\\\\");
                    }
                }
                '[' | ']' => {
                    re.push(ch);
                    kind = 3;
                }
                _ => re.push(ch),
            }
            first = false;
        }
        let kind = match kind {
            0 => Kind::Exact,
            1 => Kind::Prefix,
            2 => Kind::Suffix,
            _ => {
                re.push('$');
                Kind::Regex(Regex::new(&re).map_err(|_| "syntax error in pattern".to_string())?)
            }
        };
        Ok(Pattern {
            dirs: cleaned.split('/').count(),
            cleaned,
            exclusion,
            kind,
        })
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
            }
            Kind::Regex(r) => r.is_match(path),
        }
    }
}

/// docker's `PatternMatcher`.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl Matcher {
    /// Compiles `patterns` (as [`parse_dockerignore`] returns them).
    pub fn new(patterns: &[String]) -> Result<Matcher, String> {
        let mut m = Matcher::default();
        for p in patterns {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = super::outfile::go_clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err("illegal exclusion pattern: \"!\"".into());
                }
                p.remove(0);
                m.exclusions = true;
            }
            m.patterns.push(Pattern::compile(p, exclusion)?);
        }
        Ok(m)
    }

    /// `Matches`: the last pattern that matches `file` or the parent directories
    /// as deep as the pattern decides.
    pub fn matches(&self, file: &str) -> bool {
        let mut matched = false;
        let parent = super::outfile::go_dir(file);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.matches(file);
            if !m && parent != "." && p.dirs <= parent_dirs.len() {
                m = p.matches(&parent_dirs[..p.dirs].join("/"));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`: like [`Matcher::matches`] with the per-pattern
    /// results of the parent directory (empty at the top).
    pub fn matches_with_parent(&self, file: &str, parent: &[bool]) -> (bool, Vec<bool>) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.get(i).copied().unwrap_or(false);
            if !m {
                if p.exclusion != matched {
                    continue;
                }
                m = p.matches(file);
                if !m && parent.is_empty() {
                    let dir = super::outfile::go_dir(file);
                    if dir != "." {
                        let dirs: Vec<&str> = dir.split('/').collect();
                        m = (1..=dirs.len()).any(|k| p.matches(&dirs[..k].join("/")));
                    }
                }
            }
            info[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        (matched, info)
    }
}

/// docker's `TrimBuildFilesFromExcludes`: `.dockerignore` and the Dockerfile are sent
/// even when excluded (the Dockerfile not when it comes from stdin).
pub fn keep_build_files(
    mut excludes: Vec<String>,
    dockerfile: &str,
    from_stdin: bool,
) -> Vec<String> {
    let m = |ex: &[String], f: &str| Matcher::new(ex).map(|m| m.matches(f)).unwrap_or(false);
    if m(&excludes, ".dockerignore") {
        excludes.push("!.dockerignore".into());
    }
    if m(&excludes, dockerfile) && !from_stdin {
        excludes.push(format!("!{dockerfile}"));
    }
    excludes
}

/// A tar writer in Go's layout (see the module's documentation).
pub struct GoTar<W: Write> {
    b: tar::Builder<W>,
    /// Files with more than one link: (device, inode) to the first name.
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> GoTar<W> {
    pub fn new(w: W) -> GoTar<W> {
        GoTar {
            b: tar::Builder::new(w),
            links: HashMap::new(),
        }
    }

    /// Adds an entry `name` with `header`'s fields, a PAX record first when the name
    /// or link target does not fit the 100 bytes of the header.
    fn append(
        &mut self,
        name: &str,
        link: Option<&str>,
        mut h: tar::Header,
        data: impl Read,
    ) -> io::Result<()> {
        let mut records = Vec::new();
        let mut record = |key: &str, value: &str| {
            // "<len> key=value\n", the length counting itself.
            let body = format!(" {key}={value}\n");
            let mut len = body.len() + 1;
            while format!("{len}").len() + body.len() != len {
                len = format!("{len}").len() + body.len();
            }
            records.extend_from_slice(format!("{len}{body}").as_bytes());
        };
        if name.len() > 100 || !name.is_ascii() {
            record("path", name);
        }
        if let Some(l) = link.filter(|l| l.len() > 100 || !l.is_ascii()) {
            record("linkpath", l);
        }
        if !records.is_empty() {
            let mut x = tar::Header::new_ustar();
            let base = name
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(name);
            let pax_name: String = format!("PaxHeaders.0/{base}").chars().take(99).collect();
            x.set_path(&pax_name)?;
            x.set_entry_type(tar::EntryType::XHeader);
            x.set_mode(0o644);
            x.set_size(records.len() as u64);
            x.set_mtime(0);
            x.set_uid(0);
            x.set_gid(0);
            x.set_cksum();
            self.b.append(&x, records.as_slice())?;
        }
        let short = |s: &str| -> String { s.bytes().take(100).map(char::from).collect() };
        set_name_bytes(&mut h, &short(name));
        if let Some(l) = link {
            set_link_bytes(&mut h, &short(l));
        }
        h.set_cksum();
        self.b.append(&h, data)
    }

    /// Adds the file at `path` as `name` (relative, `/`-separated).
    pub fn add_path(&mut self, path: &Path, name: &str) -> io::Result<()> {
        let md = fs::symlink_metadata(path)?;
        let ft = md.file_type();
        let mut h = tar::Header::new_ustar();
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(md.mtime().max(0) as u64);
        h.set_size(0);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            return self.append(&format!("{name}/"), None, h, io::empty());
        }
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            let target = target.to_string_lossy().into_owned();
            h.set_entry_type(tar::EntryType::Symlink);
            return self.append(name, Some(&target), h, io::empty());
        }
        if ft.is_socket() {
            // Go's tar has no sockets: docker skips them.
            return Ok(());
        }
        if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_fifo() {
                tar::EntryType::Fifo
            } else if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            let rdev = md.rdev();
            if !ft.is_fifo() {
                h.set_device_major(libc::major(rdev))?;
                h.set_device_minor(libc::minor(rdev))?;
            }
            return self.append(name, None, h, io::empty());
        }
        if md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                h.set_entry_type(tar::EntryType::Link);
                return self.append(name, Some(&first), h, io::empty());
            }
            self.links.insert(key, name.to_string());
        }
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(md.len());
        let f = fs::File::open(path)?;
        self.append(name, None, h, f.take(md.len()))
    }

    /// Adds a regular file `name` with `data` and `mode`.
    pub fn add_bytes_mode(
        &mut self,
        name: &str,
        data: &[u8],
        mtime: u64,
        mode: u32,
    ) -> io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        self.append(name, None, h, data)
    }

    /// Ends the archive (two zero blocks) and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.b.into_inner()
    }
}

fn set_name_bytes(h: &mut tar::Header, name: &str) {
    if let Some(u) = h.as_ustar_mut() {
        u.name = [0; 100];
        u.name[..name.len()].copy_from_slice(name.as_bytes());
    }
}

fn set_link_bytes(h: &mut tar::Header, link: &str) {
    if let Some(u) = h.as_ustar_mut() {
        u.linkname = [0; 100];
        u.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
}

/// Writes the context `dir` to `out` without what `excludes` excludes, walking it
/// as docker's `TarWithOptions` does (lexical order; an excluded directory is
/// skipped unless an exception pattern may reach below it). Returns the writer.
#[cfg(test)]
pub fn write_context<W: Write>(dir: &Path, excludes: &[String], out: W) -> Result<W, String> {
    write_context_with(dir, excludes, None, out).map(|(w, _)| w)
}

/// [`write_context`] with a Dockerfile from elsewhere (stdin, or a file outside the
/// context) added as `extra` = (its random name, its text), as docker's
/// `AddDockerfileToBuildContext` does: the file (mode 0600) at the end, and its
/// name added to `.dockerignore` (which is made if there is none) so the build
/// does not copy it.
///
/// Also returns how many bytes at the end docker does not send in that case: it
/// closes its stream before the tar writer pads the last file and writes the two
/// end blocks, so the context it sends stops right after the last file's data
/// (the daemon reads such a tar to its end all the same). Sending the same bytes
/// keeps "Sending build context" equal.
pub fn write_context_with<W: Write>(
    dir: &Path,
    excludes: &[String],
    extra: Option<&(String, Vec<u8>)>,
    out: W,
) -> Result<(W, u64), String> {
    let m = Matcher::new(excludes)?;
    let mut t = GoTar::new(out);
    let mut w = Walk {
        root: dir,
        m: &m,
        extra,
        ignore_seen: false,
    };
    w.walk("", &[], &mut t)?;
    let mut unsent = 0;
    if let Some((name, data)) = extra {
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        let err = |e: io::Error| format!("write build context: {e}");
        t.add_bytes_mode(name, data, now, 0o600).map_err(err)?;
        let mut last = data.len() as u64;
        if !w.ignore_seen {
            let text = format!(".dockerignore\n{name}\n");
            t.add_bytes_mode(".dockerignore", text.as_bytes(), now, 0o600)
                .map_err(err)?;
            last = text.len() as u64;
        }
        unsent = 1024 + (512 - last % 512) % 512;
    }
    let out = t
        .finish()
        .map_err(|e| format!("write build context: {e}"))?;
    Ok((out, unsent))
}

struct Walk<'a> {
    root: &'a Path,
    m: &'a Matcher,
    extra: Option<&'a (String, Vec<u8>)>,
    ignore_seen: bool,
}

impl Walk<'_> {
    fn walk<W: Write>(
        &mut self,
        rel: &str,
        parent: &[bool],
        t: &mut GoTar<W>,
    ) -> Result<(), String> {
        let (root, m) = (self.root, self.m);
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let rd = fs::read_dir(&dir).map_err(|e| {
            format!(
                "can't stat '{}': {}",
                dir.display(),
                super::parse::io_text(&e)
            )
        })?;
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let rel_path = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            let path = root.join(&rel_path);
            let is_dir = fs::symlink_metadata(&path)
                .map(|md| md.is_dir())
                .unwrap_or(false);
            let (skip, info) = m.matches_with_parent(&rel_path, parent);
            if skip {
                if !is_dir {
                    continue;
                }
                let prefix = format!("{rel_path}/");
                let may_reach = m.exclusions
                    && m.patterns
                        .iter()
                        .any(|p| p.exclusion && format!("{}/", p.cleaned).starts_with(&prefix));
                if !may_reach {
                    continue;
                }
            } else if let (Some((name, _)), ".dockerignore") = (self.extra, rel_path.as_str()) {
                // The Dockerfile added from elsewhere is ignored by the build.
                self.ignore_seen = true;
                let md = fs::symlink_metadata(&path).map_err(|e| e.to_string())?;
                let mut text = fs::read(&path).map_err(|e| e.to_string())?;
                text.extend_from_slice(format!("\n{name}\n").as_bytes());
                t.add_bytes_mode(
                    &rel_path,
                    &text,
                    md.mtime().max(0) as u64,
                    md.mode() & 0o7777,
                )
                .map_err(|e| format!("write build context: {e}"))?;
            } else {
                t.add_path(&path, &rel_path).map_err(|e| {
                    format!(
                        "add {} to the build context: {}",
                        path.display(),
                        super::parse::io_text(&e)
                    )
                })?;
            }
            if is_dir {
                self.walk(&rel_path, &info, t)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &[&str], file: &str) -> bool {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Matcher::new(&p).unwrap().matches(file)
    }

    #[test]
    fn patterns_follow_patternmatcher() {
        assert!(excluded(&["*.md"], "README.md"));
        assert!(!excluded(&["*.md"], "docs/README.md"));
        assert!(excluded(&["**/*.md"], "docs/a/README.md"));
        assert!(
            excluded(&["docs"], "docs/a/b.txt"),
            "a directory excludes its contents"
        );
        assert!(excluded(&["docs/**"], "docs/x"));
        assert!(excluded(&["**/tmp"], "a/b/tmp"));
        assert!(excluded(&["**/tmp"], "tmp"));
        assert!(excluded(&["a?c"], "abc"));
        assert!(excluded(&["[ab].txt"], "b.txt"));
        assert!(!excluded(&["*.md", "!README.md"], "README.md"));
        assert!(excluded(&["*.md", "!README.md", "README*"], "README.md"));
        assert!(excluded(&["a.b"], "a.b"));
        assert!(!excluded(&["a.b"], "axb"), "dots are literal");
        assert!(Matcher::new(&["!".to_string()]).is_err());
    }

    #[test]
    fn dockerignore_lines_are_cleaned() {
        assert_eq!(
            parse_dockerignore("# comment\n\n /a/b/../c \n!  keep\n./x/\n"),
            ["a/c", "!keep", "x"]
        );
    }

    #[test]
    fn build_files_are_kept() {
        let ex = keep_build_files(vec!["*".into()], "Dockerfile", false);
        assert_eq!(ex, ["*", "!.dockerignore", "!Dockerfile"]);
        let ex = keep_build_files(vec!["*".into()], "Dockerfile", true);
        assert_eq!(ex, ["*", "!.dockerignore"]);
    }

    #[test]
    fn context_tar_leaves_out_excluded_files_and_sizes_like_go() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir_all(p.join("sub/keep")).unwrap();
        fs::create_dir_all(p.join("node_modules/x")).unwrap();
        fs::write(p.join("Dockerfile"), "FROM busybox\n").unwrap();
        fs::write(p.join("a.txt"), "a").unwrap();
        fs::write(p.join("b.log"), "b").unwrap();
        fs::write(p.join("sub/keep/k.log"), "k").unwrap();
        fs::write(p.join("node_modules/x/y"), "y").unwrap();
        let long = "l".repeat(120);
        fs::write(p.join(&long), "").unwrap();
        let ex: Vec<String> = ["*.log", "**/*.log", "!sub/keep/k.log", "node_modules"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let tar = write_context(p, &ex, Vec::new()).unwrap();
        let mut names = Vec::new();
        let mut a = tar::Archive::new(tar.as_slice());
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            names.push(e.path().unwrap().to_string_lossy().into_owned());
            assert_eq!(e.header().uid().unwrap(), 0);
        }
        assert_eq!(
            names,
            [
                "Dockerfile",
                "a.txt",
                long.as_str(),
                "sub/",
                "sub/keep/",
                "sub/keep/k.log"
            ]
        );
        // 6 headers, one PAX header with its record block, 3 one-block files, and
        // the two zero blocks at the end (Go pads to no record size).
        assert_eq!(tar.len(), 512 * (6 + 2 + 3 + 2));
    }
}
