/*
 * dataset.c — a whole dataset root of raw frames into OpenGait's pickles:
 *     INPUT_ROOT/<id>/<type>/<view>/{frames .png .jpg}  ->  OUTPUT_ROOT/<id>/<type>/<view>/<view>.pkl
 * each pickle a numpy uint8 array [T, S, S] (written by io's grt_pkl_array_write), as
 * datasets/pretreatment.py writes them. Sequences without a valid frame get no file (as in
 * OpenGait); sequences with fewer than 5 frames are written (OpenGait only warns).
 *
 * Sequences are shared out to n worker threads (pthreads), each with its own working memory.
 * A sequence that fails (an output file cannot be written, memory) is reported through the
 * progress callback and does not stop the others; the first failure is returned at the end.
 *
 * Not here: the per-frame work (sequence.c, silhouette.c), any printing (the callback gets
 * everything the command line shows).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "preprocess.h"

typedef struct seq_item {
    char *rel; /* "<id>/<type>/<view>" */
    const char *view;
} seq_item;

typedef struct ds_shared {
    const char *in_root, *out_root;
    const grt_dataset_opts *o;
    seq_item *items;
    int n;
    pthread_mutex_t lock;
    int next;              /* next item to take */
    int done;
    grt_dataset_summary sum;
    grt_status first_status;
    char first_error[1024];
} ds_shared;

/* mkdir -p */
static grt_status make_dirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) return grt_error(GAITRT_ERR_INVALID_ARG, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return grt_error(GAITRT_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return grt_error(GAITRT_ERR_IO, "%s: not a folder", path);
    return GRT_OK;
}

static grt_status join_path(char *buf, size_t len, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb + 1 > len) return grt_error(GAITRT_ERR_INVALID_ARG, "%s/%s: path too long", a, b);
    memcpy(buf, a, la);
    buf[la] = '/';
    memcpy(buf + la + 1, b, lb + 1);
    return GRT_OK;
}

static void free_items(seq_item *it, int n) {
    for (int i = 0; i < n; i++) grt_free(it[i].rel);
    grt_free(it);
}

/* Every <id>/<type>/<view> folder, in sorted order at each level (OpenGait's order). */
static grt_status list_sequences(const char *root, seq_item **items, int *count) {
    *items = NULL;
    *count = 0;
    int n = 0, cap = 0;
    seq_item *v = NULL;
    char **ids = NULL;
    int nid = 0;
    grt_status st = grt_pre_list_dir(root, 1, NULL, &ids, &nid);
    if (st) return st;
    char p1[4096], p2[4096];
    for (int a = 0; a < nid && !st; a++) {
        char **types = NULL;
        int nt = 0;
        if ((st = join_path(p1, sizeof p1, root, ids[a]))) break;
        if ((st = grt_pre_list_dir(p1, 1, NULL, &types, &nt))) break;
        for (int b = 0; b < nt && !st; b++) {
            char **views = NULL;
            int nv = 0;
            if ((st = join_path(p2, sizeof p2, p1, types[b]))) break;
            if ((st = grt_pre_list_dir(p2, 1, NULL, &views, &nv))) break;
            for (int c = 0; c < nv; c++) {
                if (n == cap) {
                    int nc = cap ? 2 * cap : 256;
                    seq_item *nv2 = grt_realloc(v, (size_t)nc * sizeof *v);
                    if (!nv2) {
                        st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory listing sequences", root);
                        break;
                    }
                    v = nv2;
                    cap = nc;
                }
                size_t len = strlen(ids[a]) + strlen(types[b]) + strlen(views[c]) + 3;
                v[n].rel = grt_malloc(len);
                if (!v[n].rel) {
                    st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory listing sequences", root);
                    break;
                }
                snprintf(v[n].rel, len, "%s/%s/%s", ids[a], types[b], views[c]);
                v[n].view = v[n].rel + strlen(ids[a]) + strlen(types[b]) + 2;
                n++;
            }
            grt_pre_free_names(views, nv);
        }
        grt_pre_free_names(types, nt);
    }
    grt_pre_free_names(ids, nid);
    if (st) {
        free_items(v, n);
        return st;
    }
    *items = v;
    *count = n;
    return GRT_OK;
}

static grt_status write_sequence(const ds_shared *sh, const seq_item *it, const grt_seq_result *r) {
    char dir[4096], path[4200];
    if (snprintf(dir, sizeof dir, "%s/%s", sh->out_root, it->rel) >= (int)sizeof dir)
        return grt_error(GAITRT_ERR_INVALID_ARG, "%s/%s: path too long", sh->out_root, it->rel);
    grt_status st = make_dirs(dir);
    if (st) return st;
    snprintf(path, sizeof path, "%s/%s.pkl", dir, it->view);
    grt_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = t.src_dtype = GRT_U8;
    t.ndim = 3;
    t.shape[0] = r->n_kept;
    t.shape[1] = r->size;
    t.shape[2] = r->size;
    t.data = r->frames; /* a view: never released through t */
    t.nbytes = (size_t)r->n_kept * r->size * r->size;
    return grt_pkl_array_write(path, &t);
}

static void *worker(void *arg) {
    ds_shared *sh = arg;
    grt_pre_work w;
    grt_pre_work_init(&w);
    char dir[4096];
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        int i = sh->next < sh->n ? sh->next++ : -1;
        pthread_mutex_unlock(&sh->lock);
        if (i < 0) break;
        const seq_item *it = &sh->items[i];
        grt_seq_result r;
        memset(&r, 0, sizeof r);
        grt_status st;
        if (snprintf(dir, sizeof dir, "%s/%s", sh->in_root, it->rel) >= (int)sizeof dir)
            st = grt_error(GAITRT_ERR_INVALID_ARG, "%s/%s: path too long", sh->in_root, it->rel);
        else
            st = grt_pretreat_sequence_dir(dir, &sh->o->seq, &w, &r);
        int written = 0;
        if (!st && r.n_kept > 0) {
            st = write_sequence(sh, it, &r);
            written = st == GRT_OK;
        }
        /* the error text is thread-local: copy it while we still are on this thread */
        char err[1024] = "";
        if (st) snprintf(err, sizeof err, "%s", gaitrt_last_error());
        /* frames are written; only the report travels to the callback */
        grt_free_aligned(r.frames);
        r.frames = NULL;

        pthread_mutex_lock(&sh->lock);
        sh->done++;
        grt_dataset_summary *s = &sh->sum;
        if (st) {
            s->n_failed++;
            if (!sh->first_status) {
                sh->first_status = st;
                snprintf(sh->first_error, sizeof sh->first_error, "%s", err);
            }
        } else {
            s->n_files += r.n_files;
            s->n_kept += r.n_kept;
            for (int k = 0; k < r.n_files; k++) {
                int why = r.files[k].status;
                if (why > 0 && why < 8) s->n_dropped[why]++;
            }
            if (written) s->n_written++;
            else s->n_empty++;
        }
        if (sh->o->progress) {
            grt_dataset_progress p;
            p.done = sh->done;
            p.total = sh->n;
            p.sequence = it->rel;
            p.status = st;
            p.error = st ? err : NULL;
            p.result = st ? NULL : &r;
            p.written = written;
            sh->o->progress(&p, sh->o->progress_user);
        }
        pthread_mutex_unlock(&sh->lock);
        grt_seq_result_release(&r);
    }
    grt_pre_work_release(&w);
    return NULL;
}

grt_status grt_pretreat_dataset(const char *in_root, const char *out_root, const grt_dataset_opts *o,
                                grt_dataset_summary *summary) {
    if (summary) memset(summary, 0, sizeof *summary);
    if (!in_root || !out_root || !o) return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: NULL argument");
    int S = o->seq.pre.img_size;
    if (S < 2 || S % 2 || S > 4096)
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: image size %d must be even and in [2, 4096] ---> HINT: OpenGait uses 64 or 128",
                         S);
    struct stat sb;
    if (stat(in_root, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return grt_error(GAITRT_ERR_IO, "%s: input root is not a folder", in_root);
    ds_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.in_root = in_root;
    sh.out_root = out_root;
    sh.o = o;
    grt_status st = list_sequences(in_root, &sh.items, &sh.n);
    if (st) return st;
    if (sh.n == 0) {
        free_items(sh.items, 0);
        return grt_error(GAITRT_ERR_INPUT, "%s: no sequence folders ---> HINT: expected INPUT_ROOT/<id>/<type>/<view>/*.png", in_root);
    }
    if ((st = make_dirs(out_root))) {
        free_items(sh.items, sh.n);
        return st;
    }
    sh.sum.n_sequences = sh.n;
    int nt = o->n_threads;
    if (nt <= 0) {
        const grt_cpu_info *ci = grt_cpu_info_get();
        nt = ci && ci->n_cores > 0 ? ci->n_cores : 1;
    }
    if (nt > sh.n) nt = sh.n;
    if (nt > 256) nt = 256;
    pthread_mutex_init(&sh.lock, NULL);
    pthread_t th[256];
    int started = 0;
    for (int i = 1; i < nt; i++) {
        if (pthread_create(&th[started], NULL, worker, &sh) != 0) break;
        started++;
    }
    worker(&sh); /* the calling thread works too */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&sh.lock);
    free_items(sh.items, sh.n);
    if (summary) *summary = sh.sum;
    if (sh.first_status)
        return grt_error(sh.first_status, "%s (%d of %d sequences failed)", sh.first_error, sh.sum.n_failed, sh.sum.n_sequences);
    return GRT_OK;
}
