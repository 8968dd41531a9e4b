//! How often the full table is read under a CPU budget. Every round is measured in the
//! CPU time the whole process spent from its start to the next round's (the dump, the
//! owner walk, the diff, and what the consumers did with it: the live view's update and
//! frames, `serve`'s rendering). When a full round costs more than the budget allows in
//! one interval, the full table is read every `n` intervals and the rounds between read
//! only what people watch, with `n` the smallest that keeps the average within budget:
//! `(full + (n - 1) · partial) / n ≤ budget · interval`.

use crate::model::Budget;
use crate::model::budget::MAX_FULL_AGE;
use std::time::Duration;

/// What a round reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Every socket and its owners.
    Full,
    /// Listeners, a narrowing filter's sockets, the kernel's counters, destroy events.
    Partial,
}

/// The budget's bookkeeping, fed by the worker: which round comes next, and what the
/// rounds cost. No clock of its own: times and CPU times are handed in.
#[derive(Clone, Debug)]
pub struct Pacing {
    budget: Budget,
    interval: Duration,
    /// Smoothed cost of a full round, once one that is not the first was measured (the
    /// first walks every process's fd table and reads every process: a cold start).
    full: Option<Duration>,
    /// Smoothed cost of a partial round.
    partial: Option<Duration>,
    /// Full rounds measured so far.
    fulls: u32,
    /// Rounds since the last full one.
    since_full: u32,
    /// The round under way and the process's CPU time when it started.
    current: Option<(Round, Duration)>,
    /// A full round is due whatever the budget (a refresh asked for, a new scope).
    forced: bool,
    /// The full table is read no more often than this, whatever it costs (under a
    /// budget; see [`PERIOD_VAR`]).
    min_period: Duration,
}

/// Reads the full table at most this often under a budget (`30s`): for tests and
/// benchmarks that need the rounds between full tables whatever a full one costs on
/// the machine. A budget of 100 % ignores it.
pub const PERIOD_VAR: &str = "SOCKSCOPE_FULL_PERIOD";

/// [`PERIOD_VAR`]'s value, when it is a duration.
pub fn min_period() -> Duration {
    std::env::var(PERIOD_VAR)
        .ok()
        .and_then(|v| crate::model::time::parse_duration(v.trim()).ok())
        .unwrap_or(Duration::ZERO)
}

/// Weight of a new measurement in the smoothed costs.
const ALPHA: f64 = 0.3;

impl Pacing {
    pub fn new(budget: Budget, interval: Duration) -> Pacing {
        Pacing {
            budget,
            interval,
            full: None,
            partial: None,
            fulls: 0,
            since_full: 0,
            current: None,
            forced: true,
            min_period: Duration::ZERO,
        }
    }

    /// The full table is read at most every `d` (under a budget).
    pub fn set_min_period(&mut self, d: Duration) {
        self.min_period = d;
    }

    /// Intervals in [`Pacing::min_period`].
    fn floor(&self) -> u32 {
        let ms = self.interval.as_millis().max(1);
        u32::try_from(self.min_period.as_millis().div_ceil(ms))
            .unwrap_or(u32::MAX)
            .clamp(1, self.max_every().max(1))
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    pub fn set_interval(&mut self, d: Duration) {
        self.interval = d;
    }

    /// The next round reads everything.
    pub fn force_full(&mut self) {
        self.forced = true;
    }

    /// The most intervals between full rounds: the full table is never older than
    /// [`MAX_FULL_AGE`] (at least every interval).
    fn max_every(&self) -> u32 {
        let ms = self.interval.as_millis().max(1);
        u32::try_from(MAX_FULL_AGE.as_millis() / ms)
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// A full round every this many intervals, from what rounds cost so far.
    pub fn every(&self) -> u32 {
        if self.budget.is_off() {
            return 1;
        }
        self.by_cost().max(self.floor())
    }

    /// [`Pacing::every`] from the measured costs alone.
    fn by_cost(&self) -> u32 {
        let Some(full) = self.full else {
            return 1;
        };
        let allowed = self.budget.per_interval(self.interval).as_secs_f64();
        let full = full.as_secs_f64();
        if full <= allowed {
            return 1;
        }
        let partial = self.partial.map_or(0.0, |p| p.as_secs_f64());
        if partial >= allowed {
            return self.max_every();
        }
        let n = ((full - partial) / (allowed - partial)).ceil();
        if n >= f64::from(self.max_every()) {
            self.max_every()
        } else {
            (n as u32).max(1)
        }
    }

    /// Which round comes next; `can_partial` is false for collectors that can only read
    /// everything.
    pub fn next(&self, can_partial: bool) -> Round {
        if !can_partial || self.forced || self.budget.is_off() {
            return Round::Full;
        }
        if self.full.is_none() && self.floor() <= 1 {
            return Round::Full;
        }
        if self.since_full + 1 >= self.every() {
            Round::Full
        } else {
            Round::Partial
        }
    }

    /// A round starts, with the process at `cpu` CPU time: the round before is measured.
    pub fn start(&mut self, round: Round, cpu: Duration) {
        if let Some((was, at)) = self.current.take() {
            self.measured(was, cpu.saturating_sub(at));
        }
        self.current = Some((round, cpu));
        match round {
            Round::Full => {
                self.forced = false;
                self.since_full = 0;
            }
            Round::Partial => self.since_full += 1,
        }
    }

    /// The worker waits for a command, not a deadline (paused): the round under way is
    /// measured now, so that the wait is not counted.
    pub fn idle(&mut self, cpu: Duration) {
        if let Some((was, at)) = self.current.take() {
            self.measured(was, cpu.saturating_sub(at));
        }
    }

    fn measured(&mut self, round: Round, cost: Duration) {
        let smooth = |old: Option<Duration>| {
            Some(old.map_or(cost, |o| o.mul_f64(1.0 - ALPHA) + cost.mul_f64(ALPHA)))
        };
        match round {
            Round::Full => {
                self.fulls += 1;
                // The first full round is the cold one: it says little about the next.
                if self.fulls >= 2 {
                    self.full = smooth(self.full);
                }
            }
            Round::Partial => self.partial = smooth(self.partial),
        }
    }
}

/// CPU time this process has used so far (every thread); `None` where it cannot be read.
pub fn process_cpu() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Some(Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_nsec).unwrap_or(0),
        ))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs `rounds` rounds, each costing what `cost` says for its kind; returns the
    /// kinds in order.
    fn run(p: &mut Pacing, rounds: usize, cost: impl Fn(Round) -> Duration) -> Vec<Round> {
        let mut cpu = Duration::ZERO;
        let mut out = Vec::new();
        for _ in 0..rounds {
            let r = p.next(true);
            p.start(r, cpu);
            cpu += cost(r);
            out.push(r);
        }
        out
    }

    #[test]
    fn a_cheap_full_round_runs_every_interval() {
        let mut p = Pacing::new(Budget::default(), SEC);
        let rounds = run(&mut p, 10, |_| ms(50));
        assert!(rounds.iter().all(|r| *r == Round::Full), "{rounds:?}");
        assert_eq!(p.every(), 1);
    }

    /// A full round of 400 ms at a budget of 100 ms a second, partial rounds free: one
    /// full round in four (the brief's `ceil(cost / (budget · interval))`).
    #[test]
    fn an_expensive_full_round_is_spread_to_fit_the_budget() {
        let mut p = Pacing::new(Budget::default(), SEC);
        let rounds = run(&mut p, 40, |r| match r {
            Round::Full => ms(400),
            Round::Partial => Duration::ZERO,
        });
        assert_eq!(p.every(), 4);
        // The first two are full (the cold one, then one to measure), then 1 in 4.
        assert_eq!(&rounds[..2], &[Round::Full, Round::Full]);
        let tail = &rounds[20..];
        let fulls = tail.iter().filter(|r| **r == Round::Full).count();
        assert_eq!(fulls, tail.len() / 4, "{rounds:?}");
        // Within budget on average: 100 ms a round.
        assert!(fulls * 400 <= tail.len() * 100);
    }

    /// Partial rounds count too: at 20 ms each, (400 - 20) / (100 - 20) → 5.
    #[test]
    fn partial_rounds_take_their_share() {
        let mut p = Pacing::new(Budget::default(), SEC);
        run(&mut p, 60, |r| match r {
            Round::Full => ms(400),
            Round::Partial => ms(20),
        });
        assert_eq!(p.every(), 5);
        // Partial rounds that eat the budget leave the full table at its oldest.
        let mut q = Pacing::new(Budget::default(), SEC);
        run(&mut q, 60, |r| match r {
            Round::Full => ms(400),
            Round::Partial => ms(150),
        });
        assert_eq!(q.every(), 60);
        let mut r = Pacing::new(Budget::default(), ms(250));
        run(&mut r, 60, |_| ms(200));
        assert_eq!(r.every(), 240);
    }

    #[test]
    fn off_and_forced_rounds_read_everything() {
        let mut p = Pacing::new(Budget::OFF, SEC);
        let rounds = run(&mut p, 10, |_| ms(900));
        assert!(rounds.iter().all(|r| *r == Round::Full));
        assert_eq!(p.every(), 1);
        let mut p = Pacing::new(Budget::default(), SEC);
        run(&mut p, 10, |r| match r {
            Round::Full => ms(400),
            Round::Partial => Duration::ZERO,
        });
        p.force_full();
        assert_eq!(p.next(true), Round::Full);
        // A collector that cannot read only part of the table always reads all of it.
        let mut q = Pacing::new(Budget::default(), SEC);
        let mut cpu = Duration::ZERO;
        for _ in 0..5 {
            let r = q.next(false);
            assert_eq!(r, Round::Full);
            q.start(r, cpu);
            cpu += ms(900);
        }
        assert!(q.every() > 1, "it would spread them if it could");
    }

    /// A floor on the period spreads even cheap full rounds, right after the first one;
    /// a budget of 100 % ignores it.
    #[test]
    fn a_minimum_period_spreads_full_rounds_unless_the_budget_is_off() {
        let mut p = Pacing::new(Budget::default(), SEC);
        p.set_min_period(Duration::from_secs(5));
        let rounds = run(&mut p, 11, |_| ms(1));
        let fulls: Vec<usize> = (0..11).filter(|&i| rounds[i] == Round::Full).collect();
        assert_eq!(fulls, vec![0, 5, 10], "{rounds:?}");
        let mut off = Pacing::new(Budget::OFF, SEC);
        off.set_min_period(Duration::from_secs(5));
        let rounds = run(&mut off, 5, |_| ms(1));
        assert!(rounds.iter().all(|r| *r == Round::Full), "{rounds:?}");
    }

    /// The cold first round is not what later rounds cost.
    #[test]
    fn the_cold_first_round_is_not_counted() {
        let mut p = Pacing::new(Budget::default(), SEC);
        let mut cpu = Duration::ZERO;
        for (i, cost) in [ms(5000), ms(50), ms(50)].into_iter().enumerate() {
            let r = p.next(true);
            assert_eq!(r, Round::Full, "round {i}");
            p.start(r, cpu);
            cpu += cost;
        }
        p.idle(cpu);
        assert_eq!(p.every(), 1);
    }
}
