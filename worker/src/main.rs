//! Placeholder binary; replaced by the real `worker`.

fn main() {}
