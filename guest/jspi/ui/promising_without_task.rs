// promising! needs the Task parameter first, and says so.
jspi::promising! {
    #[unsafe(no_mangle)]
    pub fn f(x: i32) -> i32 {
        x
    }
}

fn main() {}
