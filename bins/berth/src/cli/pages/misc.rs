//! The help pages of the network, volume and system commands, and of the rest.

use super::{FORMAT_JSON, FORMAT_TABLE, Page, fl};

pub(super) const PAGES: &[Page] = &[
    Page {
        paths: &["version"],
        about: "Show the Docker version information",
        aliases: &[],
        flags: &[&[fl("f", "format", "string", FORMAT_JSON)]],
    },
    Page {
        paths: &["system info", "info"],
        about: "Display system-wide information",
        aliases: &["system info", "info"],
        flags: &[&[fl("f", "format", "string", FORMAT_JSON)]],
    },
    Page {
        paths: &["login"],
        about: "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
        aliases: &[],
        flags: &[&[
            fl(
                "p",
                "password",
                "string",
                "Password or Personal Access Token (PAT)",
            ),
            fl(
                "",
                "password-stdin",
                "",
                "Take the Password or Personal Access Token (PAT) from stdin",
            ),
            fl("u", "username", "string", "Username"),
        ]],
    },
    Page {
        paths: &["logout"],
        about: "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
        aliases: &[],
        flags: &[],
    },
    Page {
        paths: &["system events", "events"],
        about: "Get real time events from the server",
        aliases: &["system events", "events"],
        flags: &[&[
            fl(
                "f",
                "filter",
                "filter",
                "Filter output based on conditions provided",
            ),
            fl("", "format", "string", FORMAT_JSON),
            fl(
                "",
                "since",
                "string",
                "Show all events created since timestamp",
            ),
            fl("", "until", "string", "Stream events until this timestamp"),
        ]],
    },
    Page {
        paths: &["inspect"],
        about: "Return low-level information on Docker objects",
        aliases: &[],
        flags: &[&[
            fl("f", "format", "string", FORMAT_JSON),
            fl(
                "s",
                "size",
                "",
                "Display total file sizes if the type is container",
            ),
            fl(
                "",
                "type",
                "string",
                "Only inspect objects of the given type",
            ),
        ]],
    },
    Page {
        paths: &["network connect"],
        about: "Connect a container to a network",
        aliases: &[],
        flags: &[&[
            fl(
                "",
                "alias",
                "strings",
                "Add network-scoped alias for the container",
            ),
            fl(
                "",
                "driver-opt",
                "strings",
                "driver options for the network",
            ),
            fl(
                "",
                "gw-priority",
                "int",
                "Highest gw-priority provides the default gateway. Accepts positive and negative values.",
            ),
            fl(
                "",
                "ip",
                "string",
                "IPv4 address (e.g., \"172.30.100.104\")",
            ),
            fl("", "ip6", "string", "IPv6 address (e.g., \"2001:db8::33\")"),
            fl("", "link", "list", "Add link to another container"),
            fl(
                "",
                "link-local-ip",
                "strings",
                "Add a link-local address for the container",
            ),
        ]],
    },
    Page {
        paths: &["network create"],
        about: "Create a network",
        aliases: &[],
        flags: &[&[
            fl("", "attachable", "", "Enable manual container attachment"),
            fl(
                "",
                "aux-address",
                "map",
                "Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])",
            ),
            fl(
                "",
                "config-from",
                "string",
                "The network from which to copy the configuration",
            ),
            fl("", "config-only", "", "Create a configuration only network"),
            fl(
                "d",
                "driver",
                "string",
                "Driver to manage the Network (default \"bridge\")",
            ),
            fl(
                "",
                "gateway",
                "strings",
                "IPv4 or IPv6 Gateway for the master subnet",
            ),
            fl("", "ingress", "", "Create swarm routing-mesh network"),
            fl(
                "",
                "internal",
                "",
                "Restrict external access to the network",
            ),
            fl(
                "",
                "ip-range",
                "strings",
                "Allocate container ip from a sub-range",
            ),
            fl(
                "",
                "ipam-driver",
                "string",
                "IP Address Management Driver (default \"default\")",
            ),
            fl(
                "",
                "ipam-opt",
                "map",
                "Set IPAM driver specific options (default map[])",
            ),
            fl(
                "",
                "ipv4",
                "",
                "Enable or disable IPv4 address assignment (default true)",
            ),
            fl("", "ipv6", "", "Enable or disable IPv6 address assignment"),
            fl("", "label", "list", "Set metadata on a network"),
            fl(
                "o",
                "opt",
                "map",
                "Set driver specific options (default map[])",
            ),
            fl("", "scope", "string", "Control the network's scope"),
            fl(
                "",
                "subnet",
                "strings",
                "Subnet in CIDR format that represents a network segment",
            ),
        ]],
    },
    Page {
        paths: &["network disconnect"],
        about: "Disconnect a container from a network",
        aliases: &[],
        flags: &[&[fl(
            "f",
            "force",
            "",
            "Force the container to disconnect from a network",
        )]],
    },
    Page {
        paths: &["network inspect"],
        about: "Display detailed information on one or more networks",
        aliases: &[],
        flags: &[&[
            fl("f", "format", "string", FORMAT_JSON),
            fl("v", "verbose", "", "Verbose output for diagnostics"),
        ]],
    },
    Page {
        paths: &["network ls"],
        about: "List networks",
        aliases: &["network ls", "network list"],
        flags: &[&[
            fl(
                "f",
                "filter",
                "filter",
                "Provide filter values (e.g. \"driver=bridge\")",
            ),
            fl("", "format", "string", FORMAT_TABLE),
            fl("", "no-trunc", "", "Do not truncate the output"),
            fl("q", "quiet", "", "Only display network IDs"),
        ]],
    },
    Page {
        paths: &["network prune"],
        about: "Remove all unused networks",
        aliases: &[],
        flags: &[&[
            fl(
                "",
                "filter",
                "filter",
                "Provide filter values (e.g. \"until=<timestamp>\")",
            ),
            fl("f", "force", "", "Do not prompt for confirmation"),
        ]],
    },
    Page {
        paths: &["network rm"],
        about: "Remove one or more networks",
        aliases: &["network rm", "network remove"],
        flags: &[&[fl(
            "f",
            "force",
            "",
            "Do not error if the network does not exist",
        )]],
    },
    Page {
        paths: &["volume create"],
        about: "Create a volume",
        aliases: &[],
        flags: &[&[
            fl(
                "d",
                "driver",
                "string",
                "Specify volume driver name (default \"local\")",
            ),
            fl("", "label", "list", "Set metadata for a volume"),
            fl(
                "o",
                "opt",
                "map",
                "Set driver specific options (default map[])",
            ),
        ]],
    },
    Page {
        paths: &["volume inspect"],
        about: "Display detailed information on one or more volumes",
        aliases: &[],
        flags: &[&[fl("f", "format", "string", FORMAT_JSON)]],
    },
    Page {
        paths: &["volume ls"],
        about: "List volumes",
        aliases: &["volume ls", "volume list"],
        flags: &[&[
            fl(
                "f",
                "filter",
                "filter",
                "Provide filter values (e.g. \"dangling=true\")",
            ),
            fl("", "format", "string", FORMAT_TABLE),
            fl("q", "quiet", "", "Only display volume names"),
        ]],
    },
    Page {
        paths: &["volume prune"],
        about: "Remove unused local volumes",
        aliases: &[],
        flags: &[&[
            fl(
                "",
                "filter",
                "filter",
                "Provide filter values (e.g. \"label=<label>\")",
            ),
            fl("f", "force", "", "Do not prompt for confirmation"),
        ]],
    },
    Page {
        paths: &["volume rm"],
        about: "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
        aliases: &["volume rm", "volume remove"],
        flags: &[&[fl(
            "f",
            "force",
            "",
            "Force the removal of one or more volumes",
        )]],
    },
    Page {
        paths: &["system df"],
        about: "Show docker disk usage",
        aliases: &[],
        flags: &[&[
            fl("", "format", "string", FORMAT_TABLE),
            fl(
                "v",
                "verbose",
                "",
                "Show detailed information on space usage",
            ),
        ]],
    },
    Page {
        paths: &["system prune"],
        about: "Remove unused data",
        aliases: &[],
        flags: &[&[
            fl(
                "a",
                "all",
                "",
                "Remove all unused images not just dangling ones",
            ),
            fl(
                "",
                "filter",
                "filter",
                "Provide filter values (e.g. \"label=<key>=<value>\")",
            ),
            fl("f", "force", "", "Do not prompt for confirmation"),
            fl("", "volumes", "", "Prune anonymous volumes"),
        ]],
    },
];
