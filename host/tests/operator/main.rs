//! Operator-surface tests of the `ml-connector` binary and the daemon's
//! status page, against the in-process sandbox systems: one test binary,
//! one module per surface. Deployments come from the deployment test kit
//! (`mlc_deployment_kit`), the one every suite uses.

mod cli;
mod status_page;
