use clap::Parser;

// Answering a query allocates and frees many small rows and strings across worker threads; mimalloc does that
// markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mimalloc.h`'s `mi_option_t`, which the bindings do not name).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3 keeps memory freed for a second (its arenas for ten) before it gives it back to the system. A health
/// pass frees and allocates a round's rows every few hundred milliseconds, so that held most of the gateway's peak
/// resident memory; 10 ms (mimalloc 2's delay) gave it back without slowing the nested query (BENCHMARKS.md).
/// `MIMALLOC_PURGE_DELAY` in the environment still decides when set.
fn purge_soon() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options, which it reads atomically; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) };
    }
}

/// mimalloc asks for transparent huge pages on its arenas (`madvise`), so a page touched in a 2 MiB region made all of
/// it resident: 24 MiB of a gateway's 29 MiB of heap at start, 30-40 MiB of its peak under `make bench`
/// (BENCHMARKS.md). Off for the whole process (`PR_SET_THP_DISABLE`), arenas mapped before `main` included;
/// `MIMALLOC_ALLOW_THP=0` would do it only from the environment.
fn no_huge_pages() {
    // SAFETY: a prctl that sets a flag of this process; no memory is passed.
    let (on, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, on, zero, zero, zero) } != 0 {
        eprintln!("transparent huge pages stay on: {}", std::io::Error::last_os_error());
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    no_huge_pages();
    purge_soon();
    // A `.env` in the working directory fills variables the environment does not set.
    dotenvy::dotenv().ok();
    server::cli::run(server::cli::Cli::parse()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads and sets mimalloc's options only.
        let default = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        // mimalloc 3's purge delay starts at 1,000 ms; another option at that place would not.
        assert_eq!(default, 1_000, "option {PURGE_DELAY} is not mimalloc's purge delay");
        purge_soon();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 10);
    }

    #[test]
    fn huge_pages_are_off_for_the_process() {
        no_huge_pages();
        // SAFETY: reads a flag of this process.
        let zero: libc::c_ulong = 0;
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, zero, zero, zero, zero) }, 1);
    }
}
