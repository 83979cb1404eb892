//! PeopleSoft connector through the host against the PeopleSoft emulator (being written).
