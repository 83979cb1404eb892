//! Operator-surface tests of the `ml-connector` binary and the daemon's
//! status page, against the in-process sandbox systems: one test binary,
//! one module per surface.

mod cli;
mod kit;
mod status_page;
