//! Ranking snapshots (in progress).
