/*
 * json.c — the small JSON reader and string builder of json.h.
 *
 * The reader is recursive descent, but the depth is capped at GRT_JSON_MAX_DEPTH before any
 * recursion, so hostile nesting fails cleanly instead of exhausting the C stack. It is
 * deliberately strict (RFC 8259: no comments, no trailing commas, no NaN) and small.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/io_internal.h"
#include "io/json.h"

typedef struct js {
    grt_pk_arena *a;
    const char *t;
    size_t len, pos;
    const char *file;
} js;

static grt_status js_fail(js *j, const char *what) {
    return grt_error(GAITRT_ERR_FORMAT, "%s: malformed JSON header: %s at byte %zu ---> HINT: the file is corrupt or not of this format", j->file, what, j->pos);
}

static grt_status js_oom(js *j) {
    if (j->a->hit_limit) return grt_error(GAITRT_ERR_LIMIT, "%s: JSON header needs too much memory", j->file);
    return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory parsing the JSON header", j->file);
}

static void js_ws(js *j) {
    while (j->pos < j->len && (j->t[j->pos] == ' ' || j->t[j->pos] == '\t' || j->t[j->pos] == '\n' || j->t[j->pos] == '\r'))
        j->pos++;
}

static int js_hex4(js *j, uint32_t *cp) {
    if (j->len - j->pos < 4) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->t[j->pos + (size_t)i];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return 0;
        v = v * 16 + (uint32_t)h;
    }
    j->pos += 4;
    *cp = v;
    return 1;
}

/* A string at j->pos (on the opening quote). The decoded text is never longer than the
 * escaped one, so one allocation of the raw length suffices. */
static grt_status js_string(js *j, const char **out, size_t *out_len) {
    size_t start = ++j->pos, end = start;
    while (end < j->len && j->t[end] != '"') {
        if (j->t[end] == '\\') end++;
        end++;
    }
    if (end >= j->len) return js_fail(j, "unterminated string");
    char *d = grt_pk_alloc(j->a, end - start + 1);
    if (!d) return js_oom(j);
    size_t k = 0;
    while (j->pos < end) {
        unsigned char c = (unsigned char)j->t[j->pos++];
        if (c < 0x20) return js_fail(j, "control character in a string");
        if (c != '\\') {
            d[k++] = (char)c;
            continue;
        }
        c = (unsigned char)j->t[j->pos++];
        switch (c) {
        case '"': case '\\': case '/': d[k++] = (char)c; break;
        case 'b': d[k++] = '\b'; break;
        case 'f': d[k++] = '\f'; break;
        case 'n': d[k++] = '\n'; break;
        case 'r': d[k++] = '\r'; break;
        case 't': d[k++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (!js_hex4(j, &cp)) return js_fail(j, "bad \\u escape");
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (j->pos + 2 > end || j->t[j->pos] != '\\' || j->t[j->pos + 1] != 'u') return js_fail(j, "lone surrogate");
                j->pos += 2;
                if (!js_hex4(j, &lo) || lo < 0xdc00 || lo >= 0xe000) return js_fail(j, "bad surrogate pair");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return js_fail(j, "lone surrogate");
            }
            if (cp == 0) return js_fail(j, "NUL character in a string");
            /* 6 (or 12) escaped bytes become at most 4 UTF-8 bytes. */
            if (cp < 0x80) {
                d[k++] = (char)cp;
            } else if (cp < 0x800) {
                d[k++] = (char)(0xc0 | (cp >> 6));
                d[k++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                d[k++] = (char)(0xe0 | (cp >> 12));
                d[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                d[k++] = (char)(0x80 | (cp & 0x3f));
            } else {
                d[k++] = (char)(0xf0 | (cp >> 18));
                d[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                d[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                d[k++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: return js_fail(j, "bad escape");
        }
        if (j->pos > end) return js_fail(j, "bad escape");
    }
    d[k] = 0;
    j->pos = end + 1;
    *out = d;
    *out_len = k;
    return GRT_OK;
}

static grt_status js_number(js *j, grt_json *v) {
    size_t s = j->pos;
    int is_int = 1;
    if (j->pos < j->len && j->t[j->pos] == '-') j->pos++;
    size_t digits = j->pos;
    while (j->pos < j->len && j->t[j->pos] >= '0' && j->t[j->pos] <= '9') j->pos++;
    if (j->pos == digits) return js_fail(j, "bad number");
    if (j->t[digits] == '0' && j->pos - digits > 1) return js_fail(j, "number with a leading zero");
    if (j->pos < j->len && j->t[j->pos] == '.') {
        is_int = 0;
        size_t f = ++j->pos;
        while (j->pos < j->len && j->t[j->pos] >= '0' && j->t[j->pos] <= '9') j->pos++;
        if (j->pos == f) return js_fail(j, "bad number");
    }
    if (j->pos < j->len && (j->t[j->pos] == 'e' || j->t[j->pos] == 'E')) {
        is_int = 0;
        j->pos++;
        if (j->pos < j->len && (j->t[j->pos] == '+' || j->t[j->pos] == '-')) j->pos++;
        size_t e = j->pos;
        while (j->pos < j->len && j->t[j->pos] >= '0' && j->t[j->pos] <= '9') j->pos++;
        if (j->pos == e) return js_fail(j, "bad number");
    }
    char tmp[64];
    size_t n = j->pos - s;
    if (n >= sizeof tmp) {
        /* A long literal can only be a float for our purposes; integers beyond 19 digits
         * do not fit int64 anyway. */
        v->kind = GRT_JSON_NUM;
        v->num = 1e308;
        v->is_int = 0;
        return GRT_OK;
    }
    memcpy(tmp, j->t + s, n);
    tmp[n] = 0;
    v->kind = GRT_JSON_NUM;
    v->num = strtod(tmp, NULL);
    if (is_int) {
        int neg = tmp[0] == '-';
        uint64_t u = 0;
        int ok = 1;
        for (const char *c = tmp + neg; *c; c++) {
            if (u > (UINT64_MAX - 9) / 10) {
                ok = 0;
                break;
            }
            u = u * 10 + (uint64_t)(*c - '0');
        }
        if (ok && ((!neg && u <= (uint64_t)INT64_MAX) || (neg && u <= (uint64_t)INT64_MAX + 1))) {
            v->is_int = 1;
            v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
        }
    }
    return GRT_OK;
}

static grt_status js_value(js *j, grt_json *v, int depth);

static grt_status js_container(js *j, grt_json *v, int depth, char close) {
    int obj = close == '}';
    v->kind = obj ? GRT_JSON_OBJ : GRT_JSON_ARR;
    j->pos++;
    js_ws(j);
    if (j->pos < j->len && j->t[j->pos] == close) {
        j->pos++;
        return GRT_OK;
    }
    grt_json *last = NULL;
    for (;;) {
        grt_json *c = grt_pk_alloc(j->a, sizeof *c);
        if (!c) return js_oom(j);
        memset(c, 0, sizeof *c);
        js_ws(j);
        if (obj) {
            size_t kn;
            if (j->pos >= j->len || j->t[j->pos] != '"') return js_fail(j, "expected a member name");
            grt_status st = js_string(j, &c->key, &kn);
            if (st) return st;
            js_ws(j);
            if (j->pos >= j->len || j->t[j->pos] != ':') return js_fail(j, "expected ':'");
            j->pos++;
        }
        grt_status st = js_value(j, c, depth + 1);
        if (st) return st;
        if (last)
            last->next = c;
        else
            v->child = c;
        last = c;
        v->count++;
        js_ws(j);
        if (j->pos >= j->len) return js_fail(j, "unterminated object or array");
        char ch = j->t[j->pos++];
        if (ch == close) return GRT_OK;
        if (ch != ',') return js_fail(j, "expected ',' or a closing bracket");
    }
}

static grt_status js_value(js *j, grt_json *v, int depth) {
    if (depth > GRT_JSON_MAX_DEPTH)
        return grt_error(GAITRT_ERR_LIMIT, "%s: JSON header nests deeper than %d levels", j->file, GRT_JSON_MAX_DEPTH);
    js_ws(j);
    if (j->pos >= j->len) return js_fail(j, "unexpected end");
    char c = j->t[j->pos];
    switch (c) {
    case '{': return js_container(j, v, depth, '}');
    case '[': return js_container(j, v, depth, ']');
    case '"':
        v->kind = GRT_JSON_STR;
        return js_string(j, &v->str, &v->str_len);
    case 't':
    case 'f':
    case 'n': {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t n = strlen(w);
        if (j->len - j->pos < n || memcmp(j->t + j->pos, w, n)) return js_fail(j, "bad literal");
        j->pos += n;
        v->kind = c == 'n' ? GRT_JSON_NULL : GRT_JSON_BOOL;
        v->b = c == 't';
        return GRT_OK;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return js_number(j, v);
        return js_fail(j, "unexpected character");
    }
}

grt_status grt_json_parse(grt_pk_arena *a, const char *text, size_t len, const char *file, grt_json **root) {
    js j = {a, text, len, 0, file ? file : "<json>"};
    grt_json *v = grt_pk_alloc(a, sizeof *v);
    if (!v) return js_oom(&j);
    memset(v, 0, sizeof *v);
    grt_status st = js_value(&j, v, 0);
    if (st) return st;
    js_ws(&j);
    if (j.pos != len) return js_fail(&j, "trailing characters");
    *root = v;
    return GRT_OK;
}

const grt_json *grt_json_get(const grt_json *obj, const char *key) {
    if (!obj || obj->kind != GRT_JSON_OBJ) return NULL;
    for (const grt_json *c = obj->child; c; c = c->next)
        if (!strcmp(c->key, key)) return c;
    return NULL;
}

/* ---- string builder -------------------------------------------------------------------------- */

static int sb_reserve(grt_io_sb *b, size_t extra) {
    if (b->oom) return 0;
    size_t need;
    if (!grt_add_size(b->n, extra + 1, &need)) {
        b->oom = 1;
        return 0;
    }
    if (need <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < need) nc *= 2;
    char *np = grt_realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return 0;
    }
    b->p = np;
    b->cap = nc;
    return 1;
}

void grt_io_sb_printf(grt_io_sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->oom = 1;
        return;
    }
    if (!sb_reserve(b, (size_t)k)) return;
    if ((size_t)k < sizeof tmp) {
        memcpy(b->p + b->n, tmp, (size_t)k + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)k;
}

void grt_io_sb_json_str(grt_io_sb *b, const char *s) {
    grt_io_sb_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            grt_io_sb_printf(b, "\\%c", *c);
        else if (*c < 0x20)
            grt_io_sb_printf(b, "\\u%04x", *c);
        else if (sb_reserve(b, 1)) {
            b->p[b->n++] = (char)*c;
            b->p[b->n] = 0;
        }
    }
    grt_io_sb_printf(b, "\"");
}

void grt_io_sb_free(grt_io_sb *b) {
    grt_free(b->p);
    memset(b, 0, sizeof *b);
}
