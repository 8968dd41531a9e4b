//! The CPU budget of continuous collection (the live view, `watch`, `serve`): a share of
//! one core. When a full snapshot costs more than the budget allows at the interval, the
//! full table is taken every few intervals and what people watch in between.

use std::fmt;
use std::time::Duration;

/// A share of one core, in tenths of a percent (1 ‰ ..= 1000 ‰); 1000 is "off": a full
/// snapshot every interval, whatever it costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Budget {
    permille: u16,
}

impl Default for Budget {
    /// 10 % of a core.
    fn default() -> Self {
        Budget { permille: 100 }
    }
}

/// How stale the full table may get, whatever the budget: a full snapshot at least this
/// often (the header says when the budget asks for longer).
pub const MAX_FULL_AGE: Duration = Duration::from_secs(60);

impl Budget {
    /// No budget: a full snapshot every interval (the behaviour before budgets).
    pub const OFF: Budget = Budget { permille: 1000 };

    pub fn is_off(self) -> bool {
        self.permille >= 1000
    }

    /// The share of a core, 0.001 ..= 1.0.
    pub fn share(self) -> f64 {
        f64::from(self.permille) / 1000.0
    }

    /// CPU time the budget allows in one interval.
    pub fn per_interval(self, interval: Duration) -> Duration {
        interval.mul_f64(self.share())
    }

    /// Parses `10%`, `10`, `2.5%`, `100%` or `off`: a share of one core, more than 0 and
    /// at most 100 %.
    pub fn parse(s: &str) -> Result<Budget, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(Budget::OFF);
        }
        let number = t.strip_suffix('%').unwrap_or(t).trim();
        let bad = || {
            format!(
                "`{}` is not a CPU budget: give a share of one core from 0.1% to 100% (e.g. 10%), or off",
                crate::model::sanitize::quote(t)
            )
        };
        // Digits and at most one dot, so that `inf`, `nan` and `1e3` are refused.
        let plain = !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.matches('.').count() <= 1;
        if !plain {
            return Err(bad());
        }
        let percent: f64 = number.parse().map_err(|_| bad())?;
        Budget::from_percent(percent).ok_or_else(bad)
    }

    /// A budget of `percent` % of a core; `None` outside 0.1 ..= 100.
    pub fn from_percent(percent: f64) -> Option<Budget> {
        if !(0.1..=100.0).contains(&percent) {
            return None;
        }
        Some(Budget {
            permille: (percent * 10.0).round() as u16,
        })
    }
}

impl fmt::Display for Budget {
    /// `10 %`, `2.5 %`, `off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return f.pad("off");
        }
        let (whole, tenth) = (self.permille / 10, self.permille % 10);
        let text = if tenth == 0 {
            format!("{whole} %")
        } else {
            format!("{whole}.{tenth} %")
        };
        f.pad(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_shares_of_a_core() {
        assert_eq!(Budget::parse("10%").unwrap(), Budget::default());
        assert_eq!(Budget::parse(" 10 ").unwrap(), Budget::default());
        assert_eq!(Budget::parse("2.5%").unwrap().to_string(), "2.5 %");
        assert_eq!(Budget::parse("100%").unwrap(), Budget::OFF);
        assert!(Budget::parse("OFF").unwrap().is_off());
        assert_eq!(Budget::OFF.to_string(), "off");
        assert_eq!(
            Budget::default().per_interval(Duration::from_secs(2)),
            Duration::from_millis(200)
        );
        for bad in [
            "", "%", "0", "0%", "0.04", "101%", "-5", "ten", "1e2", "inf", "nan", "1.2.3", "10%%",
        ] {
            let e = Budget::parse(bad).unwrap_err();
            assert!(e.contains("CPU budget") && e.contains("10%"), "{bad}: {e}");
        }
    }

    proptest! {
        /// Any text: a budget that prints and parses back the same, or an error; never a
        /// panic.
        #[test]
        fn any_text_parses_or_is_refused(s in "\\PC{0,12}") {
            if let Ok(b) = Budget::parse(&s) {
                let again = Budget::parse(&b.to_string().replace(' ', "")).unwrap();
                prop_assert_eq!(again, b);
                prop_assert!(b.share() > 0.0 && b.share() <= 1.0);
            }
        }
    }
}
