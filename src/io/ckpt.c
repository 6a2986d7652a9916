/*
 * ckpt.c — checkpoint files to a state dict: format detection by content, torch zip
 * archives (>= 1.6: data.pkl run through the safe pickle reader, storages from data/<key>),
 * and the state-dict container itself (find, free, `module.` stripping).
 *
 * What it deliberately is not: a torch loader. We read dense tensors from
 * checkpoint['model'] / ['state_dict'] / the top level and nothing else; legacy (pre-1.6,
 * non-zip) files are refused with a conversion recipe rather than parsed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "io/io_internal.h"
#include "io/zip.h"

/* ---- the state dict container ---------------------------------------------------------------- */

grt_state_dict *grt_io_sd_new(const char *path, const char *format) {
    grt_state_dict *sd = grt_calloc(1, sizeof *sd);
    if (!sd) return NULL;
    sd->path = grt_strdup(path ? path : "");
    if (!sd->path) {
        grt_free(sd);
        return NULL;
    }
    snprintf(sd->format, sizeof sd->format, "%s", format);
    return sd;
}

grt_status grt_io_sd_add(grt_state_dict *sd, grt_tensor *t) {
    if (sd->n >= GRT_IO_MAX_TENSORS)
        return grt_error(GAITRT_ERR_LIMIT, "%s: more than %d tensors in the state dict", sd->path, GRT_IO_MAX_TENSORS);
    /* Capacity doubles at powers of two; we keep no separate field for it. */
    if ((sd->n & (sd->n - 1)) == 0) {
        size_t cap = sd->n ? (size_t)sd->n * 2 : 1;
        grt_tensor *nt = grt_realloc(sd->t, cap * sizeof *nt);
        if (!nt) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", sd->path);
        sd->t = nt;
    }
    sd->t[sd->n++] = *t;
    memset(t, 0, sizeof *t);
    return GRT_OK;
}

static int sd_name_cmp(const void *a, const void *b) {
    return strcmp((*(const grt_tensor *const *)a)->name, (*(const grt_tensor *const *)b)->name);
}

grt_status grt_io_sd_finish(grt_state_dict *sd) {
    static const char prefix[] = "module.";
    const size_t pl = sizeof prefix - 1;
    int all = sd->n > 0;
    for (int i = 0; i < sd->n && all; i++) all = !strncmp(sd->t[i].name, prefix, pl) && sd->t[i].name[pl];
    if (all) /* a DataParallel/DDP wrapper was saved instead of the model inside it */
        for (int i = 0; i < sd->n; i++) memmove(sd->t[i].name, sd->t[i].name + pl, strlen(sd->t[i].name + pl) + 1);
    if (sd->n < 2) return GRT_OK;
    const grt_tensor **p = grt_malloc((size_t)sd->n * sizeof *p);
    if (!p) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", sd->path);
    for (int i = 0; i < sd->n; i++) p[i] = &sd->t[i];
    qsort(p, (size_t)sd->n, sizeof *p, sd_name_cmp);
    grt_status st = GRT_OK;
    for (int i = 1; i < sd->n && !st; i++)
        if (!strcmp(p[i - 1]->name, p[i]->name))
            st = grt_error(GAITRT_ERR_FORMAT, "%s: the state dict holds the key '%s' twice ---> HINT: the file is corrupt", sd->path, p[i]->name);
    grt_free(p);
    return st;
}

const grt_tensor *grt_state_dict_find(const grt_state_dict *sd, const char *key) {
    if (!sd || !key) return NULL;
    for (int i = 0; i < sd->n; i++)
        if (!strcmp(sd->t[i].name, key)) return &sd->t[i];
    return NULL;
}

void grt_state_dict_free(grt_state_dict *sd) {
    if (!sd) return;
    for (int i = 0; i < sd->n; i++) grt_tensor_release(&sd->t[i]);
    grt_free(sd->t);
    grt_free(sd->path);
    grt_free(sd);
}

/* ---- torch zip archives ---------------------------------------------------------------------- */

/* Storages by (key, dtype): many tensors (views) share one storage, and a state dict can
 * hold 100k of them, so we hash rather than search. */
typedef struct tz_slot {
    grt_pk_storage *s;
} tz_slot;

struct grt_io_torchzip {
    grt_zip z;
    const char *name;
    char *prefix;          /* "archive/" including the slash */
    grt_pk_arena arena;
    tz_slot *slots;
    size_t nslots, used;
    const uint8_t **entry_data; /* per zip entry, once read */
    uint8_t **entry_owned;
};

static uint64_t tz_hash(const char *k, grt_dtype dt) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)dt;
    for (; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
    return h;
}

static grt_pk_storage *tz_lookup(grt_io_torchzip *tz, const char *key, grt_dtype dt) {
    if (!tz->nslots) return NULL;
    for (size_t i = tz_hash(key, dt) & (tz->nslots - 1);; i = (i + 1) & (tz->nslots - 1)) {
        grt_pk_storage *s = tz->slots[i].s;
        if (!s) return NULL;
        if (s->dtype == dt && !strcmp(s->key, key)) return s;
    }
}

static int tz_insert(grt_io_torchzip *tz, grt_pk_storage *s) {
    if ((tz->used + 1) * 2 > tz->nslots) {
        size_t nn = tz->nslots ? tz->nslots * 2 : 64;
        tz_slot *ns = grt_calloc(nn, sizeof *ns);
        if (!ns) return 0;
        for (size_t i = 0; i < tz->nslots; i++) {
            grt_pk_storage *o = tz->slots[i].s;
            if (!o) continue;
            size_t j = tz_hash(o->key, o->dtype) & (nn - 1);
            while (ns[j].s) j = (j + 1) & (nn - 1);
            ns[j].s = o;
        }
        grt_free(tz->slots);
        tz->slots = ns;
        tz->nslots = nn;
    }
    size_t j = tz_hash(s->key, s->dtype) & (tz->nslots - 1);
    while (tz->slots[j].s) j = (j + 1) & (tz->nslots - 1);
    tz->slots[j].s = s;
    tz->used++;
    return 1;
}

static int tz_entry_index(grt_io_torchzip *tz, const char *key) {
    size_t pl = strlen(tz->prefix), kl = strlen(key), n = pl + 5 + kl + 1;
    char stackbuf[384];
    char *name = n <= sizeof stackbuf ? stackbuf : grt_malloc(n);
    if (!name) return -2;
    memcpy(name, tz->prefix, pl);
    memcpy(name + pl, "data/", 5);
    memcpy(name + pl + 5, key, kl + 1);
    int idx = grt_zip_find(&tz->z, name);
    if (name != stackbuf) grt_free(name);
    return idx;
}

/* persistent_load for torch zip files: ('storage', torch.<T>Storage, key, location, numel). */
static grt_status tz_persid(grt_pk_vm *vm, void *user, grt_pv *pid, grt_pv **out) {
    grt_io_torchzip *tz = user;
    if (pid->kind != GRT_PV_TUPLE || pid->u.seq.n < 5 || !grt_pv_is_str(pid->u.seq.v[0], "storage"))
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "persistent id that is not a torch storage");
    grt_pv *cls = pid->u.seq.v[1], *key = pid->u.seq.v[2];
    int64_t numel;
    if (cls->kind != GRT_PV_GLOBAL || strcmp(cls->u.g.module, "torch"))
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "storage type is not a torch storage class");
    int dt = grt_pk_storage_dtype(cls->u.g.name);
    if (dt < 0)
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "storage type torch.%s is not supported (float, half, bfloat16, double and integer storages are) ---> HINT: convert such tensors to float32 before saving", cls->u.g.name);
    if (key->kind != GRT_PV_STR || key->u.s.n == 0 || key->u.s.n > 256 || memchr(key->u.s.p, 0, key->u.s.n) ||
        !grt_pv_as_int(pid->u.seq.v[4], &numel) || numel < 0)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed torch storage id");
    char keybuf[257];
    memcpy(keybuf, key->u.s.p, key->u.s.n);
    keybuf[key->u.s.n] = 0;
    grt_pk_storage *s = tz_lookup(tz, keybuf, (grt_dtype)dt);
    if (s) {
        if (s->numel != numel) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "storage '%s' declared with two sizes", keybuf);
    } else {
        int idx = tz_entry_index(tz, keybuf);
        if (idx == -2) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
        if (idx < 0)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "storage '%s' has no entry %sdata/%s in the archive ---> HINT: the file is incomplete", keybuf, tz->prefix, keybuf);
        uint64_t need;
        if (__builtin_mul_overflow((uint64_t)numel, (uint64_t)grt_dtype_size((grt_dtype)dt), &need) || tz->z.e[idx].size < need)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "storage '%s' declares %lld elements but its entry has only %llu bytes", keybuf, (long long)numel, (unsigned long long)tz->z.e[idx].size);
        s = grt_pk_alloc(&tz->arena, sizeof *s);
        if (!s) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
        memset(s, 0, sizeof *s);
        s->dtype = (grt_dtype)dt;
        s->numel = numel;
        s->key = grt_pk_strndup(vm, keybuf, key->u.s.n);
        s->user = (void *)(intptr_t)(idx + 1);
        if (!s->key || !tz_insert(tz, s)) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
    }
    grt_pv *v = grt_pk_new(vm, GRT_PV_STORAGE);
    if (!v) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
    v->u.storage = s;
    *out = v;
    return GRT_OK;
}

void grt_io_torchzip_close(grt_io_torchzip *tz) {
    if (!tz) return;
    if (tz->entry_owned)
        for (int i = 0; i < tz->z.n; i++) grt_free(tz->entry_owned[i]);
    grt_free(tz->entry_owned);
    grt_free(tz->entry_data);
    grt_free(tz->slots);
    grt_free(tz->prefix);
    grt_pk_arena_free(&tz->arena);
    grt_zip_close(&tz->z);
    grt_free(tz);
}

grt_status grt_io_torchzip_resolve(grt_io_torchzip *tz, grt_pk_storage *s) {
    if (s->data) return GRT_OK;
    int idx = (int)(intptr_t)s->user - 1;
    if (idx < 0 || idx >= tz->z.n) return grt_error(GAITRT_ERR_INTERNAL, "%s: storage without a zip entry", tz->name);
    if (!tz->entry_data[idx]) {
        size_t n;
        grt_status st = grt_zip_read(&tz->z, idx, &tz->entry_data[idx], &n, &tz->entry_owned[idx]);
        if (st) return st;
    }
    s->data = tz->entry_data[idx];
    return GRT_OK;
}

grt_status grt_io_torchzip_open(const uint8_t *buf, size_t len, const char *name, grt_io_torchzip **out,
                                grt_pv **root) {
    *out = NULL;
    *root = NULL;
    grt_io_torchzip *tz = grt_calloc(1, sizeof *tz);
    if (!tz) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
    tz->name = name;
    grt_status st = grt_zip_open(&tz->z, buf, len, name);
    if (st) {
        grt_free(tz);
        return st;
    }
    /* torch names every entry "<archive>/..."; the archive name is free, so we find the one
     * data.pkl that sits one level deep. */
    int pkl = -1;
    for (int i = 0; i < tz->z.n; i++) {
        const grt_zip_entry *e = &tz->z.e[i];
        if (e->name_len < 10 || memcmp(e->name + e->name_len - 9, "/data.pkl", 9)) continue;
        if (memchr(e->name, '/', e->name_len - 9)) continue;
        if (pkl >= 0) {
            grt_io_torchzip_close(tz);
            return grt_error(GAITRT_ERR_FORMAT, "%s: the archive holds more than one data.pkl", name);
        }
        pkl = i;
    }
    if (pkl < 0) {
        grt_io_torchzip_close(tz);
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip archive without <name>/data.pkl: not a torch checkpoint ---> HINT: save the model with torch.save(model.state_dict(), path)", name);
    }
    const grt_zip_entry *pe = &tz->z.e[pkl];
    tz->prefix = grt_malloc(pe->name_len - 8 + 1);
    tz->entry_data = grt_calloc((size_t)tz->z.n, sizeof *tz->entry_data);
    tz->entry_owned = grt_calloc((size_t)tz->z.n, sizeof *tz->entry_owned);
    if (!tz->prefix || !tz->entry_data || !tz->entry_owned) {
        grt_io_torchzip_close(tz);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(tz->prefix, pe->name, pe->name_len - 8);
    tz->prefix[pe->name_len - 8] = 0;
    /* torch >= 2.1 records the byte order; storages of a big-endian machine we refuse. */
    char bo_name[300];
    snprintf(bo_name, sizeof bo_name, "%.280sbyteorder", tz->prefix);
    int bo = grt_zip_find(&tz->z, bo_name);
    if (bo >= 0) {
        const uint8_t *b;
        size_t bn;
        uint8_t *bown;
        if ((st = grt_zip_read(&tz->z, bo, &b, &bn, &bown))) {
            grt_io_torchzip_close(tz);
            return st;
        }
        int big = bn >= 3 && !memcmp(b, "big", 3);
        grt_free(bown);
        if (big) {
            grt_io_torchzip_close(tz);
            return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: checkpoint written on a big-endian machine ---> HINT: load and re-save it with torch on a little-endian machine", name);
        }
    }
    const uint8_t *pk;
    size_t pklen;
    if ((st = grt_zip_read(&tz->z, pkl, &pk, &pklen, &tz->entry_owned[pkl]))) {
        grt_io_torchzip_close(tz);
        return st;
    }
    tz->entry_data[pkl] = pk;
    grt_pk_arena_init(&tz->arena, grt_pk_default_alloc_limit(pklen));
    grt_pk_opts o = grt_pk_default_opts(name);
    o.persistent_load = tz_persid;
    o.user = tz;
    o.allow_legacy_bytes = 1;
    if ((st = grt_pk_load(&tz->arena, pk, pklen, &o, root, NULL))) {
        grt_io_torchzip_close(tz);
        *root = NULL;
        return st;
    }
    *out = tz;
    return GRT_OK;
}

/* Lists a dict's first str keys for a message ("'model', 'optimizer', ..."). */
static void ckpt_keys_str(const grt_pv *d, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    if (!d || d->kind != GRT_PV_DICT) {
        snprintf(buf, len, "%s", d ? grt_pv_kind_name(d->kind) : "nothing");
        return;
    }
    for (size_t i = 0; i < d->u.dict.n && i < 8 && k + 1 < len; i++) {
        const grt_pv *key = d->u.dict.k[i];
        if (key->kind == GRT_PV_STR)
            k += (size_t)snprintf(buf + k, len - k, "%s'%.*s'", i ? ", " : "", (int)(key->u.s.n > 40 ? 40 : key->u.s.n), (const char *)key->u.s.p);
        else
            k += (size_t)snprintf(buf + k, len - k, "%s<%s>", i ? ", " : "", grt_pv_kind_name(key->kind));
    }
    if (d->u.dict.n > 8 && k + 1 < len) snprintf(buf + k, len - k, ", ...");
}

static int ckpt_count_tensors(const grt_pv *d) {
    int n = 0;
    if (d && d->kind == GRT_PV_DICT)
        for (size_t i = 0; i < d->u.dict.n; i++) n += d->u.dict.v[i]->kind == GRT_PV_TENSOR;
    return n;
}

static grt_status ckpt_torch_zip(const uint8_t *buf, size_t len, const char *name, grt_state_dict *sd) {
    grt_io_torchzip *tz;
    grt_pv *root;
    grt_status st = grt_io_torchzip_open(buf, len, name, &tz, &root);
    if (st) return st;
    /* OpenGait stores {'model', 'optimizer', 'scheduler', 'iteration'}; other trainers use
     * 'state_dict'; a bare state dict is the top level itself. */
    const grt_pv *d = NULL;
    const char *where = "";
    grt_pv *m = grt_pv_dict_get(root, "model"), *s = grt_pv_dict_get(root, "state_dict");
    if (m && m->kind == GRT_PV_DICT && ckpt_count_tensors(m)) {
        d = m;
        where = "model";
    } else if (s && s->kind == GRT_PV_DICT && ckpt_count_tensors(s)) {
        d = s;
        where = "state_dict";
    } else if (ckpt_count_tensors(root)) {
        d = root;
    }
    if (!d && root->kind == GRT_PV_OBJECT && root->u.obj.callable->kind == GRT_PV_GLOBAL) {
        char cls[300];
        snprintf(cls, sizeof cls, "%.140s.%.140s", root->u.obj.callable->u.g.module, root->u.obj.callable->u.g.name);
        grt_io_torchzip_close(tz);
        return grt_error(GAITRT_ERR_FORMAT, "%s: the file holds a pickled %s object (a whole model), not a state dict ---> HINT: in Python, load it and save model.state_dict() instead: torch.save({'model': model.state_dict()}, path)", name, cls);
    }
    if (!d) {
        char keys[256];
        ckpt_keys_str(root, keys, sizeof keys);
        grt_io_torchzip_close(tz);
        return grt_error(GAITRT_ERR_FORMAT, "%s: no state dict found: neither ['model'], ['state_dict'] nor the top level holds tensors (top level: %s) ---> HINT: save with torch.save({'model': model.state_dict()}, path)", name, keys);
    }
    snprintf(sd->root_key, sizeof sd->root_key, "%s", where);
    /* Loaded tensors may not outgrow the file by more than a constant factor: overlapping
     * views (stride 0) could otherwise turn a small file into any amount of memory. */
    size_t budget = GRT_IO_MAX_FILE_BYTES, total = 0;
    if (len < (GRT_IO_MAX_FILE_BYTES - ((size_t)64 << 20)) / 8) budget = 8 * len + ((size_t)64 << 20);
    for (size_t i = 0; i < d->u.dict.n && !st; i++) {
        const grt_pv *k = d->u.dict.k[i], *v = d->u.dict.v[i];
        if (v->kind != GRT_PV_TENSOR) {
            GRT_LOG_DEBUG("%s: skipping non-tensor entry %zu (%s)", name, i, grt_pv_kind_name(v->kind));
            continue;
        }
        if (k->kind != GRT_PV_STR || k->u.s.n == 0 || k->u.s.n > 4096 || memchr(k->u.s.p, 0, k->u.s.n)) {
            st = grt_error(GAITRT_ERR_FORMAT, "%s: state dict key %zu is not a usable string", name, i);
            break;
        }
        char *key = grt_malloc(k->u.s.n + 1);
        if (!key) {
            st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        memcpy(key, k->u.s.p, k->u.s.n);
        key[k->u.s.n] = 0;
        const grt_pk_tensor *pt = v->u.tensor;
        size_t numel, nbytes;
        grt_dtype dst = grt_io_is_float(pt->storage->dtype) ? GRT_F32 : pt->storage->dtype;
        if (!grt_io_shape_numel(pt->ndim, pt->shape, &numel) || !grt_mul_size(numel, grt_dtype_size(dst), &nbytes) ||
            !grt_add_size(total, nbytes, &total) || total > budget) {
            st = grt_error(GAITRT_ERR_LIMIT, "%s: tensor '%s' would take the loaded tensors past %zu bytes, far more than the file holds ---> HINT: the file is corrupt or hostile", name, key, budget);
            grt_free(key);
            break;
        }
        grt_tensor t;
        char what[300];
        snprintf(what, sizeof what, "'%.256s'", key);
        st = grt_io_torchzip_resolve(tz, pt->storage);
        if (!st) st = grt_pk_tensor_materialize(name, what, pt, 1, &t);
        if (st) {
            grt_free(key);
            break;
        }
        t.name = key;
        st = grt_io_sd_add(sd, &t);
        if (st) grt_tensor_release(&t);
    }
    grt_io_torchzip_close(tz);
    return st;
}

/* ---- format detection -------------------------------------------------------------------------- */

static const uint8_t ckpt_legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

grt_status grt_state_dict_load_mem(const uint8_t *buf, size_t len, const char *name, grt_state_dict **out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_state_dict_load_mem: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!buf && len) return grt_error(GAITRT_ERR_INVALID_ARG, "%s: NULL buffer", name);
    if (len < 8) return grt_error(GAITRT_ERR_FORMAT, "%s: file of %zu bytes is too short to be a checkpoint", name, len);
    const char *fmt = NULL;
    if (buf[0] == 'P' && buf[1] == 'K' && ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6))) {
        fmt = "torch-zip";
    } else if (len >= 9 && grt_io_le64(buf) <= len - 8 && buf[8] == '{') {
        fmt = "safetensors";
    } else if (len >= 14 && buf[0] == 0x80 && buf[1] == 0x02 && buf[2] == 0x8a && buf[3] == 0x0a &&
               !memcmp(buf + 4, ckpt_legacy_magic, 10)) {
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: legacy (pre-1.6, non-zip) torch checkpoint; gaitrt reads only the zip format " GRT_IO_CONVERT_HINT_FMT, name, name, name, name);
    } else if (len >= 262 && !memcmp(buf + 257, "ustar", 5)) {
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: very old tar-format torch checkpoint " GRT_IO_CONVERT_HINT_FMT, name, name, name, name);
    } else if (buf[0] == 0x80) {
        return grt_error(GAITRT_ERR_FORMAT, "%s: a plain pickle, not a torch checkpoint (zip) or safetensors file ---> HINT: dataset .pkl arrays are read with the sequence loader; checkpoints come from torch.save", name);
    } else {
        return grt_error(GAITRT_ERR_FORMAT, "%s: unknown checkpoint format (expected a torch .pt zip archive or .safetensors) ---> HINT: check the path; a truncated download also looks like this", name);
    }
    grt_state_dict *sd = grt_io_sd_new(name, fmt);
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
    grt_status st = !strcmp(fmt, "torch-zip") ? ckpt_torch_zip(buf, len, name, sd) : grt_io_safetensors_load(buf, len, name, sd);
    if (!st) st = grt_io_sd_finish(sd);
    if (st) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

grt_status grt_state_dict_load(const char *path, grt_state_dict **out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_state_dict_load: out is NULL");
    *out = NULL;
    uint8_t *buf;
    size_t len;
    grt_status st = grt_io_read_all(path, &buf, &len);
    if (st) return st;
    st = grt_state_dict_load_mem(buf, len, path, out);
    grt_free(buf);
    return st;
}
