/*
 * pre_util.c — the small plumbing the preprocessing room shares: growable buffers, the
 * per-thread work bag, whole-file reads into a reused buffer, and sorted folder listings.
 * Nothing here knows about images.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "preprocess.h"

void *grt_buf_reserve(grt_buf *b, size_t n) {
    if (n == 0) n = 1;
    if (b->cap >= n) return b->p;
    /* Grow geometrically so that a slowly growing sequence of frames reallocates rarely. */
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < n) {
        if (cap > SIZE_MAX / 2) {
            cap = n;
            break;
        }
        cap *= 2;
    }
    void *p = grt_malloc_aligned(cap);
    if (!p) return NULL;
    grt_free_aligned(b->p);
    b->p = p;
    b->cap = cap;
    return p;
}

void grt_buf_release(grt_buf *b) {
    grt_free_aligned(b->p);
    b->p = NULL;
    b->cap = 0;
}

void grt_pre_work_init(grt_pre_work *w) { memset(w, 0, sizeof *w); }

/* Defined in image_decode.c (it owns the TurboJPEG handle and the zlib state). */
void grt__pre_tj_destroy(void *tj);
void grt__pre_zs_destroy(void *zs);

void grt_pre_work_release(grt_pre_work *w) {
    grt_buf_release(&w->file);
    grt_buf_release(&w->raw);
    grt_buf_release(&w->image);
    grt_buf_release(&w->image2);
    grt_buf_release(&w->resized);
    grt_buf_release(&w->rtab);
    grt_buf_release(&w->cc);
    if (w->tj) grt__pre_tj_destroy(w->tj);
    if (w->zs) grt__pre_zs_destroy(w->zs);
    w->tj = NULL;
    w->zs = NULL;
}

grt_status grt_pre_read_file(const char *path, size_t max_bytes, grt_buf *b, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return grt_error(GAITRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return grt_error(GAITRT_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (max_bytes && (uint64_t)st.st_size > max_bytes)) {
        fclose(f);
        return grt_error(GAITRT_ERR_LIMIT, "%s: file of %lld bytes exceeds the limit of %zu bytes ---> HINT: is this really a frame?",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *p = grt_buf_reserve(b, n);
    if (!p) {
        fclose(f);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(p, 1, n, f) != n) {
        fclose(f);
        return grt_error(GAITRT_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    *len = n;
    return GRT_OK;
}

static int cmp_names(const void *a, const void *b) {
    /* Byte order: what Python's sorted() gives for UTF-8 names (code-point order). */
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void grt_pre_free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) grt_free(names[i]);
    grt_free(names);
}

grt_status grt_pre_list_dir(const char *dir, int dirs, int (*keep)(const char *name), char ***names, int *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return grt_error(GAITRT_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **v = NULL;
    int cnt = 0, cap = 0;
    size_t dlen = strlen(dir);
    grt_status st = GRT_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if (keep && !keep(nm)) continue;
        /* stat (not d_type): links to files or folders count as what they point to, as
         * Python's pathlib does. */
        size_t plen = dlen + 1 + strlen(nm) + 1;
        char *path = grt_malloc(plen);
        if (!path) {
            st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        snprintf(path, plen, "%s/%s", dir, nm);
        struct stat sb;
        int ok = stat(path, &sb) == 0 && (dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        grt_free(path);
        if (!ok) continue;
        if (cnt == cap) {
            int ncap = cap ? cap * 2 : 64;
            char **nv = grt_realloc(v, (size_t)ncap * sizeof *nv);
            if (!nv) {
                st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory listing the folder", dir);
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt] = grt_strdup(nm);
        if (!v[cnt]) {
            st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        cnt++;
    }
    closedir(d);
    if (st) {
        grt_pre_free_names(v, cnt);
        return st;
    }
    if (cnt > 1) qsort(v, (size_t)cnt, sizeof *v, cmp_names);
    *names = v;
    *n = cnt;
    return GRT_OK;
}

int grt_pre_is_frame_name(const char *name) {
    size_t n = strlen(name);
    /* OpenGait's pretreatment skips gait-energy images saved next to the frames. */
    if (strstr(name, "gei.png")) return 0;
    static const char *ext[] = {".png", ".jpg", ".jpeg"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && !strcasecmp(name + n - k, ext[i])) return 1;
    }
    return 0;
}
