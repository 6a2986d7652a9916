/* session.c — gaitrt_session: per-run state over a shared model. It chooses the backend for
 * the device and level, groups sequences into batches within the memory budget, packs and
 * transforms the inputs, runs cached plans, and records what it did (fallbacks included). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "pipeline/session.h"

gaitrt_session_params gaitrt_session_default_params(void) {
    gaitrt_session_params p;
    memset(&p, 0, sizeof p);
    p.device = GAITRT_DEVICE_AUTO;
    p.level = GAITRT_LEVEL_BALANCED;
    p.max_batch_size = 8;
    p.max_frames = 720;
    return p;
}

void grt_session_note(gaitrt_session *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t k = strlen(s->notes);
    if (k + 4 < sizeof s->notes) {
        if (k) k += (size_t)snprintf(s->notes + k, sizeof s->notes - k, "; ");
        vsnprintf(s->notes + k, sizeof s->notes - k, fmt, ap);
    }
    va_end(ap);
    va_start(ap, fmt);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    GRT_LOG_WARN("%s", msg);
}

const char *gaitrt_precision_name(gaitrt_precision p) {
    static const char *const names[5] = {"auto", "f32", "tf32", "f16", "bf16"};
    return (unsigned)p < 5 ? names[p] : NULL;
}

/* Chooses a backend for the level on the CPU: balanced/aggressive want the fast backend;
 * when it is not built in or refuses the graph we fall back to the reference, and say so. */
static grt_status grt__select_backend(gaitrt_session *s) {
    gaitrt_model *m = s->model;
    grt_backend_opts o;
    memset(&o, 0, sizeof o);
    o.n_threads = s->params.n_threads;
    o.device_index = s->params.device_index;
    const grt_backend_i *bk = NULL;
    int fused = 0;
    gaitrt_device_kind dev = s->params.device;
    const gaitrt_precision want = s->params.precision;
    if (want != GAITRT_PRECISION_AUTO && s->params.level == GAITRT_LEVEL_CONSERVATIVE)
        grt_session_note(s, "precision %s ignored: the conservative level runs the float32 reference kernels", gaitrt_precision_name(want));
    if (dev == GAITRT_DEVICE_AUTO || dev == GAITRT_DEVICE_CUDA) {
        const grt_backend_i *cu = grt_backend_cuda();
        if (cu && s->params.level != GAITRT_LEVEL_CONSERVATIVE) {
            static const grt_precision gpu_prec[5] = {GRT_PREC_F32, GRT_PREC_F32, GRT_PREC_TF32, GRT_PREC_F16, GRT_PREC_BF16};
            /* the CUDA backend does not read the thread count: sessions that differ only there
             * share one device copy of the weights and one algorithm cache */
            grt_backend_opts oc = o;
            oc.n_threads = 0;
            oc.precision = want != GAITRT_PRECISION_AUTO              ? gpu_prec[want]
                           : s->params.level == GAITRT_LEVEL_AGGRESSIVE ? GRT_PREC_F16
                                                                        : GRT_PREC_F32;
            if (grt_model_prepared(m, cu, &oc, 1, &s->bk_state) == GRT_OK) {
                o = oc;
                bk = cu;
                fused = 1;
            } else {
                grt_session_note(s, "CUDA backend could not prepare the model (%s); falling back to the CPU", gaitrt_last_error());
            }
        } else if (dev == GAITRT_DEVICE_CUDA) {
            if (!cu) return grt_error(GAITRT_ERR_DEVICE, "device cuda requested but unavailable: %s", gaitrt_last_error());
        }
    }
    if (!bk && s->params.level != GAITRT_LEVEL_CONSERVATIVE) {
        /* aggressive wants bf16; where the CPU lacks it, relaxed fp32 (Winograd F(4x4) on 3x3x3 kernels too), then fp32 */
        const grt_backend_i *fast = grt_backend_cpu_fast();
        /* a precision asked for: bf16 (else fp32) or fp32; tf32 and f16 are GPU-only */
        if (want == GAITRT_PRECISION_TF32 || want == GAITRT_PRECISION_F16)
            grt_session_note(s, "precision %s is GPU-only; the CPU runs the %s level's precision", gaitrt_precision_name(want),
                             s->params.level == GAITRT_LEVEL_AGGRESSIVE ? "aggressive" : "balanced");
        const int agg = want == GAITRT_PRECISION_BF16 ||
                        (s->params.level == GAITRT_LEVEL_AGGRESSIVE && want != GAITRT_PRECISION_F32);
        const grt_precision tries[3] = {agg ? GRT_PREC_BF16 : GRT_PREC_F32, GRT_PREC_F32_RELAXED, GRT_PREC_F32};
        static const char *const names[3] = {"bf16", "relaxed fp32", "fp32"};
        for (int k = 0; fast && !bk && k < (agg ? 3 : 1); k++) {
            o.precision = tries[k];
            if (grt_model_prepared(m, fast, &o, 1, &s->bk_state) == GRT_OK) {
                bk = fast;
                fused = 1;
            } else {
                grt_session_note(s, "fast CPU backend at %s unavailable (%s)%s%s", agg ? names[k] : "fp32", gaitrt_last_error(),
                                 agg && k < 2 ? "; trying " : "", agg && k < 2 ? names[k + 1] : "");
            }
        }
        if (!fast) grt_session_note(s, "fast CPU backend not built in (%s)", gaitrt_last_error());
        if (!bk) grt_session_note(s, "using the reference kernels");
    }
    if (!bk) {
        o.precision = GRT_PREC_F32;
        o.deterministic = 1;
        bk = grt_backend_cpu_ref();
        fused = s->params.level != GAITRT_LEVEL_CONSERVATIVE;
        grt_status st = grt_model_prepared(m, bk, &o, fused, &s->bk_state);
        if (st != GRT_OK) return st;
    }
    s->bk = bk;
    s->fused = fused;
    /* padded batches need a model whose padding can be made invisible and a backend that does it */
    s->pad_tolerance = 0;
    if (s->params.seq_len_tolerance > 0 && m->info.temporal_mixing) {
        if (!m->info.pad_batching)
            grt_session_note(s, "seq_len_tolerance %d ignored: %s mixes frames in ways padding would change (strided or "
                             "pooled time); sequences of equal length share batches", s->params.seq_len_tolerance, m->info.type);
        else if (!bk->pads)
            grt_session_note(s, "seq_len_tolerance %d ignored: the %s backend does not run padded batches; sequences of "
                             "equal length share batches", s->params.seq_len_tolerance, bk->name);
        else
            s->pad_tolerance = s->params.seq_len_tolerance;
    }
    s->bk_opts = o;
    return GRT_OK;
}

gaitrt_session *gaitrt_session_create(gaitrt_model *m, const gaitrt_session_params *p) {
    if (!m) {
        grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_session_create: model is NULL");
        return NULL;
    }
    gaitrt_session_params prm = p ? *p : gaitrt_session_default_params();
    if (prm.max_batch_size <= 0) prm.max_batch_size = 1;
    if (prm.max_frames < 0 || prm.n_threads < 0 || prm.memory_budget < 0 || prm.seq_len_tolerance < 0 || (unsigned)prm.level > 2 ||
        (unsigned)prm.precision > GAITRT_PRECISION_BF16) {
        grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_session_create: invalid parameters (negative count or unknown level)");
        return NULL;
    }
    gaitrt_session *s = grt_calloc(1, sizeof *s);
    if (!s) {
        grt_error(GAITRT_ERR_NOMEM, "out of memory creating a session");
        return NULL;
    }
    s->model = m;
    s->params = prm;
    if (grt__select_backend(s) != GRT_OK) {
        grt_free(s);
        return NULL;
    }
    const char *no = getenv("GAITRT_NO_OVERLAP");
    s->no_overlap = no && *no && strcmp(no, "0") != 0;
    if (s->no_overlap && s->bk->submit)
        grt_session_note(s, "GAITRT_NO_OVERLAP: each batch runs to the end before the next is packed");
    if (grt_session_size_budget(s) != GRT_OK || grt_prof_init(&s->prof, s) != GRT_OK) {
        gaitrt_session_free(s);
        return NULL;
    }
    return s;
}

void gaitrt_session_free(gaitrt_session *s) {
    if (!s) return;
    for (int i = 0; i < GRT_PLAN_CACHE; i++)
        if (s->plans[i].plan) s->bk->plan_release(s->plans[i].plan);
    grt_free_aligned(s->arena);
    for (int k = 0; k < GAITRT_MAX_INPUTS; k++) grt_free_aligned(s->inbuf[k]);
    for (int k = 0; k < GRT_BACKEND_IN_FLIGHT; k++) grt_free(s->outbuf[k]);
    grt_free(s->segs);
    grt_free(s->order);
    grt_prof_release(&s->prof);
    grt_free(s);
}

/* Points a shared plan at the session's arena, growing the arena when the plan needs more. */
static grt_status grt__bind(gaitrt_session *s, grt_plan_slot *ps) {
    if (!s->bk->plan_shared) return GRT_OK;
    const int64_t need = s->bk->plan_bytes(ps->plan);
    if (need > s->arena_bytes || !s->arena) {
        const int64_t bytes = need > 64 ? need : 64;
        grt_free_aligned(s->arena);
        s->arena = NULL;
        s->arena_bytes = 0;
        void *a = grt_malloc_aligned((size_t)bytes);
        if (!a)
            return grt_error(GAITRT_ERR_NOMEM, "out of memory: the activation arena needs %.1f MiB for a batch of %d x %d frames "
                             "---> HINT: free memory, or lower the batch size or the memory budget", (double)bytes / 1048576.0,
                             ps->bs.n, ps->bs.t);
        memset(a, 0, (size_t)bytes); /* every page faulted in now, not during a run */
        s->arena = a;
        s->arena_bytes = bytes;
    }
    if (ps->bound != s->arena) {
        s->bk->plan_bind(ps->plan, s->arena);
        ps->bound = s->arena;
    }
    return GRT_OK;
}

/* Releases the plan cached in ps, leaving the slot empty. */
static void grt__release_slot(gaitrt_session *s, grt_plan_slot *ps) {
    if (ps->plan == s->failed_plan) s->failed_plan = NULL; /* gone already: nothing left to drop */
    s->bk->plan_release(ps->plan);
    ps->plan = NULL;
    ps->bound = NULL;
}

/* A plan for the batch shape: from the small cache, or made now (evicting the oldest). Plans
 * share the session's arena when the backend offers it, so the cache costs no activations. */
static grt_status grt__get_plan(gaitrt_session *s, const grt_batch_shape *bs, void **plan) {
    for (int i = 0; i < GRT_PLAN_CACHE; i++) {
        grt_plan_slot *ps = &s->plans[i];
        if (ps->plan && ps->bs.n == bs->n && ps->bs.t == bs->t && ps->bs.n_seq == bs->n_seq) {
            ps->stamp = ++s->stamp;
            grt_status st = grt__bind(s, ps);
            if (st != GRT_OK) return st;
            *plan = ps->plan;
            return GRT_OK;
        }
    }
    int victim = 0;
    for (int i = 1; i < GRT_PLAN_CACHE; i++)
        if (!s->plans[i].plan || (s->plans[victim].plan && s->plans[i].stamp < s->plans[victim].stamp)) victim = i;
    grt_plan_slot *ps = &s->plans[victim];
    if (ps->plan) grt__release_slot(s, ps);
    grt_status st = s->bk->plan_shared ? s->bk->plan_shared(s->bk_state, bs, &ps->plan) : s->bk->plan(s->bk_state, bs, &ps->plan);
    if (st != GRT_OK) return st;
    ps->bs = *bs;
    ps->bound = NULL;
    ps->stamp = ++s->stamp;
    if ((st = grt__bind(s, ps)) != GRT_OK) {
        grt__release_slot(s, ps);
        return st;
    }
    int64_t bytes = s->bk->plan_bytes(ps->plan);
    if (bytes > s->peak_plan_bytes) s->peak_plan_bytes = bytes;
    *plan = ps->plan;
    return GRT_OK;
}

static grt_status grt__grow(void **buf, size_t *cap, size_t need, int aligned) {
    if (need <= *cap) return GRT_OK;
    void *p = aligned ? grt_malloc_aligned(need) : grt_malloc(need);
    if (!p) return grt_error(GAITRT_ERR_NOMEM, "out of memory: %zu bytes for batch buffers", need);
    if (aligned)
        grt_free_aligned(*buf);
    else
        grt_free(*buf);
    *buf = p;
    *cap = need;
    return GRT_OK;
}

/* Checks one sequence against the model's inputs; returns the frames used. */
static grt_status grt__check_seq(const gaitrt_session *s, const gaitrt_sequence *q, int idx, int *frames) {
    const gaitrt_model_info *mi = &s->model->info;
    if (q->n_frames <= 0)
        return grt_error(GAITRT_ERR_INPUT, "sequence %d is empty (0 frames) ---> HINT: every frame may have been dropped by "
                         "pretreatment; check the input", idx);
    for (int k = 0; k < mi->n_inputs; k++) {
        const gaitrt_input *in = &q->inputs[k];
        const gaitrt_model_input_desc *d = &mi->inputs[k];
        if (!in->data) return grt_error(GAITRT_ERR_INPUT, "sequence %d: input %d (%s) has no data", idx, k, d->name);
        int ok_w = in->width == d->width || (in->raw && in->width == d->stored_width);
        if (in->channels != d->channels || in->height != d->height || !ok_w)
            return grt_error(GAITRT_ERR_INPUT, "sequence %d: input %d (%s) frames are %d x %d x %d, the model takes %d x %d x %d%s "
                             "---> HINT: silhouettes must be pretreated to %dx%d (gaitrt pretreat)", idx, k, d->name,
                             in->channels, in->height, in->width, d->channels, d->height, d->width,
                             d->stored_width != d->width ? " (or the stored width before cutting)" : "", d->height,
                             d->stored_width);
        if (in->dtype != GAITRT_DTYPE_F32 && in->dtype != GAITRT_DTYPE_U8)
            return grt_error(GAITRT_ERR_INPUT, "sequence %d: input %d has an unknown dtype", idx, k);
    }
    int t = q->n_frames;
    if (s->params.max_frames > 0 && t > s->params.max_frames) t = s->params.max_frames;
    *frames = t;
    return GRT_OK;
}

/* Writes frames [0, t) of input k of q, test-transformed, into dst laid out (items, C, T, H, W)
 * at item b, frame offset t0. The transform cuts the stored width to the model's and divides. */
static grt_status grt__pack(const gaitrt_session *s, const gaitrt_sequence *q, int idx, int k, int t, float *dst, int b,
                            int t0, int T) {
    const gaitrt_model_input_desc *d = &s->model->info.inputs[k];
    const gaitrt_input *in = &q->inputs[k];
    const int C = d->channels, H = d->height, W = d->width;
    const int cut = (in->width - W) / 2;
    /* uint8 data is divided by the model's divisor (raw or not: bytes are never model input);
     * float data is taken as it is. */
    float div = 1.0f;
    if (in->dtype == GAITRT_DTYPE_U8) {
        div = d->divisor;
        if (div == 0.0f) { /* parsing maps: /255 only when the array's max is 255 */
            int mx = 0;
            const uint8_t *u = in->data;
            for (size_t i = 0; i < (size_t)q->n_frames * C * H * in->width; i++) mx = u[i] > mx ? u[i] : mx;
            div = mx == 255 ? 255.0f : 1.0f;
        }
    }
    const float inv = 1.0f / div;
    for (int f = 0; f < t; f++)
        for (int c = 0; c < C; c++) {
            float *o = dst + ((((size_t)b * C + c) * T + t0 + f) * H) * W;
            for (int h = 0; h < H; h++) {
                size_t src = ((((size_t)f * C + c) * H + h) * in->width) + cut;
                if (in->dtype == GAITRT_DTYPE_U8) {
                    const uint8_t *u = (const uint8_t *)in->data + src;
                    for (int w = 0; w < W; w++) o[h * W + w] = div == 255.0f ? (float)u[w] / 255.0f : (float)u[w] * inv;
                } else {
                    const float *x = (const float *)in->data + src;
                    for (int w = 0; w < W; w++) {
                        float v = x[w];
                        if (!isfinite(v))
                            return grt_error(GAITRT_ERR_INPUT, "sequence %d: input %d (%s) frame %d has a non-finite value "
                                             "(%g) at row %d, column %d", idx, k, d->name, f, (double)v, h, w + cut);
                        o[h * W + w] = v;
                    }
                }
            }
        }
    return GRT_OK;
}

/* 1 when batches go to the backend in two halves (submit, collect), one kept in flight. Profiled
 * sessions run each batch to the end, so that it is timed on its own. */
static int grt__overlaps(const gaitrt_session *s) { return s->bk->submit && !s->params.profile && !s->no_overlap; }

/* Brings batch r's output to the caller's array (waiting for the device when it was
 * submitted), L2-normalised per part when the session asks. */
static grt_status grt__finish(gaitrt_session *s, grt_batch_rec *r, float *out) {
    if (!r->plan) return GRT_OK;
    grt_status st = r->async ? s->bk->collect(r->plan) : GRT_OK;
    r->plan = NULL;
    if (st != GRT_OK) return st;
    const gaitrt_model_info *mi = &s->model->info;
    const size_t per = (size_t)mi->embed_channels * mi->embed_parts;
    for (int i = 0; i < r->n; i++) {
        float *dst = out + (size_t)r->idx[i] * per;
        memcpy(dst, s->outbuf[r->slot] + (size_t)i * per, per * sizeof(float));
        if (s->params.normalize) {
            const int C = mi->embed_channels, P = mi->embed_parts;
            for (int p = 0; p < P; p++) {
                double ss = 0;
                for (int c = 0; c < C; c++) ss += (double)dst[c * P + p] * dst[c * P + p];
                double nrm = sqrt(ss);
                float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
                for (int c = 0; c < C; c++) dst[c * P + p] *= inv;
            }
        }
    }
    return GRT_OK;
}

/* grt__finish for the batch submitted before the one being started. Its failure loses that
 * batch's sequences, so it must end the call: never be answered as the new batch's
 * out-of-memory (by a smaller retry of the new batch, leaving the old one's rows unwritten). */
static grt_status grt__finish_before(gaitrt_session *s, grt_batch_rec *r, float *out) {
    grt_status st = grt__finish(s, r, out);
    if (st != GAITRT_ERR_NOMEM) return st;
    char why[512];
    snprintf(why, sizeof why, "%s", gaitrt_last_error());
    return grt_error(GAITRT_ERR_DEVICE, "finishing the batch before: %s", why);
}

/* 1 when the session runs on a device backend (not one of the CPU backends). */
static int grt__on_device(const gaitrt_session *s) {
    return s->bk != grt_backend_cpu_ref() && s->bk != grt_backend_cpu_fast();
}

/* A plan whose run failed is not used again (a device backend marks it unusable): released
 * after the batch in flight, if any, has been finished. */
static void grt__drop_failed_plan(gaitrt_session *s) {
    if (!s->failed_plan || s->flight.plan == s->failed_plan) return;
    for (int i = 0; i < GRT_PLAN_CACHE; i++)
        if (s->plans[i].plan == s->failed_plan) grt__release_slot(s, &s->plans[i]);
    s->failed_plan = NULL;
}

/* A device backend makes a plan per batch shape, and making one is slow (algorithm search,
 * graph capture), so a packed batch (the frames of all its sequences in one item) whose length
 * no cached plan has takes a cached plan up to a quarter longer, else a new one rounded up to
 * a multiple of GRT_DEVICE_T_STEP frames. The frames past the sequences are zero and belong
 * to none of them: per-frame work on them is wasted, nothing else changes. */
#define GRT_DEVICE_T_STEP 16
static void grt__device_shape(const gaitrt_session *s, grt_batch_shape *bs) {
    if (!grt__on_device(s) || bs->n != 1) return;
    int best = 0;
    for (int i = 0; i < GRT_PLAN_CACHE; i++) {
        const grt_plan_slot *ps = &s->plans[i];
        if (ps->plan && ps->bs.n == 1 && ps->bs.n_seq == bs->n_seq && ps->bs.t >= bs->t && ps->bs.t <= bs->t + bs->t / 4 &&
            (!best || ps->bs.t < best))
            best = ps->bs.t;
    }
    bs->t = best ? best : (bs->t + GRT_DEVICE_T_STEP - 1) / GRT_DEVICE_T_STEP * GRT_DEVICE_T_STEP;
}

/* Starts one batch: sequences idx[0..n) (indices into seqs), frames[] each. A backend that
 * submits (a GPU) computes it while this thread finishes the batch before it and packs the
 * next one; the batch in flight (s->flight) is finished here once this one is on its way, or
 * first when this one needs another plan (plans may share memory, and the cache may evict). */
static grt_status grt__start_batch(gaitrt_session *s, const gaitrt_sequence *seqs, const int *idx, const int *frames, int n,
                                   float *out) {
    const gaitrt_model_info *mi = &s->model->info;
    const int packed = !mi->temporal_mixing;
    grt_batch_shape bs;
    bs.n_seq = n;
    if (packed) {
        bs.n = 1;
        bs.t = 0;
        for (int i = 0; i < n; i++) bs.t += frames[i];
        grt__device_shape(s, &bs);
    } else {
        /* one sequence per item; a padded batch (lengths within the tolerance) takes the longest */
        bs.n = n;
        bs.t = 0;
        for (int i = 0; i < n; i++) bs.t = frames[i] > bs.t ? frames[i] : bs.t;
    }
    grt_status st;
    grt_batch_rec *prev = &s->flight;
    if (prev->plan && (prev->bs.n != bs.n || prev->bs.t != bs.t || prev->bs.n_seq != bs.n_seq)) {
        if ((st = grt__finish_before(s, prev, out)) != GRT_OK) return st;
        grt__drop_failed_plan(s); /* a failed run's plan, if any, before this batch needs memory */
    }
    if ((st = grt__grow((void **)&s->segs, &s->segs_cap, (size_t)n * sizeof(grt_segment), 0)) != GRT_OK) return st;
    void *plan = NULL;
    if ((st = grt__get_plan(s, &bs, &plan)) != GRT_OK) return st;
    for (int i = 0, t0 = 0; i < n; t0 += frames[i], i++)
        s->segs[i] = (grt_segment){packed ? 0 : i, packed ? t0 : 0, frames[i]};
    const float *inputs[GAITRT_MAX_INPUTS];
    for (int k = 0; k < mi->n_inputs; k++) {
        const gaitrt_model_input_desc *d = &mi->inputs[k];
        const size_t numel = (size_t)bs.n * d->channels * bs.t * d->height * d->width;
        /* the backend's own (pinned) staging when it offers one, else the session's buffer */
        float *dst = s->bk->input_buffer ? s->bk->input_buffer(plan, k, numel) : NULL;
        if (!dst) {
            if ((st = grt__grow((void **)&s->inbuf[k], &s->inbuf_cap[k], numel * sizeof(float), 1)) != GRT_OK) return st;
            dst = s->inbuf[k];
        }
        /* sequences in parallel (the copy and the finiteness check are a few ms for 64 x 30 frames);
         * a failure is repeated on this thread, whose error text the caller reads */
        int bad = -1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 1) reduction(max : bad)
#endif
        for (int i = 0; i < n; i++) {
            const grt_segment *g = &s->segs[i];
            if (grt__pack(s, &seqs[idx[i]], idx[i], k, frames[i], dst, g->b, g->t0, bs.t) != GRT_OK) {
                bad = i > bad ? i : bad;
                continue;
            }
            if (!packed && frames[i] < bs.t) { /* padding: zero frames, which the backend keeps zero */
                const size_t hw = (size_t)d->height * d->width;
                for (int c = 0; c < d->channels; c++)
                    memset(dst + (((size_t)g->b * d->channels + c) * bs.t + frames[i]) * hw, 0,
                           (size_t)(bs.t - frames[i]) * hw * sizeof(float));
            }
        }
        if (packed && s->segs[n - 1].t0 + frames[n - 1] < bs.t) { /* a device's longer plan: zero frames after the last */
            const int used = s->segs[n - 1].t0 + frames[n - 1];
            const size_t hw = (size_t)d->height * d->width;
            for (int c = 0; c < d->channels; c++)
                memset(dst + ((size_t)c * bs.t + used) * hw, 0, (size_t)(bs.t - used) * hw * sizeof(float));
        }
        if (bad >= 0) {
            for (int i = 0; i < n; i++)
                if ((st = grt__pack(s, &seqs[idx[i]], idx[i], k, frames[i], dst, s->segs[i].b, s->segs[i].t0, bs.t)) != GRT_OK)
                    return st;
            return grt_error(GAITRT_ERR_INTERNAL, "sequence %d: input %d failed to pack", idx[bad], k);
        }
        inputs[k] = dst;
    }
    const size_t per = (size_t)mi->embed_channels * mi->embed_parts;
    const int slot = prev->plan ? prev->slot ^ 1 : 0;
    if ((st = grt__grow((void **)&s->outbuf[slot], &s->outbuf_cap[slot], (size_t)n * per * sizeof(float), 0)) != GRT_OK)
        return st;
    grt_run_args a = {inputs, s->segs, s->outbuf[slot], s->params.profile ? &s->prof.run : NULL};
    const int async = grt__overlaps(s);
    if (async) {
        st = s->bk->submit(plan, &a);
    } else {
        grt_prof_begin_run(&s->prof, s->bk, bs.n, bs.t, n);
        st = s->bk->run(plan, &a);
        grt_prof_end_run(&s->prof, s->bk, bs.t);
    }
    if (st != GRT_OK) {
        s->failed_plan = plan; /* released once nothing of it is in flight (gaitrt_embed) */
        return st;
    }
    grt_batch_rec done = *prev;
    *prev = (grt_batch_rec){.plan = plan, .bs = bs, .async = async, .slot = slot, .n = n};
    memcpy(prev->idx, idx, (size_t)n * sizeof(int));
    return grt__finish_before(s, &done, out);
}

/* Releases the cached plans; with `keep`, not that one (a batch in flight uses it). Returns
 * how many were released. */
static int grt__release_plans(gaitrt_session *s, const void *keep) {
    int k = 0;
    for (int i = 0; i < GRT_PLAN_CACHE; i++) {
        grt_plan_slot *ps = &s->plans[i];
        if (!ps->plan || ps->plan == keep) continue;
        grt__release_slot(s, ps);
        k++;
    }
    return k;
}

/* Out of device memory even for one sequence: the batch in flight is finished, the device's
 * plans are released and the session goes on on the CPU (the backend the CPU would have been
 * given at creation), and says so. */
static grt_status grt__fall_back_to_cpu(gaitrt_session *s, float *out) {
    char why[512];
    snprintf(why, sizeof why, "%s", gaitrt_last_error());
    grt_status st = grt__finish(s, &s->flight, out);
    if (st != GRT_OK) return st;
    grt__release_plans(s, NULL);
    s->failed_plan = NULL;
    const char *from = s->bk->name;
    const gaitrt_device_kind dev = s->params.device;
    s->params.device = GAITRT_DEVICE_CPU;
    if ((st = grt__select_backend(s)) != GRT_OK) {
        s->params.device = dev; /* still the device's backend (its plans are made again when needed) */
        return st;
    }
    s->oom_cap = 0; /* the device's limit is not the CPU's */
    if ((st = grt_session_size_budget(s)) != GRT_OK) return st;
    grt_session_note(s, "%s: out of memory even for one sequence (%s); the session goes on on the CPU (%s)", from, why,
                     s->bk->name);
    s->fallbacks++;
    return GRT_OK;
}

/* An internal or device error leaves the session unusable: later calls say why. */
static void grt__poison_on(gaitrt_session *s, grt_status st) {
    if (st != GAITRT_ERR_INTERNAL && st != GAITRT_ERR_DEVICE) return;
    s->poisoned = 1;
    snprintf(s->poison_reason, sizeof s->poison_reason, "%s", gaitrt_last_error());
}

gaitrt_status gaitrt_embed(gaitrt_session *s, const gaitrt_sequence *seqs, int n, float *out, size_t out_len) {
    if (!s || (!seqs && n) || (!out && n) || n < 0) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_embed: NULL or negative argument");
    if (s->poisoned) return grt_error(GAITRT_ERR_BAD_STATE, "gaitrt_embed: the session failed earlier (%s) ---> HINT: create a new session", s->poison_reason);
    const gaitrt_model_info *mi = &s->model->info;
    const size_t per = (size_t)mi->embed_channels * mi->embed_parts;
    if (out_len < (size_t)n * per)
        return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_embed: output holds %zu floats, %d sequences need %zu", out_len, n, (size_t)n * per);
    grt_status st;
    if ((st = grt__grow((void **)&s->order, &s->order_cap, (size_t)n * 2 * sizeof(int) + 1, 0)) != GRT_OK) return st;
    int *frames = s->order + n;
    for (int i = 0; i < n; i++) {
        if ((st = grt__check_seq(s, &seqs[i], i, &frames[i])) != GRT_OK) return st;
        s->order[i] = i;
    }
    /* Sort by length (stable insertion sort on indices): similar lengths share batches. */
    for (int i = 1; i < n; i++) {
        int v = s->order[i], j = i - 1;
        while (j >= 0 && frames[s->order[j]] > frames[v]) {
            s->order[j + 1] = s->order[j];
            j--;
        }
        s->order[j + 1] = v;
    }
    int bidx[256], bfr[256];
    int i = 0;
    /* batches in flight overlap: the CPU utilisation is measured over the whole call */
    int overlapped = grt__overlaps(s);
    if (overlapped && n > 0) grt_prof_begin_run(&s->prof, s->bk, 0, 0, n);
    while (i < n) {
        /* grow the batch while it fits: count, frame budget and, for temporal models, equal length */
        int cnt = 0;
        int64_t tot = 0;
        int cap = s->params.max_batch_size < 256 ? s->params.max_batch_size : 256;
        if (s->oom_cap > 0 && s->oom_cap < cap) cap = s->oom_cap; /* what fitted after memory ran out */
        while (i + cnt < n && cnt < cap) {
            int f = frames[s->order[i + cnt]];
            /* temporal models: equal lengths, or lengths within the tolerance when padding is exact
               (sorted ascending, so f is the batch's longest) */
            if (cnt > 0 && mi->temporal_mixing && f - bfr[0] > s->pad_tolerance) break;
            int64_t newtot = mi->temporal_mixing ? (int64_t)f * (cnt + 1) : tot + f;
            if (cnt > 0 && newtot > s->frame_budget) break;
            bidx[cnt] = s->order[i + cnt];
            bfr[cnt] = f;
            tot = newtot;
            cnt++;
        }
        const int fb0 = s->fallbacks;
        st = grt__start_batch(s, seqs, bidx, bfr, cnt, out);
        while (st == GAITRT_ERR_NOMEM && (cnt > 1 || grt__on_device(s))) {
            if (cnt > 1) {
                /* out of memory: release the plans no batch in flight needs, halve the batch and
                   retry, and say so */
                int half = cnt / 2, freed = grt__release_plans(s, s->flight.plan);
                grt_session_note(s, "allocation failed for a batch of %d sequences (%s); retrying with %d%s", cnt,
                                 gaitrt_last_error(), half, freed ? " after releasing the cached plans" : "");
                s->fallbacks++;
                if (s->frame_budget > 1) s->frame_budget /= 2;
                cnt = half;
            } else {
                /* one sequence does not fit the device: the CPU takes over */
                if (overlapped) grt_prof_end_run(&s->prof, s->bk, 0);
                if ((st = grt__fall_back_to_cpu(s, out)) != GRT_OK) break;
                overlapped = grt__overlaps(s);
                if (overlapped) grt_prof_begin_run(&s->prof, s->bk, 0, 0, n - i);
            }
            st = grt__start_batch(s, seqs, bidx, bfr, cnt, out);
        }
        if (st == GRT_OK && s->fallbacks > fb0 && grt__on_device(s)) s->oom_cap = cnt; /* later batches no larger */
        if (st == GRT_OK) grt__drop_failed_plan(s); /* (a retry's failed run, if any) */
        if (st != GRT_OK) {
            /* the batch still in flight is collected (its plan is left idle), its error reported
               only when it is the first */
            if (s->flight.plan) {
                char first[512];
                snprintf(first, sizeof first, "%s", gaitrt_last_error());
                grt__poison_on(s, grt__finish(s, &s->flight, out));
                grt_error(st, "%s", first);
            }
            if (overlapped) grt_prof_end_run(&s->prof, s->bk, 0);
            grt__drop_failed_plan(s);
            grt__poison_on(s, st);
            return st;
        }
        s->n_batches++;
        s->n_sequences += cnt;
        i += cnt;
    }
    st = grt__finish(s, &s->flight, out);
    if (overlapped && n > 0) grt_prof_end_run(&s->prof, s->bk, 0);
    grt__poison_on(s, st);
    return st;
}
