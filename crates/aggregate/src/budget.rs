//! The work budget of one input file, shared by everything read from it:
//! the bytes decompressed across all its members and layers
//! ([`Limits::max_work_bytes`]), the time spent reading it
//! ([`Limits::max_work_time`]) and the bytes it holds in memory at once
//! (twice [`Limits::max_input_bytes`]).
//!
//! The time counted is the time the file is being read: while its
//! containers are expanded, and while a stream from [`Payload::open`] is
//! alive. What a handler does between streams (reverse DNS between the two
//! passes of the ingest, say) is not counted, so a slow name server cannot
//! make a sound report look hostile.
//!
//! Decoders charge their output bytes on every read, a cheap atomic add;
//! the clock is read only every [`CLOCK_EVERY`] reads (a read is up to
//! 64 KiB) and at each member boundary, never per XML event.
//!
//! [`Payload::open`]: crate::Payload::open

use std::io;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Limits, ReportError};

/// Reads between two looks at the clock.
pub(crate) const CLOCK_EVERY: u32 = 16;

const OK: u8 = 0;
const BYTES: u8 = 1;
const TIME: u8 = 2;

/// The io error a spent budget surfaces as inside a reader chain; turned
/// back into [`ReportError::WorkBytes`] / [`ReportError::WorkTime`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BudgetSpent(pub(crate) Spent);

/// Which budget is spent, with its limit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Spent {
    Bytes(u64),
    Time(Duration),
}

impl Spent {
    pub(crate) fn error(self) -> ReportError {
        match self {
            Spent::Bytes(limit) => ReportError::WorkBytes { limit },
            Spent::Time(limit) => ReportError::WorkTime { limit },
        }
    }
}

impl std::fmt::Display for BudgetSpent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.error())
    }
}

impl std::error::Error for BudgetSpent {}

struct Clock {
    /// Streams and expansions running now.
    active: u32,
    /// When `active` last went from 0 to 1.
    since: Instant,
    /// Time counted before `since`.
    spent: Duration,
}

/// The budget of one input file; see the module documentation.
pub(crate) struct Meter {
    max_bytes: u64,
    max_time: Duration,
    max_held: u64,
    bytes: AtomicU64,
    held: AtomicU64,
    tripped: AtomicU8,
    clock: Mutex<Clock>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .field("held", &self.held.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Meter {
    pub(crate) fn new(limits: &Limits) -> Arc<Meter> {
        Arc::new(Meter {
            max_bytes: limits.max_work_bytes,
            max_time: limits.max_work_time,
            max_held: limits.max_input_bytes.saturating_mul(2),
            bytes: AtomicU64::new(0),
            held: AtomicU64::new(0),
            tripped: AtomicU8::new(OK),
            clock: Mutex::new(Clock {
                active: 0,
                since: Instant::now(),
                spent: Duration::ZERO,
            }),
        })
    }

    /// The budget that ran out, if one did.
    pub(crate) fn spent(&self) -> Option<Spent> {
        match self.tripped.load(Ordering::Relaxed) {
            OK => None,
            BYTES => Some(Spent::Bytes(self.max_bytes)),
            _ => Some(Spent::Time(self.max_time)),
        }
    }

    fn trip(&self, which: u8) -> Spent {
        // The first budget to run out is the one named.
        let _ = self
            .tripped
            .compare_exchange(OK, which, Ordering::Relaxed, Ordering::Relaxed);
        self.spent().unwrap_or(Spent::Bytes(self.max_bytes))
    }

    /// Counts `n` decompressed bytes.
    #[inline]
    pub(crate) fn charge(&self, n: u64) -> io::Result<()> {
        let total = self.bytes.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if total > self.max_bytes {
            return Err(spent_io(self.trip(BYTES)));
        }
        if let Some(s) = self.spent() {
            return Err(spent_io(s));
        }
        Ok(())
    }

    fn elapsed(&self) -> Duration {
        let c = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        if c.active > 0 {
            c.spent + c.since.elapsed()
        } else {
            c.spent
        }
    }

    /// Looks at the clock.
    pub(crate) fn check_time(&self) -> io::Result<()> {
        if let Some(s) = self.spent() {
            return Err(spent_io(s));
        }
        if self.elapsed() > self.max_time {
            return Err(spent_io(self.trip(TIME)));
        }
        Ok(())
    }

    /// Both budgets, at a member boundary.
    pub(crate) fn check(&self) -> Result<(), ReportError> {
        self.check_time().map_err(|_| self.error())
    }

    /// The error of the spent budget (or, if none is spent, of the bytes).
    pub(crate) fn error(&self) -> ReportError {
        self.spent().unwrap_or(Spent::Bytes(self.max_bytes)).error()
    }

    /// Counts the time from now until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Active {
        let mut c = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        if c.active == 0 {
            c.since = Instant::now();
        }
        c.active += 1;
        Active(self.clone())
    }

    fn leave(&self) {
        let mut c = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        c.active = c.active.saturating_sub(1);
        if c.active == 0 {
            let since = c.since.elapsed();
            c.spent += since;
        }
    }

    /// Reserves `n` bytes held in memory until the guard is dropped.
    pub(crate) fn hold(self: &Arc<Self>, n: u64) -> Result<Hold, ReportError> {
        let before = self.held.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.max_held {
            self.held.fetch_sub(n, Ordering::Relaxed);
            return Err(ReportError::MemoryCap {
                limit: self.max_held,
            });
        }
        Ok(Hold {
            meter: self.clone(),
            n,
        })
    }
}

fn spent_io(s: Spent) -> io::Error {
    io::Error::other(BudgetSpent(s))
}

/// Time is counted while this lives; see [`Meter::enter`].
pub(crate) struct Active(Arc<Meter>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Bytes held in memory; see [`Meter::hold`].
pub(crate) struct Hold {
    meter: Arc<Meter>,
    n: u64,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hold({})", self.n)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.meter.held.fetch_sub(self.n, Ordering::Relaxed);
    }
}

/// A decoder's output (or a file's raw reads, with `charge` off), counted
/// against the budget; the clock is read every [`CLOCK_EVERY`] reads.
pub(crate) struct Metered<R> {
    pub(crate) inner: R,
    meter: Arc<Meter>,
    charge: bool,
    reads: u32,
}

impl<R> Metered<R> {
    pub(crate) fn new(inner: R, meter: Arc<Meter>, charge: bool) -> Self {
        Metered {
            inner,
            meter,
            charge,
            reads: 0,
        }
    }
}

impl<R: io::Read> io::Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.charge {
            self.meter.charge(n as u64)?;
        }
        self.reads = self.reads.wrapping_add(1);
        if self.reads.is_multiple_of(CLOCK_EVERY) {
            self.meter.check_time()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(bytes: u64, time: Duration) -> Limits {
        Limits {
            max_work_bytes: bytes,
            max_work_time: time,
            max_input_bytes: 10,
            ..Limits::default()
        }
    }

    #[test]
    fn bytes_over_the_budget_trip_it_and_it_stays_tripped() {
        let m = Meter::new(&limits(100, Duration::from_secs(3600)));
        assert!(m.charge(60).is_ok());
        assert!(m.charge(40).is_ok());
        assert!(m.spent().is_none());
        assert!(m.charge(1).is_err());
        assert!(matches!(m.spent(), Some(Spent::Bytes(100))));
        assert!(m.charge(0).is_err(), "a spent budget stays spent");
        assert_eq!(m.check().unwrap_err().code(), "work_budget_bytes");
    }

    #[test]
    fn a_zero_time_budget_trips_at_the_first_look_while_active() {
        let m = Meter::new(&limits(u64::MAX, Duration::ZERO));
        // Nothing is being read: no time passes.
        assert!(m.check().is_ok());
        let a = m.enter();
        std::thread::sleep(Duration::from_millis(2));
        let e = m.check().unwrap_err();
        assert_eq!(e.code(), "work_budget_time", "{e}");
        drop(a);
        assert!(m.charge(1).is_err(), "the other budget stops too");
    }

    #[test]
    fn time_between_streams_is_not_counted() {
        let m = Meter::new(&limits(u64::MAX, Duration::from_millis(20)));
        let a = m.enter();
        drop(a);
        // Idle time (a handler's DNS lookups, say) is free.
        std::thread::sleep(Duration::from_millis(40));
        assert!(m.check().is_ok());
    }

    #[test]
    fn held_bytes_are_capped_and_released() {
        let m = Meter::new(&limits(u64::MAX, Duration::MAX));
        let a = m.hold(15).unwrap();
        assert_eq!(m.hold(6).unwrap_err().code(), "too_large");
        drop(a);
        let _b = m.hold(20).unwrap();
    }
}
