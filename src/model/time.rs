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
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
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
    humantime::format_rfc3339_millis(t).to_string()
}

/// The shortest interval between snapshots.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);
/// The longest interval between snapshots.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// The longest timeout any command waits (`--timeout`): a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Parses `250ms`, `1s`, `1.5s`, `2m`, `1h 30m`, or a bare number of seconds. Values too
/// big to represent are an error, never a panic.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let shown = crate::model::sanitize::quote(t);
    if t.is_empty() {
        return Err("an empty duration (use e.g. 500ms or 2s)".into());
    }
    let parsed = if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        humantime::parse_duration(&format!("{t}s"))
    } else {
        humantime::parse_duration(t)
    };
    parsed.map_err(|e| match e {
        humantime::DurationError::NumberOverflow => format!("`{shown}` is too long a duration"),
        _ => format!("`{shown}` is not a duration like 500ms or 2s"),
    })
}

/// Checks an interval against the allowed range.
pub fn check_interval(d: Duration) -> Result<Duration, String> {
    if (MIN_INTERVAL..=MAX_INTERVAL).contains(&d) {
        Ok(d)
    } else {
        Err(format!(
            "interval {} is outside 250ms..60s",
            fmt_interval_or_long(d)
        ))
    }
}

/// Checks a timeout: at most [`MAX_TIMEOUT`].
pub fn check_timeout(d: Duration) -> Result<Duration, String> {
    if d <= MAX_TIMEOUT {
        Ok(d)
    } else {
        Err(format!(
            "timeout {} is longer than a day (24h)",
            fmt_interval_or_long(d)
        ))
    }
}

fn fmt_interval_or_long(d: Duration) -> String {
    if d > Duration::from_secs(86_400 * 365) {
        "of more than a year".into()
    } else {
        fmt_interval(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_is_a_duration_or_an_error(t in "\\PC{0,40}") {
            if let Ok(d) = parse_duration(&t) {
                let _ = check_interval(d);
                let _ = check_timeout(d);
            }
        }

        #[test]
        fn durations_round_trip(n in 0u64..1_000_000, unit in 0usize..4) {
            let (suffix, d) = match unit {
                0 => ("ms", Duration::from_millis(n)),
                1 => ("s", Duration::from_secs(n)),
                2 => ("m", Duration::from_secs(n * 60)),
                _ => ("h", Duration::from_secs(n * 3600)),
            };
            prop_assert_eq!(parse_duration(&format!("{n}{suffix}")), Ok(d));
        }
    }

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
    fn durations_parse_and_never_overflow() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
        let huge = parse_duration("20000000000000000000s").unwrap_err();
        assert!(huge.contains("too long"), "{huge}");
        let max = parse_duration("18446744073709551615s").unwrap();
        assert!(
            check_interval(max)
                .unwrap_err()
                .contains("more than a year")
        );
        assert!(check_timeout(max).is_err());
        assert_eq!(
            check_timeout(Duration::from_secs(5)),
            Ok(Duration::from_secs(5))
        );
        assert!(check_interval(Duration::from_millis(100)).is_err());
        let escaped = parse_duration("\x1b[31m").unwrap_err();
        assert!(!escaped.contains('\x1b'), "{escaped}");
    }

    #[test]
    fn short_forms() {
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(3600), "1h");
        assert_eq!(fmt_interval(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_interval(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_interval(Duration::from_secs(120)), "2m");
        assert_eq!(fmt_interval(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(fmt_interval(Duration::from_secs(25 * 3600)), "25h");
        assert_eq!(
            check_timeout(Duration::from_secs(25 * 3600)).unwrap_err(),
            "timeout 25h is longer than a day (24h)"
        );
        assert_eq!(clock_secs(0), "");
        assert_eq!(clock(UNIX_EPOCH + Duration::from_secs(3661)), "01:01:01");
    }
}
