//! Reliability suite (being written).
