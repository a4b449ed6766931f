//! Placeholder binary; replaced by the real `api`.

fn main() {}
