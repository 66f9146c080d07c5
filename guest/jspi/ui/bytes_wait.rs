// A promise of bytes has no value to return: it is taken into a buffer with
// `wait_into`, never with `wait`.
fn read() -> jspi::Promise<jspi::Bytes> {
    unimplemented!()
}

jspi::promising! {
    pub fn export(task: &Task) -> i32 {
        let _ = read().wait(task);
        0
    }
}

fn main() {}
