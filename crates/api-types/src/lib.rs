//! Docker Engine API v1.41 models, stream framing and error classes (being written).
