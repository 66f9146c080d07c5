// Waiting consumes the promise: it cannot be awaited twice.
use jspi::{promising, Promise};

fn fetch() -> Promise<i32> {
    unimplemented!()
}

promising! {
    pub fn f(task: &Task) -> i32 {
        let promise = fetch();
        let a = promise.wait(task);
        a + promise.wait(task)
    }
}

fn main() {}
