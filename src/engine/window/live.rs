//! The reference the sliding-window tests compare with, by brute force: which buckets a window of
//! `count` buckets keeps as event times arrive in any order (the newest time seen sets its head).

/// The live span of one window.
#[derive(Debug, Clone, Copy)]
pub struct LiveBuckets {
    bucket_ms: i64,
    count: i64,
    newest: i64,
}

impl LiveBuckets {
    pub fn new(bucket_ms: i64, count: usize) -> Self {
        LiveBuckets {
            bucket_ms,
            count: count as i64,
            newest: i64::MIN,
        }
    }

    /// Sees a value at `time`: the head moves to it if it is the newest, and the value counts if its
    /// bucket is then still live.
    pub fn see(&mut self, time: i64) -> bool {
        self.newest = self.newest.max(time);
        self.live(time)
    }

    /// Whether a value at `time` is in a live bucket.
    pub fn live(&self, time: i64) -> bool {
        self.bucket(time) > self.newest.div_euclid(self.bucket_ms) - self.count
    }

    pub fn bucket(&self, time: i64) -> i64 {
        time.div_euclid(self.bucket_ms)
    }
}
