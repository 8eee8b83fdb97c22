//! docker's export format of a context: a tar stream of `meta.json` and
//! `tls/<endpoint>/<file>`, written byte for byte as docker writes it and read as
//! docker's import reads it.

use serde_json::Value;

use super::{META_FILE, Meta, StoreError, TlsFiles, validate_name};

/// docker's cap on an imported archive (10 MiB).
const MAX_IMPORT: u64 = 10 << 20;

/// docker's export stream of a context: `meta.json` (0644), the `tls` directory
/// (0700), a directory per endpoint, and its files (0600), as ustar entries with
/// no owner and no times, byte for byte as docker writes them.
pub fn export(meta: &Meta, tls: &TlsFiles) -> Result<Vec<u8>, StoreError> {
    // docker's stream ends with its last entry: its writer's pipe is closed before
    // the tar writer would add the two zero blocks that end an archive (readers,
    // docker's included, take the end of the stream as the end).
    let mut buf = Vec::new();
    let mut add = |name: &str, mode: u32, dir: bool, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).map_err(StoreError::Archive)?;
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        go_ustar(&mut h);
        buf.extend_from_slice(h.as_bytes());
        buf.extend_from_slice(data);
        buf.resize(buf.len().next_multiple_of(512), 0);
        Ok::<(), StoreError>(())
    };
    add(META_FILE, 0o644, false, meta.to_json().as_bytes())?;
    add("tls", 0o700, true, &[])?;
    for (ep, files) in tls {
        add(&format!("tls/{ep}"), 0o700, true, &[])?;
        for (f, data) in files {
            add(&format!("tls/{ep}/{f}"), 0o600, false, data)?;
        }
    }
    Ok(buf)
}

/// Go's archive/tar writes the device numbers of a ustar header as octal zeros and
/// the checksum as six digits, NUL, space: the same bytes as docker's export.
fn go_ustar(h: &mut tar::Header) {
    let bytes = h.as_mut_bytes();
    bytes[329..337].copy_from_slice(b"0000000\0");
    bytes[337..345].copy_from_slice(b"0000000\0");
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes.iter().map(|b| u32::from(*b)).sum();
    bytes[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Reads an exported context (docker's `store.Import`, tar only) as the context
/// `name`: its metadata and TLS files. Only regular files count; their paths must
/// be `meta.json` or `tls/<endpoint>/<file>`, clean.
pub fn import(name: &str, data: &[u8]) -> Result<(Meta, TlsFiles), StoreError> {
    use std::io::Read;
    if data.starts_with(b"PK\x03\x04") {
        return Err(StoreError::Zip);
    }
    let limited = std::io::Read::take(data, MAX_IMPORT);
    let mut ar = tar::Archive::new(limited);
    let mut meta = None;
    let mut tls = TlsFiles::new();
    for entry in ar.entries().map_err(StoreError::Archive)? {
        let mut entry = entry.map_err(StoreError::Archive)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        valid_entry(&path)?;
        let mut body = Vec::new();
        entry.read_to_end(&mut body).map_err(StoreError::Archive)?;
        if path == META_FILE {
            let v: Value =
                serde_json::from_slice(&body).map_err(|e| StoreError::ImportJson(e.to_string()))?;
            validate_name(name)?;
            let mut m = Meta::parse(v.to_string().as_bytes()).map_err(StoreError::ImportJson)?;
            m.name = name.to_string();
            meta = Some(m);
        } else {
            let rest = &path["tls/".len()..];
            let Some((ep, file)) = rest.split_once('/') else {
                return Err(StoreError::TlsLayout);
            };
            tls.entry(ep.to_string())
                .or_default()
                .insert(file.to_string(), body);
        }
    }
    let meta = meta.ok_or(StoreError::NoMetadata)?;
    Ok((meta, tls))
}

/// docker's `isValidFilePath`.
fn valid_entry(p: &str) -> Result<(), StoreError> {
    if p != META_FILE && !p.starts_with("tls/") {
        return Err(StoreError::UnexpectedFile(p.to_string()));
    }
    let clean = p.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if !clean {
        return Err(StoreError::UnexpectedPath(p.to_string()));
    }
    if p.contains('\\') {
        return Err(StoreError::Backslash(p.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::Endpoint;
    use super::*;

    #[test]
    fn export_import_round_trip_and_bad_archives() {
        let m = Meta::new(
            "src",
            "d",
            &Endpoint {
                host: "tcp://h:1".into(),
                skip_tls_verify: true,
            },
        );
        let tls = TlsFiles::from([(
            "docker".to_string(),
            BTreeMap::from([
                ("ca.pem".to_string(), b"CA".to_vec()),
                ("key.pem".to_string(), b"K".to_vec()),
            ]),
        )]);
        let bytes = export(&m, &tls).unwrap();
        let (got, got_tls) = import("dst", &bytes).unwrap();
        assert_eq!(got.name, "dst");
        assert_eq!(got.docker().unwrap().host, "tcp://h:1");
        assert!(got.docker().unwrap().skip_tls_verify);
        assert_eq!(got_tls, tls);
        assert!(matches!(
            import("x", &bytes),
            Err(StoreError::InvalidName(_))
        ));
        let empty = tar::Builder::new(Vec::new()).into_inner().unwrap();
        assert_eq!(
            import("dst", &empty).unwrap_err().to_string(),
            "invalid context: no metadata found"
        );
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "etc/passwd", &b"x"[..]).unwrap();
        let bad = b.into_inner().unwrap();
        assert_eq!(
            import("dst", &bad).unwrap_err().to_string(),
            "etc/passwd: unexpected context file"
        );
    }
}
