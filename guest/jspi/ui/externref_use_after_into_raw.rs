// into_raw gives the handle up: it cannot be used afterwards.
use jspi::ExternRef;

fn f(value: ExternRef) -> u32 {
    let raw = value.into_raw();
    drop(value);
    raw
}

fn main() {}
