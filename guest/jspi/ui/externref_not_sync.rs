// Nor shared between threads.
use jspi::{ExternRef, Promise};

fn sync<T: Sync>() {}

fn main() {
    sync::<ExternRef>();
    sync::<Promise<i32>>();
}
