/*
 * pickle.h — a pickle reader that never executes anything. It understands the opcodes of
 * protocols 0-5 that Python, torch and numpy write, and turns a pickle into a small tree of
 * tagged values. GLOBAL only names a callable; REDUCE/NEWOBJ on a name from our allow-list
 * builds a value (tensors, numpy arrays, OrderedDict, ...), on any other name it is refused.
 *
 * It is not a Python emulator: there are no classes, no attribute lookups, no imports, and
 * no user code. Values are immutable once the load returns.
 *
 * Usage:
 *
 *     grt_pk_arena a;
 *     grt_pk_arena_init(&a, grt_pk_default_alloc_limit(len));
 *     grt_pk_opts o = grt_pk_default_opts("x.pkl");
 *     grt_pv *v; size_t used;
 *     if (grt_pk_load(&a, buf, len, &o, &v, &used) == GRT_OK) { ... read v ... }
 *     grt_pk_arena_free(&a);        // frees every value of the load at once
 *
 * Values may share children (the memo) and may even form cycles (a list appended to
 * itself), so code that walks them must bound its depth; nothing here recurses on them.
 */
#ifndef GRT_IO_PICKLE_H
#define GRT_IO_PICKLE_H

#include "core/core.h"

/* ---- arena: every value of one load lives here and is freed at once ---------------------- */

typedef struct grt_pk_chunk grt_pk_chunk;
typedef struct grt_pk_arena {
    grt_pk_chunk *head;
    size_t used;    /* bytes taken from the allocator so far (chunk overhead included) */
    size_t limit;   /* refuse to take more than this */
    int hit_limit;  /* set when an allocation failed because of the limit, not of memory */
} grt_pk_arena;

void grt_pk_arena_init(grt_pk_arena *a, size_t limit);
void grt_pk_arena_free(grt_pk_arena *a);
/* 16-byte aligned block, or NULL when out of memory or over the limit (see hit_limit). */
void *grt_pk_alloc(grt_pk_arena *a, size_t n);
/* A generous limit for a pickle of len bytes: values are larger than the opcodes that make
 * them (a 2-byte BININT1 becomes a 32-byte value). */
size_t grt_pk_default_alloc_limit(size_t len);

/* ---- values ------------------------------------------------------------------------------ */

typedef enum grt_pv_kind {
    GRT_PV_NONE = 0,
    GRT_PV_BOOL,
    GRT_PV_INT,      /* fits int64 */
    GRT_PV_BIGINT,   /* larger: little-endian two's-complement bytes in u.s */
    GRT_PV_FLOAT,
    GRT_PV_STR,      /* UTF-8 (or raw 8-bit from the Python 2 string opcodes, see GRT_PV_F_RAW8) */
    GRT_PV_BYTES,
    GRT_PV_LIST,
    GRT_PV_TUPLE,
    GRT_PV_SET,      /* set and frozenset */
    GRT_PV_DICT,     /* dict and OrderedDict: keys in insertion order */
    GRT_PV_GLOBAL,   /* a named callable or class, never resolved */
    GRT_PV_OBJECT,   /* the result of a call we model only as data: callable, args, state */
    GRT_PV_STORAGE,  /* a torch storage (persistent id) */
    GRT_PV_TENSOR,   /* a torch tensor: a strided view of a storage */
    GRT_PV_NDARRAY,  /* a numpy array */
    GRT_PV_DTYPE,    /* a numpy dtype */
} grt_pv_kind;

#define GRT_PV_F_RAW8 1 /* str from STRING/BINSTRING: bytes of unknown encoding */

typedef struct grt_pv grt_pv;

/* A torch storage: `numel` elements of `dtype`. `data` stays NULL until the owner of the
 * bytes fills it (the checkpoint's zip entry `key`, or the legacy blob it came with). A view
 * storage (legacy format) refers to `base` from element `base_offset` on. */
typedef struct grt_pk_storage {
    grt_dtype dtype;
    int64_t numel;
    const char *key;         /* NUL-terminated, in the arena */
    const uint8_t *data;     /* numel * elsize bytes once resolved */
    struct grt_pk_storage *base;
    int64_t base_offset;
    void *user;              /* for the resolver (e.g. an owned inflated block) */
} grt_pk_storage;

typedef struct grt_pk_tensor {
    grt_pk_storage *storage;
    int64_t offset;
    int ndim;
    int64_t shape[GRT_MAX_DIMS];
    int64_t stride[GRT_MAX_DIMS];
} grt_pk_tensor;

typedef struct grt_pk_ndarray {
    int built;                 /* 0 after _reconstruct, 1 once BUILD gave it shape and data */
    grt_pv *dtype;             /* GRT_PV_DTYPE */
    int ndim;
    int64_t shape[GRT_MAX_DIMS];
    int fortran;
    const uint8_t *data;
    size_t nbytes;
} grt_pk_ndarray;

typedef struct grt_pk_dtype {
    char kind;       /* 'f', 'i', 'u', 'b', or 0 when we do not know it (object, structured, ...) */
    int size;        /* bytes per element */
    char order;      /* '<', '>', '|', '=' */
    char str[16];    /* as given, for messages */
} grt_pk_dtype;

struct grt_pv {
    grt_pv_kind kind;
    int flags;
    union {
        int b;
        int64_t i;
        double f;
        struct { const uint8_t *p; size_t n; } s;             /* STR, BYTES, BIGINT */
        struct { grt_pv **v; size_t n, cap; } seq;            /* LIST, TUPLE, SET */
        struct { grt_pv **k, **v; size_t n, cap; } dict;      /* DICT */
        struct { const char *module, *name; } g;              /* GLOBAL */
        struct { grt_pv *callable, *args, *state, *items; } obj;
        grt_pk_storage *storage;
        grt_pk_tensor *tensor;
        grt_pk_ndarray *nd;
        grt_pk_dtype *dtype;
    } u;
};

/* ---- loading ------------------------------------------------------------------------------- */

typedef struct grt_pk_vm grt_pk_vm;

/* Called for PERSID/BINPERSID with the persistent id; returns the value to push. */
typedef grt_status (*grt_pk_persid_fn)(grt_pk_vm *vm, void *user, grt_pv *pid, grt_pv **out);

typedef struct grt_pk_opts {
    const char *name;                 /* file name for messages */
    grt_pk_persid_fn persistent_load; /* NULL: persistent ids are a format error */
    void *user;
    int allow_legacy_bytes;           /* torch.storage._load_from_bytes (legacy blob) */
    size_t max_stack;                 /* value stack entries */
    size_t max_memo;                  /* memo slots */
    int max_marks;                    /* MARK nesting */
} grt_pk_opts;

grt_pk_opts grt_pk_default_opts(const char *name);

/* Runs the pickle in buf[0..len) up to its STOP; *used is the offset after STOP (a legacy
 * torch file is several pickles back to back). Values live in the arena. */
grt_status grt_pk_load(grt_pk_arena *a, const uint8_t *buf, size_t len, const grt_pk_opts *o, grt_pv **out,
                       size_t *used);

/* Inside a load (builders, persistent_load callbacks): the file name, the arena, and error
 * functions that add the file name and the opcode offset. */
const char *grt_pk_vm_name(const grt_pk_vm *vm);
grt_pk_arena *grt_pk_vm_arena(grt_pk_vm *vm);
const grt_pk_opts *grt_pk_vm_opts(const grt_pk_vm *vm);
grt_status grt_pk_fail(grt_pk_vm *vm, grt_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
grt_pv *grt_pk_new(grt_pk_vm *vm, grt_pv_kind kind);
int grt_pk_seq_push(grt_pk_vm *vm, grt_pv *seq, grt_pv *item);
int grt_pk_dict_set(grt_pk_vm *vm, grt_pv *dict, grt_pv *k, grt_pv *v);
char *grt_pk_strndup(grt_pk_vm *vm, const void *p, size_t n);

/* ---- the allow-list (pickle_calls.c) ---------------------------------------------------------- */

/* REDUCE (and INST/OBJ): callable(*args). Unknown callables are refused. */
grt_status grt_pk_call(grt_pk_vm *vm, grt_pv *callable, grt_pv *args, grt_pv **out);
/* NEWOBJ / NEWOBJ_EX: cls.__new__(cls, *args) — modelled as data, but refused for names
 * whose only purpose is running code. */
grt_status grt_pk_newobj(grt_pk_vm *vm, grt_pv *cls, grt_pv *args, grt_pv *kwargs, grt_pv **out);
/* BUILD: obj.__setstate__(state) for the types we model. */
grt_status grt_pk_build(grt_pk_vm *vm, grt_pv *obj, grt_pv *state);

/* ---- reading values ---------------------------------------------------------------------- */

/* 1 when v is a str equal to the NUL-terminated s. */
int grt_pv_is_str(const grt_pv *v, const char *s);
/* Dict lookup by str key (the last matching key wins, as in Python); NULL if absent. */
grt_pv *grt_pv_dict_get(const grt_pv *dict, const char *key);
/* Integer value of INT or BOOL; 0 if v is neither (check the kind first). */
int grt_pv_as_int(const grt_pv *v, int64_t *out);
const char *grt_pv_kind_name(grt_pv_kind k);

/* Storage dtype from a storage class name ("FloatStorage"); -1 if unknown. */
int grt_pk_storage_dtype(const char *class_name);
/* Checks that the tensor's strided extent lies within its storage (negative strides,
 * overflow and out-of-range views are errors naming `file`). */
grt_status grt_pk_tensor_check(const char *file, const grt_pk_tensor *t);
/* The bytes of a storage once resolved (views resolve through their base); 0 if not yet. */
int grt_pk_storage_bytes(const grt_pk_storage *s, const uint8_t **p, size_t *n);

/* Copies a tensor's elements into a new dense tensor `out` (row-major), widening floating
 * dtypes to F32 when to_f32 is set. The storage must be resolved. `what` names the tensor
 * in messages ("'layer.weight'"). */
grt_status grt_pk_tensor_materialize(const char *file, const char *what, const grt_pk_tensor *t, int to_f32,
                                     grt_tensor *out);
/* Same for a built numpy array (dtype kept). */
grt_status grt_pk_ndarray_materialize(const char *file, const grt_pk_ndarray *a, grt_tensor *out);

#endif /* GRT_IO_PICKLE_H */
