//! A process-wide allocator setting for binaries that run inference.
//!
//! The library never calls this itself: allocator settings belong to the process,
//! so the binary decides (`semrec` and the benchmarks call it at start).

/// Keeps freed memory in the heap for reuse (glibc only; a no-op elsewhere).
///
/// Every forward pass allocates and frees activation buffers of several MB. By
/// default glibc serves those with fresh mmaps and returns them on free, so each
/// pass page-faults and zeroes them anew (≈ 12 % of the embedding time in a
/// profile). This raises the mmap and trim thresholds so those buffers are reused.
/// Process-wide; only the first call has an effect.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator thresholds and may be called at
            // any time; 32 MiB is glibc's largest accepted mmap threshold on 64-bit.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            }
        });
    }
}
