/*
 * gaitrt.h — the public C API of gaitrt, a gait-recognition inference runtime.
 *
 * gaitrt opens an OpenGait checkpoint as it is (torch .pt or .safetensors), builds the
 * model's layer graph, and computes the same embeddings OpenGait's `inference_feat`
 * returns, on the CPU (reference or fast kernels) or a CUDA GPU when built in.
 *
 * This header is plain C11 and is the only header a user includes. Everything returns a
 * gaitrt_status (0 is success); gaitrt_last_error() gives the thread-local detail of the
 * last failure on this thread. Constructors return NULL on failure. The library never
 * prints: install a log callback with gaitrt_log_set().
 *
 * Usage:
 *
 *     gaitrt_model_params mp = gaitrt_model_default_params();
 *     gaitrt_model *m = gaitrt_model_load("GaitBase_DA-60000.pt", &mp);
 *     if (!m) { fprintf(stderr, "%s\n", gaitrt_last_error()); return 1; }
 *     gaitrt_session_params sp = gaitrt_session_default_params();
 *     gaitrt_session *s = gaitrt_session_create(m, &sp);
 *
 *     gaitrt_model_info info;
 *     gaitrt_model_get_info(m, &info);            // embedding is info.embed_channels x info.embed_parts
 *     gaitrt_sequence seq = {0};
 *     seq.n_frames = T;
 *     seq.inputs[0] = (gaitrt_input){ GAITRT_DTYPE_U8, 1, 64, 64, frames, 1 };   // raw: test transform applied
 *     float *emb = malloc(sizeof(float) * info.embed_channels * info.embed_parts);
 *     gaitrt_status st = gaitrt_embed(s, &seq, 1, emb, info.embed_channels * info.embed_parts);
 *
 *     gaitrt_session_free(s);
 *     gaitrt_model_free(m);
 */
#ifndef GAITRT_H
#define GAITRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define GAITRT_API __declspec(dllexport)
#else
#define GAITRT_API __attribute__((visibility("default")))
#endif

#define GAITRT_VERSION_MAJOR 0
#define GAITRT_VERSION_MINOR 1
#define GAITRT_VERSION_PATCH 0
#define GAITRT_MAX_INPUTS 4 /* modalities per sequence (e.g. XGait: parsing + silhouette) */

/* ---- status ---------------------------------------------------------------------- */

typedef enum gaitrt_status {
    GAITRT_OK = 0,
    GAITRT_ERR_INVALID_ARG = 1,  /* a NULL pointer, a bad parameter value */
    GAITRT_ERR_IO = 2,           /* a file could not be opened, read or written */
    GAITRT_ERR_FORMAT = 3,       /* a file is malformed: truncated, corrupt, inconsistent */
    GAITRT_ERR_UNSUPPORTED = 4,  /* valid but not supported (legacy torch format, a dtype) */
    GAITRT_ERR_REFUSED = 5,      /* an untrusted file asked for something we never do */
    GAITRT_ERR_MODEL = 6,        /* checkpoint does not fit the architecture: missing/extra keys, shapes */
    GAITRT_ERR_INPUT = 7,        /* bad input data: empty sequence, wrong shape, NaN */
    GAITRT_ERR_NOMEM = 8,        /* an allocation failed */
    GAITRT_ERR_DEVICE = 9,       /* a device error (CUDA driver, out of device memory) */
    GAITRT_ERR_LIMIT = 10,       /* a size limit for untrusted input was exceeded */
    GAITRT_ERR_BAD_STATE = 11,   /* the handle was poisoned by an earlier fatal error */
    GAITRT_ERR_INTERNAL = 12,    /* a bug in gaitrt: please report it */
} gaitrt_status;

/* Short name of a status code, e.g. "format error". Never NULL. */
GAITRT_API const char *gaitrt_status_str(gaitrt_status st);
/* Detail of the last failure on this thread (names the file and the problem, ends with a hint). */
GAITRT_API const char *gaitrt_last_error(void);
/* Status of the last failure on this thread (for constructors, which return NULL). */
GAITRT_API gaitrt_status gaitrt_last_status(void);
GAITRT_API const char *gaitrt_version(void);

/* ---- logging and allocation hooks ------------------------------------------------------ */

typedef enum gaitrt_log_level {
    GAITRT_LOG_DEBUG = 0,
    GAITRT_LOG_INFO = 1,
    GAITRT_LOG_WARN = 2,
    GAITRT_LOG_ERROR = 3,
} gaitrt_log_level;

typedef void (*gaitrt_log_fn)(gaitrt_log_level level, const char *msg, void *user);
/* Installs the log callback (NULL: messages are dropped). Process-wide. */
GAITRT_API void gaitrt_log_set(gaitrt_log_fn fn, void *user);

typedef struct gaitrt_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} gaitrt_allocator;
/* Process-wide allocation hooks (NULL restores libc). Call before creating any handle. */
GAITRT_API void gaitrt_set_allocator(const gaitrt_allocator *a);

/* ---- models ------------------------------------------------------------------------ */

typedef struct gaitrt_model gaitrt_model;

typedef struct gaitrt_model_params {
    const char *model_type;  /* NULL: inferred from the checkpoint's keys; else e.g. "GaitBase" */
    const char *config_path; /* optional OpenGait YAML; must agree with the checkpoint */
    int strict;              /* 1 (default): unexpected keys are an error (training heads aside);
                                0: keys the architecture does not read are ignored */
    /* The conservative level runs the graph as trained (BatchNorm unfolded); every other level
     * runs the fused graph. 0 (default): a model holds one copy of its weights. The unfused
     * graph's are released once the fused graph is built, and the fused graph's that the first
     * prepared backend holds in its own layout once it has them; both are read again from the
     * checkpoint when another level or device first needs them (an error names the file if it
     * changed or went away in between). 1: every copy stays in memory. */
    int keep_reference_weights;
} gaitrt_model_params;

GAITRT_API gaitrt_model_params gaitrt_model_default_params(void);
/* Loads a .pt (torch zip) or .safetensors checkpoint. NULL on failure (see gaitrt_last_error). */
GAITRT_API gaitrt_model *gaitrt_model_load(const char *path, const gaitrt_model_params *p);
/* Builds a named built-in architecture with deterministic random weights (for benchmarks). */
GAITRT_API gaitrt_model *gaitrt_model_create_random(const char *model_type, uint64_t seed);
/* The i-th model type compiled in ("GaitBase", "DeepGaitV2", ...), NULL past the last. */
GAITRT_API const char *gaitrt_model_type(int i);
GAITRT_API void gaitrt_model_free(gaitrt_model *m);

typedef struct gaitrt_model_input_desc {
    char name[32];   /* e.g. "silhouette", "parsing", "skeleton" */
    int channels;    /* after the test transform */
    int height;
    int width;       /* after the test transform (e.g. 44) */
    int stored_width;/* width as stored in OpenGait's .pkl (e.g. 64); the transform cuts it */
    float divisor;   /* 255, or 1 for parsing labels (0: 255 only if the array's max is 255) */
} gaitrt_model_input_desc;

typedef struct gaitrt_model_info {
    char type[32];            /* "GaitBase", "DeepGaitV2", ... */
    char variant[96];         /* e.g. "p3d layers=[1,4,4,1]" */
    int n_inputs;
    gaitrt_model_input_desc inputs[GAITRT_MAX_INPUTS];
    int embed_channels;       /* C of the [N, C, P] embedding */
    int embed_parts;          /* P */
    int temporal_mixing;      /* 1: sequences cannot be concatenated along T (3D convolutions) */
    int pad_batching;         /* 1: sequences of different lengths may share a batch, padded with zero
                                 frames the model never sees (seq_len_tolerance applies) */
    int min_frames;           /* shortest sequence the model accepts as it is */
    int64_t n_params;         /* parameters used for inference */
    int64_t n_params_total;   /* every tensor in the checkpoint's state dict, training heads included */
    double macs_per_frame;    /* multiply-adds per frame of the backbone at the model's input size */
    double macs_per_sequence; /* per-sequence part (head) */
} gaitrt_model_info;

GAITRT_API gaitrt_status gaitrt_model_get_info(const gaitrt_model *m, gaitrt_model_info *out);
/* Writes a human-readable multi-line summary (layer list with shapes) into buf; returns the
 * length it needs (excluding the NUL), like snprintf. */
GAITRT_API size_t gaitrt_model_summary(const gaitrt_model *m, char *buf, size_t len);
/* Writes the state dict of gaitrt_model_create_random(model_type, seed) as safetensors, so that
 * other runtimes can run the same weights (the benchmark's peers). */
GAITRT_API gaitrt_status gaitrt_random_checkpoint_write(const char *model_type, uint64_t seed, const char *path);
/* Writes the model's weights (the whole state dict) as safetensors. */
GAITRT_API gaitrt_status gaitrt_checkpoint_convert(const char *ckpt_path, const char *out_path);

/* ---- devices ------------------------------------------------------------------------ */

typedef enum gaitrt_device_kind {
    GAITRT_DEVICE_AUTO = 0,
    GAITRT_DEVICE_CPU = 1,
    GAITRT_DEVICE_CUDA = 2,
} gaitrt_device_kind;

typedef struct gaitrt_device_desc {
    gaitrt_device_kind kind;
    int index;
    char name[128];
    char features[256];      /* CPU: "avx2 fma avx512f avx512bw avx512_bf16 ..."; CUDA: "sm_90 tc-fp16 tc-bf16" */
    int cores;               /* CPU cores / CUDA SMs */
    int64_t mem_total;       /* bytes */
    int64_t mem_free;        /* bytes */
    double peak_gflops_fp32; /* estimate from the features (not measured) */
    double score;            /* higher is better for the model given to gaitrt_device_list; 0: unusable */
    char note[128];          /* why it is unusable or how it was scored */
} gaitrt_device_desc;

/* The CPU's fp32 FMA peak measured now with `threads` threads (0: all cores), in GFLOP/s. */
GAITRT_API double gaitrt_cpu_peak_gflops(int threads);
/* Fills up to cap descriptions; *n receives how many exist. m may be NULL (generic scores). */
GAITRT_API gaitrt_status gaitrt_device_list(const gaitrt_model *m, gaitrt_device_desc *out, int cap, int *n);

/* ---- sessions ------------------------------------------------------------------------ */

typedef enum gaitrt_level {
    GAITRT_LEVEL_CONSERVATIVE = 0, /* fp32 reference kernels, deterministic */
    GAITRT_LEVEL_BALANCED = 1,     /* fp32 fast kernels, fusions (default) */
    GAITRT_LEVEL_AGGRESSIVE = 2,   /* reduced precision: bf16/fp16 where the device has it, else relaxed fp32
                                      (CPU: Winograd F(4x4,3x3) on 3x3x3 kernels too); cosine >= 0.9995 against fp32 */
} gaitrt_level;

/* The arithmetic of a session's fused graph, where the level leaves it open. All keep float32
 * accumulation and a float32 head. */
typedef enum gaitrt_precision {
    GAITRT_PRECISION_AUTO = 0, /* the level's: f32 at balanced; at aggressive f16 on a GPU, bf16 or relaxed fp32 on a CPU */
    GAITRT_PRECISION_F32 = 1,  /* strict float32 (within 1e-5 of the reference) */
    GAITRT_PRECISION_TF32 = 2, /* GPU: tensor cores on float32 data (about 4e-4 relative); PyTorch's default on GPUs */
    GAITRT_PRECISION_F16 = 3,  /* GPU: float16 activations and weights */
    GAITRT_PRECISION_BF16 = 4, /* GPU; CPU with avx512_bf16 where oneDNN has bf16 kernels */
} gaitrt_precision;

/* "auto", "f32", "tf32", "f16", "bf16" (the CLI's --precision values); NULL when out of range. */
GAITRT_API const char *gaitrt_precision_name(gaitrt_precision p);

typedef struct gaitrt_session_params {
    gaitrt_device_kind device;
    int device_index;
    gaitrt_level level;
    int n_threads;               /* 0: all cores */
    int max_batch_size;          /* sequences per batch (dynamic batching); default 8 */
    int seq_len_tolerance;       /* models with temporal convolutions: sequences whose lengths differ by at most
                                    this many frames share a batch, padded (when the model allows it, see
                                    gaitrt_model_info.pad_batching); default 0 = equal lengths only.
                                    Frame-independent models pack any lengths without padding. */
    int64_t memory_budget;       /* bytes of activation memory; 0: automatic (a share of free memory) */
    int max_frames;              /* OpenGait's frames_all_limit: only the first max_frames are used; default 720; 0 = no limit */
    int normalize;               /* 1: L2-normalise each part's C-vector */
    int profile;                 /* 1: collect per-layer timings */
    gaitrt_precision precision;  /* balanced/aggressive: AUTO (default) or a precision to use instead of the level's;
                                    one the device cannot run falls back to the level's, noted in the report */
} gaitrt_session_params;

typedef struct gaitrt_session gaitrt_session;

GAITRT_API gaitrt_session_params gaitrt_session_default_params(void);
GAITRT_API gaitrt_session *gaitrt_session_create(gaitrt_model *m, const gaitrt_session_params *p);
GAITRT_API void gaitrt_session_free(gaitrt_session *s);

typedef enum gaitrt_dtype {
    GAITRT_DTYPE_F32 = 0,
    GAITRT_DTYPE_U8 = 1,
} gaitrt_dtype;

/* One modality of one sequence: n_frames x channels x height x width, row-major. */
typedef struct gaitrt_input {
    gaitrt_dtype dtype;
    int channels;
    int height;
    int width;
    const void *data;
    int raw;   /* 1: frames as OpenGait stores them (e.g. 64 wide): the model's test-time cut is applied.
                  0: already cut to the model's width. In both cases uint8 data is divided by the model's
                  divisor (255, or 1 for parsing labels) and float data is used as it is. */
} gaitrt_input;

typedef struct gaitrt_sequence {
    int n_frames;
    gaitrt_input inputs[GAITRT_MAX_INPUTS]; /* in OpenGait's `ipts` order */
} gaitrt_sequence;

/* Embeds n sequences into out, n x C x P floats (OpenGait's inference_feat['embeddings']). */
GAITRT_API gaitrt_status gaitrt_embed(gaitrt_session *s, const gaitrt_sequence *seqs, int n, float *out,
                                      size_t out_len);

/* What the session decided: device, kernels, precision, fallbacks so far (JSON object text). */
GAITRT_API size_t gaitrt_session_report(const gaitrt_session *s, char *buf, size_t len);
/* Profile of the runs so far as JSON, or a Chrome trace (Perfetto opens it). */
GAITRT_API gaitrt_status gaitrt_session_write_profile(const gaitrt_session *s, const char *json_path);
GAITRT_API gaitrt_status gaitrt_session_write_trace(const gaitrt_session *s, const char *trace_path);
/* A self-contained HTML report with plots (timeline, time per layer, throughput vs batch size). */
GAITRT_API gaitrt_status gaitrt_session_write_report(const gaitrt_session *s, const char *html_path);

/* ---- preprocessing: raw frames and keypoints -> OpenGait's aligned arrays ------------------- */

/* Which OpenGait script the pretreatment reproduces (bit-exact, OpenCV's rounding included). */
typedef enum gaitrt_pretreat_mode {
    GAITRT_PRETREAT_SILHOUETTE = 0, /* datasets/pretreatment.py: INTER_CUBIC, frames with pixel sum <= 10000 dropped */
    GAITRT_PRETREAT_CCPG = 1,       /* datasets/CCPG/organize_ccpg.py: INTER_AREA, no sum threshold */
    GAITRT_PRETREAT_PARSING = 2,    /* Gait3D-Parsing pretreatment_gps.py -p: part labels kept (INTER_NEAREST) */
} gaitrt_pretreat_mode;

/* What happened to one frame. */
typedef enum gaitrt_frame_status {
    GAITRT_FRAME_KEPT = 0,
    GAITRT_FRAME_EMPTY = 1,       /* pixel sum <= 10000 (fewer than 40 white pixels) */
    GAITRT_FRAME_NO_CENTER = 2,   /* no column holds the median of the mass, or it is column 0 */
    GAITRT_FRAME_TOO_THIN = 3,    /* resized width int(S * w / h) would be 0 */
    GAITRT_FRAME_UNREADABLE = 4,  /* not a readable PNG/JPEG (see gaitrt_frame_report.detail) */
    GAITRT_FRAME_LOW_QUALITY = 5, /* below the quality threshold (quality filter on) */
    GAITRT_FRAME_TOO_WIDE = 6,    /* resized width above 2^20 columns */
} gaitrt_frame_status;

/* Short description, e.g. "empty (pixel sum <= 10000)". Never NULL. */
GAITRT_API const char *gaitrt_frame_status_str(gaitrt_frame_status s);

/* Quality checks (bits of gaitrt_frame_report.quality_flags), measured on the raw mask. */
#define GAITRT_QUALITY_FG_RATIO (1u << 0)  /* foreground share outside [fg_min, fg_max] */
#define GAITRT_QUALITY_ASPECT (1u << 1)    /* box height / width outside [aspect_min, aspect_max] */
#define GAITRT_QUALITY_FRAGMENTS (1u << 2) /* largest connected part < main_min of the foreground */
#define GAITRT_QUALITY_BORDER (1u << 3)    /* foreground on the top or bottom edge (body cut off) */
#define GAITRT_QUALITY_JUMP (1u << 4)      /* centroid jumped > jump_max box heights vs both neighbours */
#define GAITRT_QUALITY_EMPTY (1u << 5)     /* no foreground */

typedef struct gaitrt_quality_thresholds {
    float fg_min;     /* 0.002 */
    float fg_max;     /* 0.60 */
    float aspect_min; /* 1.0 */
    float aspect_max; /* 5.0 */
    float main_min;   /* 0.75 */
    float jump_max;   /* 0.5 */
    float min_score;  /* 0.5: the filter drops frames scoring below (0.5 = any check failed) */
} gaitrt_quality_thresholds;

typedef struct gaitrt_frame_report {
    const char *name;        /* file name inside the sequence folder */
    gaitrt_frame_status status;
    float quality;           /* score in [0, 1]; -1 when the quality filter is off */
    unsigned quality_flags;  /* GAITRT_QUALITY_* checks that failed */
    const char *detail;      /* for GAITRT_FRAME_UNREADABLE: the decoder's message; else NULL */
} gaitrt_frame_report;

/* Progress of gaitrt_pretreat_dir, once per finished sequence (from worker threads, one call
 * at a time; everything pointed to is valid during the call only). */
typedef struct gaitrt_pretreat_progress {
    int done;                          /* sequences finished, this one included */
    int total;                         /* sequences found */
    const char *sequence;              /* "<id>/<type>/<view>" */
    gaitrt_status status;              /* GAITRT_OK, or why this sequence failed (the others go on) */
    const char *error;                 /* message when status != GAITRT_OK */
    int written;                       /* 1: the .pkl was written; 0 with status OK: no valid frame, no file */
    int n_files;                       /* frame files found */
    int n_kept;                        /* frames in the .pkl */
    const gaitrt_frame_report *files;  /* n_files entries (NULL when status != OK) */
} gaitrt_pretreat_progress;

typedef void (*gaitrt_pretreat_progress_fn)(const gaitrt_pretreat_progress *p, void *user);

typedef struct gaitrt_pretreat_params {
    int img_size;                     /* S, output frames S x S: 64 (default) or 128; any even value works */
    gaitrt_pretreat_mode mode;        /* GAITRT_PRETREAT_SILHOUETTE */
    int n_threads;                    /* gaitrt_pretreat_dir: sequences in parallel, 0 = all cores (default) */
    int quality_filter;               /* 1: drop low-quality frames; 0 (default): keep OpenGait's behaviour */
    gaitrt_quality_thresholds quality;
    uint32_t max_image_dim;           /* frames wider or taller are refused as unreadable (16384) */
    gaitrt_pretreat_progress_fn progress; /* optional */
    void *progress_user;
} gaitrt_pretreat_params;

GAITRT_API gaitrt_pretreat_params gaitrt_pretreat_default_params(void);

/* The frames of one sequence folder (*.png, *.jpg, *.jpeg in sorted name order) -> out.
 * Unreadable or rejected frames are reported in out->files, not errors. The library owns the
 * memory in out until gaitrt_pretreat_result_release. */
typedef struct gaitrt_pretreat_result {
    int n_frames;                /* T: frames kept */
    int size;                    /* S */
    uint8_t *frames;             /* T x S x S uint8, row-major (NULL when T == 0) */
    int n_files;                 /* frame files found */
    gaitrt_frame_report *files;  /* one per file, in the order they were read */
} gaitrt_pretreat_result;

GAITRT_API gaitrt_status gaitrt_pretreat_sequence(const char *folder, const gaitrt_pretreat_params *p,
                                                  gaitrt_pretreat_result *out);
GAITRT_API void gaitrt_pretreat_result_release(gaitrt_pretreat_result *r);

/* One 8-bit grey frame (height x width, row-major) -> out (S x S bytes, out_len >= S * S).
 * *status says whether it was kept; out is written only then. Parsing maps: pass the labels. */
GAITRT_API gaitrt_status gaitrt_pretreat_frame(const uint8_t *gray, int width, int height, const gaitrt_pretreat_params *p,
                                               uint8_t *out, size_t out_len, gaitrt_frame_status *status);

typedef struct gaitrt_pretreat_summary {
    int n_sequences;        /* <id>/<type>/<view> folders found */
    int n_written;          /* .pkl files written */
    int n_empty;            /* sequences without any valid frame (no file, as OpenGait) */
    int n_failed;           /* sequences that could not be written */
    int64_t n_files;        /* frame files seen */
    int64_t n_kept;         /* frames written */
    int64_t n_dropped[8];   /* by gaitrt_frame_status */
} gaitrt_pretreat_summary;

/* Frames (.png, .jpg) in INPUT_ROOT/<id>/<type>/<view>/ -> OUTPUT_ROOT/<id>/<type>/<view>/<view>.pkl, each a
 * pickle Python's pickle.load reads as a numpy uint8 array [T, S, S] — what OpenGait's
 * datasets/pretreatment.py writes. summary may be NULL. A failing sequence does not stop the
 * others; the first failure is returned at the end. */
GAITRT_API gaitrt_status gaitrt_pretreat_dir(const char *input_root, const char *output_root,
                                             const gaitrt_pretreat_params *p, gaitrt_pretreat_summary *summary);

/* A PNG or JPEG file as 8-bit grey, exactly as cv2.imread(path, cv2.IMREAD_GRAYSCALE). Call with
 * out = NULL to learn the size; then out_len must be >= width * height. */
GAITRT_API gaitrt_status gaitrt_image_read_gray(const char *path, uint8_t *out, size_t out_len, int *width, int *height);

/* ---- skeleton maps (SkeletonGait, SkeletonGait++) ---------------------------------------------- */

/* 2-D keypoints of one sequence: n_frames x n_joints x 3 (x, y, confidence) in image pixels,
 * COCO-17 order or OpenPose COCO-18. The element type matters for exactness: say which. */
typedef struct gaitrt_pose_sequence {
    int n_frames;
    int n_joints;      /* 17 or 18 */
    int is_double;     /* 1: data is double (numpy float64), 0: float (float32) */
    const void *data;
    void *owned;       /* set by gaitrt_pose_load; release with gaitrt_pose_release */
} gaitrt_pose_sequence;

/* Reads .pkl / .npy arrays [T, V, 3] (or [T, V*3]) or JSON {"frames": [{"keypoints": [[x, y, c], ...]}]}. */
GAITRT_API gaitrt_status gaitrt_pose_load(const char *path, gaitrt_pose_sequence *out);
GAITRT_API void gaitrt_pose_release(gaitrt_pose_sequence *pose);

typedef struct gaitrt_skeleton_params {
    int coco18;        /* -1 (default): from the joint count; 0: COCO-17; 1: COCO-18, converted */
    int fill_missing;  /* 1 (default): fill (0, 0) joints from similar frames (k-NN, as OpenGait) */
    int out_size;      /* 64 */
} gaitrt_skeleton_params;

GAITRT_API gaitrt_skeleton_params gaitrt_skeleton_default_params(void);

/* Skeleton maps as OpenGait's datasets/pretreatment_heatmap.py makes them: out receives
 * n_frames x 2 x S x S uint8 (channel 0 limbs, channel 1 joints; out_len >= that). Frames whose
 * keypoints have no vertical extent get empty maps (OpenGait would stop with an error). */
GAITRT_API gaitrt_status gaitrt_skeleton_maps(const gaitrt_pose_sequence *pose, const gaitrt_skeleton_params *p, uint8_t *out,
                                              size_t out_len);

/* ---- arrays and sequences from files ------------------------------------------------------ */

typedef struct gaitrt_array {
    gaitrt_dtype dtype;  /* U8 for uint8/bool files, F32 for every other numeric dtype */
    int ndim;
    int64_t shape[8];
    void *data;          /* owned; release with gaitrt_array_free */
} gaitrt_array;

/* Reads a .npy file or an OpenGait .pkl array (numpy or torch pickle). */
GAITRT_API gaitrt_status gaitrt_array_load(const char *path, gaitrt_array *out);
GAITRT_API gaitrt_status gaitrt_array_save_npy(const char *path, const gaitrt_array *a);
/* A pickled numpy array, as OpenGait's dataset .pkl files are (Python's pickle.load reads it). */
GAITRT_API gaitrt_status gaitrt_array_save_pkl(const char *path, const gaitrt_array *a);
GAITRT_API void gaitrt_array_free(gaitrt_array *a);

/* A sequence read from disk for a model: an OpenGait sequence folder (one .pkl per modality,
 * sorted by name), a single .pkl/.npy array [T,H,W] or [T,C,H,W], or a folder of raw
 * silhouette frames (PNG/JPEG, pretreated on the fly as `gaitrt pretreat` does). */
typedef struct gaitrt_sequence_data {
    gaitrt_sequence seq;                   /* points into arrays[] */
    gaitrt_array arrays[GAITRT_MAX_INPUTS];
    int n_arrays;
    int n_dropped;                         /* raw frames dropped by pretreatment */
    char note[256];                        /* what was read / dropped */
} gaitrt_sequence_data;

/* pp: the pretreatment of raw frames (NULL: OpenGait's defaults; quality filter off). */
GAITRT_API gaitrt_status gaitrt_sequence_load(const gaitrt_model *m, const char *path, const gaitrt_pretreat_params *pp,
                                              gaitrt_sequence_data *out);
GAITRT_API void gaitrt_sequence_data_free(gaitrt_sequence_data *d);

/* ---- distances and metrics ------------------------------------------------------------- */

/* OpenGait's part-averaged Euclidean distance between two [C, P] embeddings. */
GAITRT_API float gaitrt_distance(const float *a, const float *b, int channels, int parts);
/* out[i * ng + j] = distance of probe i and gallery j ([N, C, P] each); cosine: 1 - mean part cosine. */
GAITRT_API gaitrt_status gaitrt_distance_matrix(const float *probe, int np, const float *gallery, int ng, int channels,
                                                int parts, int cosine, float *out);

typedef struct gaitrt_eval_result {
    char name[32];      /* condition, e.g. "NM" */
    int n_probes;
    double rank1, rank5, rank10, map, minp; /* percent; -1 when the protocol does not define it */
} gaitrt_eval_result;

/* Evaluates embeddings [n, C, P] labelled (id, type, view) with an OpenGait protocol:
 * "casia-b" (gallery nm-01..04; NM/BG/CL rank-1 over cross-view pairs, identical views excluded),
 * "casia-b-cross-view" (probes nm-01/bg-01/cl-01 vs gallery nm-02+bg-02+cl-02, same id+view
 * removed; rank-1/5/10, mAP, mINP), "oumvlp" (gallery type 01, probes 00). One result per condition. */
GAITRT_API gaitrt_status gaitrt_evaluate(const float *emb, int n, int channels, int parts, const char *const *ids,
                                         const char *const *types, const char *const *views, const char *protocol,
                                         gaitrt_eval_result *out, int cap, int *n_out);

/* ---- gallery: enrolled identities in an SQLite file ------------------------------------------ */

typedef struct gaitrt_gallery gaitrt_gallery;
typedef struct gaitrt_match {
    char name[128];
    float distance; /* smallest OpenGait distance over the identity's enrolled sequences */
} gaitrt_match;

/* Opens (or creates) a gallery for embeddings of channels x parts. NULL on failure. */
GAITRT_API gaitrt_gallery *gaitrt_gallery_open(const char *path, int channels, int parts);
GAITRT_API void gaitrt_gallery_close(gaitrt_gallery *g);
/* Adds one sequence's embedding [C, P] under an identity name (an identity may have many). */
GAITRT_API gaitrt_status gaitrt_gallery_enroll(gaitrt_gallery *g, const char *name, const float *emb);
/* Removes every sequence of an identity; returns how many (or -1 on error). */
GAITRT_API int gaitrt_gallery_remove(gaitrt_gallery *g, const char *name);
GAITRT_API int gaitrt_gallery_size(const gaitrt_gallery *g);
GAITRT_API const char *gaitrt_gallery_name(const gaitrt_gallery *g, int i);
/* The k nearest identities, nearest first. */
GAITRT_API gaitrt_status gaitrt_gallery_identify(const gaitrt_gallery *g, const float *emb, int k, gaitrt_match *out,
                                                 int *n_out);

#ifdef __cplusplus
}
#endif
#endif /* GAITRT_H */
