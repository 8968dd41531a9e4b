//! Times and durations as people read them. Pure formatting, no clock reads.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `HH:MM:SS` in UTC.
pub fn clock(t: SystemTime) -> String {
    let s = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// `42s`, `5m`, `3h`, `2d`.
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `HH:MM:SS` of a Unix time in seconds; empty for 0.
pub fn clock_secs(secs: u64) -> String {
    if secs == 0 {
        String::new()
    } else {
        clock(UNIX_EPOCH + Duration::from_secs(secs))
    }
}

/// `250ms`, `1s`, `2.5s`, `1m`.
pub fn fmt_interval(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T01:02:03.456Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since the epoch to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_999_999)),
            "2026-11-30T00:53:19.000Z"
        );
    }

    #[test]
    fn short_forms() {
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(3600), "1h");
        assert_eq!(fmt_interval(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_interval(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_interval(Duration::from_secs(120)), "2m");
        assert_eq!(clock_secs(0), "");
        assert_eq!(clock(UNIX_EPOCH + Duration::from_secs(3661)), "01:01:01");
    }
}
