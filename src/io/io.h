/*
 * io.h — readers and writers for the files gaitrt opens: torch checkpoints (zip + a safe
 * pickle subset that never executes anything), safetensors, .npy, OpenGait's .pkl sequence
 * arrays. Every reader treats its input as hostile: bounds-checked, size-limited, and on
 * failure it returns a status with an error text that names the file and the problem.
 *
 * In-memory variants (`*_mem`) exist for the fuzz targets; `name` is used in messages only.
 */
#ifndef GRT_IO_H
#define GRT_IO_H

#include "core/core.h"

/* Limits for untrusted files (a checkpoint or dataset file from elsewhere). */
#define GRT_IO_MAX_FILE_BYTES ((size_t)16 << 30)   /* 16 GiB */
#define GRT_IO_MAX_TENSORS 100000
#define GRT_IO_MAX_PICKLE_DEPTH 1000

/* A named list of tensors: the model's state dict. Floating tensors are converted to F32
 * on load (src_dtype keeps the file's dtype); integer tensors keep their dtype. Tensors are
 * contiguous (strided storages are gathered on load). */
typedef struct grt_state_dict {
    int n;
    grt_tensor *t;
    char *path;          /* the file it came from */
    char format[32];     /* "torch-zip", "safetensors", ... */
    char root_key[32];   /* where the state dict was found: "model", "state_dict" or "" (top level) */
} grt_state_dict;

/* Loads a checkpoint: torch zip (>= 1.6) or safetensors, detected from the content. The state
 * dict is taken from checkpoint['model'] (OpenGait), ['state_dict'], or the top level; a
 * `module.` prefix on every key is stripped. Legacy (pre-1.6) torch files are refused with a
 * message explaining how to convert them. */
grt_status grt_state_dict_load(const char *path, grt_state_dict **out);
grt_status grt_state_dict_load_mem(const uint8_t *buf, size_t len, const char *name, grt_state_dict **out);
const grt_tensor *grt_state_dict_find(const grt_state_dict *sd, const char *key);
void grt_state_dict_free(grt_state_dict *sd);

/* Writes every tensor (in its loaded dtype: F32 or the integer dtype) as safetensors. */
grt_status grt_safetensors_write(const grt_state_dict *sd, const char *path);

/* .npy (format versions 1-3; little-endian f2/f4/f8/u1/i1/i2/i4/i8/b1; C order; Fortran
 * order is gathered). Dtypes are kept as in the file. */
grt_status grt_npy_read(const char *path, grt_tensor *out);
grt_status grt_npy_read_mem(const uint8_t *buf, size_t len, const char *name, grt_tensor *out);
grt_status grt_npy_write(const char *path, const grt_tensor *t);

/* An OpenGait dataset .pkl: a pickled numpy array (as `pickle.dump(np_array)` writes it), or
 * a pickled torch tensor (including the legacy `torch.storage._load_from_bytes` form some
 * users' scripts write). Dtypes are kept as in the file. */
grt_status grt_pkl_array_read(const char *path, grt_tensor *out);
grt_status grt_pkl_array_read_mem(const uint8_t *buf, size_t len, const char *name, grt_tensor *out);
/* Writes a numpy array pickle that Python's pickle.load reads back as a numpy array of the
 * same dtype and shape (what OpenGait's pretreatment writes). */
grt_status grt_pkl_array_write(const char *path, const grt_tensor *t);

#endif /* GRT_IO_H */
