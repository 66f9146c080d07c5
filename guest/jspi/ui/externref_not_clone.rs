// Nor can it be cloned or copied: two handles never share a slot.
use jspi::ExternRef;

fn copy<T: Copy>(_: T) {}

fn f(value: ExternRef) -> (ExternRef, ExternRef) {
    copy(&value as *const ExternRef);
    copy(value);
    (value.clone(), value)
}

fn main() {}
