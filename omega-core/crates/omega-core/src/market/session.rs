//! Clocks on UTC microsecond timestamps: minute of the UTC day, session windows (inclusive,
//! wrapping midnight), and the America/New_York offset that anchors the FX trading day (17:00 NY).
//! US DST rules are computed, not looked up, so results never depend on the host's tz database.

/// Microseconds per minute.
pub const MINUTE_US: i64 = 60_000_000;
/// Microseconds per hour.
pub const HOUR_US: i64 = 60 * MINUTE_US;
/// Microseconds per day.
pub const DAY_US: i64 = 24 * HOUR_US;

const EST_US: i64 = -5 * HOUR_US;
const EDT_US: i64 = -4 * HOUR_US;

/// Minute of the UTC day (0..1440) of a µs timestamp (also correct before 1970).
#[inline]
pub fn minute_of_day(ts_us: i64) -> u32 {
    // rem_euclid(1440) is in 0..1440, so the cast is lossless.
    ts_us.div_euclid(MINUTE_US).rem_euclid(1440) as u32
}

/// Whether `minute` lies in any `[start, end]` window (both ends inclusive; `start > end` wraps
/// midnight). No windows means always.
#[inline]
pub fn in_sessions(windows: &[(u32, u32)], minute: u32) -> bool {
    windows.is_empty()
        || windows.iter().any(|&(a, b)| if a <= b { a <= minute && minute <= b } else { minute >= a || minute <= b })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year of the day `days` since 1970-01-01 (inverse of [`days_from_civil`], year part only).
pub fn year_of_day(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let year = yoe + era * 400;
    // March-based year: January and February belong to the next civil year.
    if mp >= 10 {
        year + 1
    } else {
        year
    }
}

/// Weekday of a day since the epoch, 0 = Sunday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// Day of the `nth` (1-based) Sunday of a month.
fn nth_sunday(year: i64, month: u32, nth: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    first + (7 - weekday(first)) % 7 + 7 * (nth - 1)
}

/// Day of the last Sunday of a month.
fn last_sunday(year: i64, month: u32) -> i64 {
    let last = days_from_civil(year, month + 1, 1) - 1;
    last - weekday(last)
}

/// UTC instants `[start, end)` of New York daylight saving time in `year`. Since 2007: second
/// Sunday of March to first Sunday of November; 1987–2006: first Sunday of April to last Sunday of
/// October; earlier: last Sunday of April to last Sunday of October. Switches happen at 02:00
/// local time, i.e. 07:00 UTC (from EST) and 06:00 UTC (from EDT).
pub fn new_york_dst_bounds(year: i64) -> (i64, i64) {
    let (start, end) = if year >= 2007 {
        (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
    } else if year >= 1987 {
        (nth_sunday(year, 4, 1), last_sunday(year, 10))
    } else {
        (last_sunday(year, 4), last_sunday(year, 10))
    };
    (start * DAY_US + 7 * HOUR_US, end * DAY_US + 6 * HOUR_US)
}

/// Offset of America/New_York from UTC at the UTC instant `ts_us` (−5 h or −4 h, in µs).
pub fn new_york_offset_us(ts_us: i64) -> i64 {
    let (start, end) = new_york_dst_bounds(year_of_day(ts_us.div_euclid(DAY_US)));
    if start <= ts_us && ts_us < end {
        EDT_US
    } else {
        EST_US
    }
}

/// New York wall-clock time (as µs since a local epoch) of a UTC instant.
pub fn new_york_local_us(ts_us: i64) -> i64 {
    ts_us + new_york_offset_us(ts_us)
}

/// The earliest UTC instant whose New York wall-clock time is `local_us`. A wall time skipped by
/// the spring switch (02:00–03:00) is read as standard time.
pub fn new_york_to_utc(local_us: i64) -> i64 {
    let daylight = local_us - EDT_US;
    if new_york_local_us(daylight) == local_us {
        daylight
    } else {
        local_us - EST_US
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY_US + h * HOUR_US + mi * MINUTE_US
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for d in [-800_000_i64, -1, 0, 58, 59, 365, 10_956, 11_016, 11_017, 19_723, 2_000_000] {
            let y = year_of_day(d);
            assert!(days_from_civil(y, 1, 1) <= d && d < days_from_civil(y + 1, 1, 1), "day {d} year {y}");
        }
        assert_eq!(weekday(days_from_civil(2024, 1, 2)), 2); // a Tuesday
    }

    #[test]
    fn minutes_and_sessions() {
        assert_eq!(minute_of_day(at(2024, 1, 2, 23, 59)), 1439);
        assert_eq!(minute_of_day(at(2024, 1, 2, 0, 0)), 0);
        assert_eq!(minute_of_day(-MINUTE_US), 1439);
        assert_eq!(minute_of_day(at(2024, 1, 2, 5, 0) + 59_999_999), 300);
        let w = [(23 * 60, 5 * 60), (15 * 60, 19 * 60)];
        assert!(in_sessions(&w, 23 * 60));
        assert!(in_sessions(&w, 0));
        assert!(in_sessions(&w, 5 * 60));
        assert!(!in_sessions(&w, 5 * 60 + 1));
        assert!(in_sessions(&w, 19 * 60));
        assert!(!in_sessions(&w, 22 * 60 + 59));
        assert!(in_sessions(&[], 777));
        assert!(in_sessions(&[(600, 600)], 600) && !in_sessions(&[(600, 600)], 601));
    }

    #[test]
    fn new_york_offsets() {
        let h = HOUR_US;
        assert_eq!(new_york_offset_us(at(2024, 1, 15, 12, 0)), -5 * h);
        assert_eq!(new_york_offset_us(at(2024, 7, 15, 12, 0)), -4 * h);
        // 2024: DST from Sun 10 March 07:00 UTC to Sun 3 November 06:00 UTC
        assert_eq!(new_york_offset_us(at(2024, 3, 10, 7, 0) - 1), -5 * h);
        assert_eq!(new_york_offset_us(at(2024, 3, 10, 7, 0)), -4 * h);
        assert_eq!(new_york_offset_us(at(2024, 11, 3, 6, 0) - 1), -4 * h);
        assert_eq!(new_york_offset_us(at(2024, 11, 3, 6, 0)), -5 * h);
        // 2023: 12 March and 5 November; 2006 (old rule): 2 April and 29 October
        assert_eq!(new_york_dst_bounds(2023), (at(2023, 3, 12, 7, 0), at(2023, 11, 5, 6, 0)));
        assert_eq!(new_york_dst_bounds(2006), (at(2006, 4, 2, 7, 0), at(2006, 10, 29, 6, 0)));
        assert_eq!(new_york_dst_bounds(1986), (at(1986, 4, 27, 7, 0), at(1986, 10, 26, 6, 0)));
    }

    #[test]
    fn local_to_utc() {
        // 17:00 NY is 22:00 UTC in winter, 21:00 UTC in summer
        assert_eq!(new_york_to_utc(at(2024, 1, 15, 17, 0)), at(2024, 1, 15, 22, 0));
        assert_eq!(new_york_to_utc(at(2024, 7, 15, 17, 0)), at(2024, 7, 15, 21, 0));
        // fall back: 01:00 happens twice, the earlier (EDT) reading wins
        assert_eq!(new_york_to_utc(at(2024, 11, 3, 1, 0)), at(2024, 11, 3, 5, 0));
        // spring forward: 02:30 does not exist, read as EST
        assert_eq!(new_york_to_utc(at(2024, 3, 10, 2, 30)), at(2024, 3, 10, 7, 30));
        assert_eq!(new_york_to_utc(at(2024, 3, 10, 1, 0)), at(2024, 3, 10, 6, 0));
        assert_eq!(new_york_local_us(at(2024, 3, 10, 7, 0)), at(2024, 3, 10, 3, 0));
    }
}
