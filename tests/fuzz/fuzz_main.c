/*
 * fuzz_main.c — a plain driver for the fuzz targets, so that every fuzz_<parser>.c builds and
 * runs with any C compiler, without libFuzzer.
 *
 *     fuzz_npy [-runs=N] [-seed=S] [-max_total_time=T] [-max_len=N] [-timeout=S]
 *              [-malloc_limit_mb=M] [-artifact_prefix=P] FILE_OR_DIR...
 *
 * It first runs every file given (a directory: every regular file inside, in name order) once,
 * which is how CTest replays the seed corpus and the crash regressions. With -runs or
 * -max_total_time it then runs a deterministic mutation loop over those inputs: for a given
 * seed and corpus the same inputs are produced in the same order, so a failure found here
 * can be reproduced exactly.
 *
 * What it deliberately is not: a coverage-guided fuzzer. It has no feedback from the code and
 * never grows the corpus; with clang, -DGAITRT_FUZZ=ON builds the same targets against
 * libFuzzer for that. Flags libFuzzer knows and we do not are ignored, so the scripts can pass
 * the same command line to both.
 *
 * When an input crashes (a sanitizer report, a signal, an allocation above the limit or a
 * run longer than -timeout) it is written to <artifact_prefix>crash-<target>-<hash> (or
 * timeout-..., oom-...) before the process dies, as libFuzzer does; copy that file into
 * tests/fuzz/crashers/<parser>/ once the bug is fixed.
 *
 * Test-only code: it prints, exits and keeps its state in file-scope variables.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gaitrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Present when a sanitizer runtime is linked in: called just before it ends the process. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

/* ---- the input being run, for the artifact written when it kills the process ---------------- */

static const uint8_t *cur_data;
static size_t cur_size;
static char artifact_prefix[512] = "./";
static const char *target_name = "fuzz";

static uint64_t fnv64(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Async-signal-safe: only open/write/close and hand-made formatting. */
static void write_artifact(const char *kind) {
    if (!cur_data && cur_size) return;
    char path[700];
    size_t k = 0;
    const char *parts[3] = {artifact_prefix, kind, "-"};
    for (int i = 0; i < 3; i++)
        for (const char *s = parts[i]; *s && k < sizeof path - 40; s++) path[k++] = *s;
    for (const char *s = target_name; *s && k < sizeof path - 20; s++) path[k++] = *s;
    path[k++] = '-';
    uint64_t h = fnv64(cur_data, cur_size);
    for (int i = 15; i >= 0; i--) path[k++] = "0123456789abcdef"[(h >> (4 * i)) & 15];
    path[k] = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (off < cur_size) {
            ssize_t w = write(fd, cur_data + off, cur_size - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        close(fd);
    }
    const char *msg[3] = {"\nfuzz_main: the failing input was written to ", path, "\n"};
    for (int i = 0; i < 3; i++) {
        ssize_t unused = write(2, msg[i], strlen(msg[i]));
        (void)unused;
    }
}

static void on_death(void) { write_artifact("crash"); }

static void on_signal(int sig) {
    write_artifact(sig == SIGALRM ? "timeout" : "crash");
    if (sig == SIGALRM) _exit(70);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- an allocation limit, like libFuzzer's -malloc_limit_mb --------------------------------- */

/* A small file must never make the library ask for gigabytes: every size it allocates from
 * is checked against the input first. We route the library's allocations through here and
 * treat a request above the limit as a failure of the input, not as out-of-memory. */
static size_t malloc_limit = (size_t)2048 << 20;

static void over_limit(size_t n) {
    fprintf(stderr, "fuzz_main: the library asked for %zu bytes at once (limit %zu MB)\n", n, malloc_limit >> 20);
    write_artifact("oom");
    abort();
}
static void *lim_malloc(size_t n, void *u) {
    (void)u;
    if (n > malloc_limit) over_limit(n);
    return malloc(n);
}
static void *lim_realloc(void *p, size_t n, void *u) {
    (void)u;
    if (n > malloc_limit) over_limit(n);
    return realloc(p, n);
}
static void lim_free(void *p, void *u) {
    (void)u;
    free(p);
}

/* ---- the corpus ------------------------------------------------------------------------------ */

typedef struct unit {
    uint8_t *p;
    size_t n;
} unit;

typedef struct corpus {
    unit *u;
    size_t n, cap;
    size_t max_n;
} corpus;

static int read_whole(const char *path, unit *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return 0;
    }
    long n = ftell(f);
    rewind(f);
    if (n < 0) {
        fclose(f);
        return 0;
    }
    out->p = malloc(n ? (size_t)n : 1);
    out->n = (size_t)n;
    int ok = out->p && (n == 0 || fread(out->p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    if (!ok) free(out->p);
    return ok;
}

static void corpus_add(corpus *c, unit u) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->u = realloc(c->u, c->cap * sizeof *c->u);
        if (!c->u) {
            fprintf(stderr, "fuzz_main: out of memory\n");
            exit(1);
        }
    }
    c->u[c->n++] = u;
    if (u.n > c->max_n) c->max_n = u.n;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Runs one unit from an exactly-sized copy, so that a read one past the end is an overflow
 * the sanitizer sees (as with libFuzzer's own buffers). */
static void run_one(const uint8_t *p, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        fprintf(stderr, "fuzz_main: out of memory\n");
        exit(1);
    }
    if (n) memcpy(copy, p, n);
    cur_data = copy;
    cur_size = n;
    LLVMFuzzerTestOneInput(copy, n);
    cur_data = NULL;
    cur_size = 0;
    free(copy);
}

static int timeout_s;

static void run_timed(const uint8_t *p, size_t n) {
    if (timeout_s > 0) alarm((unsigned)timeout_s);
    run_one(p, n);
    if (timeout_s > 0) alarm(0);
}

static size_t load_path(corpus *c, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_main: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (!S_ISDIR(st.st_mode)) {
        unit u;
        if (!read_whole(path, &u)) {
            fprintf(stderr, "fuzz_main: cannot read %s\n", path);
            exit(1);
        }
        corpus_add(c, u);
        return 1;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "fuzz_main: cannot open %s\n", path);
        exit(1);
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue; /* ., .., and hidden files such as .gitkeep */
        if (nn == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
        }
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    if (nn) qsort(names, nn, sizeof *names, name_cmp);
    size_t added = 0;
    for (size_t i = 0; i < nn; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        free(names[i]);
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        unit u;
        if (!read_whole(full, &u)) {
            fprintf(stderr, "fuzz_main: cannot read %s\n", full);
            exit(1);
        }
        corpus_add(c, u);
        added++;
    }
    free(names);
    return added;
}

/* ---- mutations ------------------------------------------------------------------------------- */

/* splitmix64: tiny, and a fixed sequence for a fixed seed on every platform. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t rng_below(uint64_t *s, size_t n) { return n ? (size_t)(rng_next(s) % n) : 0; }

/* Values that sit on the edges parsers check: sizes, signs, powers of two. */
static const uint64_t interesting[] = {
    0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 512, 1000, 1024, 4096, 32767, 32768,
    65535, 65536, 0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull, 0x7fffffffffffffffull,
    0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
};

typedef struct mbuf {
    uint8_t *p;
    size_t n, cap;
} mbuf;

static void mb_reserve(mbuf *b, size_t n) {
    if (n <= b->cap) return;
    size_t c = b->cap ? b->cap : 256;
    while (c < n) c *= 2;
    b->p = realloc(b->p, c);
    if (!b->p) {
        fprintf(stderr, "fuzz_main: out of memory\n");
        exit(1);
    }
    b->cap = c;
}

static void mb_insert(mbuf *b, size_t at, const uint8_t *src, size_t k) {
    mb_reserve(b, b->n + k);
    memmove(b->p + at + k, b->p + at, b->n - at);
    memcpy(b->p + at, src, k);
    b->n += k;
}

static void mutate_once(mbuf *b, const corpus *c, uint64_t *rs, size_t max_len) {
    uint8_t tmp[64];
    switch (rng_below(rs, 12)) {
    case 0: /* flip one bit */
        if (b->n) b->p[rng_below(rs, b->n)] ^= (uint8_t)(1u << rng_below(rs, 8));
        break;
    case 1: /* a random byte */
        if (b->n) b->p[rng_below(rs, b->n)] = (uint8_t)rng_next(rs);
        break;
    case 2: { /* an interesting value of 1, 2, 4 or 8 bytes, either byte order */
        if (!b->n) break;
        size_t w = (size_t)1 << rng_below(rs, 4);
        if (w > b->n) w = b->n;
        uint64_t v = interesting[rng_below(rs, sizeof interesting / sizeof interesting[0])];
        if (rng_below(rs, 4) == 0) v = (uint64_t)b->n + rng_below(rs, 3) - 1; /* the input's own length */
        size_t at = rng_below(rs, b->n - w + 1);
        int be = (int)rng_below(rs, 2);
        for (size_t i = 0; i < w; i++) b->p[at + i] = (uint8_t)(v >> (8 * (be ? w - 1 - i : i)));
        break;
    }
    case 3: /* add or subtract a little (counts, digits of text headers) */
        if (b->n) b->p[rng_below(rs, b->n)] += (uint8_t)(rng_below(rs, 2) ? 1 : 255);
        break;
    case 4: { /* insert random bytes */
        size_t k = 1 + rng_below(rs, 8);
        if (b->n + k > max_len) break;
        for (size_t i = 0; i < k; i++) tmp[i] = (uint8_t)rng_next(rs);
        mb_insert(b, rng_below(rs, b->n + 1), tmp, k);
        break;
    }
    case 5: { /* delete a range */
        if (!b->n) break;
        size_t at = rng_below(rs, b->n), k = 1 + rng_below(rs, b->n - at < 64 ? b->n - at : 64);
        memmove(b->p + at, b->p + at + k, b->n - at - k);
        b->n -= k;
        break;
    }
    case 6: { /* copy a chunk of the input over another place */
        if (b->n < 2) break;
        size_t k = 1 + rng_below(rs, b->n / 2 < 64 ? b->n / 2 : 64);
        size_t from = rng_below(rs, b->n - k + 1), to = rng_below(rs, b->n - k + 1);
        memmove(b->p + to, b->p + from, k);
        break;
    }
    case 7: { /* duplicate a chunk (repeated records, nested containers) */
        if (!b->n) break;
        size_t k = 1 + rng_below(rs, b->n < 64 ? b->n : 64);
        if (b->n + k > max_len) break;
        size_t from = rng_below(rs, b->n - k + 1);
        memcpy(tmp, b->p + from, k);
        mb_insert(b, rng_below(rs, b->n + 1), tmp, k);
        break;
    }
    case 8: { /* splice: our prefix, another unit's suffix */
        if (!c->n) break;
        const unit *o = &c->u[rng_below(rs, c->n)];
        size_t cut = rng_below(rs, b->n + 1), from = rng_below(rs, o->n + 1);
        size_t k = o->n - from;
        if (cut + k > max_len) k = max_len > cut ? max_len - cut : 0;
        b->n = cut;
        mb_reserve(b, cut + k);
        memcpy(b->p + cut, o->p + from, k);
        b->n = cut + k;
        break;
    }
    case 9: { /* insert a chunk of another unit (its tokens: opcodes, keys, chunk names) */
        if (!c->n) break;
        const unit *o = &c->u[rng_below(rs, c->n)];
        if (!o->n) break;
        size_t k = 1 + rng_below(rs, o->n < 32 ? o->n : 32);
        if (b->n + k > max_len) break;
        size_t from = rng_below(rs, o->n - k + 1);
        memcpy(tmp, o->p + from, k);
        mb_insert(b, rng_below(rs, b->n + 1), tmp, k);
        break;
    }
    case 10: /* truncate */
        if (b->n) b->n = rng_below(rs, b->n);
        break;
    default: { /* set a run of bytes to one value (zeroed or saturated fields) */
        if (!b->n) break;
        size_t at = rng_below(rs, b->n), k = 1 + rng_below(rs, b->n - at < 16 ? b->n - at : 16);
        memset(b->p + at, rng_below(rs, 2) ? 0xff : 0, k);
        break;
    }
    }
}

/* ---- main ------------------------------------------------------------------------------------ */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int flag(const char *arg, const char *name, const char **val) {
    size_t k = strlen(name);
    if (strncmp(arg, name, k) || arg[k] != '=') return 0;
    *val = arg + k + 1;
    return 1;
}

int main(int argc, char **argv) {
    const char *base = strrchr(argv[0], '/');
    target_name = base ? base + 1 : argv[0];
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    long long runs = -1;
    uint64_t seed = 1;
    double max_time = 0;
    size_t max_len = 0;
    corpus c = {0};
    size_t n_files = 0;
    char **paths = calloc((size_t)argc, sizeof *paths);
    int n_paths = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (flag(argv[i], "-runs", &v)) runs = atoll(v);
        else if (flag(argv[i], "-seed", &v)) seed = strtoull(v, NULL, 10);
        else if (flag(argv[i], "-max_total_time", &v)) max_time = atof(v);
        else if (flag(argv[i], "-max_len", &v)) max_len = (size_t)atoll(v);
        else if (flag(argv[i], "-timeout", &v)) timeout_s = atoi(v);
        else if (flag(argv[i], "-malloc_limit_mb", &v)) malloc_limit = (size_t)atoll(v) << 20;
        else if (flag(argv[i], "-artifact_prefix", &v)) snprintf(artifact_prefix, sizeof artifact_prefix, "%s", v);
        else if (argv[i][0] == '-') fprintf(stderr, "fuzz_main: ignoring %s\n", argv[i]);
        else paths[n_paths++] = argv[i];
    }
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(on_death);
    /* We catch the deadly signals nobody else handles: a sanitizer installs its own handlers
     * for some (SEGV, BUS, FPE), which we must not replace, but leaves abort() alone. */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(sigs[i], on_signal);
    }
    signal(SIGALRM, on_signal);
    if (malloc_limit) {
        gaitrt_allocator al = {lim_malloc, lim_realloc, lim_free, NULL};
        gaitrt_set_allocator(&al);
    }

    double t0 = now_s();
    for (int i = 0; i < n_paths; i++) {
        size_t first = c.n;
        n_files += load_path(&c, paths[i]);
        for (size_t k = first; k < c.n; k++) run_timed(c.u[k].p, c.u[k].n);
    }
    double t_replay = now_s() - t0;
    printf("fuzz_main: %s: replayed %zu inputs in %.2f s\n", target_name, n_files, t_replay);

    unsigned long long execs = n_files;
    if (runs > 0 || max_time > 0) {
        if (!max_len) max_len = c.max_n * 2 > 4096 ? c.max_n * 2 : 4096;
        uint64_t rs = seed;
        mbuf b = {0};
        double t1 = now_s();
        long long done = 0;
        unsigned long long total_len = 0;
        for (; runs < 0 || done < runs; done++) {
            /* The clock is read every 64 runs only; a run is far shorter than the time limit. */
            if (max_time > 0 && (done & 63) == 0 && now_s() - t1 >= max_time) break;
            b.n = 0;
            if (c.n) {
                const unit *u = &c.u[rng_below(&rs, c.n)];
                mb_reserve(&b, u->n + 1);
                memcpy(b.p, u->p, u->n);
                b.n = u->n > max_len ? max_len : u->n;
            }
            int k = 1 + (int)rng_below(&rs, 4);
            for (int j = 0; j < k; j++) mutate_once(&b, &c, &rs, max_len);
            total_len += b.n;
            run_timed(b.p, b.n);
        }
        double dt = now_s() - t1;
        execs += (unsigned long long)done;
        printf("fuzz_main: %s: %lld mutated runs (seed %llu) in %.1f s, %.0f exec/s, mean length %.0f bytes\n",
               target_name, done, (unsigned long long)seed, dt, dt > 0 ? done / dt : 0.0,
               done ? (double)total_len / done : 0.0);
        free(b.p);
    }
    /* The same line libFuzzer prints with -print_final_stats=1, so scripts read both alike. */
    printf("stat::number_of_executed_units: %llu\n", execs);
    for (size_t i = 0; i < c.n; i++) free(c.u[i].p);
    free(c.u);
    free(paths);
    gaitrt_set_allocator(NULL);
    return 0;
}
