// An ExternRef owns its slot: using it after a move does not compile.
use jspi::ExternRef;

fn take(_: ExternRef) {}

fn f(value: ExternRef) {
    take(value);
    take(value);
}

fn main() {}
