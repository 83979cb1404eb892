//! The end-to-end suite: one test binary, one module per promise of the
//! product, each test against real components and real HTTP peers.

mod containment;
mod coordination;
mod credentials;
mod egress;
mod loading;
mod mission;
mod peoplesoft;
mod pipeline;
mod procurify;
mod reliability;
mod security;
