//! `GET /containers/{id}/top?ps_args=`: the host's `ps` output filtered to
//! the container's processes (the runtime's `ps --format json` lists
//! them), in docker's `Titles`/`Processes` shape.

use berth_api_types::container::TopResponse;

use super::Error;
use crate::Engine;

/// Splits `ps` output into titles and the rows of `pids`. A row is split
/// on whitespace into as many columns as there are titles, the last
/// column keeping the rest (the command with its spaces). Thread rows
/// (`-` in the PID column, `ps -m`) belong to the process row above.
pub fn parse_ps(output: &str, pids: &[i64]) -> Result<TopResponse, Error> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or(Error::PsNoPid)?;
    let mut processes = Vec::new();
    let mut previous_matched = false;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid_field) = fields.get(pid_col) else {
            continue;
        };
        let keep = if *pid_field == "-" {
            previous_matched
        } else {
            let pid: i64 = pid_field.parse().map_err(|_| Error::PsBadPid {
                field: pid_field.to_string(),
            })?;
            previous_matched = pids.contains(&pid);
            previous_matched
        };
        if keep {
            let split = titles.len().saturating_sub(1).min(fields.len());
            let mut row: Vec<String> = fields[..split].iter().map(|s| s.to_string()).collect();
            row.push(fields[split..].join(" "));
            processes.push(row);
        }
    }
    Ok(TopResponse {
        processes: Some(processes),
        titles: Some(titles),
    })
}

impl Engine {
    /// Lists a container's processes (`GET /containers/{id}/top`).
    /// `ps_args` default to `-ef`. 409 when the container is not running.
    pub async fn container_top(
        &self,
        reference: &str,
        ps_args: Option<&str>,
    ) -> Result<TopResponse, Error> {
        let c = self.containers.get(reference)?;
        let (id, runtime_name) = {
            let r = c.record();
            if !r.state.running || r.state.restarting {
                return Err(Error::NotRunning { id: r.id.clone() });
            }
            (r.id.clone(), r.host_config.runtime.clone())
        };
        let rt =
            self.config()
                .runtimes
                .get(&runtime_name)
                .cloned()
                .ok_or(Error::UnknownRuntime {
                    name: runtime_name.clone(),
                })?;
        let out = run(
            tokio::process::Command::new(&rt.path)
                .args(&rt.args)
                .arg("--root")
                .arg(self.containers.runtime_root.join(&runtime_name))
                .args(["ps", "--format", "json", &id]),
            &rt.path.display().to_string(),
        )
        .await?;
        let pids: Vec<i64> =
            serde_json::from_str(out.trim()).map_err(|e| Error::CommandFailed {
                program: format!("{} ps", rt.path.display()),
                stderr: format!("unexpected output {out:?}: {e}"),
            })?;
        let args: Vec<&str> = ps_args
            .filter(|a| !a.trim().is_empty())
            .unwrap_or("-ef")
            .split_whitespace()
            .collect();
        let ps = run(tokio::process::Command::new("ps").args(&args), "ps").await?;
        let top = parse_ps(&ps, &pids)?;
        self.container_event(&c, "top", &[]);
        Ok(top)
    }
}

async fn run(cmd: &mut tokio::process::Command, program: &str) -> Result<String, Error> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| Error::Command {
            program: program.to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::CommandFailed {
            program: program.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_the_containers_pids_with_the_command_whole() {
        let ps = "UID  PID  PPID  C STIME TTY TIME CMD\n\
                  root 1    0     0 10:00 ?   00:00:01 /sbin/init splash\n\
                  root 42   40    0 10:01 ?   00:00:00 sleep 1000\n\
                  root -    -     0 10:01 ?   00:00:00 -\n\
                  root 43   42    0 10:01 ?   00:00:00 sh -c echo hi\n";
        let top = parse_ps(ps, &[42, 43]).unwrap();
        assert_eq!(top.titles.as_ref().unwrap().len(), 8);
        let rows = top.processes.unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][1], "42");
        assert_eq!(rows[0][7], "sleep 1000");
        assert_eq!(rows[1][1], "-");
        assert_eq!(rows[2][7], "sh -c echo hi");
        assert!(matches!(parse_ps("USER CMD\n", &[]), Err(Error::PsNoPid)));
        assert!(matches!(
            parse_ps("PID CMD\nabc x\n", &[]),
            Err(Error::PsBadPid { .. })
        ));
    }
}
