// The Task is lent for the export's call only: it cannot be kept for later.
use jspi::{promising, Task};

static mut SAVED: Option<&'static Task> = None;

promising! {
    pub fn f(task: &Task) {
        unsafe { SAVED = Some(task) };
    }
}

fn main() {}
