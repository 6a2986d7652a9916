/*
 * test_soak.c — 10,000 embeds in one process on one session, sequences of 1 to 3 frames in a
 * fixed pseudo-random order, on the small built-in GaitBase with random weights. The resident
 * set size must stay flat over the second half (read from /proc/self/statm after a warm-up
 * half): a leak of even a few hundred bytes per embed would show as megabytes here. Every
 * embedding must also be finite and equal to a fresh run of the same length.
 *
 * It is labelled `soak`; tools/test.sh runs it in the Release pass. Under the AddressSanitizer
 * the quarantine alone grows the RSS, so flatness means nothing there: that build runs 1,000
 * embeds without the RSS check and leaves leaks to LeakSanitizer.
 *
 *     test_soak [N]        (N embeds, default 10000)
 */
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "gaitrt.h"
#include "test_util.h"

/* Under AddressSanitizer freed memory sits in a quarantine, so the RSS grows by design: there
 * we report it and leave the leak check to LeakSanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes (second field of /proc/self/statm, in pages). */
static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long size = 0, res = -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
    /* Under the AddressSanitizer each embed is ~10x slower and the RSS is not checked, so we
     * run a tenth of the embeds there: enough for LeakSanitizer to see a per-call leak. */
    long n_embeds = argc > 1 ? atol(argv[1]) : SOAK_ASAN ? 1000 : 10000;
    gaitrt_model *m = gaitrt_model_create_random("GaitBase:small", 1);
    if (!m) {
        fprintf(stderr, "cannot build the model: %s\n", gaitrt_last_error());
        return 1;
    }
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    gaitrt_session_params sp = gaitrt_session_default_params();
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    if (!s) {
        fprintf(stderr, "cannot create the session: %s\n", gaitrt_last_error());
        gaitrt_model_free(m);
        return 1;
    }
    const int H = info.inputs[0].height, W = info.inputs[0].stored_width;
    const size_t per = (size_t)info.embed_channels * info.embed_parts;
    /* Three frames of a blocky silhouette, uint8 as OpenGait stores them (raw: cut on input). */
    uint8_t *frames = malloc((size_t)3 * H * W);
    for (int t = 0; t < 3; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                frames[((size_t)t * H + y) * W + x] = (x > W / 4 + t && x < 3 * W / 4 - t && y > H / 8) ? 255 : 0;
    float *out = malloc(per * sizeof(float)), *first[4] = {0};
    int have[4] = {0};
    for (int t = 1; t <= 3; t++) first[t] = malloc(per * sizeof(float));

    long rss_half = 0, rss_start = rss_bytes();
    uint64_t r = 12345;
    double t0 = now_s();
    long bad = 0;
    for (long i = 0; i < n_embeds && bad < 10; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int T = 1 + (int)((r >> 33) % 3);
        gaitrt_sequence seq;
        memset(&seq, 0, sizeof seq);
        seq.n_frames = T;
        seq.inputs[0] = (gaitrt_input){GAITRT_DTYPE_U8, 1, H, W, frames, 1};
        gaitrt_status st = gaitrt_embed(s, &seq, 1, out, per);
        if (st) {
            CHECK_MSG(st == GAITRT_OK, "embed %ld (T=%d): %s", i, T, gaitrt_last_error());
            bad++;
            continue;
        }
        /* The same input gives the same embedding, run after run. */
        if (!have[T]) {
            memcpy(first[T], out, per * sizeof(float));
            have[T] = 1;
            for (size_t k = 0; k < per; k++)
                if (!isfinite(out[k])) {
                    CHECK_MSG(0, "embed %ld: non-finite value", i);
                    bad++;
                    break;
                }
        } else if (memcmp(out, first[T], per * sizeof(float)) != 0) {
            CHECK_MSG(0, "embed %ld (T=%d) differs from the first run of that length", i, T);
            bad++;
        }
        if (i == n_embeds / 2) rss_half = rss_bytes();
    }
    double dt = now_s() - t0;
    long rss_end = rss_bytes();
    long growth = rss_end - rss_half;
    printf("%ld embeds of 1-3 frames in %.1f s (%.2f ms each); RSS %.1f MiB at start, %.1f MiB after half, %.1f MiB at the end "
           "(second half: %+ld KiB)\n",
           n_embeds, dt, 1e3 * dt / (double)n_embeds, rss_start / 1048576.0, rss_half / 1048576.0, rss_end / 1048576.0,
           growth / 1024);
    /* A page or two of slack for the allocator's own bookkeeping; a leak of 100 bytes per
     * embed would already be ~500 KiB here. */
    if (SOAK_ASAN)
        printf("RSS growth not checked: this is an AddressSanitizer build (its quarantine keeps freed memory)\n");
    else
        CHECK_MSG(rss_half > 0 && growth <= 256 * 1024, "RSS grew by %ld KiB over the second half", growth / 1024);
    char rep[4096];
    gaitrt_session_report(s, rep, sizeof rep);
    printf("session: %s\n", rep);
    gaitrt_session_free(s);
    gaitrt_model_free(m);
    free(frames);
    free(out);
    for (int t = 1; t <= 3; t++) free(first[t]);
    return grt_test_finish("test_soak");
}
