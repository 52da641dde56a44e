//! Repository automation: `cargo xtask validate [--quick]` and `cargo xtask tidy`.

fn main() {}
