/* error.c — status names, the thread-local error text, and the log callback. */
#include <stdio.h>
#include <string.h>

#include "core.h"

#define GRT_ERRBUF 1024

static _Thread_local char grt__errbuf[GRT_ERRBUF];
static _Thread_local gaitrt_status grt__errstatus;

/* The log callback is process-wide, installed by the caller (like ggml_log_set). */
static gaitrt_log_fn grt__log_fn;
static void *grt__log_user;

/* Messages quote names taken from untrusted files (zip entries, pickle globals, tensor keys).
 * We keep them on one line and free of terminal control sequences: ASCII control bytes and
 * the UTF-8 encodings of the C1 controls (U+0080..U+009F, which some terminals obey) become
 * '?'. Everything else, other UTF-8 included, is kept. */
static void grt__one_line(char *s) {
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *p = '?';
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            p[0] = '?';
            p[1] = '?';
            p++;
        }
    }
}

/* Every message ends with a hint. Most call sites write one that fits the problem; for those
 * that do not, we add a general one for the status, so that no user is left with a bare
 * "pickle stack underflow". docs/errors.md lists these. */
static const char *grt__default_hint(gaitrt_status st) {
    switch (st) {
    case GAITRT_ERR_INVALID_ARG: return "---> HINT: check the arguments against include/gaitrt.h";
    case GAITRT_ERR_IO: return "---> HINT: check that the path exists and that gaitrt may read (or write) it";
    case GAITRT_ERR_FORMAT: return "---> HINT: the file is damaged or not of the kind expected here; copy or download it again";
    case GAITRT_ERR_UNSUPPORTED: return "---> HINT: docs/errors.md lists what gaitrt reads and how to convert the rest";
    case GAITRT_ERR_REFUSED: return "---> HINT: gaitrt never runs code from a file; if you trust it, re-save the tensors with safetensors";
    case GAITRT_ERR_MODEL: return "---> HINT: compare the checkpoint with --model-type and --config (`gaitrt info -m` shows what was inferred)";
    case GAITRT_ERR_INPUT: return "---> HINT: compare the input with the model's inputs (`gaitrt info -m`)";
    case GAITRT_ERR_NOMEM: return "---> HINT: free memory, or lower the batch size or the memory budget";
    case GAITRT_ERR_DEVICE: return "---> HINT: check the GPU and its driver (nvidia-smi), or run on the CPU";
    case GAITRT_ERR_LIMIT: return "---> HINT: a safety limit for untrusted input was exceeded; real files of this kind are far smaller";
    case GAITRT_ERR_BAD_STATE: return "---> HINT: free this handle and create a new one";
    case GAITRT_ERR_INTERNAL: return "---> HINT: this is a bug in gaitrt; please report it with the input that triggers it";
    default: return NULL;
    }
}

static void grt__add_hint(char *buf, size_t cap, gaitrt_status st) {
    const char *hint = grt__default_hint(st);
    if (!hint || !buf[0] || strstr(buf, "---> HINT")) return;
    size_t n = strlen(buf), h = strlen(hint);
    if (n + 1 + h >= cap) n = cap - 2 - h; /* the hint wins over the end of a very long message */
    buf[n] = ' ';
    memcpy(buf + n + 1, hint, h + 1);
}

const char *gaitrt_status_str(gaitrt_status st) {
    switch (st) {
    case GAITRT_OK: return "ok";
    case GAITRT_ERR_INVALID_ARG: return "invalid argument";
    case GAITRT_ERR_IO: return "i/o error";
    case GAITRT_ERR_FORMAT: return "format error";
    case GAITRT_ERR_UNSUPPORTED: return "unsupported";
    case GAITRT_ERR_REFUSED: return "refused";
    case GAITRT_ERR_MODEL: return "model mismatch";
    case GAITRT_ERR_INPUT: return "bad input";
    case GAITRT_ERR_NOMEM: return "out of memory";
    case GAITRT_ERR_DEVICE: return "device error";
    case GAITRT_ERR_LIMIT: return "limit exceeded";
    case GAITRT_ERR_BAD_STATE: return "bad state";
    case GAITRT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *gaitrt_last_error(void) { return grt__errbuf; }

gaitrt_status gaitrt_last_status(void) { return grt__errstatus; }

const char *gaitrt_version(void) {
#define GRT_STR2(x) #x
#define GRT_STR(x) GRT_STR2(x)
    return GRT_STR(GAITRT_VERSION_MAJOR) "." GRT_STR(GAITRT_VERSION_MINOR) "." GRT_STR(GAITRT_VERSION_PATCH);
}

grt_status grt_error(grt_status st, const char *fmt, ...) {
    /* Callers may pass gaitrt_last_error() itself as an argument ("building X failed: %s"),
     * so we format into a local buffer: vsnprintf must not read what it writes. */
    char msg[GRT_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(grt__errbuf, msg, sizeof msg);
    grt__one_line(grt__errbuf);
    grt__add_hint(grt__errbuf, sizeof grt__errbuf, st);
    grt__errstatus = st;
    return st;
}

grt_status grt_error_prefix(grt_status st, const char *fmt, ...) {
    char prefix[512], old[GRT_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, grt__errbuf, sizeof old);
    size_t k = strlen(prefix);
    if (k >= sizeof grt__errbuf) k = sizeof grt__errbuf - 1;
    memcpy(grt__errbuf, prefix, k);
    size_t rest = strlen(old);
    if (rest > sizeof grt__errbuf - 1 - k) rest = sizeof grt__errbuf - 1 - k;
    memcpy(grt__errbuf + k, old, rest);
    grt__errbuf[k + rest] = 0;
    grt__one_line(grt__errbuf);
    grt__add_hint(grt__errbuf, sizeof grt__errbuf, st);
    grt__errstatus = st;
    return st;
}

void grt_error_clear(void) {
    grt__errbuf[0] = 0;
    grt__errstatus = GAITRT_OK;
}

void gaitrt_log_set(gaitrt_log_fn fn, void *user) {
    grt__log_fn = fn;
    grt__log_user = user;
}

void grt_log(gaitrt_log_level lvl, const char *func, const char *fmt, ...) {
    if (!grt__log_fn) return;
    char msg[1024];
    int k = snprintf(msg, sizeof msg, "%s: ", func);
    if (k < 0 || k >= (int)sizeof msg) k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    grt__one_line(msg);
    grt__log_fn(lvl, msg, grt__log_user);
}
