//! YAML specs (in progress).
