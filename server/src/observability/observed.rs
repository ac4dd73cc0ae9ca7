//! Metrics read at scrape time from state the server keeps anyway (atomics,
//! pool sizes, a cached snapshot): nothing is copied on the request path.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

type Read<T> = Arc<dyn Fn() -> T + Send + Sync>;

/// Constant labels of one series, e.g. `[("pool", "jobs")]`.
pub type Labels = Vec<(&'static str, &'static str)>;

/// Series of one metric family, each read when scraped. One registration per
/// name: the same name registered twice would repeat its `# TYPE` line, which
/// Prometheus refuses.
#[derive(Clone)]
struct Series<T>(Vec<(Labels, Read<T>)>);

impl<T> Series<T> {
    fn encode(
        &self,
        mut encoder: MetricEncoder,
        mut one: impl FnMut(&mut MetricEncoder, T) -> Result<(), std::fmt::Error>,
    ) -> Result<(), std::fmt::Error> {
        for (labels, read) in &self.0 {
            if labels.is_empty() {
                one(&mut encoder, read())?;
            } else {
                one(&mut encoder.encode_family(labels)?, read())?;
            }
        }
        Ok(())
    }
}

/// A gauge read when scraped; NaN says "no data".
#[derive(Clone)]
pub struct ObservedGauge(Series<f64>);

/// A counter (monotonic since start) read when scraped.
#[derive(Clone)]
pub struct ObservedCounter(Series<u64>);

/// A histogram's reading: sum, count, and the cumulative buckets with their
/// upper bounds, the last infinite.
pub type HistogramReading = (f64, u64, Vec<(f64, u64)>);

/// A classic histogram read when scraped.
#[derive(Clone)]
pub struct ObservedHistogram(Read<HistogramReading>);

impl ObservedGauge {
    /// One unlabelled series.
    pub fn new(read: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        Self(Series(vec![(Vec::new(), Arc::new(read))]))
    }

    /// No series yet: add them with [`Self::with`].
    pub fn labelled() -> Self {
        Self(Series(Vec::new()))
    }

    pub fn with(mut self, labels: Labels, read: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.0 .0.push((labels, Arc::new(read)));
        self
    }
}

impl ObservedCounter {
    pub fn new(read: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self(Series(vec![(Vec::new(), Arc::new(read))]))
    }

    /// No series yet: add them with [`Self::with`].
    pub fn labelled() -> Self {
        Self(Series(Vec::new()))
    }

    pub fn with(mut self, labels: Labels, read: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.0 .0.push((labels, Arc::new(read)));
        self
    }
}

impl ObservedHistogram {
    pub fn new(read: impl Fn() -> HistogramReading + Send + Sync + 'static) -> Self {
        Self(Arc::new(read))
    }
}

macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}
opaque_debug!(ObservedGauge, ObservedCounter, ObservedHistogram);

impl EncodeMetric for ObservedGauge {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder, |e, v| e.encode_gauge(&v))
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

impl EncodeMetric for ObservedCounter {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder, |e, v| {
            e.encode_counter::<NoLabelSet, _, u64>(&v, None)
        })
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

impl EncodeMetric for ObservedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = (self.0)();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn values_are_read_when_encoded() {
        let value = Arc::new(std::sync::atomic::AtomicU64::new(3));
        let mut registry = Registry::default();
        let v = value.clone();
        registry.register(
            "things",
            "Things seen",
            ObservedCounter::new(move || v.load(std::sync::atomic::Ordering::Relaxed)),
        );
        registry.register("depth", "Depth", ObservedGauge::new(|| 1.5));
        registry.register(
            "pool",
            "Pool",
            ObservedGauge::labelled()
                .with(vec![("pool", "a")], || 1.0)
                .with(vec![("pool", "b")], || 2.0),
        );
        registry.register(
            "sizes",
            "Sizes",
            ObservedHistogram::new(|| (5.0, 2, vec![(1.0, 1), (f64::INFINITY, 2)])),
        );
        value.store(7, std::sync::atomic::Ordering::Relaxed);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("things_total 7\n"), "{text}");
        assert!(text.contains("# TYPE things counter"), "{text}");
        assert!(text.contains("depth 1.5\n"), "{text}");
        assert!(text.contains("pool{pool=\"a\"} 1.0\n"), "{text}");
        assert!(text.contains("pool{pool=\"b\"} 2.0\n"), "{text}");
        assert_eq!(text.matches("# TYPE pool gauge").count(), 1, "{text}");
        assert!(text.contains("sizes_bucket{le=\"1.0\"} 1\n"), "{text}");
        assert!(text.contains("sizes_count 2\n"), "{text}");
    }
}
