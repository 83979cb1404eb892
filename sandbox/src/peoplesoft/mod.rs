//! PeopleSoft emulator (placeholder until written).
