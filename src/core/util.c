/* util.c — time, whole-file reads, a deterministic RNG. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core.h"

double grt_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

grt_status grt_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return grt_error(GAITRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return grt_error(GAITRT_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    if (max_bytes && n > max_bytes) {
        fclose(f);
        return grt_error(GAITRT_ERR_LIMIT, "%s: file of %zu bytes exceeds the limit of %zu bytes", path, n, max_bytes);
    }
    uint8_t *buf = grt_malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(buf, 1, n, f) != n) {
        fclose(f);
        grt_free(buf);
        return grt_error(GAITRT_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    *data = buf;
    *len = n;
    return GRT_OK;
}

uint64_t grt_rng_next(grt_rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float grt_rng_uniform(grt_rng *r) { return (float)(grt_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

float grt_rng_normal(grt_rng *r) {
    float u1 = grt_rng_uniform(r), u2 = grt_rng_uniform(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}
