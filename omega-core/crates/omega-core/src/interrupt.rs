//! Cooperative interruption of long native work (docs/errors.md "Interrupts").
//!
//! Whoever starts long work on a thread (the Python bindings for Ctrl-C, a sweep worker for its
//! cancel flag) installs a check for that thread with [`scope`]. The engine loop and the scan call
//! [`check`] every [`CHECK_EVERY_BARS`] bars, the indicator kernels before each series; once the
//! check answers true they stop with [`StrategyError::Interrupted`] (E4010), which unwinds through
//! the run like any other error (strategies are closed, nothing is left half-registered).
//!
//! A thread-local rather than a parameter: series are computed inside the host callbacks a plugin
//! calls during `prepare`, which carry no such parameter across the C ABI, and the engine's
//! signatures stay as they are. Without a check installed, [`check`] is always `Ok`.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Result, StrategyError};

/// Bars between two calls of [`check`] in the engine loop and the scan (a power of two: the test
/// is a mask). At the engine's slowest, ~0.5 µs a bar, that is about every half millisecond;
/// checks that cost more (re-acquiring the GIL) throttle themselves by time.
pub const CHECK_EVERY_BARS: usize = 1024;

type Check = Rc<dyn Fn() -> bool>;

thread_local! {
    static CHECK: RefCell<Option<Check>> = const { RefCell::new(None) };
}

/// Restores the previously installed check when a [`scope`] ends (also on panic).
struct Restore(Option<Check>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CHECK.with(|c| *c.borrow_mut() = previous);
    }
}

/// Run `work` on this thread with `interrupted` as the check [`check`] consults; the previous
/// check (if any) is restored afterwards. `interrupted` should be cheap or throttle itself, and
/// should keep answering true once it has.
pub fn scope<R>(interrupted: impl Fn() -> bool + 'static, work: impl FnOnce() -> R) -> R {
    let previous = CHECK.with(|c| c.borrow_mut().replace(Rc::new(interrupted)));
    let _restore = Restore(previous);
    work()
}

/// E4010 when the check installed on this thread says the work should stop, else `Ok`.
pub fn check() -> Result<()> {
    // cloned out of the cell so that a check may itself run code that checks
    let installed = CHECK.with(|c| c.borrow().clone());
    match installed {
        Some(interrupted) if interrupted() => Err(StrategyError::Interrupted),
        _ => Ok(()),
    }
}

/// [`check`] on every [`CHECK_EVERY_BARS`]-th bar index `i` (bar 0 included).
#[inline]
pub fn check_bar(i: usize) -> Result<()> {
    if i & (CHECK_EVERY_BARS - 1) == 0 {
        check()
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn no_check_installed_is_never_interrupted() {
        assert!(check().is_ok());
        assert!((0..5000).all(|i| check_bar(i).is_ok()));
    }

    #[test]
    fn scoped_check_is_consulted_every_n_bars_and_restored() {
        let calls = Rc::new(Cell::new(0_usize));
        let seen = Rc::clone(&calls);
        let stopped_at = scope(
            move || {
                seen.set(seen.get() + 1);
                seen.get() > 2
            },
            || (0..10 * CHECK_EVERY_BARS).find(|&i| check_bar(i).is_err()),
        );
        assert_eq!(stopped_at, Some(2 * CHECK_EVERY_BARS));
        assert_eq!(calls.get(), 3);
        assert!(check().is_ok(), "the check ends with its scope");
    }

    #[test]
    fn nested_scopes_restore_the_outer_check() {
        scope(
            || true,
            || {
                scope(|| false, || assert!(check().is_ok()));
                let e = check().unwrap_err();
                assert_eq!(e.code(), "E4010");
            },
        );
        let panicked = std::panic::catch_unwind(|| scope(|| true, || panic!("inside")));
        assert!(panicked.is_err());
        assert!(check().is_ok(), "restored after a panic too");
    }
}
