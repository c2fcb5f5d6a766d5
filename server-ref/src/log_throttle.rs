//! Logging a failure that repeats (out of file descriptors, a full disk): one line when it
//! starts, then at most one per interval while it lasts, each saying how many failures went
//! unlogged since the previous line, and one line when it ends, saying so too. A failure that
//! recurs every 100 ms must not write ten lines a second, nor hide how often it recurred.

use std::time::{Duration, Instant};

/// The state of one kind of repeating failure.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    interval: Duration,
    last_logged: Option<Instant>,
    since_logged: u64,
}

impl LogThrottle {
    /// At most one line per `interval`.
    pub(crate) const fn new(interval: Duration) -> Self {
        LogThrottle {
            interval,
            last_logged: None,
            since_logged: 0,
        }
    }

    /// A failure at `now`: `Some(n)` when a line is due (`n` failures went unlogged since
    /// the last one), `None` when this one is only counted.
    pub(crate) fn failed(&mut self, now: Instant) -> Option<u64> {
        let due = match self.last_logged {
            None => true,
            Some(t) => now.duration_since(t) >= self.interval,
        };
        if due {
            let repeated = self.since_logged;
            self.last_logged = Some(now);
            self.since_logged = 0;
            Some(repeated)
        } else {
            self.since_logged += 1;
            None
        }
    }

    /// A success: `Some(n)` when it ends a run of failures (worth a line of its own: `n`
    /// failures went unlogged since the run's last line), `None` when there was no run; the
    /// next failure is logged at once.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        let ended = self.last_logged.take().map(|_| self.since_logged);
        self.since_logged = 0;
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line that ends a run says how many failures went unlogged since the run's last
    /// line, as the lines during the run do: a failure every second for 9 s after a logged
    /// one left no trace in the log before.
    #[test]
    fn the_end_of_a_run_counts_the_failures_not_logged() {
        let mut t = LogThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.failed(t0), Some(0));
        for s in 1..10 {
            assert_eq!(t.failed(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(t.succeeded(), Some(9));
        assert_eq!(t.succeeded(), None);
    }

    #[test]
    fn one_line_per_interval_then_one_at_the_end() {
        let interval = Duration::from_secs(10);
        let mut t = LogThrottle::new(interval);
        let t0 = Instant::now();
        assert_eq!(t.succeeded(), None, "no run of failures to end");
        assert_eq!(t.failed(t0), Some(0));
        assert_eq!(t.failed(t0 + Duration::from_secs(1)), None);
        assert_eq!(t.failed(t0 + interval - Duration::from_millis(1)), None);
        assert_eq!(t.failed(t0 + interval), Some(2));
        assert_eq!(t.failed(t0 + interval), None);
        assert_eq!(t.failed(t0 + interval * 2), Some(1));
        assert_eq!(t.succeeded(), Some(0));
        assert_eq!(t.succeeded(), None);
        // A new run is logged at once.
        assert_eq!(t.failed(t0 + interval * 2), Some(0));
    }
}
