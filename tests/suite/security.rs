//! Security suite (being written).
