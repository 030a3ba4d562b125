//! Cache prefetch hints: the engine's answer to memory latency.
//!
//! With 100,000 active accounts no account's state is in cache when its next event arrives, and an
//! event touches a dozen cache lines spread over a few allocations (the state, its windows, the record
//! table, evidence). Waiting for each in turn costs far more than the work done on them. A caller that
//! knows which events come next asks for their state a few events ahead, so those loads overlap the
//! work on the current event. Hints never change results: a prefetch cannot fault and is dropped when
//! the address is not mapped.

/// Cache line size of every x86-64 and most ARM cores.
pub const LINE: usize = 64;

/// Hints that the `len` bytes at `start` will be read soon.
#[inline]
pub fn bytes<T>(start: *const T, len: usize) {
    let start = start.cast::<u8>();
    let mut offset = 0;
    while offset < len {
        line(start.wrapping_add(offset));
        offset += LINE;
    }
}

/// Hints that `value` (its inline bytes, not what it points to) will be read soon.
#[inline]
pub fn value<T>(value: &T) {
    bytes(value as *const T, std::mem::size_of::<T>());
}

/// Hints that the elements of `slice` will be read soon.
#[inline]
pub fn slice<T>(slice: &[T]) {
    bytes(slice.as_ptr(), std::mem::size_of_val(slice));
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn line(address: *const u8) {
    // SAFETY: SSE is part of the x86-64 baseline, so the instruction exists on every target this
    // compiles for; a prefetch reads nothing the program sees, writes nothing, and cannot fault, so any
    // address (even a stale one) is sound.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast::<i8>())
    };
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn line(_address: *const u8) {}
