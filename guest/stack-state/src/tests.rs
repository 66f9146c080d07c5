
/// Found by the widened simulator: a plain export that keeps nothing on the shadow
/// stack starts a task (the host's `env.start`) with the stack pointer exactly at the
/// parked one. Taken for a top-level task, it would leave live bytes just above where
/// `jspi_call_leave` then puts the stack pointer back, and the next call would run over
/// them; told it is inside a plain call, the state nests it and keeps nothing live.
#[test]
fn a_task_started_inside_a_frameless_plain_call_is_nested() {
    let mut s = state(Strategy::Lazy);
    let token = 4096;
    let (a, sp) = s.enter_within(token, true).unwrap();
    assert_eq!(sp, token);
    let (_, after) = s.suspend(sp - 2).unwrap();
    assert_eq!(after, token, "a nested task gives the caller its stack pointer back");
    assert_eq!(s.leave(a), Ok(None));
    assert_eq!(s.live_len(), 0, "nothing live above the token");
    assert_eq!(s.stats().bytes_saved, 2, "the nested task saved its own bytes");
    s.done(a).unwrap();
}
