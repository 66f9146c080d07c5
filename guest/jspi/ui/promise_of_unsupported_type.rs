// Only i32, ExternRef and () can come out of a promise.
use jspi::Promise;

fn fetch() -> Promise<u8> {
    unimplemented!()
}

fn main() {}
