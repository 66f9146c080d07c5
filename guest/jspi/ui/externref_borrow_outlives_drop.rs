// A borrowed handle cannot outlive the handle, whose drop frees the slot.
use jspi::ExternRef;

fn f(value: ExternRef) {
    let borrowed = &value;
    drop(value);
    let _ = borrowed;
    let _ = borrowed.into_raw();
}

fn main() {}
