// The bytes go into the caller's buffer, which must be writable.
fn read() -> jspi::Promise<jspi::Bytes> {
    unimplemented!()
}

jspi::promising! {
    pub fn export(task: &Task) -> i32 {
        let buf = [0u8; 64];
        read().wait_into(&buf, task) as i32
    }
}

fn main() {}
