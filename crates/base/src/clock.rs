//! Time, injected: expiry logic never reads the system clock directly, so
//! tests of expiry are exact.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }
    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The civil date (proleptic Gregorian, UTC) of a day counted from
/// 1970-01-01: `(year, month 1-12, day 1-31)`. Howard Hinnant's
/// `civil_from_days`, exact for every `i64` day a certificate can carry.
pub fn civil_date(epoch_day: i64) -> (i64, u32, u32) {
    let z = epoch_day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1-31, 1-12).
    (year, day_or_month(month), day_or_month(day))
}

fn day_or_month(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// `yyyy-mm-dd` of [`civil_date`].
pub fn iso_date(epoch_day: i64) -> String {
    let (year, month, day) = civil_date(epoch_day);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod civil_date_tests {
    use super::*;

    #[test]
    fn civil_dates_cross_leap_days_centuries_and_the_epoch() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(iso_date(365), "1971-01-01");
        assert_eq!(iso_date(19_782), "2024-02-29");
        assert_eq!(iso_date(19_783), "2024-03-01");
        assert_eq!(iso_date(10_956), "1999-12-31");
        assert_eq!(iso_date(10_957), "2000-01-01");
        assert_eq!(iso_date(11_016), "2000-02-29");
        assert_eq!(civil_date(21_915), (2030, 1, 1));
    }
}
