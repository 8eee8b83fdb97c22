//! `context inspect`: the stored context (or the default one), its TLS files and
//! where it is stored, as docker's inspect prints its `contextWithTLSListing`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::context::{InspectArgs, View, store_err};
use super::out;
use crate::contexts::{self, DEFAULT};
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt::{self, Format, Template};

pub(super) fn inspect(v: &View, a: &InspectArgs) -> CliResult {
    let names = if a.names.is_empty() {
        vec![v.sel.name.clone()]
    } else {
        a.names.clone()
    };
    let tmpl = match a.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => Some(
            Template::parse(f)
                .map_err(|e| CliError::with_code(format!("template parsing error: {e}"), 64))?,
        ),
        None => None,
    };
    let mut found = Vec::new();
    let mut errs = Vec::new();
    for n in &names {
        match inspect_one(v, n) {
            Ok(x) => found.push(x),
            Err(e) => errs.push(e.message),
        }
    }
    let mut text = String::new();
    match &tmpl {
        Some(_) => {
            let f = Format(a.format.clone().unwrap_or_default());
            let compiled = f.parse_for("context.contextWithTLSListing")?;
            for (_, view) in &found {
                match compiled.row(view) {
                    Ok(s) => {
                        text.push_str(&s);
                        text.push('\n');
                    }
                    Err(e) => errs.push(format!(
                        "template parsing error: {}",
                        go_type_named(&e.to_string())
                    )),
                }
            }
            if text.is_empty() {
                text.push('\n');
            }
        }
        None => {
            let all: Vec<String> = found.iter().map(|(j, _)| j.clone()).collect();
            text = fmt::json_indent(format!("[{}]", all.join(",")).as_bytes(), "    ");
            text.push('\n');
        }
    }
    out(&text);
    join_errors(errs)
}

/// A missing field's error names the Go type of the value the field was looked up
/// in: the embedded `store.Metadata` under `.Metadata`, its `command.DockerContext`
/// one level down, `store.StorageInfo` under `.Storage`.
fn go_type_named(msg: &str) -> String {
    const TOP: &str = "context.contextWithTLSListing";
    let Some(start) = msg.find("at <") else {
        return msg.to_string();
    };
    let path = msg[start + 4..].split('>').next().unwrap_or("");
    let parents: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    let ty = match parents.get(..parents.len().saturating_sub(1)) {
        Some(["Metadata"]) => "store.Metadata",
        // `Metadata any` holds a DockerContext value: Go names the interface.
        Some(["Metadata", "Metadata"]) => "interface {}",
        Some(["Storage"]) => "store.StorageInfo",
        _ => TOP,
    };
    msg.replace(&format!("in type {TOP}"), &format!("in type {ty}"))
}

/// One context as docker's inspect shows it: its JSON (the stored fields, the TLS
/// files by endpoint, where it is stored) and the value its templates run over.
fn inspect_one(v: &View, name: &str) -> Result<(String, Value), CliError> {
    let meta = v.get(name)?;
    let tls: BTreeMap<String, Vec<String>> = if name == DEFAULT {
        v.tls_all(name)?
            .into_iter()
            .map(|(ep, f)| (ep, f.into_keys().collect()))
            .collect()
    } else {
        v.store.list_tls(name).map_err(store_err)?
    };
    let (mp, tp) = if name == DEFAULT {
        ("<IN MEMORY>".to_string(), "<IN MEMORY>".to_string())
    } else {
        (
            v.store.meta_dir(name).display().to_string(),
            v.store.tls_dir(name).display().to_string(),
        )
    };
    let tls_value = Value::Object(
        tls.iter()
            .map(|(k, f)| (k.clone(), json!(f)))
            .collect::<Map<String, Value>>(),
    );
    let storage = json!({"MetadataPath": mp, "TLSPath": tp});
    let mut text = meta.to_json();
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    text.push_str(&format!(
        "\"TLSMaterial\":{},\"Storage\":{}}}",
        contexts::go_json(&tls_value),
        contexts::go_json(&storage)
    ));
    // Templates see docker's Go types: the metadata's Description and the endpoint's
    // Host are there even when empty.
    let mut view = Map::new();
    view.insert("Name".into(), meta.name.clone().into());
    let metadata = meta
        .metadata
        .clone()
        .map(|mut m| {
            m.entry("Description").or_insert_with(|| "".into());
            Value::Object(m)
        })
        .unwrap_or(Value::Null);
    let endpoints: Map<String, Value> = meta
        .endpoints
        .iter()
        .map(|(k, e)| {
            let mut e = e.clone();
            if let (true, Value::Object(m)) = (k == contexts::DOCKER_ENDPOINT, &mut e) {
                m.entry("Host").or_insert_with(|| "".into());
            }
            (k.clone(), e)
        })
        .collect();
    // `.Metadata` is the embedded store.Metadata struct (its field of the same
    // name is one level down), as in docker's type.
    view.insert(
        "Metadata".into(),
        json!({"Name": meta.name, "Metadata": metadata, "Endpoints": endpoints}),
    );
    view.insert("Endpoints".into(), Value::Object(endpoints));
    view.insert("TLSMaterial".into(), tls_value);
    view.insert("Storage".into(), storage);
    Ok((text, Value::Object(view)))
}
