//! Empty: this package only names the C sources to fetch (Cargo.toml).
