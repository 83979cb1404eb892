//! Emulators of Procurify and PeopleSoft that behave as the real systems are
//! documented to (`shared/reference/`), for tests, the demo and benchmarks.
//!
//! Library first: each emulator starts on `127.0.0.1:0`, exposes its address,
//! records every request, takes scripted faults and lets tests inspect and
//! change its data.

pub mod catalog;
pub mod exchange;
pub mod faults;
pub mod peoplesoft;
pub mod procurify;
pub mod seeded;
pub mod server;
