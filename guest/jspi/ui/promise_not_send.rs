// A promise is a handle too: it cannot be sent to another thread.
use jspi::Promise;

fn send<T: Send>(_: T) {}

fn f(promise: Promise<i32>) {
    send(promise);
}

fn main() {}
