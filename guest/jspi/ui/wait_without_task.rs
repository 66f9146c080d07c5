// A plain export has no Task, so it cannot wait.
use jspi::Promise;

fn fetch() -> Promise<i32> {
    unimplemented!()
}

#[unsafe(no_mangle)]
pub extern "C" fn plain() -> i32 {
    fetch().wait()
}

fn main() {}
