/*
 * json.h — a small, bounds-checked JSON reader for the safetensors header, and string
 * escaping for the writers.
 *
 * It is not a general JSON library: the tree is read-only, numbers are kept as exact 64-bit
 * integers when they have no fraction or exponent (as safetensors offsets need), nesting is
 * limited to GRT_JSON_MAX_DEPTH, and strings may not contain NUL.
 *
 * Usage:
 *
 *     grt_pk_arena a;  grt_pk_arena_init(&a, limit);
 *     grt_json *root;
 *     if (grt_json_parse(&a, text, len, "x.safetensors", &root) == GRT_OK) {
 *         for (grt_json *m = root->child; m; m = m->next) use(m->key, m);
 *     }
 *     grt_pk_arena_free(&a);
 */
#ifndef GRT_IO_JSON_H
#define GRT_IO_JSON_H

#include "io/pickle.h" /* for the arena */

#define GRT_JSON_MAX_DEPTH 64

typedef enum grt_json_kind {
    GRT_JSON_NULL = 0,
    GRT_JSON_BOOL,
    GRT_JSON_NUM,
    GRT_JSON_STR,
    GRT_JSON_ARR,
    GRT_JSON_OBJ,
} grt_json_kind;

typedef struct grt_json grt_json;
struct grt_json {
    grt_json_kind kind;
    const char *key;   /* member name inside an object (NUL-terminated), else NULL */
    const char *str;   /* STR: decoded UTF-8, NUL-terminated */
    size_t str_len;
    int is_int;        /* NUM: 1 when the literal is an integer that fits int64 */
    int64_t i;
    double num;
    int b;
    grt_json *child;   /* ARR/OBJ: first element or member */
    grt_json *next;    /* next sibling */
    size_t count;      /* ARR/OBJ: number of children */
};

grt_status grt_json_parse(grt_pk_arena *a, const char *text, size_t len, const char *file, grt_json **root);
/* Member of an object by name (the first match), or NULL. */
const grt_json *grt_json_get(const grt_json *obj, const char *key);

/* A growable string for writers; `oom` is set (and further writes ignored) on failure. */
typedef struct grt_io_sb {
    char *p;
    size_t n, cap;
    int oom;
} grt_io_sb;
void grt_io_sb_printf(grt_io_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void grt_io_sb_json_str(grt_io_sb *b, const char *s); /* a quoted, escaped JSON string */
void grt_io_sb_free(grt_io_sb *b);

#endif /* GRT_IO_JSON_H */
