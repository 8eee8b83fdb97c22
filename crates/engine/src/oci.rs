//! Docker-style OCI runtime spec generation for containers (being written).
