//! Device access rules: parsing OCI rules, the v1 devices-cgroup state
//! machine, and the minimal writes that move a cgroup from its current rules
//! to the requested ones.
//!
//! Vocabulary (kernel Documentation/admin-guide/cgroup-v1/devices.rst): a
//! devices cgroup has a *default* (allow all or deny all) and a set of
//! *exceptions* keyed by (type, major, minor), each with access bits
//! `r`, `w`, `m`. Writing `a` to `devices.allow`/`devices.deny` resets the
//! default and clears the exceptions; any other rule adds to or removes from
//! the exceptions. `devices.list` shows `a *:* rwm` when everything is
//! allowed, otherwise the allowed exceptions.
//!
//! Writing the rules one after another would work for a new cgroup, but on
//! `update` of a running container it would briefly deny everything (the
//! `a` reset). So, like runc, the current state is read from `devices.list`,
//! the target state is computed by replaying the rules, and only the
//! difference is written.

use std::collections::BTreeMap;
use std::fmt;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

/// Access bits of a rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access(u8);

impl Access {
    pub const READ: Access = Access(1);
    pub const WRITE: Access = Access(2);
    pub const MKNOD: Access = Access(4);
    pub const ALL: Access = Access(7);

    /// Parses `rwm` letters (any order, repeats allowed).
    pub fn parse(s: &str) -> Option<Access> {
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                'r' => 1,
                'w' => 2,
                'm' => 4,
                _ => return None,
            };
        }
        (bits != 0).then_some(Access(bits))
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }
    fn union(self, o: Access) -> Access {
        Access(self.0 | o.0)
    }
    fn intersection(self, o: Access) -> Access {
        Access(self.0 & o.0)
    }
    fn difference(self, o: Access) -> Access {
        Access(self.0 & !o.0)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(1, 'r'), (2, 'w'), (4, 'm')] {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The device type of a rule. Ordering is by the type letter, so that the
/// emitted rules come out in runc's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceType {
    /// `a`: every device; only meaningful as a reset of the default.
    All,
    /// `b`
    Block,
    /// `c`
    Char,
}

impl DeviceType {
    fn letter(self) -> char {
        match self {
            DeviceType::All => 'a',
            DeviceType::Block => 'b',
            DeviceType::Char => 'c',
        }
    }
}

/// One allow or deny rule; `None` major/minor is the `*` wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub typ: DeviceType,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: Access,
}

impl DeviceRule {
    /// The file a v1 cgroup takes this rule in.
    pub fn v1_file(&self) -> &'static str {
        if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    }

    /// The text written to `devices.allow`/`devices.deny`, e.g. `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.typ.letter(),
            num(self.major),
            num(self.minor),
            self.access
        )
    }

    /// Converts an OCI `linux.resources.devices` entry. Like runc's specconv:
    /// a missing type is `a`, a missing (or -1) number is `*`, and an empty
    /// access is an error.
    pub fn from_oci(index: usize, d: &LinuxDeviceCgroup) -> Result<DeviceRule, CgroupError> {
        let bad = |reason: &'static str| CgroupError::InvalidDeviceRule {
            index,
            rule: format!("{d:?}"),
            reason,
        };
        let typ = match d.typ() {
            None | Some(LinuxDeviceType::A) => DeviceType::All,
            Some(LinuxDeviceType::B) => DeviceType::Block,
            Some(LinuxDeviceType::C) => DeviceType::Char,
            Some(_) => return Err(bad("cgroup device type must be a, b or c")),
        };
        let num = |n: Option<i64>| match n {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| bad("device number out of range")),
        };
        let access = match d.access().as_deref() {
            None | Some("") => return Err(bad("device access cannot be empty")),
            Some(a) => {
                Access::parse(a).ok_or_else(|| bad("device access must be made of r, w, m"))?
            }
        };
        Ok(DeviceRule {
            allow: d.allow(),
            typ,
            major: num(d.major())?,
            minor: num(d.minor())?,
            access,
        })
    }
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.allow { "allow" } else { "deny" };
        write!(f, "{verb} {}", self.v1_line())
    }
}

/// A line of `devices.list` that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    pub line: String,
    pub reason: &'static str,
}

/// Sort key of an exception: (major, minor, type) with the wildcard first,
/// the order runc emits transitions in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    major: i64,
    minor: i64,
    typ: DeviceType,
}

fn key_num(n: Option<u32>) -> i64 {
    n.map_or(-1, i64::from)
}

fn num_of_key(n: i64) -> Option<u32> {
    u32::try_from(n).ok()
}

/// The effective state of a devices cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// `true`: everything not excepted is allowed (a deny list).
    default_allow: bool,
    exceptions: BTreeMap<Key, Access>,
}

impl DeviceState {
    /// The state a fresh allow-list starts from: deny everything.
    pub fn deny_all() -> DeviceState {
        DeviceState::default()
    }

    /// The state of a cgroup that allows everything (`a *:* rwm`).
    pub fn allow_all() -> DeviceState {
        DeviceState {
            default_allow: true,
            exceptions: BTreeMap::new(),
        }
    }

    /// The state after replaying `rules` on a deny-all cgroup.
    pub fn from_rules(rules: &[DeviceRule]) -> Result<DeviceState, CgroupError> {
        let mut s = DeviceState::deny_all();
        for r in rules {
            s.apply(r)?;
        }
        Ok(s)
    }

    /// Parses `devices.list`: its lines are the allowed exceptions, or the
    /// single line `a *:* rwm` for allow-all. The error names the bad line.
    pub fn from_list(text: &str) -> Result<DeviceState, ListError> {
        let mut s = DeviceState::deny_all();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let bad = |reason: &'static str| ListError {
                line: line.to_owned(),
                reason,
            };
            let f: Vec<&str> = line.split([' ', ':']).filter(|f| !f.is_empty()).collect();
            let [typ, major, minor, access] = f[..] else {
                return Err(bad("expected \"type major:minor access\""));
            };
            let typ = match typ {
                "a" => DeviceType::All,
                "b" => DeviceType::Block,
                "c" => DeviceType::Char,
                _ => return Err(bad("unknown device type")),
            };
            let num = |n: &str| -> Result<Option<u32>, ListError> {
                if n == "*" {
                    Ok(None)
                } else {
                    n.parse().map(Some).map_err(|_| bad("bad device number"))
                }
            };
            let rule = DeviceRule {
                allow: true,
                typ,
                major: num(major)?,
                minor: num(minor)?,
                access: Access::parse(access).ok_or_else(|| bad("bad access"))?,
            };
            // Allowing on top of deny-all only adds exceptions: never fails.
            s.apply(&rule).map_err(|_| bad("rule cannot be applied"))?;
        }
        Ok(s)
    }

    /// Whether everything not excepted is allowed.
    pub fn is_deny_list(&self) -> bool {
        self.default_allow
    }

    /// The exceptions as rules whose verdict is the opposite of the default,
    /// in (major, minor, type) order.
    pub fn exceptions(&self) -> impl Iterator<Item = DeviceRule> + '_ {
        self.exceptions.iter().map(|(k, access)| DeviceRule {
            allow: !self.default_allow,
            typ: k.typ,
            major: num_of_key(k.major),
            minor: num_of_key(k.minor),
            access: *access,
        })
    }

    /// Applies one rule with the kernel's semantics.
    pub fn apply(&mut self, rule: &DeviceRule) -> Result<(), CgroupError> {
        if rule.typ == DeviceType::All {
            // "a" resets: the default becomes the rule's verdict.
            *self = DeviceState {
                default_allow: rule.allow,
                exceptions: BTreeMap::new(),
            };
            return Ok(());
        }
        let key = Key {
            major: key_num(rule.major),
            minor: key_num(rule.minor),
            typ: rule.typ,
        };
        if rule.allow == self.default_allow {
            // The rule agrees with the default: it removes (part of) an
            // exception. The kernel cannot remove part of a wildcard
            // exception for one device, so such rules are rejected.
            for partial in [
                Key { major: -1, ..key },
                Key { minor: -1, ..key },
                Key {
                    major: -1,
                    minor: -1,
                    ..key
                },
            ] {
                if partial == key {
                    continue;
                }
                let held = self.exceptions.get(&partial).copied().unwrap_or_default();
                if !held.intersection(rule.access).is_empty() {
                    return Err(CgroupError::DeviceRuleHole {
                        rule: rule.to_string(),
                        wildcard: DeviceRule {
                            allow: !rule.allow,
                            typ: partial.typ,
                            major: num_of_key(partial.major),
                            minor: num_of_key(partial.minor),
                            access: held,
                        }
                        .to_string(),
                    });
                }
            }
            let left = self
                .exceptions
                .get(&key)
                .copied()
                .unwrap_or_default()
                .difference(rule.access);
            if left.is_empty() {
                self.exceptions.remove(&key);
            } else {
                self.exceptions.insert(key, left);
            }
        } else {
            let e = self.exceptions.entry(key).or_default();
            *e = e.union(rule.access);
        }
        Ok(())
    }

    /// The rules that turn `self` into `target` without ever granting what
    /// neither state grants, and without a deny-all window when both are
    /// allow-lists.
    pub fn transition(&self, target: &DeviceState) -> Vec<DeviceRule> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let mut old = &self.exceptions;
        if self.default_allow || self.default_allow != target.default_allow {
            out.push(DeviceRule {
                allow: target.default_allow,
                typ: DeviceType::All,
                major: None,
                minor: None,
                access: Access::ALL,
            });
            old = &empty;
        }
        let rule = |k: &Key, allow: bool, access: Access| DeviceRule {
            allow,
            typ: k.typ,
            major: num_of_key(k.major),
            minor: num_of_key(k.minor),
            access,
        };
        for (k, had) in old {
            let dropped = had.difference(target.exceptions.get(k).copied().unwrap_or_default());
            if !dropped.is_empty() {
                out.push(rule(k, target.default_allow, dropped));
            }
        }
        for (k, wants) in &target.exceptions {
            let gained = wants.difference(old.get(k).copied().unwrap_or_default());
            if !gained.is_empty() {
                out.push(rule(k, !target.default_allow, gained));
            }
        }
        out
    }
}

/// A device rule runc adds to every container.
struct DefaultDevice {
    path: Option<&'static str>,
    typ: DeviceType,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
}

/// The devices runc 1.1 allows in every container, appended after the
/// user's rules (specconv's `AllowedDevices`): mknod of anything, the
/// standard nodes, ptys, `/dev/pts/*` and tun.
///
/// An entry with a path is dropped when the spec lists a device with that
/// path itself.
const RUNC_DEFAULT_DEVICES: &[DefaultDevice] = &[
    DefaultDevice {
        path: None,
        typ: DeviceType::Char,
        major: None,
        minor: None,
        access: "m",
    },
    DefaultDevice {
        path: None,
        typ: DeviceType::Block,
        major: None,
        minor: None,
        access: "m",
    },
    DefaultDevice {
        path: Some("/dev/null"),
        typ: DeviceType::Char,
        major: Some(1),
        minor: Some(3),
        access: "rwm",
    },
    DefaultDevice {
        path: Some("/dev/random"),
        typ: DeviceType::Char,
        major: Some(1),
        minor: Some(8),
        access: "rwm",
    },
    DefaultDevice {
        path: Some("/dev/full"),
        typ: DeviceType::Char,
        major: Some(1),
        minor: Some(7),
        access: "rwm",
    },
    DefaultDevice {
        path: Some("/dev/tty"),
        typ: DeviceType::Char,
        major: Some(5),
        minor: Some(0),
        access: "rwm",
    },
    DefaultDevice {
        path: Some("/dev/zero"),
        typ: DeviceType::Char,
        major: Some(1),
        minor: Some(5),
        access: "rwm",
    },
    DefaultDevice {
        path: Some("/dev/urandom"),
        typ: DeviceType::Char,
        major: Some(1),
        minor: Some(9),
        access: "rwm",
    },
    DefaultDevice {
        path: None,
        typ: DeviceType::Char,
        major: Some(136),
        minor: None,
        access: "rwm",
    },
    DefaultDevice {
        path: None,
        typ: DeviceType::Char,
        major: Some(5),
        minor: Some(2),
        access: "rwm",
    },
    DefaultDevice {
        path: None,
        typ: DeviceType::Char,
        major: Some(10),
        minor: Some(200),
        access: "rwm",
    },
];

/// The device rules runc 1.1 puts in a container's cgroup: the spec's
/// `linux.resources.devices` followed by runc's default allowed devices
/// (minus defaults whose path `linux.devices` redefines). Pass the result as
/// `linux.resources.devices` to [`super::Cgroup::apply`], on create and on
/// every update, so that an update re-applies the same device rules.
pub fn runc_device_rules(
    resource_rules: &[LinuxDeviceCgroup],
    linux_devices: &[LinuxDevice],
) -> Vec<LinuxDeviceCgroup> {
    let mut out = resource_rules.to_vec();
    for dev in RUNC_DEFAULT_DEVICES {
        if let Some(p) = dev.path
            && linux_devices.iter().any(|d| d.path().as_os_str() == p)
        {
            continue;
        }
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true);
        rule.set_typ(Some(match dev.typ {
            DeviceType::All => LinuxDeviceType::A,
            DeviceType::Block => LinuxDeviceType::B,
            DeviceType::Char => LinuxDeviceType::C,
        }));
        rule.set_major(dev.major.map(i64::from));
        rule.set_minor(dev.minor.map(i64::from));
        rule.set_access(Some(dev.access.to_owned()));
        out.push(rule);
    }
    out
}

/// Converts all OCI rules, validating each.
pub fn rules_from_oci(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, d)| DeviceRule::from_oci(i, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oci(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(typ);
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_owned()));
        r
    }

    fn lines(rules: &[DeviceRule]) -> Vec<String> {
        rules
            .iter()
            .map(|r| format!("{} {}", r.v1_file(), r.v1_line()))
            .collect()
    }

    #[test]
    fn oci_rules_convert_like_runc() {
        let r = DeviceRule::from_oci(0, &oci(false, None, None, None, "rwm")).unwrap();
        assert_eq!(r.v1_line(), "a *:* rwm");
        assert_eq!(r.v1_file(), "devices.deny");
        let r = DeviceRule::from_oci(
            0,
            &oci(true, Some(LinuxDeviceType::C), Some(1), Some(-1), "mrw"),
        )
        .unwrap();
        assert_eq!(r.v1_line(), "c 1:* rwm");
        assert!(DeviceRule::from_oci(0, &oci(true, None, None, None, "")).is_err());
        assert!(DeviceRule::from_oci(0, &oci(true, None, None, None, "rx")).is_err());
        assert!(
            DeviceRule::from_oci(0, &oci(true, Some(LinuxDeviceType::P), None, None, "r")).is_err()
        );
        assert!(
            DeviceRule::from_oci(0, &oci(true, Some(LinuxDeviceType::C), Some(-2), None, "r"))
                .is_err()
        );
    }

    #[test]
    fn fresh_cgroup_gets_reset_then_allows_in_order() {
        let current = DeviceState::from_list("a *:* rwm\n").unwrap();
        assert!(current.is_deny_list());
        let rules = rules_from_oci(&runc_device_rules(
            &[oci(false, None, None, None, "rwm")],
            &[],
        ))
        .unwrap();
        let target = DeviceState::from_rules(&rules).unwrap();
        assert_eq!(
            lines(&current.transition(&target)),
            [
                "devices.deny a *:* rwm",
                "devices.allow b *:* m",
                "devices.allow c *:* m",
                "devices.allow c 1:3 rwm",
                "devices.allow c 1:5 rwm",
                "devices.allow c 1:7 rwm",
                "devices.allow c 1:8 rwm",
                "devices.allow c 1:9 rwm",
                "devices.allow c 5:0 rwm",
                "devices.allow c 5:2 rwm",
                "devices.allow c 10:200 rwm",
                "devices.allow c 136:* rwm",
            ]
        );
    }

    #[test]
    fn update_with_same_rules_writes_nothing_and_changes_are_minimal() {
        let list = "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n";
        let current = DeviceState::from_list(list).unwrap();
        let same = DeviceState::from_list(list).unwrap();
        assert!(current.transition(&same).is_empty());
        // Drop write on /dev/zero and add /dev/fuse read.
        let target = DeviceState::from_list(
            "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rm\nc 10:229 r\nc 136:* rwm\n",
        )
        .unwrap();
        assert_eq!(
            lines(&current.transition(&target)),
            ["devices.deny c 1:5 w", "devices.allow c 10:229 r"]
        );
    }

    #[test]
    fn deny_list_targets_and_holes() {
        let allow_all = oci(true, None, None, None, "rwm");
        let deny_sda = oci(false, Some(LinuxDeviceType::B), Some(8), Some(0), "w");
        let target =
            DeviceState::from_rules(&rules_from_oci(&[allow_all, deny_sda]).unwrap()).unwrap();
        assert!(target.is_deny_list());
        let current = DeviceState::from_list("a *:* rwm\n").unwrap();
        assert_eq!(
            lines(&current.transition(&target)),
            ["devices.allow a *:* rwm", "devices.deny b 8:0 w"]
        );
        // Allowing c 1:* and then denying c 1:3 cannot be expressed in v1.
        let hole = [
            oci(false, None, None, None, "rwm"),
            oci(true, Some(LinuxDeviceType::C), Some(1), None, "rwm"),
            oci(false, Some(LinuxDeviceType::C), Some(1), Some(3), "r"),
        ];
        assert!(matches!(
            DeviceState::from_rules(&rules_from_oci(&hole).unwrap()),
            Err(CgroupError::DeviceRuleHole { .. })
        ));
    }

    #[test]
    fn spec_devices_replace_runc_defaults_by_path() {
        let mut null = LinuxDevice::default();
        null.set_path("/dev/null".into());
        let rules = runc_device_rules(&[], &[null]);
        assert_eq!(rules.len(), RUNC_DEFAULT_DEVICES.len() - 1);
        assert!(
            !rules
                .iter()
                .any(|r| r.major() == Some(1) && r.minor() == Some(3))
        );
    }

    #[test]
    fn malformed_list_is_an_error() {
        assert!(DeviceState::from_list("c 1:3\n").is_err());
        assert!(DeviceState::from_list("x 1:3 rwm\n").is_err());
    }
}
