//! Restart policies (`--restart no|always|unless-stopped|on-failure[:N]`)
//! as decisions over plain values.
//!
//! After every exit the daemon asks [`decide`] whether to start the
//! container again and after which delay. Docker's rules: the delay
//! starts at 100 ms and doubles with each consecutive restart, capped at
//! one minute, and goes back to 100 ms when the container had run for at
//! least 10 s. A stop or kill of the container cancels restarts until
//! the next explicit start; `unless-stopped` additionally stays down
//! after a daemon restart when it had been stopped by hand; `on-failure`
//! restarts only non-zero exits, at most N times when N > 0.

use std::time::Duration;

use berth_api_types::container::RestartPolicy;

use super::Error;

/// The first back-off delay.
pub const INITIAL_DELAY: Duration = Duration::from_millis(100);
/// The longest back-off delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// A parsed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    UnlessStopped,
    /// Restart non-zero exits; `max_retries` 0 means no limit.
    OnFailure {
        max_retries: i64,
    },
}

impl Policy {
    /// Validates and parses the API's policy, with docker's messages.
    pub fn parse(p: &RestartPolicy) -> Result<Policy, Error> {
        let invalid = |message: String| Error::InvalidConfig { message };
        match p.name.as_str() {
            "" | "no" | "always" | "unless-stopped" if p.maximum_retry_count != 0 => {
                Err(invalid(format!(
                    "maximum retry count cannot be used with restart policy '{}'",
                    p.name
                )))
            }
            "" | "no" => Ok(Policy::No),
            "always" => Ok(Policy::Always),
            "unless-stopped" => Ok(Policy::UnlessStopped),
            "on-failure" if p.maximum_retry_count < 0 => Err(invalid(
                "maximum retry count cannot be negative".to_string(),
            )),
            "on-failure" => Ok(Policy::OnFailure {
                max_retries: p.maximum_retry_count,
            }),
            other => Err(invalid(format!("invalid restart policy '{other}'"))),
        }
    }

    pub fn is_no(self) -> bool {
        self == Policy::No
    }
}

/// What is known about an exit when deciding.
#[derive(Debug, Clone, Copy)]
pub struct ExitFacts {
    pub exit_code: i64,
    /// Stopped or killed through the API since its last explicit start.
    pub manually_stopped: bool,
    /// A kill cancelled restarts (docker's restart manager cancel).
    pub cancelled: bool,
    /// How long the container ran.
    pub ran_for: Duration,
    /// Policy restarts done so far (the record's RestartCount).
    pub restart_count: i64,
}

/// The verdict and the next back-off state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub restart: bool,
    /// The delay before the restart, and the back-off state to keep.
    pub delay: Duration,
}

/// Decides whether to restart after an exit; `delay` is the back-off
/// state carried from the previous decision.
pub fn decide(policy: Policy, facts: ExitFacts, delay: Duration) -> Decision {
    if policy.is_no() || facts.cancelled {
        return Decision {
            restart: false,
            delay,
        };
    }
    let base = if facts.ran_for >= RESET_AFTER {
        Duration::ZERO
    } else {
        delay
    };
    let next = if base.is_zero() {
        INITIAL_DELAY
    } else {
        (base * 2).min(MAX_DELAY)
    };
    let restart = match policy {
        Policy::No => false,
        Policy::Always => true,
        Policy::UnlessStopped => !facts.manually_stopped,
        Policy::OnFailure { max_retries } => {
            facts.exit_code != 0 && (max_retries == 0 || facts.restart_count < max_retries)
        }
    };
    Decision {
        restart,
        delay: if restart { next } else { delay },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, n: i64) -> Result<Policy, Error> {
        Policy::parse(&RestartPolicy {
            name: name.to_string(),
            maximum_retry_count: n,
        })
    }

    fn facts(exit_code: i64, restart_count: i64) -> ExitFacts {
        ExitFacts {
            exit_code,
            manually_stopped: false,
            cancelled: false,
            ran_for: Duration::from_millis(10),
            restart_count,
        }
    }

    #[test]
    fn policies_parse_with_dockers_messages() {
        assert_eq!(policy("", 0).unwrap(), Policy::No);
        assert_eq!(policy("always", 0).unwrap(), Policy::Always);
        assert_eq!(
            policy("on-failure", 2).unwrap(),
            Policy::OnFailure { max_retries: 2 }
        );
        assert_eq!(
            policy("always", 3).unwrap_err().to_string(),
            "maximum retry count cannot be used with restart policy 'always'"
        );
        assert_eq!(
            policy("on-failure", -1).unwrap_err().to_string(),
            "maximum retry count cannot be negative"
        );
        assert_eq!(
            policy("sometimes", 0).unwrap_err().to_string(),
            "invalid restart policy 'sometimes'"
        );
    }

    #[test]
    fn on_failure_counts_and_backs_off() {
        let p = Policy::OnFailure { max_retries: 2 };
        let d1 = decide(p, facts(1, 0), Duration::ZERO);
        assert_eq!(
            d1,
            Decision {
                restart: true,
                delay: INITIAL_DELAY
            }
        );
        let d2 = decide(p, facts(1, 1), d1.delay);
        assert_eq!(
            d2,
            Decision {
                restart: true,
                delay: INITIAL_DELAY * 2
            }
        );
        assert!(!decide(p, facts(1, 2), d2.delay).restart);
        assert!(!decide(p, facts(0, 0), Duration::ZERO).restart);
        assert!(
            decide(
                Policy::OnFailure { max_retries: 0 },
                facts(3, 100),
                Duration::ZERO
            )
            .restart
        );
    }

    #[test]
    fn delay_caps_and_resets_after_a_long_run() {
        let mut d = Duration::ZERO;
        for _ in 0..20 {
            d = decide(Policy::Always, facts(0, 0), d).delay;
        }
        assert_eq!(d, MAX_DELAY);
        let long = ExitFacts {
            ran_for: RESET_AFTER,
            ..facts(0, 0)
        };
        assert_eq!(decide(Policy::Always, long, d).delay, INITIAL_DELAY);
    }

    #[test]
    fn manual_stop_and_cancel() {
        let stopped = ExitFacts {
            manually_stopped: true,
            ..facts(1, 0)
        };
        assert!(decide(Policy::Always, stopped, Duration::ZERO).restart);
        assert!(!decide(Policy::UnlessStopped, stopped, Duration::ZERO).restart);
        let cancelled = ExitFacts {
            cancelled: true,
            ..facts(1, 0)
        };
        assert!(!decide(Policy::Always, cancelled, Duration::ZERO).restart);
        assert!(!decide(Policy::No, facts(1, 0), Duration::ZERO).restart);
    }
}
