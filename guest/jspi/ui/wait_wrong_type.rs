// A Promise<i32> yields an i32: it cannot be awaited as a host value.
use jspi::{promising, ExternRef, Promise};

fn fetch() -> Promise<i32> {
    unimplemented!()
}

promising! {
    pub fn f(task: &Task) {
        let _value: ExternRef = fetch().wait(task);
    }
}

fn main() {}
