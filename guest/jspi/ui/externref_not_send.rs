// The slot table belongs to one instance and its thread: a handle cannot be sent.
use jspi::ExternRef;

fn f(value: ExternRef) {
    std::thread::spawn(move || drop(value));
}

fn main() {}
