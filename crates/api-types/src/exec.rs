//! Exec models of Engine API v1.41: `POST /containers/{id}/exec`, `POST /exec/{id}/start`
//! and `GET /exec/{id}/json`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::de::nullable as n;

/// The body of `POST /containers/{id}/exec` (Go `types.ExecConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    /// `user`, `user:group`, `uid` or `uid:gid`; empty means the container's user.
    #[serde(deserialize_with = "n")]
    pub user: String,
    #[serde(deserialize_with = "n")]
    pub privileged: bool,
    #[serde(deserialize_with = "n")]
    pub tty: bool,
    #[serde(deserialize_with = "n")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "n")]
    pub attach_stderr: bool,
    #[serde(deserialize_with = "n")]
    pub attach_stdout: bool,
    /// Unused by dockerd (the start request decides); kept for round trips.
    #[serde(deserialize_with = "n")]
    pub detach: bool,
    /// Detach key sequence (`ctrl-p,ctrl-q`); empty means the default.
    #[serde(deserialize_with = "n")]
    pub detach_keys: String,
    /// `KEY=value` entries added to the container's environment.
    pub env: Option<Vec<String>>,
    /// Empty means the container's working directory.
    #[serde(deserialize_with = "n")]
    pub working_dir: String,
    pub cmd: Option<Vec<String>>,
    /// Initial console size `[height, width]` (API 1.42+, sent by newer clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u64; 2]>,
}

/// The response of `POST /containers/{id}/exec` (and other endpoints answering an ID).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdResponse {
    #[serde(rename = "Id")]
    pub id: String,
}

/// The body of `POST /exec/{id}/start` (Go `types.ExecStartCheck`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartRequest {
    /// Start and return at once, discarding output.
    #[serde(deserialize_with = "n")]
    pub detach: bool,
    #[serde(deserialize_with = "n")]
    pub tty: bool,
    /// API 1.42+, sent by newer clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u64; 2]>,
}

/// The response of `GET /exec/{id}/json` (Go `backend.ExecInspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InspectResponse {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    /// `None` until the process has exited.
    pub exit_code: Option<i64>,
    pub process_config: Option<ProcessConfig>,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// The parsed detach key sequence as bytes; Go writes a byte slice as base64
    /// (`""` for none, `null` for nil).
    #[serde(serialize_with = "ser_bytes", deserialize_with = "de_bytes")]
    pub detach_keys: Option<Vec<u8>>,
    /// 0 before start.
    pub pid: i64,
}

/// The process of an exec as shown by inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessConfig {
    pub tty: bool,
    pub entrypoint: String,
    pub arguments: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(skip_serializing_if = "crate::de::is_empty_str")]
    pub user: String,
}

fn ser_bytes<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    match v {
        None => s.serialize_none(),
        Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

fn de_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    use base64::Engine as _;
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What docker CLI 28.2.2 sent for `docker exec -it -e C=3 -u 0 -w /root x sh`.
    const CLI_EXEC_IT: &str = r#"{"User":"0","Privileged":false,"Tty":true,"AttachStdin":true,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["C=3"],"WorkingDir":"/root","Cmd":["sh"]}"#;
    /// What docker CLI 28.2.2 sent for `docker exec -d x ls`.
    const CLI_EXEC_D: &str = r#"{"User":"","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":false,"AttachStdout":false,"Detach":true,"DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["ls"]}"#;

    #[test]
    fn cli28_exec_bodies_round_trip_exactly() {
        for body in [CLI_EXEC_IT, CLI_EXEC_D] {
            let req: CreateRequest = serde_json::from_str(body).unwrap();
            assert_eq!(serde_json::to_string(&req).unwrap(), body);
        }
        let req: CreateRequest = serde_json::from_str(CLI_EXEC_IT).unwrap();
        assert!(req.tty && req.attach_stdin);
        assert_eq!(req.user, "0");
        assert_eq!(req.env, Some(vec!["C=3".to_string()]));
        let start: StartRequest = serde_json::from_str(r#"{"Detach":false,"Tty":true}"#).unwrap();
        assert!(start.tty && !start.detach && start.console_size.is_none());
        let start: StartRequest =
            serde_json::from_str(r#"{"Detach":false,"Tty":true,"ConsoleSize":[24,80]}"#).unwrap();
        assert_eq!(start.console_size, Some([24, 80]));
    }

    #[test]
    fn inspect_writes_detach_keys_as_go_bytes() {
        let mut i = InspectResponse {
            id: "e1".into(),
            exit_code: Some(0),
            process_config: Some(ProcessConfig {
                entrypoint: "ls".into(),
                arguments: Some(vec!["-l".into()]),
                privileged: Some(false),
                ..Default::default()
            }),
            container_id: "c1".into(),
            detach_keys: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&i).unwrap(),
            r#"{"ID":"e1","Running":false,"ExitCode":0,"ProcessConfig":{"tty":false,"entrypoint":"ls","arguments":["-l"],"privileged":false},"OpenStdin":false,"OpenStderr":false,"OpenStdout":false,"CanRemove":false,"ContainerID":"c1","DetachKeys":"","Pid":0}"#
        );
        i.detach_keys = Some(vec![16, 17]);
        let text = serde_json::to_string(&i).unwrap();
        assert!(text.contains(r#""DetachKeys":"EBE=""#), "{text}");
        assert_eq!(serde_json::from_str::<InspectResponse>(&text).unwrap(), i);
    }
}
