//! The `consentry` binary: the command line ([`cli`]) over the library.

mod cli;

// Scanning allocates many small, short-lived strings on several threads at once; glibc's
// allocator spends a fifth of the scan's instructions on them, mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` (mimalloc's `mimalloc.h`, v2 and v3; the crate does not name it).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Before any allocation: mimalloc reserves its first arena (1 GiB) at the first allocation,
/// which the runtime makes before `main`, and reads this option then. Committed eagerly (its
/// default on Linux), the arena is touched by huge pages where transparent huge pages are
/// `always`, each zeroed whole: an unchanged rescan of 20,000 files held 46 MB instead of 27 and
/// spent a sixth of its time in the kernel zeroing them. Committed on demand, it costs nothing
/// measurable elsewhere. A default only: `MIMALLOC_ARENA_EAGER_COMMIT` in the environment wins.
extern "C" fn mimalloc_defaults() {
    // SAFETY: sets the default of an allocator option before the first allocation (a constructor).
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

// A constructor with a priority runs before those without and before the Rust runtime's first
// allocation. mimalloc's own has none when built by gcc (as here) and 101 when built by clang:
// 100 runs before either (0-100 are the toolchain's, which has none that this must follow).
#[used]
#[link_section = ".init_array.00100"]
static MIMALLOC_DEFAULTS: extern "C" fn() = mimalloc_defaults;

fn main() -> std::process::ExitCode {
    // Transparent huge pages where the system offers them (`madvise` mode): loading a register
    // of 100,000 consents spent half its time in 4 KiB page faults. `MIMALLOC_LARGE_OS_PAGES=0`
    // in the environment still turns it off.
    // SAFETY: sets a process-wide allocator option; no allocation is in flight.
    unsafe { libmimalloc_sys::mi_option_set_enabled_default(libmimalloc_sys::mi_option_large_os_pages, true) };
    cli::main()
}
