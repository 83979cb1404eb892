//! Procurify connector through the host against the Procurify emulator (being written).
