//! Procurify emulator (placeholder until written).
