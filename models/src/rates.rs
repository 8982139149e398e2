//! Offered load over time: how many records a producer offers in an interval.
//!
//! Shapes are integrated, not sampled: the expected count over `[t0, t1)` is exact for
//! piecewise-constant and linear shapes, and the midpoint rule for the diurnal cosine
//! (whose period is hours while a step is at most a second).

use crate::spec::RateShape;
use kinesim_sim::{SimDuration, SimTime};

/// Expected records offered in `[t0, t1)`. `start_unix_s` anchors diurnal phases.
pub fn expected_records(shape: &RateShape, t0: SimTime, t1: SimTime, start_unix_s: i64) -> f64 {
    debug_assert!(t0 <= t1);
    let (a, b) = (seconds(t0), seconds(t1));
    let value = match shape {
        RateShape::Constant(rate) => rate * (b - a),
        RateShape::Steps(steps) => piecewise_constant(steps, a, b),
        RateShape::Ramp { from, to, start, end } => {
            let (s, e) = (secs(*start), secs(*end));
            let at = |t: f64| {
                if t <= s {
                    *from
                } else if t >= e {
                    *to
                } else {
                    from + (to - from) * (t - s) / (e - s)
                }
            };
            // The rate is linear between the breakpoints: integrate each linear piece.
            let mut points = vec![a];
            points.extend([s, e].into_iter().filter(|p| *p > a && *p < b));
            points.push(b);
            points.windows(2).map(|w| (at(w[0]) + at(w[1])) / 2.0 * (w[1] - w[0])).sum()
        }
        RateShape::Diurnal { mean, amplitude, period, peak_at } => {
            let mid = start_unix_s as f64 + (a + b) / 2.0;
            let phase = 2.0 * std::f64::consts::PI * (mid - secs(*peak_at)) / secs(*period);
            mean * (1.0 + amplitude * libm::cos(phase)) * (b - a)
        }
        RateShape::Bursts { base, peak, every, length, first } => {
            base * (b - a) + (peak - base) * burst_overlap(a, b, secs(*first), secs(*every), secs(*length))
        }
        RateShape::Trace { period, offset, rates } => trace_records(rates, secs(*period), secs(*offset), a, b),
    };
    debug_assert!(value >= 0.0 && value.is_finite());
    value.max(0.0)
}

/// The rate in force at time `t` (records/s), for events and reports.
pub fn rate_at(shape: &RateShape, t: SimTime, start_unix_s: i64) -> f64 {
    let x = seconds(t);
    match shape {
        RateShape::Constant(rate) => *rate,
        RateShape::Steps(steps) => {
            steps.iter().take_while(|(from, _)| secs(*from) <= x).last().map_or(0.0, |(_, r)| *r)
        }
        RateShape::Ramp { from, to, start, end } => {
            let (s, e) = (secs(*start), secs(*end));
            if x <= s {
                *from
            } else if x >= e {
                *to
            } else {
                from + (to - from) * (x - s) / (e - s)
            }
        }
        RateShape::Diurnal { mean, amplitude, period, peak_at } => {
            let phase = 2.0 * std::f64::consts::PI * (start_unix_s as f64 + x - secs(*peak_at)) / secs(*period);
            mean * (1.0 + amplitude * libm::cos(phase))
        }
        RateShape::Bursts { base, peak, every, length, first } => {
            let into = x - secs(*first);
            let in_burst = into >= 0.0 && into - libm::floor(into / secs(*every)) * secs(*every) < secs(*length);
            if in_burst {
                *peak
            } else {
                *base
            }
        }
        RateShape::Trace { period, offset, rates } => {
            let index = libm::floor((x - secs(*offset)) / secs(*period));
            if index < 0.0 {
                0.0
            } else {
                rates.get(index as usize).copied().unwrap_or(0.0)
            }
        }
    }
}

/// The highest rate a shape reaches at any time (records/s): a bound for the loader.
pub fn rate_max(shape: &RateShape) -> f64 {
    match shape {
        RateShape::Constant(rate) => *rate,
        RateShape::Steps(steps) => steps.iter().map(|(_, rate)| *rate).fold(0.0, f64::max),
        RateShape::Ramp { from, to, .. } => from.max(*to),
        RateShape::Diurnal { mean, amplitude, .. } => mean * (1.0 + amplitude.abs()),
        RateShape::Bursts { base, peak, .. } => base.max(*peak),
        RateShape::Trace { rates, .. } => rates.iter().copied().fold(0.0, f64::max),
    }
}

fn seconds(t: SimTime) -> f64 {
    t.as_secs_f64()
}

fn secs(d: SimDuration) -> f64 {
    d.as_secs_f64()
}

fn piecewise_constant(steps: &[(SimDuration, f64)], a: f64, b: f64) -> f64 {
    let mut total = 0.0;
    for (i, (from, rate)) in steps.iter().enumerate() {
        let start = secs(*from);
        let end = steps.get(i + 1).map_or(f64::INFINITY, |(next, _)| secs(*next));
        let overlap = b.min(end) - a.max(start);
        if overlap > 0.0 {
            total += rate * overlap;
        }
    }
    total
}

/// Seconds of `[a, b)` that fall inside bursts `[first + k*every, first + k*every + length)`,
/// in closed form: the burst time before `b` minus the burst time before `a`.
fn burst_overlap(a: f64, b: f64, first: f64, every: f64, length: f64) -> f64 {
    let burst_time_before = |t: f64| {
        if t <= first {
            return 0.0;
        }
        let periods = libm::floor((t - first) / every);
        let into = t - first - periods * every;
        periods * length + into.min(length)
    };
    (burst_time_before(b) - burst_time_before(a)).max(0.0)
}

fn trace_records(rates: &[f64], period: f64, offset: f64, a: f64, b: f64) -> f64 {
    let index_of = |t: f64| libm::floor((t - offset) / period);
    let (first, last) = (index_of(a).max(0.0) as usize, index_of(b).max(0.0) as usize);
    let mut total = 0.0;
    let last = last.min(rates.len().saturating_sub(1));
    for (index, rate) in rates.iter().enumerate().take(last + 1).skip(first) {
        let start = offset + period * index as f64;
        let overlap = b.min(start + period) - a.max(start);
        if overlap > 0.0 {
            total += rate * overlap;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    #[test]
    fn steps_integrate_exactly() {
        let shape = RateShape::Steps(vec![(SimDuration::ZERO, 100.0), (SimDuration::from_secs(10), 300.0)]);
        assert_eq!(expected_records(&shape, t(0), t(10), 0), 1000.0);
        assert_eq!(expected_records(&shape, t(9), t(11), 0), 400.0);
        assert_eq!(rate_at(&shape, t(20), 0).round(), 300.0);
    }

    #[test]
    fn ramp_is_linear_and_flat_outside() {
        let shape = RateShape::Ramp {
            from: 0.0,
            to: 100.0,
            start: SimDuration::from_secs(10),
            end: SimDuration::from_secs(20),
        };
        assert_eq!(expected_records(&shape, t(0), t(10), 0), 0.0);
        assert!((expected_records(&shape, t(10), t(20), 0) - 500.0).abs() < 1e-9);
        assert!((expected_records(&shape, t(20), t(30), 0) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn bursts_add_their_peaks() {
        let shape = RateShape::Bursts {
            base: 10.0,
            peak: 110.0,
            every: SimDuration::from_secs(60),
            length: SimDuration::from_secs(5),
            first: SimDuration::from_secs(30),
        };
        assert!((expected_records(&shape, t(0), t(120), 0) - (1200.0 + 2.0 * 5.0 * 100.0)).abs() < 1e-9);
        assert!((expected_records(&shape, t(32), t(33), 0) - 110.0).abs() < 1e-9);
    }

    #[test]
    fn diurnal_peaks_at_its_hour() {
        let day = SimDuration::from_secs(86_400);
        let shape =
            RateShape::Diurnal { mean: 100.0, amplitude: 0.5, period: day, peak_at: SimDuration::from_secs(14 * 3600) };
        assert!((rate_at(&shape, t(14 * 3600), 0) - 150.0).abs() < 1e-3);
        assert!((rate_at(&shape, t(2 * 3600), 0) - 50.0).abs() < 1e-3);
        let whole_day = expected_records(&shape, t(0), t(86_400), 0);
        let by_steps: f64 = (0..86_400).map(|s| expected_records(&shape, t(s), t(s + 1), 0)).sum();
        assert!((by_steps - 100.0 * 86_400.0).abs() < 1.0, "{whole_day} {by_steps}");
    }

    #[test]
    fn traces_are_piecewise_constant_from_their_offset() {
        let shape = RateShape::Trace {
            period: SimDuration::from_secs(60),
            offset: SimDuration::from_secs(60),
            rates: vec![10.0, 20.0],
        };
        assert_eq!(expected_records(&shape, t(0), t(60), 0), 0.0);
        assert_eq!(expected_records(&shape, t(90), t(150), 0), 30.0 * 10.0 + 30.0 * 20.0);
        assert_eq!(expected_records(&shape, t(180), t(240), 0), 0.0);
    }
}
