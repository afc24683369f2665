//! Helpers shared by the test files.

/// Runs `f` on a rayon pool of `n` threads (for checking that results do not depend on the
/// thread count).
pub fn with_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}
