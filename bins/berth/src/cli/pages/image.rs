//! The help pages of the image commands.

use super::{FORMAT_JSON, FORMAT_TABLE, Page, fl};

pub(super) const PAGES: &[Page] = &[
    Page {
        paths: &["image ls", "images"],
        about: "List images",
        aliases: &["image ls", "image list", "images"],
        flags: &[&[
            fl(
                "a",
                "all",
                "",
                "Show all images (default hides intermediate images)",
            ),
            fl("", "digests", "", "Show digests"),
            fl(
                "f",
                "filter",
                "filter",
                "Filter output based on conditions provided",
            ),
            fl("", "format", "string", FORMAT_TABLE),
            fl("", "no-trunc", "", "Don't truncate output"),
            fl("q", "quiet", "", "Only show image IDs"),
        ]],
    },
    Page {
        paths: &["image build", "build"],
        about: "Build an image from a Dockerfile",
        // docker also lists `builder build`; berth has no `builder` command.
        aliases: &["image build", "build"],
        flags: &[&[
            fl(
                "",
                "add-host",
                "list",
                "Add a custom host-to-IP mapping (\"host:ip\")",
            ),
            fl("", "build-arg", "list", "Set build-time variables"),
            fl(
                "",
                "cache-from",
                "strings",
                "Images to consider as cache sources",
            ),
            fl(
                "",
                "cgroup-parent",
                "string",
                "Set the parent cgroup for the \"RUN\" instructions during build",
            ),
            fl("", "compress", "", "Compress the build context using gzip"),
            fl(
                "",
                "cpu-period",
                "int",
                "Limit the CPU CFS (Completely Fair Scheduler) period",
            ),
            fl(
                "",
                "cpu-quota",
                "int",
                "Limit the CPU CFS (Completely Fair Scheduler) quota",
            ),
            fl("c", "cpu-shares", "int", "CPU shares (relative weight)"),
            fl(
                "",
                "cpuset-cpus",
                "string",
                "CPUs in which to allow execution (0-3, 0,1)",
            ),
            fl(
                "",
                "cpuset-mems",
                "string",
                "MEMs in which to allow execution (0-3, 0,1)",
            ),
            fl(
                "",
                "disable-content-trust",
                "",
                "Skip image verification (default true)",
            ),
            fl(
                "f",
                "file",
                "string",
                "Name of the Dockerfile (Default is \"PATH/Dockerfile\")",
            ),
            fl("", "force-rm", "", "Always remove intermediate containers"),
            fl("", "iidfile", "string", "Write the image ID to the file"),
            fl("", "isolation", "string", "Container isolation technology"),
            fl("", "label", "list", "Set metadata for an image"),
            fl("m", "memory", "bytes", "Memory limit"),
            fl(
                "",
                "memory-swap",
                "bytes",
                "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
            ),
            fl(
                "",
                "network",
                "string",
                "Set the networking mode for the RUN instructions during build (default \"default\")",
            ),
            fl(
                "",
                "no-cache",
                "",
                "Do not use cache when building the image",
            ),
            fl(
                "",
                "platform",
                "string",
                "Set platform if server is multi-platform capable",
            ),
            fl(
                "",
                "pull",
                "",
                "Always attempt to pull a newer version of the image",
            ),
            fl(
                "q",
                "quiet",
                "",
                "Suppress the build output and print image ID on success",
            ),
            fl(
                "",
                "rm",
                "",
                "Remove intermediate containers after a successful build (default true)",
            ),
            fl("", "security-opt", "strings", "Security options"),
            fl("", "shm-size", "bytes", "Size of \"/dev/shm\""),
            fl(
                "t",
                "tag",
                "list",
                "Name and optionally a tag in the \"name:tag\" format",
            ),
            fl(
                "",
                "target",
                "string",
                "Set the target build stage to build.",
            ),
            fl("", "ulimit", "ulimit", "Ulimit options (default [])"),
        ]],
    },
    Page {
        paths: &["image pull", "pull"],
        about: "Download an image from a registry",
        aliases: &["image pull", "pull"],
        flags: &[&[
            fl(
                "a",
                "all-tags",
                "",
                "Download all tagged images in the repository",
            ),
            fl(
                "",
                "disable-content-trust",
                "",
                "Skip image verification (default true)",
            ),
            fl(
                "",
                "platform",
                "string",
                "Set platform if server is multi-platform capable",
            ),
            fl("q", "quiet", "", "Suppress verbose output"),
        ]],
    },
    Page {
        paths: &["image push", "push"],
        about: "Upload an image to a registry",
        aliases: &["image push", "push"],
        flags: &[&[
            fl(
                "a",
                "all-tags",
                "",
                "Push all tags of an image to the repository",
            ),
            fl(
                "",
                "disable-content-trust",
                "",
                "Skip image signing (default true)",
            ),
            fl("q", "quiet", "", "Suppress verbose output"),
        ]],
    },
    Page {
        paths: &["image history", "history"],
        about: "Show the history of an image",
        aliases: &["image history", "history"],
        flags: &[&[
            fl("", "format", "string", FORMAT_TABLE),
            fl(
                "H",
                "human",
                "",
                "Print sizes and dates in human readable format (default true)",
            ),
            fl("", "no-trunc", "", "Don't truncate output"),
            fl("q", "quiet", "", "Only show image IDs"),
        ]],
    },
    Page {
        paths: &["image import", "import"],
        about: "Import the contents from a tarball to create a filesystem image",
        aliases: &["image import", "import"],
        flags: &[&[
            fl(
                "c",
                "change",
                "list",
                "Apply Dockerfile instruction to the created image",
            ),
            fl(
                "m",
                "message",
                "string",
                "Set commit message for imported image",
            ),
            fl(
                "",
                "platform",
                "string",
                "Set platform if server is multi-platform capable",
            ),
        ]],
    },
    Page {
        paths: &["image load", "load"],
        about: "Load an image from a tar archive or STDIN",
        aliases: &["image load", "load"],
        flags: &[&[
            fl(
                "i",
                "input",
                "string",
                "Read from tar archive file, instead of STDIN",
            ),
            fl("q", "quiet", "", "Suppress the load output"),
        ]],
    },
    Page {
        paths: &["image rm", "rmi"],
        about: "Remove one or more images",
        aliases: &["image rm", "image remove", "rmi"],
        flags: &[&[
            fl("f", "force", "", "Force removal of the image"),
            fl("", "no-prune", "", "Do not delete untagged parents"),
        ]],
    },
    Page {
        paths: &["image save", "save"],
        about: "Save one or more images to a tar archive (streamed to STDOUT by default)",
        aliases: &["image save", "save"],
        flags: &[&[fl(
            "o",
            "output",
            "string",
            "Write to a file, instead of STDOUT",
        )]],
    },
    Page {
        paths: &["image tag", "tag"],
        about: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        aliases: &["image tag", "tag"],
        flags: &[],
    },
    Page {
        paths: &["image inspect"],
        about: "Display detailed information on one or more images",
        aliases: &[],
        flags: &[&[fl("f", "format", "string", FORMAT_JSON)]],
    },
    Page {
        paths: &["image prune"],
        about: "Remove unused images",
        aliases: &[],
        flags: &[&[
            fl(
                "a",
                "all",
                "",
                "Remove all unused images, not just dangling ones",
            ),
            fl(
                "",
                "filter",
                "filter",
                "Provide filter values (e.g. \"until=<timestamp>\")",
            ),
            fl("f", "force", "", "Do not prompt for confirmation"),
        ]],
    },
];
