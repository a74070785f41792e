//! Delivery counters and the attempt latency histogram, written as Prometheus text by `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::NextStep;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The queue as the database sees it, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct QueueFigures {
    pub pending: i64,
    pub oldest_pending_age_secs: f64,
}

#[derive(Default)]
pub struct Metrics {
    succeeded: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    gone: AtomicU64,
    skipped: AtomicU64,
    handed_over: AtomicU64,
    claimed: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    pub fn record(&self, next: NextStep, duration_ms: i64) {
        let counter = match next {
            NextStep::Succeeded => &self.succeeded,
            NextStep::RetryAt(_) => &self.retried,
            NextStep::Failed => &self.failed,
            NextStep::Gone => &self.gone,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let seconds = duration_ms.max(0) as f64 / 1000.0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(duration_ms.max(0) as u64 * 1000, Ordering::Relaxed);
    }

    pub fn record_skipped(&self, count: usize) {
        self.skipped.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Deliveries that reached the dispatcher: handed over by ingest, or claimed from the outbox.
    pub fn record_arrived(&self, handed_over: usize, claimed: usize) {
        self.handed_over
            .fetch_add(handed_over as u64, Ordering::Relaxed);
        self.claimed.fetch_add(claimed as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition: the counters always, the queue figures when the database
    /// gave them (`biotz_database_up` says whether it did).
    pub fn render(&self, queue: Option<QueueFigures>) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str(
            "# HELP biotz_delivery_attempts_total Delivery attempts by what followed them.\n",
        );
        out.push_str("# TYPE biotz_delivery_attempts_total counter\n");
        for (outcome, counter) in [
            ("succeeded", &self.succeeded),
            ("retry_scheduled", &self.retried),
            ("failed", &self.failed),
            ("gone", &self.gone),
        ] {
            let _ = writeln!(
                out,
                "biotz_delivery_attempts_total{{outcome=\"{outcome}\"}} {}",
                get(counter)
            );
        }
        out.push_str("# HELP biotz_deliveries_skipped_total Deliveries skipped because their webhook was disabled.\n");
        out.push_str("# TYPE biotz_deliveries_skipped_total counter\n");
        let _ = writeln!(out, "biotz_deliveries_skipped_total {}", get(&self.skipped));
        out.push_str("# HELP biotz_deliveries_leased_total Deliveries this dispatcher took, by how: handed over by this process's ingest, or claimed from the outbox.\n");
        out.push_str("# TYPE biotz_deliveries_leased_total counter\n");
        for (how, counter) in [
            ("handed_over", &self.handed_over),
            ("claimed", &self.claimed),
        ] {
            let _ = writeln!(
                out,
                "biotz_deliveries_leased_total{{how=\"{how}\"}} {}",
                get(counter)
            );
        }
        out.push_str(
            "# HELP biotz_delivery_attempt_duration_seconds How long delivery attempts took.\n",
        );
        out.push_str("# TYPE biotz_delivery_attempt_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "biotz_delivery_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(bucket)
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "biotz_delivery_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "biotz_delivery_attempt_duration_seconds_sum {}",
            get(&self.latency_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "biotz_delivery_attempt_duration_seconds_count {count}");
        out.push_str("# HELP biotz_database_up Whether the database gave the queue figures for this scrape (1) or not (0: they are left out).\n");
        out.push_str("# TYPE biotz_database_up gauge\n");
        let _ = writeln!(out, "biotz_database_up {}", u8::from(queue.is_some()));
        let Some(queue) = queue else {
            return out;
        };
        out.push_str(
            "# HELP biotz_deliveries_pending Deliveries waiting to be sent (due now or later).\n",
        );
        out.push_str("# TYPE biotz_deliveries_pending gauge\n");
        let _ = writeln!(out, "biotz_deliveries_pending {}", queue.pending);
        out.push_str("# HELP biotz_oldest_pending_delivery_age_seconds Age of the oldest pending delivery.\n");
        out.push_str("# TYPE biotz_oldest_pending_delivery_age_seconds gauge\n");
        let _ = writeln!(
            out,
            "biotz_oldest_pending_delivery_age_seconds {}",
            queue.oldest_pending_age_secs
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.record(NextStep::Succeeded, 3);
        metrics.record(NextStep::RetryAt(0), 200);
        metrics.record_skipped(2);
        let text = metrics.render(Some(QueueFigures {
            pending: 7,
            oldest_pending_age_secs: 1.5,
        }));
        assert!(text.contains("biotz_delivery_attempts_total{outcome=\"succeeded\"} 1"));
        assert!(text.contains("biotz_delivery_attempts_total{outcome=\"retry_scheduled\"} 1"));
        assert!(text.contains("biotz_deliveries_skipped_total 2"));
        assert!(text.contains("biotz_delivery_attempt_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("biotz_delivery_attempt_duration_seconds_bucket{le=\"0.25\"} 2"));
        assert!(text.contains("biotz_delivery_attempt_duration_seconds_count 2"));
        assert!(text.contains("biotz_deliveries_pending 7"));
        assert!(text.contains("biotz_oldest_pending_delivery_age_seconds 1.5"));
        assert!(text.contains("biotz_database_up 1"));
    }

    #[test]
    fn without_the_database_the_counters_stay_and_the_queue_gauges_go() {
        let metrics = Metrics::default();
        metrics.record(NextStep::Succeeded, 3);
        let text = metrics.render(None);
        assert!(text.contains("biotz_delivery_attempts_total{outcome=\"succeeded\"} 1"));
        assert!(text.contains("biotz_database_up 0"));
        assert!(!text.contains("biotz_deliveries_pending"));
        assert!(!text.contains("biotz_oldest_pending_delivery_age_seconds"));
    }
}
