// A promise that is neither awaited nor kept is a mistake (an error under
// deny(unused_must_use), a warning otherwise).
#![deny(unused_must_use)]
use jspi::Promise;

fn delay(_ms: i32) -> Promise<()> {
    unimplemented!()
}

fn main() {
    delay(500);
}
