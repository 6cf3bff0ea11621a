//! A `BufRead` wrapper that enforces the byte caps while quick-xml reads:
//! a total budget (decompressed size) and a per-event budget (one text node
//! or tag), so that neither a bomb nor a 1 GB text node can grow a buffer
//! past the limits.

use std::io::{self, BufRead, Read};

/// Which cap stopped the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trip {
    /// The total byte budget.
    Total,
    /// The per-event byte budget.
    Event,
}

pub(crate) struct Limited<R> {
    inner: R,
    total: u64,
    max_total: u64,
    max_event: u64,
    /// Where the current budget ends: the total budget or the end of the
    /// current event's, whichever comes first. One comparison per read
    /// instead of two (quick-xml reads in small steps, so this is hot).
    stop: u64,
    pub(crate) tripped: Option<Trip>,
}

impl<R: BufRead> Limited<R> {
    pub(crate) fn new(inner: R, max_total: u64, max_event: usize) -> Self {
        let max_event = max_event as u64;
        Self {
            inner,
            total: 0,
            max_total,
            max_event,
            stop: max_total.min(max_event),
            tripped: None,
        }
    }

    /// Starts the budget of a new event.
    #[inline]
    pub(crate) fn reset_event(&mut self) {
        self.stop = self
            .max_total
            .min(self.total.saturating_add(self.max_event));
    }
}

impl<R: BufRead> Read for Limited<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Limited<R> {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let room = self.stop.saturating_sub(self.total);
        if room == 0 {
            return self.exhausted();
        }
        let buf = self.inner.fill_buf()?;
        if (buf.len() as u64) <= room {
            return Ok(buf);
        }
        Ok(&buf[..room as usize])
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.total += n as u64;
        self.inner.consume(n);
    }
}

impl<R: BufRead> Limited<R> {
    /// A budget is spent: fine at the end of the input, an error otherwise.
    #[cold]
    fn exhausted(&mut self) -> io::Result<&[u8]> {
        if self.inner.fill_buf()?.is_empty() {
            return Ok(&[]);
        }
        self.tripped = Some(if self.total >= self.max_total {
            Trip::Total
        } else {
            Trip::Event
        });
        Err(io::Error::other("input limit reached"))
    }
}
