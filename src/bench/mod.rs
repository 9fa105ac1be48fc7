//! `ged bench …`: benchmarks a user can run, each printing its figures beside a baseline
//! measured in the same run on the same data.

pub mod extract;
pub mod ingest;
pub mod search;
pub mod synthetic;

/// p50 and p99 of latencies, in milliseconds.
pub fn percentiles(latencies: &mut [f64]) -> (f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |p: f64| latencies[(((latencies.len() - 1) as f64) * p).round() as usize];
    (at(0.50), at(0.99))
}
