/*
 * Heap allocation counter for one benchmark program (include in exactly one .c file).
 *
 * The program defines malloc, calloc, realloc, free, aligned_alloc, posix_memalign and
 * memalign; the dynamic linker binds every caller in the process to them (the executable
 * comes first in the lookup scope), libwdfdma.so and the dlopen'ed drivers included. Each
 * forwards to glibc's own allocator entry points (__libc_malloc, ...), so nothing recurses
 * and no dlsym bootstrap is needed. Counting is on only between bench_alloc_start() and
 * bench_alloc_stop(), relaxed atomics so every thread is counted.
 *
 * Bytes in use are tracked with malloc_usable_size, which is what the allocator really
 * reserved for the block (its overhead per block is not included).
 */
#ifndef WDFDMA_BENCH_ALLOC_H
#define WDFDMA_BENCH_ALLOC_H

/* A sanitizer runtime owns malloc itself: there the counter is off (BENCH_ALLOC_COUNTS 0)
 * and the benchmark says so instead of reporting zeros. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_ALLOC_COUNTS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BENCH_ALLOC_COUNTS 0
#endif
#endif
#ifndef BENCH_ALLOC_COUNTS
#define BENCH_ALLOC_COUNTS 1
#endif

#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static _Atomic int bench_alloc_on;
static _Atomic uint64_t bench_alloc_calls;     /* malloc/calloc/realloc/memalign family */
static _Atomic int64_t bench_alloc_bytes;      /* usable bytes allocated minus freed */

/* BENCH_ALLOC_TRACE=1 in the environment prints a backtrace of every counted allocation
 * on stderr: how a steady-state allocation is found. */
static _Atomic int bench_alloc_trace = -1;
static _Thread_local int bench_alloc_in_trace;

static void bench_alloc_backtrace(void)
{
    void *frames[16];
    bench_alloc_in_trace = 1;
    int n = backtrace(frames, 16);
    static const char line[] = "---- counted allocation\n";
    if (write(2, line, sizeof(line) - 1) < 0)
        n = 0;
    backtrace_symbols_fd(frames, n, 2);
    bench_alloc_in_trace = 0;
}

static inline void bench_alloc_note(void *p, int sign)
{
    if (!p || !atomic_load_explicit(&bench_alloc_on, memory_order_relaxed) ||
        bench_alloc_in_trace)
        return;
    if (sign > 0) {
        atomic_fetch_add_explicit(&bench_alloc_calls, 1, memory_order_relaxed);
        if (atomic_load_explicit(&bench_alloc_trace, memory_order_relaxed) == 1)
            bench_alloc_backtrace();
    }
    atomic_fetch_add_explicit(&bench_alloc_bytes, sign * (int64_t)malloc_usable_size(p),
                              memory_order_relaxed);
}

#if BENCH_ALLOC_COUNTS
void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    bench_alloc_note(p, 1);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    bench_alloc_note(p, 1);
    return p;
}

void *realloc(void *old, size_t n)
{
    bench_alloc_note(old, -1);
    void *p = __libc_realloc(old, n);
    if (!p && old && n)
        bench_alloc_note(old, 1);      /* failed: the old block is still there */
    else
        bench_alloc_note(p, 1);
    return p;
}

void free(void *p)
{
    bench_alloc_note(p, -1);
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    bench_alloc_note(p, 1);
    return p;
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

/* Start counting from zero. */
static inline void bench_alloc_start(void)
{
    if (atomic_load(&bench_alloc_trace) < 0) {
        const char *e = getenv("BENCH_ALLOC_TRACE");
        void *warm[2];
        backtrace(warm, 2);            /* loads the unwinder now, not while counting */
        atomic_store(&bench_alloc_trace, e && *e == '1');
    }
    atomic_store(&bench_alloc_calls, 0);
    atomic_store(&bench_alloc_bytes, 0);
    atomic_store(&bench_alloc_on, 1);
}

static inline void bench_alloc_stop(void)
{
    atomic_store(&bench_alloc_on, 0);
}

static inline uint64_t bench_alloc_count(void)
{
    return atomic_load(&bench_alloc_calls);
}

static inline int64_t bench_alloc_in_use(void)
{
    return atomic_load(&bench_alloc_bytes);
}

#endif
