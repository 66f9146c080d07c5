// Only promising! makes a Task.
use jspi::Task;

fn main() {
    let _task = Task { _not_send: core::marker::PhantomData };
}
