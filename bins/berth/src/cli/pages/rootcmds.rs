//! The help pages of `context`, `search`, `builder`, `plugin` and the swarm commands.

use super::{FORMAT_JSON, FORMAT_TABLE, Page, fl};

/// The `Long` text docker gives `context create` and `context update`: the keys
/// of `--docker` in a tabwriter table (minimum width 20, padding 3), and an example.
macro_rules! endpoint_long {
    ($verb:literal, $cmd:literal) => {
        concat!(
            $verb,
            " a context\n\nDocker endpoint config:\n\n",
            "NAME                DESCRIPTION\n",
            "from                Copy named context's Docker endpoint configuration\n",
            "host                Docker endpoint on which to connect\n",
            "ca                  Trust certs signed only by this CA\n",
            "cert                Path to TLS certificate file\n",
            "key                 Path to TLS key file\n",
            "skip-tls-verify     Skip TLS certificate validation\n",
            "\nExample:\n\n$ docker context ",
            $cmd,
            " my-context --description \"some description\" --docker \"host=tcp://myserver:2376,ca=~/ca-file,cert=~/cert-file,key=~/key-file\"\n"
        )
    };
}

const ENDPOINT_FLAGS: &[super::Flag] = &[
    fl("", "description", "string", "Description of the context"),
    fl(
        "",
        "docker",
        "stringToString",
        "set the docker endpoint (default [])",
    ),
    fl("", "from", "string", "create context from a named context"),
];

pub(super) const PAGES: &[Page] = &[
    Page {
        paths: &["plugin create"],
        about: "Create a plugin from a rootfs and configuration. Plugin data directory must contain config.json and rootfs directory.",
        aliases: &[],
        flags: &[&[fl("", "compress", "", "Compress the context using gzip")]],
    },
    Page {
        paths: &["plugin disable"],
        about: "Disable a plugin",
        aliases: &[],
        flags: &[&[fl(
            "f",
            "force",
            "",
            "Force the disable of an active plugin",
        )]],
    },
    Page {
        paths: &["plugin enable"],
        about: "Enable a plugin",
        aliases: &[],
        flags: &[&[fl(
            "",
            "timeout",
            "int",
            "HTTP client timeout (in seconds) (default 30)",
        )]],
    },
    Page {
        paths: &["plugin inspect"],
        about: "Display detailed information on one or more plugins",
        aliases: &[],
        flags: &[&[fl("f", "format", "string", FORMAT_JSON)]],
    },
    Page {
        paths: &["plugin install"],
        about: "Install a plugin",
        aliases: &[],
        flags: &[&[
            fl("", "alias", "string", "Local name for plugin"),
            fl("", "disable", "", "Do not enable the plugin on install"),
            fl(
                "",
                "disable-content-trust",
                "",
                "Skip image verification (default true)",
            ),
            fl(
                "",
                "grant-all-permissions",
                "",
                "Grant all permissions necessary to run the plugin",
            ),
        ]],
    },
    Page {
        paths: &["plugin ls"],
        about: "List plugins",
        aliases: &["plugin ls", "plugin list"],
        flags: &[&[
            fl(
                "f",
                "filter",
                "filter",
                "Provide filter values (e.g. \"enabled=true\")",
            ),
            fl("", "format", "string", FORMAT_TABLE),
            fl("", "no-trunc", "", "Don't truncate output"),
            fl("q", "quiet", "", "Only display plugin IDs"),
        ]],
    },
    Page {
        paths: &["plugin push"],
        about: "Push a plugin to a registry",
        aliases: &[],
        flags: &[&[fl(
            "",
            "disable-content-trust",
            "",
            "Skip image signing (default true)",
        )]],
    },
    Page {
        paths: &["plugin rm"],
        about: "Remove one or more plugins",
        aliases: &["plugin rm", "plugin remove"],
        flags: &[&[fl(
            "f",
            "force",
            "",
            "Force the removal of an active plugin",
        )]],
    },
    Page {
        paths: &["plugin set"],
        about: "Change settings for a plugin",
        aliases: &[],
        flags: &[],
    },
    Page {
        paths: &["plugin upgrade"],
        about: "Upgrade an existing plugin",
        aliases: &[],
        flags: &[&[
            fl(
                "",
                "disable-content-trust",
                "",
                "Skip image verification (default true)",
            ),
            fl(
                "",
                "grant-all-permissions",
                "",
                "Grant all permissions necessary to run the plugin",
            ),
            fl(
                "",
                "skip-remote-check",
                "",
                "Do not check if specified remote plugin matches existing plugin image",
            ),
        ]],
    },
    Page {
        paths: &["builder prune"],
        about: "Remove build cache",
        aliases: &[],
        flags: &[&[
            fl(
                "a",
                "all",
                "",
                "Remove all unused build cache, not just dangling ones",
            ),
            fl(
                "",
                "filter",
                "filter",
                "Provide filter values (e.g. \"until=24h\")",
            ),
            fl("f", "force", "", "Do not prompt for confirmation"),
            fl(
                "",
                "keep-storage",
                "bytes",
                "Amount of disk space to keep for cache",
            ),
        ]],
    },
    Page {
        paths: &["search"],
        about: "Search Docker Hub for images",
        aliases: &[],
        flags: &[&[
            fl(
                "f",
                "filter",
                "filter",
                "Filter output based on conditions provided",
            ),
            fl(
                "",
                "format",
                "string",
                "Pretty-print search using a Go template",
            ),
            fl("", "limit", "int", "Max number of search results"),
            fl("", "no-trunc", "", "Don't truncate output"),
        ]],
    },
    Page {
        paths: &["context create"],
        about: endpoint_long!("Create", "create"),
        aliases: &[],
        flags: &[ENDPOINT_FLAGS],
    },
    Page {
        paths: &["context export"],
        about: "Export a context to a tar archive FILE or a tar stream on STDOUT.",
        aliases: &[],
        flags: &[],
    },
    Page {
        paths: &["context import"],
        about: "Import a context from a tar or zip file",
        aliases: &[],
        flags: &[],
    },
    Page {
        paths: &["context inspect"],
        about: "Display detailed information on one or more contexts",
        aliases: &[],
        flags: &[&[fl("f", "format", "string", FORMAT_JSON)]],
    },
    Page {
        paths: &["context ls"],
        about: "List contexts",
        aliases: &["context ls", "context list"],
        flags: &[&[
            fl("", "format", "string", FORMAT_TABLE),
            fl("q", "quiet", "", "Only show context names"),
        ]],
    },
    Page {
        paths: &["context rm"],
        about: "Remove one or more contexts",
        aliases: &["context rm", "context remove"],
        flags: &[&[fl(
            "f",
            "force",
            "",
            "Force the removal of a context in use",
        )]],
    },
    Page {
        paths: &["context show"],
        about: "Print the name of the current context",
        aliases: &[],
        flags: &[],
    },
    Page {
        paths: &["context update"],
        about: endpoint_long!("Update", "update"),
        aliases: &[],
        flags: &[ENDPOINT_FLAGS],
    },
    Page {
        paths: &["context use"],
        about: "Set the current docker context",
        aliases: &[],
        flags: &[],
    },
];
