/* alloc.c — every allocation of the library goes through here, so that the user's hooks
 * apply and tests can make the N-th allocation fail (see gaitrt_set_allocator). */
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core.h"

static gaitrt_allocator grt__alloc; /* zeroed: libc */

void gaitrt_set_allocator(const gaitrt_allocator *a) {
    if (a)
        grt__alloc = *a;
    else
        memset(&grt__alloc, 0, sizeof grt__alloc);
}

void *grt_malloc(size_t n) {
    if (n == 0) n = 1;
    if (grt__alloc.malloc_fn) return grt__alloc.malloc_fn(n, grt__alloc.user);
    return malloc(n);
}

void *grt_calloc(size_t count, size_t size) {
    size_t n;
    if (!grt_mul_size(count, size, &n)) return NULL;
    void *p = grt_malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void *grt_realloc(void *p, size_t n) {
    if (n == 0) n = 1;
    if (grt__alloc.realloc_fn) return grt__alloc.realloc_fn(p, n, grt__alloc.user);
    return realloc(p, n);
}

void grt_free(void *p) {
    if (!p) return;
    if (grt__alloc.free_fn)
        grt__alloc.free_fn(p, grt__alloc.user);
    else
        free(p);
}

char *grt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = grt_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Aligned blocks keep the original pointer just before the aligned address. */
void *grt_malloc_aligned(size_t n) {
    size_t total;
    if (!grt_add_size(n, 64 + sizeof(void *), &total)) return NULL;
    uint8_t *raw = grt_malloc(total);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void grt_free_aligned(void *p) {
    if (!p) return;
    grt_free(((void **)p)[-1]);
}

void grt_mem_trim(void) {
#if defined(__GLIBC__)
    /* Weights are freed in pieces smaller than glibc's (dynamic) mmap threshold, so they sit
     * in the heap: without this, a released copy still counts as resident. */
    if (!grt__alloc.free_fn) malloc_trim(0);
#endif
}
