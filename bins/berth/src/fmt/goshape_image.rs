//! The Go type docker v28's CLI decodes `GET /images/{name}/json` into
//! (`image.InspectResponse` of the Engine API module it vendors), for `image
//! inspect --format` and `inspect --type image --format`: see [`super::goshape`]
//! for what the typed view changes.
//!
//! The CLI's type is newer than the API version berthd speaks (1.41): fields the
//! daemon does not send print as zero values (`Descriptor`, `Manifests`), fields the
//! type lacks are dropped, and `Config` is the image spec's `DockerOCIImageConfig`
//! (every field `omitempty`, the OCI part embedded) rather than a container config.

use super::goshape::{
    CONFIG, EMPTY_STRUCT_MAP, HEALTH_CONFIG, STR_MAP, STRS, Shape, e, f, g, o, og,
};
use Shape::{Any, Bool, Int, Str, Time};

/// The image spec's `ImageConfig` (`opencontainers/image-spec`): every JSON key
/// written out in full, every field `omitempty`.
const OCI_IMAGE_CONFIG: &Shape = &Shape::Struct(&[&[
    o("User", &Str),
    o("ExposedPorts", EMPTY_STRUCT_MAP),
    o("Env", STRS),
    o("Entrypoint", STRS),
    o("Cmd", STRS),
    o("Volumes", EMPTY_STRUCT_MAP),
    o("WorkingDir", &Str),
    o("Labels", STR_MAP),
    o("StopSignal", &Str),
    o("ArgsEscaped", &Bool),
]]);

/// Docker's additions to the OCI image config (`DockerOCIImageConfigExt`).
const DOCKER_CONFIG_EXT: &Shape = &Shape::Struct(&[&[
    o("Healthcheck", &Shape::Ptr(&Shape::Struct(&[HEALTH_CONFIG]))),
    o("OnBuild", STRS),
    o("Shell", STRS),
]]);

/// `DockerOCIImageConfig`: both parts embedded, so `{{json .Config}}` is one flat
/// object and `{{.Config}}` prints two nested `{…}`.
const DOCKER_OCI_IMAGE_CONFIG: &Shape = &Shape::Struct(&[&[
    e("ImageConfig", OCI_IMAGE_CONFIG),
    e("DockerOCIImageConfigExt", DOCKER_CONFIG_EXT),
]]);

/// The OCI `Platform` (lower-case JSON keys).
const PLATFORM: &Shape = &Shape::Struct(&[&[
    g("Architecture", "architecture", &Str),
    g("OS", "os", &Str),
    og("OSVersion", "os.version", &Str),
    og("OSFeatures", "os.features", STRS),
    og("Variant", "variant", &Str),
]]);

/// The OCI `Descriptor`.
const DESCRIPTOR: &Shape = &Shape::Struct(&[&[
    g("MediaType", "mediaType", &Str),
    g("Digest", "digest", &Str),
    g("Size", "size", &Int),
    og("URLs", "urls", STRS),
    og("Annotations", "annotations", STR_MAP),
    // `[]byte`: base64 text in JSON.
    og("Data", "data", &Str),
    og("Platform", "platform", &Shape::Ptr(PLATFORM)),
    og("ArtifactType", "artifactType", &Str),
]]);

/// `image.InspectResponse`.
pub const IMAGE: Shape = Shape::Struct(&[&[
    g("ID", "Id", &Str),
    f("RepoTags", STRS),
    f("RepoDigests", STRS),
    f("Parent", &Str),
    f("Comment", &Str),
    o("Created", &Str),
    o("Container", &Str),
    o("ContainerConfig", &Shape::Ptr(&Shape::Struct(&[CONFIG]))),
    f("DockerVersion", &Str),
    f("Author", &Str),
    f("Config", &Shape::Ptr(DOCKER_OCI_IMAGE_CONFIG)),
    f("Architecture", &Str),
    o("Variant", &Str),
    f("Os", &Str),
    o("OsVersion", &Str),
    f("Size", &Int),
    o("VirtualSize", &Int),
    f(
        "GraphDriver",
        &Shape::Struct(&[&[f("Data", STR_MAP), f("Name", &Str)]]),
    ),
    f(
        "RootFS",
        &Shape::Struct(&[&[o("Type", &Str), o("Layers", STRS)]]),
    ),
    // `omitempty` never omits a struct such as `time.Time`.
    f("Metadata", &Shape::Struct(&[&[o("LastTagTime", &Time)]])),
    o("Descriptor", &Shape::Ptr(DESCRIPTOR)),
    // Only a multi-platform image store sends them (API 1.48+); not modelled.
    o("Manifests", &Shape::List(&Any)),
]]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::goshape::reshape;
    use berth_gotmpl::Template;
    use serde_json::{Value, json};

    fn render(src: &str, v: &Value) -> String {
        let mut out = String::new();
        Template::parse(src)
            .expect("parse")
            .execute_data(&reshape(v, &IMAGE), &mut out)
            .expect("execute");
        out
    }

    /// An image as an API 1.41 daemon describes it.
    fn image() -> Value {
        json!({
            "Id": "sha256:abc", "RepoTags": ["rich:1"], "RepoDigests": [],
            "Parent": "", "Comment": "", "Created": "2026-01-02T03:04:05.5Z",
            "Container": "", "DockerVersion": "", "Author": "",
            "ContainerConfig": {"Hostname": "", "Env": null},
            "Config": {"Hostname": "", "User": "app", "Env": ["A=1"], "Cmd": null,
                       "Labels": {"z": "1", "a": "2"}, "OnBuild": null,
                       "Healthcheck": {"Test": ["CMD", "true"], "Interval": 90_000_000_000_i64}},
            "Architecture": "amd64", "Os": "linux", "Size": 5, "VirtualSize": 5,
            "GraphDriver": {"Data": null, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": ["sha256:l1"]},
            "Metadata": {"LastTagTime": "2026-01-02T03:04:05.000000000+00:00"}
        })
    }

    #[test]
    fn config_is_the_oci_config_with_empty_fields_left_out() {
        assert_eq!(
            render("{{json .Config}}", &image()),
            r#"{"User":"app","Env":["A=1"],"Labels":{"a":"2","z":"1"},"Healthcheck":{"Test":["CMD","true"],"Interval":90000000000}}"#
        );
        assert_eq!(
            render("{{.Config.Healthcheck}}", &image()),
            "{[CMD true] 1m30s 0s 0s 0s 0}"
        );
        let mut plain = image();
        plain["Config"]["Healthcheck"] = Value::Null;
        assert_eq!(
            render("{{.Config}} {{.Config.User}}", &plain),
            "{{app map[] [A=1] [] [] map[]  map[a:2 z:1]  false} {<nil> [] []}} app"
        );
        assert_eq!(render("{{.Config}}", &json!({})), "<nil>");
    }

    #[test]
    fn fields_in_struct_order_with_go_times() {
        let j = render("{{json .}}", &image());
        assert!(
            j.starts_with(r#"{"Id":"sha256:abc","RepoTags":["rich:1"],"RepoDigests":[],"Parent":"","Comment":"","Created":"2026-01-02T03:04:05.5Z","ContainerConfig":{"Hostname":"","Domainname":""#),
            "{j}"
        );
        assert!(
            j.ends_with(r#""Size":5,"VirtualSize":5,"GraphDriver":{"Data":null,"Name":"overlay2"},"RootFS":{"Type":"layers","Layers":["sha256:l1"]},"Metadata":{"LastTagTime":"2026-01-02T03:04:05Z"}}"#),
            "{j}"
        );
        assert!(!j.contains("\"Container\""), "{j}");
        assert_eq!(render("{{.RootFS}}", &image()), "{layers [sha256:l1]}");
        assert_eq!(
            render("{{.Metadata}}", &image()),
            "{2026-01-02 03:04:05 +0000 UTC}"
        );
        assert_eq!(
            render("{{json .Metadata}}", &json!({})),
            r#"{"LastTagTime":"0001-01-01T00:00:00Z"}"#
        );
    }
}
