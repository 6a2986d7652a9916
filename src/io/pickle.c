/*
 * pickle.c — the pickle virtual machine: opcodes of protocols 0-5, the value stack, marks
 * and memo, and an arena that owns every value (see pickle.h).
 *
 * What it deliberately is not: an interpreter. Calls (REDUCE, NEWOBJ, INST, OBJ, BUILD) are
 * handed to the allow-list in pickle_calls.c, which models a few known callables as data
 * and refuses everything else. Every read is bounds-checked, the stack, memo, mark nesting
 * and total allocation are limited, and nothing here recurses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/io_internal.h"
#include "io/pickle.h"

/* ---- arena ------------------------------------------------------------------------------- */

struct grt_pk_chunk {
    grt_pk_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define PK_CHUNK_BYTES ((size_t)64 << 10)

void grt_pk_arena_init(grt_pk_arena *a, size_t limit) {
    memset(a, 0, sizeof *a);
    a->limit = limit;
}

void grt_pk_arena_free(grt_pk_arena *a) {
    grt_pk_chunk *c = a->head;
    while (c) {
        grt_pk_chunk *n = c->next;
        grt_free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
}

void *grt_pk_alloc(grt_pk_arena *a, size_t n) {
    if (n > SIZE_MAX / 2) {
        a->hit_limit = 1;
        return NULL;
    }
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    grt_pk_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        /* Big requests get a chunk of their own, pushed behind the current one so the
         * current chunk's free room stays usable. */
        size_t sz = n > PK_CHUNK_BYTES / 4 ? n : PK_CHUNK_BYTES;
        size_t total = sizeof(grt_pk_chunk) + sz;
        if (a->used + total > a->limit) {
            a->hit_limit = 1;
            return NULL;
        }
        grt_pk_chunk *nc = grt_malloc(total);
        if (!nc) return NULL;
        a->used += total;
        nc->size = sz;
        nc->used = 0;
        if (sz != PK_CHUNK_BYTES && c) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

size_t grt_pk_default_alloc_limit(size_t len) {
    size_t lim = ((size_t)64 << 20);
    size_t extra;
    if (!grt_mul_size(len, 64, &extra) || !grt_add_size(lim, extra, &lim)) return SIZE_MAX / 2;
    return lim;
}

/* ---- the machine -------------------------------------------------------------------------- */

struct grt_pk_vm {
    grt_pk_arena *a;
    const grt_pk_opts *o;
    const uint8_t *buf;
    size_t len, pos, op_pos;
    grt_pv **stack;
    size_t sp, scap;
    size_t *marks;
    int nmarks, mcap;
    grt_pv **memo;
    size_t memo_cap, memo_count;
    grt_pv *none, *t, *f;
};

grt_pk_opts grt_pk_default_opts(const char *name) {
    grt_pk_opts o;
    memset(&o, 0, sizeof o);
    o.name = name ? name : "<pickle>";
    o.max_stack = (size_t)1 << 22;
    o.max_memo = (size_t)1 << 22;
    o.max_marks = GRT_IO_MAX_PICKLE_DEPTH;
    return o;
}

const char *grt_pk_vm_name(const grt_pk_vm *vm) { return vm->o->name; }
grt_pk_arena *grt_pk_vm_arena(grt_pk_vm *vm) { return vm->a; }
const grt_pk_opts *grt_pk_vm_opts(const grt_pk_vm *vm) { return vm->o; }

grt_status grt_pk_fail(grt_pk_vm *vm, grt_status st, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The hint (if any) stays at the end of the line, after the offset. */
    char *hint = strstr(msg, " ---> HINT:");
    if (hint) {
        *hint = 0;
        return grt_error(st, "%s: %s (pickle offset %zu) ---> HINT:%s", vm->o->name, msg, vm->op_pos,
                         hint + strlen(" ---> HINT:"));
    }
    return grt_error(st, "%s: %s (pickle offset %zu)", vm->o->name, msg, vm->op_pos);
}

/* An allocation failure is either the arena's limit or the system's; we say which. */
static grt_status pk_oom(grt_pk_vm *vm) {
    if (vm->a->hit_limit)
        return grt_pk_fail(vm, GAITRT_ERR_LIMIT, "the pickle needs more than %zu bytes of values; refusing ---> HINT: the file is corrupt or hostile", vm->a->limit);
    return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
}

grt_pv *grt_pk_new(grt_pk_vm *vm, grt_pv_kind kind) {
    grt_pv *v = grt_pk_alloc(vm->a, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    return v;
}

char *grt_pk_strndup(grt_pk_vm *vm, const void *p, size_t n) {
    if (n == SIZE_MAX) return NULL;
    char *s = grt_pk_alloc(vm->a, n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Grows an arena array by doubling; the old block is abandoned (freed with the arena), which
 * costs at most twice the final size. */
static int pk_grow(grt_pk_vm *vm, grt_pv ***arr, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 4;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / sizeof(grt_pv *)) return 0;
        nc *= 2;
    }
    grt_pv **n = grt_pk_alloc(vm->a, nc * sizeof *n);
    if (!n) return 0;
    if (*cap) memcpy(n, *arr, *cap * sizeof *n);
    *arr = n;
    *cap = nc;
    return 1;
}

int grt_pk_seq_push(grt_pk_vm *vm, grt_pv *seq, grt_pv *item) {
    if (!pk_grow(vm, &seq->u.seq.v, &seq->u.seq.cap, seq->u.seq.n + 1)) return 0;
    seq->u.seq.v[seq->u.seq.n++] = item;
    return 1;
}

int grt_pk_dict_set(grt_pk_vm *vm, grt_pv *d, grt_pv *k, grt_pv *v) {
    size_t cap = d->u.dict.cap;
    if (d->u.dict.n + 1 > cap) {
        size_t kc = cap;
        if (!pk_grow(vm, &d->u.dict.k, &kc, d->u.dict.n + 1)) return 0;
        if (!pk_grow(vm, &d->u.dict.v, &cap, d->u.dict.n + 1)) return 0;
        d->u.dict.cap = cap;
    }
    /* We keep every pair in order and let lookups take the last match; deduplicating on
     * insert would make a hostile pickle with many SETITEMs quadratic. */
    d->u.dict.k[d->u.dict.n] = k;
    d->u.dict.v[d->u.dict.n] = v;
    d->u.dict.n++;
    return 1;
}

/* ---- reading the byte stream -------------------------------------------------------------- */

static grt_status pk_truncated(grt_pk_vm *vm) {
    return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle truncated ---> HINT: the file is incomplete; copy or download it again");
}

static int pk_have(const grt_pk_vm *vm, uint64_t n) { return grt_io_range_ok(vm->len, vm->pos, n); }

/* A text argument of the protocol-0 opcodes: up to the next newline (not included). */
static grt_status pk_line(grt_pk_vm *vm, const uint8_t **p, size_t *n) {
    const uint8_t *s = vm->buf + vm->pos;
    const uint8_t *nl = memchr(s, '\n', vm->len - vm->pos);
    if (!nl) return pk_truncated(vm);
    *p = s;
    *n = (size_t)(nl - s);
    vm->pos += *n + 1;
    return GRT_OK;
}

static grt_status pk_push(grt_pk_vm *vm, grt_pv *v) {
    if (!v) return pk_oom(vm);
    if (vm->sp == vm->scap) {
        if (vm->scap >= vm->o->max_stack)
            return grt_pk_fail(vm, GAITRT_ERR_LIMIT, "pickle stack exceeds %zu entries ---> HINT: the file is corrupt or hostile", vm->o->max_stack);
        size_t nc = vm->scap ? vm->scap * 2 : 64;
        if (nc > vm->o->max_stack) nc = vm->o->max_stack;
        grt_pv **ns = grt_realloc(vm->stack, nc * sizeof *ns);
        if (!ns) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory growing the pickle stack");
        vm->stack = ns;
        vm->scap = nc;
    }
    vm->stack[vm->sp++] = v;
    return GRT_OK;
}

/* The stack above the innermost mark is all an opcode may touch (as in CPython). */
static size_t pk_fence(const grt_pk_vm *vm) { return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0; }

static grt_status pk_pop(grt_pk_vm *vm, grt_pv **v) {
    if (vm->sp <= pk_fence(vm)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle stack underflow");
    *v = vm->stack[--vm->sp];
    return GRT_OK;
}

static grt_status pk_top(grt_pk_vm *vm, grt_pv **v) {
    if (vm->sp <= pk_fence(vm)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle stack underflow");
    *v = vm->stack[vm->sp - 1];
    return GRT_OK;
}

/* Pops the innermost mark: the items above it are stack[*first .. sp). */
static grt_status pk_pop_mark(grt_pk_vm *vm, size_t *first) {
    if (!vm->nmarks) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle uses a mark that was never set");
    *first = vm->marks[--vm->nmarks];
    return GRT_OK;
}

/* Builds a LIST/TUPLE/SET from stack[first..sp) and drops those items. */
static grt_status pk_collect(grt_pk_vm *vm, grt_pv_kind kind, size_t first, grt_pv **out) {
    grt_pv *v = grt_pk_new(vm, kind);
    if (!v) return pk_oom(vm);
    size_t n = vm->sp - first;
    if (n) {
        v->u.seq.v = grt_pk_alloc(vm->a, n * sizeof(grt_pv *));
        if (!v->u.seq.v) return pk_oom(vm);
        memcpy(v->u.seq.v, vm->stack + first, n * sizeof(grt_pv *));
        v->u.seq.n = v->u.seq.cap = n;
    }
    vm->sp = first;
    *out = v;
    return GRT_OK;
}

static grt_status pk_memo_put(grt_pk_vm *vm, uint64_t idx) {
    grt_pv *v = NULL;
    grt_status st = pk_top(vm, &v);
    if (st) return st;
    /* Python numbers memo slots 0, 1, 2, ...; a pickle can name at most one slot per
     * two bytes, so we bound the index by that as well as by the hard limit. */
    if (idx >= vm->o->max_memo || idx > vm->len)
        return grt_pk_fail(vm, GAITRT_ERR_LIMIT, "pickle memo index %llu out of range ---> HINT: the file is corrupt or hostile", (unsigned long long)idx);
    if (idx >= vm->memo_cap) {
        size_t nc = vm->memo_cap ? vm->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        if (nc > vm->o->max_memo) nc = vm->o->max_memo;
        grt_pv **nm = grt_realloc(vm->memo, nc * sizeof *nm);
        if (!nm) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory growing the pickle memo");
        memset(nm + vm->memo_cap, 0, (nc - vm->memo_cap) * sizeof *nm);
        vm->memo = nm;
        vm->memo_cap = nc;
    }
    if (!vm->memo[idx]) vm->memo_count++;
    vm->memo[idx] = v;
    return GRT_OK;
}

static grt_status pk_memo_get(grt_pk_vm *vm, uint64_t idx) {
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle refers to memo slot %llu that was never set", (unsigned long long)idx);
    return pk_push(vm, vm->memo[idx]);
}

/* Decimal integer of a text opcode (INT, LONG, PUT, GET); the LONG form may end in 'L'. */
static int pk_parse_dec(const uint8_t *p, size_t n, int64_t *out) {
    if (n && p[n - 1] == 'L') n--;
    size_t i = 0;
    int neg = 0;
    if (i < n && (p[i] == '-' || p[i] == '+')) neg = p[i++] == '-';
    if (i == n) return 0;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (!neg && v > (uint64_t)INT64_MAX) return 0;
    if (neg && v > (uint64_t)INT64_MAX + 1) return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

static grt_status pk_push_int(grt_pk_vm *vm, int64_t i) {
    grt_pv *v = grt_pk_new(vm, GRT_PV_INT);
    if (v) v->u.i = i;
    return pk_push(vm, v);
}

/* LONG1/LONG4: little-endian two's complement of n bytes. */
static grt_status pk_push_long(grt_pk_vm *vm, const uint8_t *p, size_t n) {
    size_t k = n;
    int neg = n && (p[n - 1] & 0x80);
    /* Strip redundant sign bytes to see whether the value fits int64. */
    while (k > 1 && p[k - 1] == (neg ? 0xff : 0x00) && ((p[k - 2] & 0x80) != 0) == neg) k--;
    if (k <= 8) {
        uint64_t u = neg ? UINT64_MAX : 0;
        for (size_t i = 0; i < k; i++) {
            u &= ~((uint64_t)0xff << (8 * i));
            u |= (uint64_t)p[i] << (8 * i);
        }
        int64_t s;
        memcpy(&s, &u, 8);
        return pk_push_int(vm, s);
    }
    grt_pv *v = grt_pk_new(vm, GRT_PV_BIGINT);
    if (v) {
        v->u.s.p = p;
        v->u.s.n = n;
    }
    return pk_push(vm, v);
}

static grt_status pk_push_str(grt_pk_vm *vm, grt_pv_kind kind, const uint8_t *p, size_t n, int flags) {
    grt_pv *v = grt_pk_new(vm, kind);
    if (v) {
        v->u.s.p = p;
        v->u.s.n = n;
        v->flags = flags;
    }
    return pk_push(vm, v);
}

/* Length-prefixed bytes/str whose data stays in the input buffer (no copy). */
static grt_status pk_counted(grt_pk_vm *vm, int width, grt_pv_kind kind, int flags) {
    if (!pk_have(vm, (uint64_t)width)) return pk_truncated(vm);
    const uint8_t *p = vm->buf + vm->pos;
    uint64_t n = width == 1 ? p[0] : width == 4 ? grt_io_le32(p) : grt_io_le64(p);
    vm->pos += (size_t)width;
    if (!pk_have(vm, n)) {
        if (n > vm->len)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle declares a %llu-byte string in a %zu-byte file ---> HINT: the file is corrupt or truncated", (unsigned long long)n, vm->len);
        return pk_truncated(vm);
    }
    const uint8_t *s = vm->buf + vm->pos;
    vm->pos += (size_t)n;
    return pk_push_str(vm, kind, s, (size_t)n, flags);
}

static int pk_hex(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t pk_utf8_put(uint8_t *d, uint32_t cp) {
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xc0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xe0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (uint8_t)(0xf0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* UNICODE (protocol 0): raw-unicode-escape, i.e. latin-1 bytes plus \uXXXX / \UXXXXXXXX. */
static grt_status pk_unicode_line(grt_pk_vm *vm, const uint8_t *p, size_t n) {
    if (n > SIZE_MAX / 2 - 1) return pk_oom(vm);
    uint8_t *d = grt_pk_alloc(vm->a, 2 * n + 1);
    if (!d) return pk_oom(vm);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '\\' && i + 1 < n && (p[i + 1] == 'u' || p[i + 1] == 'U')) {
            size_t w = p[i + 1] == 'u' ? 4 : 8;
            if (i + 2 + w > n) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bad \\u escape in a pickle string");
            uint32_t cp = 0;
            for (size_t j = 0; j < w; j++) {
                int h = pk_hex(p[i + 2 + j]);
                if (h < 0) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bad \\u escape in a pickle string");
                cp = (cp << 4) | (uint32_t)h;
            }
            if (cp > 0x10ffff) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bad code point in a pickle string");
            k += pk_utf8_put(d + k, cp); /* at most 4 bytes for 6 or 10 input bytes */
            i += 2 + w;
        } else {
            k += pk_utf8_put(d + k, p[i]);
            i++;
        }
    }
    return pk_push_str(vm, GRT_PV_STR, d, k, 0);
}

/* STRING (protocol 0): a quoted Python 2 str literal with backslash escapes. */
static grt_status pk_string_line(grt_pk_vm *vm, const uint8_t *p, size_t n) {
    if (n < 2 || (p[0] != '\'' && p[0] != '"') || p[n - 1] != p[0])
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "STRING opcode argument is not quoted");
    p++;
    n -= 2;
    uint8_t *d = grt_pk_alloc(vm->a, n + 1);
    if (!d) return pk_oom(vm);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] != '\\') {
            d[k++] = p[i++];
            continue;
        }
        if (++i >= n) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bad escape in a pickle STRING");
        uint8_t c = p[i++];
        switch (c) {
        case 'n': d[k++] = '\n'; break;
        case 'r': d[k++] = '\r'; break;
        case 't': d[k++] = '\t'; break;
        case 'a': d[k++] = 7; break;
        case 'b': d[k++] = 8; break;
        case 'f': d[k++] = 12; break;
        case 'v': d[k++] = 11; break;
        case '\\': case '\'': case '"': d[k++] = c; break;
        case 'x': {
            int h1 = i < n ? pk_hex(p[i]) : -1, h2 = i + 1 < n ? pk_hex(p[i + 1]) : -1;
            if (h1 < 0 || h2 < 0) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bad \\x escape in a pickle STRING");
            d[k++] = (uint8_t)(h1 * 16 + h2);
            i += 2;
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                unsigned v = (unsigned)(c - '0');
                for (int j = 0; j < 2 && i < n && p[i] >= '0' && p[i] <= '7'; j++) v = v * 8 + (unsigned)(p[i++] - '0');
                d[k++] = (uint8_t)v;
            } else {
                d[k++] = '\\';
                d[k++] = c; /* escapes Python does not know stay as they are */
            }
        }
    }
    return pk_push_str(vm, GRT_PV_STR, d, k, GRT_PV_F_RAW8);
}

static grt_status pk_push_global(grt_pk_vm *vm, const uint8_t *m, size_t mn, const uint8_t *nm, size_t nn) {
    if (mn == 0 || nn == 0 || mn > 512 || nn > 512)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle global name is empty or too long");
    if (memchr(m, 0, mn) || memchr(nm, 0, nn)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle global name contains NUL");
    grt_pv *v = grt_pk_new(vm, GRT_PV_GLOBAL);
    if (!v) return pk_oom(vm);
    v->u.g.module = grt_pk_strndup(vm, m, mn);
    v->u.g.name = grt_pk_strndup(vm, nm, nn);
    if (!v->u.g.module || !v->u.g.name) return pk_oom(vm);
    return pk_push(vm, v);
}

static grt_status pk_persid(grt_pk_vm *vm, grt_pv *pid) {
    if (!vm->o->persistent_load)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle holds a persistent id but this file type has none ---> HINT: a torch checkpoint must be loaded as a checkpoint, not as a plain pickle");
    grt_pv *v = NULL;
    grt_status st = vm->o->persistent_load(vm, vm->o->user, pid, &v);
    if (st) return st;
    if (!v) return grt_pk_fail(vm, GAITRT_ERR_INTERNAL, "persistent_load returned nothing");
    return pk_push(vm, v);
}

/* Adds stack[first..sp) to a list (APPENDS) or to an object that models a list subclass. */
static grt_status pk_extend(grt_pk_vm *vm, grt_pv *target, size_t first) {
    if (target->kind == GRT_PV_OBJECT) {
        if (!target->u.obj.items) {
            target->u.obj.items = grt_pk_new(vm, GRT_PV_LIST);
            if (!target->u.obj.items) return pk_oom(vm);
        }
        target = target->u.obj.items;
    }
    if (target->kind != GRT_PV_LIST)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle appends to a %s, not a list", grt_pv_kind_name(target->kind));
    for (size_t i = first; i < vm->sp; i++)
        if (!grt_pk_seq_push(vm, target, vm->stack[i])) return pk_oom(vm);
    vm->sp = first;
    return GRT_OK;
}

/* Adds key/value pairs stack[first..sp) to a dict (SETITEMS) or a dict-like object. */
static grt_status pk_setitems(grt_pk_vm *vm, grt_pv *target, size_t first) {
    if ((vm->sp - first) % 2) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle SETITEMS with an odd number of items");
    if (target->kind == GRT_PV_OBJECT) {
        if (!target->u.obj.items || target->u.obj.items->kind != GRT_PV_DICT) {
            target->u.obj.items = grt_pk_new(vm, GRT_PV_DICT);
            if (!target->u.obj.items) return pk_oom(vm);
        }
        target = target->u.obj.items;
    }
    if (target->kind != GRT_PV_DICT)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle sets items on a %s, not a dict", grt_pv_kind_name(target->kind));
    for (size_t i = first; i < vm->sp; i += 2)
        if (!grt_pk_dict_set(vm, target, vm->stack[i], vm->stack[i + 1])) return pk_oom(vm);
    vm->sp = first;
    return GRT_OK;
}

static grt_status pk_step(grt_pk_vm *vm, int *stop, grt_pv **result) {
    grt_status st = GRT_OK;
    vm->op_pos = vm->pos;
    uint8_t op = vm->buf[vm->pos++];
    /* Initialized only to quiet the compiler: every path sets them before use. */
    const uint8_t *p = NULL;
    size_t n = 0;
    grt_pv *v = NULL, *w = NULL, *x = NULL;
    size_t first = 0;
    int64_t iv = 0;

    switch (op) {
    case 0x80: /* PROTO */
        if (!pk_have(vm, 1)) return pk_truncated(vm);
        if (vm->buf[vm->pos] > 5)
            return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "pickle protocol %d is newer than 5", vm->buf[vm->pos]);
        vm->pos++;
        return GRT_OK;
    case 0x95: /* FRAME: a length hint only */
        if (!pk_have(vm, 8)) return pk_truncated(vm);
        if (!grt_io_range_ok(vm->len, vm->pos + 8, grt_io_le64(vm->buf + vm->pos))) return pk_truncated(vm);
        vm->pos += 8;
        return GRT_OK;
    case '.': /* STOP */
        if ((st = pk_pop(vm, &v))) return st;
        *result = v;
        *stop = 1;
        return GRT_OK;
    case '0': /* POP: an empty frame above a mark pops the mark itself (as Python does) */
        if (vm->nmarks && vm->sp == pk_fence(vm)) {
            vm->nmarks--;
            return GRT_OK;
        }
        return pk_pop(vm, &v);
    case '1': /* POP_MARK */
        if ((st = pk_pop_mark(vm, &first))) return st;
        vm->sp = first;
        return GRT_OK;
    case '2': /* DUP */
        if ((st = pk_top(vm, &v))) return st;
        return pk_push(vm, v);
    case '(': /* MARK */
        if (vm->nmarks >= vm->o->max_marks)
            return grt_pk_fail(vm, GAITRT_ERR_LIMIT, "pickle nests deeper than %d levels ---> HINT: the file is corrupt or hostile", vm->o->max_marks);
        if (vm->nmarks == vm->mcap) {
            int nc = vm->mcap ? vm->mcap * 2 : 16;
            size_t *nm = grt_realloc(vm->marks, (size_t)nc * sizeof *nm);
            if (!nm) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
            vm->marks = nm;
            vm->mcap = nc;
        }
        vm->marks[vm->nmarks++] = vm->sp;
        return GRT_OK;
    case 'N': return pk_push(vm, vm->none);
    case 0x88: return pk_push(vm, vm->t);
    case 0x89: return pk_push(vm, vm->f);

    /* ---- numbers ---- */
    case 'I': /* INT: "01"/"00" are True/False in protocol 0 */
        if ((st = pk_line(vm, &p, &n))) return st;
        if (n == 2 && p[0] == '0' && (p[1] == '0' || p[1] == '1')) return pk_push(vm, p[1] == '1' ? vm->t : vm->f);
        /* fall through */
    case 'L': /* LONG */
        if (op == 'L' && (st = pk_line(vm, &p, &n))) return st;
        if (!pk_parse_dec(p, n, &iv))
            return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "pickle integer is malformed or does not fit 64 bits");
        return pk_push_int(vm, iv);
    case 'J': /* BININT */
        if (!pk_have(vm, 4)) return pk_truncated(vm);
        iv = (int32_t)grt_io_le32(vm->buf + vm->pos);
        vm->pos += 4;
        return pk_push_int(vm, iv);
    case 'K': /* BININT1 */
        if (!pk_have(vm, 1)) return pk_truncated(vm);
        return pk_push_int(vm, vm->buf[vm->pos++]);
    case 'M': /* BININT2 */
        if (!pk_have(vm, 2)) return pk_truncated(vm);
        iv = grt_io_le16(vm->buf + vm->pos);
        vm->pos += 2;
        return pk_push_int(vm, iv);
    case 0x8a: /* LONG1 */
        if (!pk_have(vm, 1)) return pk_truncated(vm);
        n = vm->buf[vm->pos++];
        if (!pk_have(vm, n)) return pk_truncated(vm);
        p = vm->buf + vm->pos;
        vm->pos += n;
        return pk_push_long(vm, p, n);
    case 0x8b: { /* LONG4 */
        if (!pk_have(vm, 4)) return pk_truncated(vm);
        int32_t sn = (int32_t)grt_io_le32(vm->buf + vm->pos);
        vm->pos += 4;
        if (sn < 0) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "LONG4 with a negative length");
        if (!pk_have(vm, (uint64_t)sn)) return pk_truncated(vm);
        p = vm->buf + vm->pos;
        vm->pos += (size_t)sn;
        return pk_push_long(vm, p, (size_t)sn);
    }
    case 'F': { /* FLOAT (text) */
        char tmp[64];
        if ((st = pk_line(vm, &p, &n))) return st;
        if (n == 0 || n >= sizeof tmp) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed FLOAT in pickle");
        memcpy(tmp, p, n);
        tmp[n] = 0;
        char *end;
        double d = strtod(tmp, &end);
        if (end != tmp + n) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed FLOAT in pickle");
        v = grt_pk_new(vm, GRT_PV_FLOAT);
        if (v) v->u.f = d;
        return pk_push(vm, v);
    }
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        if (!pk_have(vm, 8)) return pk_truncated(vm);
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = (bits << 8) | vm->buf[vm->pos + (size_t)i];
        vm->pos += 8;
        v = grt_pk_new(vm, GRT_PV_FLOAT);
        if (v) memcpy(&v->u.f, &bits, 8);
        return pk_push(vm, v);
    }

    /* ---- strings and bytes ---- */
    case 'S':
        if ((st = pk_line(vm, &p, &n))) return st;
        return pk_string_line(vm, p, n);
    case 'T': { /* BINSTRING: signed 32-bit length */
        if (!pk_have(vm, 4)) return pk_truncated(vm);
        if ((int32_t)grt_io_le32(vm->buf + vm->pos) < 0) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "BINSTRING with a negative length");
        return pk_counted(vm, 4, GRT_PV_STR, GRT_PV_F_RAW8);
    }
    case 'U': return pk_counted(vm, 1, GRT_PV_STR, GRT_PV_F_RAW8);
    case 'V':
        if ((st = pk_line(vm, &p, &n))) return st;
        return pk_unicode_line(vm, p, n);
    case 'X': return pk_counted(vm, 4, GRT_PV_STR, 0);
    case 0x8c: return pk_counted(vm, 1, GRT_PV_STR, 0);
    case 0x8d: return pk_counted(vm, 8, GRT_PV_STR, 0);
    case 'B': return pk_counted(vm, 4, GRT_PV_BYTES, 0);
    case 'C': return pk_counted(vm, 1, GRT_PV_BYTES, 0);
    case 0x8e: return pk_counted(vm, 8, GRT_PV_BYTES, 0);
    case 0x96: return pk_counted(vm, 8, GRT_PV_BYTES, 0); /* BYTEARRAY8: bytes for our purposes */
    case 0x97: case 0x98:
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "pickle uses out-of-band buffers (protocol 5 NEXT_BUFFER) ---> HINT: save without buffer_callback");

    /* ---- containers ---- */
    case ']': return pk_push(vm, grt_pk_new(vm, GRT_PV_LIST));
    case ')': return pk_push(vm, grt_pk_new(vm, GRT_PV_TUPLE));
    case '}': return pk_push(vm, grt_pk_new(vm, GRT_PV_DICT));
    case 0x8f: return pk_push(vm, grt_pk_new(vm, GRT_PV_SET));
    case 'a': /* APPEND */
        if ((st = pk_pop(vm, &v)) || (st = pk_top(vm, &w))) return st;
        vm->stack[vm->sp++] = v; /* reuse the slot we just freed */
        return pk_extend(vm, w, vm->sp - 1);
    case 'e': /* APPENDS */
        if ((st = pk_pop_mark(vm, &first))) return st;
        if (first == 0 || first <= pk_fence(vm)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle APPENDS without a list");
        return pk_extend(vm, vm->stack[first - 1], first);
    case 'l': /* LIST */
    case 't': /* TUPLE */
    case 0x91: /* FROZENSET */
        if ((st = pk_pop_mark(vm, &first))) return st;
        if ((st = pk_collect(vm, op == 'l' ? GRT_PV_LIST : op == 't' ? GRT_PV_TUPLE : GRT_PV_SET, first, &v))) return st;
        return pk_push(vm, v);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t k = (size_t)(op - 0x84);
        if (vm->sp < pk_fence(vm) + k) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle stack underflow");
        if ((st = pk_collect(vm, GRT_PV_TUPLE, vm->sp - k, &v))) return st;
        return pk_push(vm, v);
    }
    case 'd': /* DICT */
        if ((st = pk_pop_mark(vm, &first))) return st;
        v = grt_pk_new(vm, GRT_PV_DICT);
        if (!v) return pk_oom(vm);
        if ((st = pk_setitems(vm, v, first))) return st;
        return pk_push(vm, v);
    case 's': /* SETITEM */
        if ((st = pk_pop(vm, &v)) || (st = pk_pop(vm, &w)) || (st = pk_top(vm, &x))) return st;
        vm->stack[vm->sp++] = w;
        vm->stack[vm->sp++] = v;
        return pk_setitems(vm, x, vm->sp - 2);
    case 'u': /* SETITEMS */
        if ((st = pk_pop_mark(vm, &first))) return st;
        if (first == 0 || first <= pk_fence(vm)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle SETITEMS without a dict");
        return pk_setitems(vm, vm->stack[first - 1], first);
    case 0x90: /* ADDITEMS */
        if ((st = pk_pop_mark(vm, &first))) return st;
        if (first == 0 || first <= pk_fence(vm)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle ADDITEMS without a set");
        w = vm->stack[first - 1];
        if (w->kind != GRT_PV_SET) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "pickle adds items to a %s, not a set", grt_pv_kind_name(w->kind));
        for (size_t i = first; i < vm->sp; i++)
            if (!grt_pk_seq_push(vm, w, vm->stack[i])) return pk_oom(vm);
        vm->sp = first;
        return GRT_OK;

    /* ---- memo ---- */
    case 'p':
        if ((st = pk_line(vm, &p, &n))) return st;
        if (!pk_parse_dec(p, n, &iv) || iv < 0) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed PUT index");
        return pk_memo_put(vm, (uint64_t)iv);
    case 'q':
        if (!pk_have(vm, 1)) return pk_truncated(vm);
        return pk_memo_put(vm, vm->buf[vm->pos++]);
    case 'r':
        if (!pk_have(vm, 4)) return pk_truncated(vm);
        vm->pos += 4;
        return pk_memo_put(vm, grt_io_le32(vm->buf + vm->pos - 4));
    case 0x94: /* MEMOIZE */
        return pk_memo_put(vm, vm->memo_count);
    case 'g':
        if ((st = pk_line(vm, &p, &n))) return st;
        if (!pk_parse_dec(p, n, &iv) || iv < 0) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed GET index");
        return pk_memo_get(vm, (uint64_t)iv);
    case 'h':
        if (!pk_have(vm, 1)) return pk_truncated(vm);
        return pk_memo_get(vm, vm->buf[vm->pos++]);
    case 'j':
        if (!pk_have(vm, 4)) return pk_truncated(vm);
        vm->pos += 4;
        return pk_memo_get(vm, grt_io_le32(vm->buf + vm->pos - 4));

    /* ---- globals and calls: named here, modelled (or refused) in pickle_calls.c ---- */
    case 'c': { /* GLOBAL */
        const uint8_t *m = NULL;
        size_t mn = 0;
        if ((st = pk_line(vm, &m, &mn)) || (st = pk_line(vm, &p, &n))) return st;
        return pk_push_global(vm, m, mn, p, n);
    }
    case 0x93: /* STACK_GLOBAL */
        if ((st = pk_pop(vm, &v)) || (st = pk_pop(vm, &w))) return st;
        if (v->kind != GRT_PV_STR || w->kind != GRT_PV_STR)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "STACK_GLOBAL needs two strings");
        return pk_push_global(vm, w->u.s.p, w->u.s.n, v->u.s.p, v->u.s.n);
    case 'R': /* REDUCE */
        if ((st = pk_pop(vm, &v)) || (st = pk_pop(vm, &w))) return st;
        if ((st = grt_pk_call(vm, w, v, &x))) return st;
        return pk_push(vm, x);
    case 'b': /* BUILD */
        if ((st = pk_pop(vm, &v)) || (st = pk_top(vm, &w))) return st;
        return grt_pk_build(vm, w, v);
    case 0x81: /* NEWOBJ */
        if ((st = pk_pop(vm, &v)) || (st = pk_pop(vm, &w))) return st;
        if ((st = grt_pk_newobj(vm, w, v, NULL, &x))) return st;
        return pk_push(vm, x);
    case 0x92: { /* NEWOBJ_EX */
        grt_pv *kw = NULL;
        if ((st = pk_pop(vm, &kw)) || (st = pk_pop(vm, &v)) || (st = pk_pop(vm, &w))) return st;
        if ((st = grt_pk_newobj(vm, w, v, kw, &x))) return st;
        return pk_push(vm, x);
    }
    case 'i': { /* INST: module, name lines, then the args since the mark */
        const uint8_t *m = NULL;
        size_t mn = 0;
        if ((st = pk_line(vm, &m, &mn)) || (st = pk_line(vm, &p, &n))) return st;
        if ((st = pk_push_global(vm, m, mn, p, n))) return st;
        w = vm->stack[--vm->sp];
        if ((st = pk_pop_mark(vm, &first))) return st;
        if ((st = pk_collect(vm, GRT_PV_TUPLE, first, &v))) return st;
        if ((st = grt_pk_call(vm, w, v, &x))) return st;
        return pk_push(vm, x);
    }
    case 'o': /* OBJ: class and args since the mark */
        if ((st = pk_pop_mark(vm, &first))) return st;
        if (vm->sp == first) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "OBJ without a class");
        w = vm->stack[first];
        if ((st = pk_collect(vm, GRT_PV_TUPLE, first + 1, &v))) return st;
        vm->sp = first;
        if ((st = grt_pk_call(vm, w, v, &x))) return st;
        return pk_push(vm, x);
    case 'P': /* PERSID */
        if ((st = pk_line(vm, &p, &n))) return st;
        if ((st = pk_push_str(vm, GRT_PV_STR, p, n, 0))) return st;
        return pk_persid(vm, vm->stack[--vm->sp]);
    case 'Q': /* BINPERSID */
        if ((st = pk_pop(vm, &v))) return st;
        return pk_persid(vm, v);
    case 0x82: case 0x83: case 0x84:
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "pickle uses the copyreg extension registry (EXT opcodes)");
    default:
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "unknown pickle opcode 0x%02x ---> HINT: the file is corrupt or not a pickle", op);
    }
}

grt_status grt_pk_load(grt_pk_arena *a, const uint8_t *buf, size_t len, const grt_pk_opts *o, grt_pv **out,
                       size_t *used) {
    *out = NULL;
    if (used) *used = 0;
    grt_pk_vm vm;
    memset(&vm, 0, sizeof vm);
    vm.a = a;
    vm.o = o;
    vm.buf = buf;
    vm.len = buf ? len : 0;
    vm.none = grt_pk_new(&vm, GRT_PV_NONE);
    vm.t = grt_pk_new(&vm, GRT_PV_BOOL);
    vm.f = grt_pk_new(&vm, GRT_PV_BOOL);
    if (!vm.none || !vm.t || !vm.f) return pk_oom(&vm);
    vm.t->u.b = 1;
    grt_status st = GRT_OK;
    int stop = 0;
    grt_pv *result = NULL;
    while (!stop) {
        if (vm.pos >= vm.len) {
            vm.op_pos = vm.pos;
            st = vm.len == 0 ? grt_pk_fail(&vm, GAITRT_ERR_FORMAT, "empty pickle") : pk_truncated(&vm);
            break;
        }
        st = pk_step(&vm, &stop, &result);
        if (st) break;
    }
    grt_free(vm.stack);
    grt_free(vm.marks);
    grt_free(vm.memo);
    if (st) return st;
    *out = result;
    if (used) *used = vm.pos;
    return GRT_OK;
}

/* ---- reading values ----------------------------------------------------------------------- */

int grt_pv_is_str(const grt_pv *v, const char *s) {
    size_t n = strlen(s);
    return v && v->kind == GRT_PV_STR && v->u.s.n == n && memcmp(v->u.s.p, s, n) == 0;
}

grt_pv *grt_pv_dict_get(const grt_pv *d, const char *key) {
    if (!d || d->kind != GRT_PV_DICT) return NULL;
    for (size_t i = d->u.dict.n; i-- > 0;)
        if (grt_pv_is_str(d->u.dict.k[i], key)) return d->u.dict.v[i];
    return NULL;
}

int grt_pv_as_int(const grt_pv *v, int64_t *out) {
    if (v && v->kind == GRT_PV_INT) {
        *out = v->u.i;
        return 1;
    }
    if (v && v->kind == GRT_PV_BOOL) {
        *out = v->u.b;
        return 1;
    }
    return 0;
}

const char *grt_pv_kind_name(grt_pv_kind k) {
    static const char *names[] = {"None", "bool", "int", "int", "float", "str", "bytes", "list", "tuple",
                                  "set", "dict", "global", "object", "storage", "tensor", "ndarray", "dtype"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
