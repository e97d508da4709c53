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

/// SQLite allocates with `malloc`, and sqlx runs each SQLite connection on a thread of its own, so glibc gave each
/// connection an arena that kept the most it ever held: about 120 MiB of resident memory for SQLite's 50-75 MiB
/// (BENCHMARKS.md). On mimalloc, like the rest of the process, freed memory goes back within the purge delay.
/// Must run before SQLite's first use (`sqlite3_config` refuses after it); false if it was too late.
fn sqlite_on_mimalloc() -> bool {
    use libsqlite3_sys::{SQLITE_CONFIG_MALLOC, SQLITE_OK, sqlite3_config, sqlite3_mem_methods};
    use std::ffi::{c_int, c_void};
    // SQLite asks in `int`s and never for a negative size.
    unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
        unsafe { libmimalloc_sys::mi_malloc(n.max(0) as usize) }
    }
    unsafe extern "C" fn free(p: *mut c_void) {
        unsafe { libmimalloc_sys::mi_free(p) }
    }
    unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
        unsafe { libmimalloc_sys::mi_realloc(p, n.max(0) as usize) }
    }
    unsafe extern "C" fn size(p: *mut c_void) -> c_int {
        c_int::try_from(unsafe { libmimalloc_sys::mi_usable_size(p) }).unwrap_or(c_int::MAX)
    }
    unsafe extern "C" fn roundup(n: c_int) -> c_int {
        c_int::try_from(unsafe { libmimalloc_sys::mi_good_size(n.max(0) as usize) }).unwrap_or(n)
    }
    unsafe extern "C" fn init(_: *mut c_void) -> c_int {
        SQLITE_OK
    }
    unsafe extern "C" fn shutdown(_: *mut c_void) {}
    let methods = sqlite3_mem_methods {
        xMalloc: Some(malloc),
        xFree: Some(free),
        xRealloc: Some(realloc),
        xSize: Some(size),
        xRoundup: Some(roundup),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLite copies the methods before returning; each forwards to mimalloc, which is thread-safe.
    unsafe { sqlite3_config(SQLITE_CONFIG_MALLOC, &methods as *const sqlite3_mem_methods) == SQLITE_OK }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    no_huge_pages();
    purge_soon();
    if !sqlite_on_mimalloc() {
        eprintln!("SQLite keeps the system allocator: it was in use before main");
    }
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
    fn sqlite_allocates_from_mimalloc() {
        assert!(sqlite_on_mimalloc());
        // SAFETY: SQLite's own allocator functions, the memory freed by the one that gave it.
        unsafe {
            let p = libsqlite3_sys::sqlite3_malloc(1000);
            assert!(!p.is_null());
            assert!(libmimalloc_sys::mi_is_in_heap_region(p), "SQLite's memory is not mimalloc's");
            assert!(libsqlite3_sys::sqlite3_msize(p) >= 1000);
            libsqlite3_sys::sqlite3_free(p);
        }
    }

    #[test]
    fn huge_pages_are_off_for_the_process() {
        no_huge_pages();
        // SAFETY: reads a flag of this process.
        let zero: libc::c_ulong = 0;
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, zero, zero, zero, zero) }, 1);
    }
}
