//! Ctrl-C during native work (docs/errors.md "Interrupts"). Python runs signal handlers only on
//! its main thread and only while that thread holds the GIL, so a long call that released the GIL
//! would otherwise ignore Ctrl-C until it returns. [`interruptible`] installs the core's interrupt
//! check (`omega_core::interrupt`) for the work: at most every [`SIGNAL_CHECK_INTERVAL`] it
//! re-acquires the GIL briefly and runs the pending handlers; when one raises, the work stops with
//! E4010 and the caller gets exactly the exception the handler raised (`KeyboardInterrupt` for
//! the default SIGINT handler).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use omega_core::{interrupt, StrategyError};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

use crate::errors::core_panic;

/// Least time between two signal checks of one call: short enough that Ctrl-C stops a run well
/// within half a second, long enough that the GIL is re-acquired at most 100 times a second (so a
/// run does not wait for other Python threads every few bars).
pub const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// The exception a signal handler raised during an interruptible call, if any.
type Raised = Arc<Mutex<Option<PyErr>>>;

/// Whether this is Python's main thread, the only one whose signal checks run handlers. Asking runs
/// Python code, which runs a pending signal handler: what it raises (a Ctrl-C that came while no
/// check was running) is returned, never swallowed.
pub fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    Ok(threading.call_method0("current_thread")?.is(&threading.call_method0("main_thread")?))
}

/// The interrupt check of one call: runs Python's pending signal handlers (GIL re-acquired) at most
/// every [`SIGNAL_CHECK_INTERVAL`], and answers true from the first handler that raised on.
fn signal_check(raised: Raised) -> impl Fn() -> bool + 'static {
    let last = Cell::new(Instant::now());
    move || {
        let mut slot = raised.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            return true;
        }
        if last.get().elapsed() < SIGNAL_CHECK_INTERVAL {
            return false;
        }
        match Python::attach(|py| py.check_signals()) {
            Ok(()) => {
                last.set(Instant::now());
                false
            }
            Err(e) => {
                *slot = Some(e);
                true
            }
        }
    }
}

/// Run `work` with the GIL released and under `catch_unwind` (a panic in the core is E4009). On
/// the main thread the work is interruptible: a signal handler that raises stops it at its next
/// interrupt check, and that exception is the outer `Err`. A core error (the inner `Err`) is left
/// to the caller, which adds its own context; an E4010 from any other source (a plugin that
/// reported it, a cancelled sweep) becomes `KeyboardInterrupt` here.
pub fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, StrategyError> + Send,
) -> PyResult<Result<T, StrategyError>> {
    let main = on_main_thread(py)?;
    let raised: Raised = Arc::default();
    let slot = Arc::clone(&raised);
    let outcome = py.detach(move || {
        let run = || catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|p| Err(core_panic(p.as_ref())));
        if main {
            interrupt::scope(signal_check(slot), run)
        } else {
            run()
        }
    });
    // a handler that raised wins even when the work finished (a plugin may have swallowed the
    // E4010 of a host callback): the exception it raised must not be lost
    if let Some(e) = raised.lock().unwrap_or_else(PoisonError::into_inner).take() {
        return Err(e);
    }
    match outcome {
        Err(StrategyError::Interrupted) => Err(PyKeyboardInterrupt::new_err("interrupted")),
        other => Ok(other),
    }
}
