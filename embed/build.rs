//! Tells the tests whether the CPU that builds them has AVX-512 BF16.
//!
//! The kernel tests that need those instructions are `#[ignore = "needs AVX-512
//! BF16"]` unless `cfg(host_avx512bf16)` is set, so on other CPUs they show up as
//! ignored (and `scripts/test.sh` counts them) instead of passing without running.
//! The tests check again at run time and fail loudly if a binary built on such a
//! CPU runs on one without (a target dir shared between machines): rebuild then.
//! `SEMREC_ASSUME_NO_AVX512BF16=1` builds them as if the CPU lacked it (to check
//! the ignore path on a machine that has it).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(host_avx512bf16)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=SEMREC_ASSUME_NO_AVX512BF16");
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    let assume_none = std::env::var_os("SEMREC_ASSUME_NO_AVX512BF16").is_some_and(|v| v == "1");
    if native && !assume_none && host_has_avx512bf16() {
        println!("cargo::rustc-cfg=host_avx512bf16");
    }
}

#[cfg(target_arch = "x86_64")]
fn host_has_avx512bf16() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_avx512bf16() -> bool {
    false
}
