//! The passkeyd binary.
fn main() {}
