//! How many samples one dispatch traces. A dispatch must stay short — a driver
//! watchdog (about 2 s on Windows) resets a GPU stuck in one long dispatch, and
//! the progress bar and cancellation only move between dispatches — yet long
//! enough that submitting it costs little. The schedule measures the time per
//! pixel-sample of each dispatch and sizes the next one to take about
//! [`TARGET_DISPATCH`]; on a device so slow that even one sample over a band
//! would take longer than [`MAX_BAND_DISPATCH`], bands get fewer rows.

use std::time::Duration;

/// Aimed-for duration of one dispatch: a twentieth of the shortest common watchdog.
pub const TARGET_DISPATCH: Duration = Duration::from_millis(100);
/// Longest one sample over a whole band should take.
pub const MAX_BAND_DISPATCH: Duration = Duration::from_secs(1);
/// Most a batch may grow from one dispatch to the next, in case the last one was
/// unusually cheap (e.g. a band of sky before a band of glass).
const MAX_GROWTH: u32 = 4;

/// Batch sizing from measured dispatch times.
#[derive(Clone, Debug, Default)]
pub struct BatchSchedule {
    /// Seconds per pixel-sample of the last dispatch.
    seconds_per_sample: Option<f64>,
    /// Samples of the last dispatch.
    last_batch: u32,
}

impl BatchSchedule {
    /// Samples per pixel for the next dispatch over `pixels` pixels, at most `remaining`.
    pub fn next_batch(&self, pixels: u64, remaining: u32) -> u32 {
        let Some(seconds) = self.seconds_per_sample else {
            return 1.min(remaining);
        };
        let fit = TARGET_DISPATCH.as_secs_f64() / (seconds * pixels.max(1) as f64);
        let fit = if fit.is_finite() { fit.clamp(1.0, u32::MAX as f64) as u32 } else { u32::MAX };
        fit.min(self.last_batch.max(1).saturating_mul(MAX_GROWTH)).clamp(1, remaining.max(1))
    }

    /// Most pixels a band should have so that one sample over it stays within
    /// [`MAX_BAND_DISPATCH`]; `None` before the first measurement.
    pub fn max_band_pixels(&self) -> Option<u64> {
        let seconds = self.seconds_per_sample?;
        let pixels = MAX_BAND_DISPATCH.as_secs_f64() / seconds;
        Some(if pixels.is_finite() { pixels.clamp(1.0, u64::MAX as f64) as u64 } else { u64::MAX })
    }

    /// Records that `batch` samples over `pixels` pixels took `elapsed`.
    pub fn record(&mut self, pixels: u64, batch: u32, elapsed: Duration) {
        let work = pixels as f64 * batch as f64;
        if work > 0.0 {
            self.seconds_per_sample = Some(elapsed.as_secs_f64() / work);
            self.last_batch = batch;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_one_sample_then_fills_the_target() {
        let mut s = BatchSchedule::default();
        assert_eq!(s.next_batch(4096, 64), 1);
        assert_eq!(s.next_batch(4096, 0), 0);
        // 1 sample over 1000 pixels in 1 ms: 1 µs per pixel-sample, so 100 ms is
        // 100 samples over 1000 pixels, but growth is capped at 4× per dispatch.
        s.record(1000, 1, Duration::from_millis(1));
        assert_eq!(s.next_batch(1000, 1000), 4);
        s.record(1000, 4, Duration::from_millis(4));
        assert_eq!(s.next_batch(1000, 1000), 16);
        s.record(1000, 64, Duration::from_millis(64));
        assert_eq!(s.next_batch(1000, 1000), 100);
        assert_eq!(s.next_batch(1000, 30), 30, "never more than remains");
    }

    #[test]
    fn slow_dispatches_shrink_the_batch_to_one() {
        let mut s = BatchSchedule::default();
        s.record(1 << 20, 8, Duration::from_secs(3));
        assert_eq!(s.next_batch(1 << 20, 64), 1);
        // An instant dispatch (timer resolution) does not make the batch unbounded.
        s.record(16, 2, Duration::ZERO);
        assert_eq!(s.next_batch(16, 1000), 8);
        assert_eq!(s.max_band_pixels(), Some(u64::MAX));
    }

    #[test]
    fn bands_shrink_on_slow_devices() {
        let mut s = BatchSchedule::default();
        assert_eq!(s.max_band_pixels(), None);
        // 30 000 pixel-samples per second: one second is 30 000 pixels.
        s.record(3000, 1, Duration::from_millis(100));
        assert_eq!(s.max_band_pixels(), Some(30_000));
    }
}
