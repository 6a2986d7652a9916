/*
 * preprocess.h — internal API of the preprocessing room: turning raw frames, parsing maps and
 * 2-D keypoints into the aligned uint8 arrays OpenGait's models read.
 *
 * What is here:
 *   - image decoding (PNG through libspng, JPEG through TurboJPEG) to 8-bit grey exactly as
 *     OpenCV 4.6's cv2.imread(path, IMREAD_GRAYSCALE) returns it, with limits for untrusted files;
 *   - OpenCV-compatible resizing (INTER_NEAREST, INTER_LINEAR, INTER_CUBIC, INTER_AREA) that
 *     reproduces cv2.resize bit for bit on uint8 (and on float64 for the area/linear modes);
 *   - the silhouette pretreatment of datasets/pretreatment.py, its CCPG and parsing variants;
 *   - a frame-quality score and filter;
 *   - SkeletonGait skeleton maps from COCO-17/18 keypoints;
 *   - sequence folders and whole dataset roots (multi-threaded), writing OpenGait .pkl files.
 *
 * What is not here: the test-time transforms (cutting 64 -> 44 columns, /255), which belong to
 * the models and pipeline; and anything that prints (the command line reports progress).
 *
 * Memory: every function that runs per frame takes a grt_pre_work, a bag of buffers that grow
 * to the largest frame seen and are then reused, so a sequence of frames allocates nothing after
 * the first one (first-touch page faults are expensive on the machines we target).
 *
 * Usage:
 *
 *     grt_pre_work w;
 *     grt_pre_work_init(&w);
 *     grt_gray img;
 *     grt_status st = grt_image_decode_file("001-040.png", NULL, &w, &img);
 *     uint8_t out[64 * 64];
 *     int why;
 *     grt_pre_opts o = grt_pre_default_opts();
 *     st = grt_pretreat_frame(img.data, img.width, img.height, &o, &w, out, &why);
 *     grt_pre_work_release(&w);
 */
#ifndef GRT_PREPROCESS_H
#define GRT_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- growable buffers and per-thread working memory ---------------------------------- */

typedef struct grt_buf {
    void *p;
    size_t cap;
} grt_buf;

/* Makes room for n bytes (contents are not kept when it grows). NULL when out of memory. */
void *grt_buf_reserve(grt_buf *b, size_t n);
void grt_buf_release(grt_buf *b);

typedef struct grt_pre_work {
    grt_buf file;    /* encoded bytes of the current file */
    grt_buf raw;     /* decoder output before grey conversion */
    grt_buf image;   /* decoded grey frame */
    grt_buf image2;  /* orientation fix-ups, binary masks */
    grt_buf resized; /* the frame after resizing */
    grt_buf rtab;    /* resize tables and row buffers */
    grt_buf cc;      /* connected-component labels (quality scoring) */
    void *tj;        /* TurboJPEG decompressor, created on the first JPEG */
    void *zs;        /* zlib inflate state of the PNG fast path, reused across frames */
    int png_no_fast; /* 1: always decode PNG through libspng (tests compare both paths) */
} grt_pre_work;

void grt_pre_work_init(grt_pre_work *w);
void grt_pre_work_release(grt_pre_work *w);

/* ---- image decoding -------------------------------------------------------------------- */

/* Limits applied to every image file (they are untrusted). */
#define GRT_IMG_MAX_DIM 16384u
#define GRT_IMG_MAX_PIXELS ((uint64_t)1 << 26) /* 64 Mpx */
#define GRT_IMG_MAX_FILE_BYTES ((size_t)256 << 20)

typedef struct grt_img_limits {
    uint32_t max_width;
    uint32_t max_height;
    uint64_t max_pixels;
    size_t max_file_bytes;
} grt_img_limits;

grt_img_limits grt_img_default_limits(void);

/* A decoded 8-bit grey image, rows contiguous (stride = width). The data lives in the work's
 * `image` buffer and stays valid until the next decode with the same work. */
typedef struct grt_gray {
    int width;
    int height;
    const uint8_t *data;
} grt_gray;

/* Decodes a PNG or JPEG (recognised by signature, not by name) to grey as
 * cv2.imread(path, cv2.IMREAD_GRAYSCALE) does in OpenCV 4.6: libpng's rgb_to_gray with
 * coefficients (0.299, 0.587) (with the file's gamma when it has gAMA/sRGB), 16-bit samples
 * keep their high byte, alpha is dropped, palettes are expanded; JPEG colour goes to luma
 * inside libjpeg, CMYK uses OpenCV's integer formula; EXIF orientation is applied.
 * lim may be NULL (defaults). Errors name the file and say what is wrong. */
grt_status grt_image_decode_mem(const uint8_t *buf, size_t len, const char *name, const grt_img_limits *lim,
                                grt_pre_work *w, grt_gray *out);
grt_status grt_image_decode_file(const char *path, const grt_img_limits *lim, grt_pre_work *w, grt_gray *out);

/* ---- OpenCV-compatible resizing ---------------------------------------------------------- */

typedef enum grt_interp {
    GRT_INTER_NEAREST = 0, /* cv2.INTER_NEAREST */
    GRT_INTER_LINEAR = 1,  /* cv2.INTER_LINEAR (not the _EXACT variant) */
    GRT_INTER_CUBIC = 2,   /* cv2.INTER_CUBIC */
    GRT_INTER_AREA = 3,    /* cv2.INTER_AREA */
} grt_interp;

/* Bytes of working memory a resize needs (tables and row buffers). f64: 1 for double images. */
size_t grt_resize_work_bytes(grt_interp interp, int sw, int sh, int dw, int dh, int f64);

/* dst (dh x dw) = cv2.resize(src (sh x sw), (dw, dh), interpolation=interp) on uint8, bit-exact
 * with OpenCV 4.6 built for x86-64 (SSE2 baseline, no IPP). Strides are in elements. */
grt_status grt_resize_u8(const uint8_t *src, int sw, int sh, ptrdiff_t sstride, uint8_t *dst, int dw, int dh,
                         ptrdiff_t dstride, grt_interp interp, void *work, size_t work_bytes);
/* The same for float64 images; supports NEAREST, LINEAR and AREA (what the heat-map alignment
 * needs). */
grt_status grt_resize_f64(const double *src, int sw, int sh, ptrdiff_t sstride, double *dst, int dw, int dh,
                          ptrdiff_t dstride, grt_interp interp, void *work, size_t work_bytes);

/* ---- silhouette / parsing pretreatment -------------------------------------------------- */

typedef enum grt_pre_mode {
    GRT_PRE_SILHOUETTE = 0, /* datasets/pretreatment.py: INTER_CUBIC, sum threshold */
    GRT_PRE_CCPG = 1,       /* datasets/CCPG/organize_ccpg.py: INTER_AREA, no threshold */
    GRT_PRE_PARSING = 2,    /* pretreatment_gps.py -p: INTER_NEAREST on labels, mask drives the rest */
} grt_pre_mode;

/* Why a frame was not kept (0: kept). Values match gaitrt_frame_status. */
typedef enum grt_drop {
    GRT_DROP_NONE = 0,
    GRT_DROP_EMPTY = 1,     /* pixel sum (of the mask for parsing maps) <= 10000 */
    GRT_DROP_NO_CENTER = 2, /* no column passes half the mass, or the centre is column 0 */
    GRT_DROP_TOO_THIN = 3,  /* the resized width int(S * w / h) is 0 (cv2.resize would fail) */
    GRT_DROP_DECODE = 4,    /* the file could not be read or decoded */
    GRT_DROP_QUALITY = 5,   /* below the quality threshold (filter on) */
    GRT_DROP_TOO_WIDE = 6,  /* the resized width exceeds GRT_PRE_MAX_RESIZED_WIDTH */
} grt_drop;

/* A crop of 1 row of a very wide image would be stretched to S x (S * width): we refuse more
 * than this many columns rather than allocate without bound. */
#define GRT_PRE_MAX_RESIZED_WIDTH (1 << 20)

typedef struct grt_pre_opts {
    int img_size;      /* S: 64 (OpenGait's default) or 128; any even value >= 2 works */
    grt_pre_mode mode;
} grt_pre_opts;

grt_pre_opts grt_pre_default_opts(void);
const char *grt_drop_name(int why); /* "kept", "empty", "no centre", ... */

/* Pretreats one grey frame (h x w) into out (S x S, uint8). *why receives the drop reason
 * (GRT_DROP_NONE when the frame is kept; out is then written). The status is an error only for
 * bad arguments or memory. */
grt_status grt_pretreat_frame(const uint8_t *img, int w, int h, const grt_pre_opts *o, grt_pre_work *work,
                              uint8_t *out, int *why);

/* ---- frame quality ------------------------------------------------------------------------ */

/* Bits of grt_quality_stats.flags / gaitrt_frame_report.quality_flags: which checks failed. */
enum {
    GRT_QF_FG_RATIO = 1u << 0,   /* foreground share of the frame outside [fg_min, fg_max] */
    GRT_QF_ASPECT = 1u << 1,     /* bounding box height / width outside [aspect_min, aspect_max] */
    GRT_QF_FRAGMENTS = 1u << 2,  /* largest connected component holds < main_min of the foreground */
    GRT_QF_BORDER = 1u << 3,     /* the foreground touches the top or bottom edge (cut-off body) */
    GRT_QF_JUMP = 1u << 4,       /* centroid moved more than jump_max x box height vs both neighbours */
    GRT_QF_EMPTY = 1u << 5,      /* no foreground at all */
};

typedef struct grt_quality_params {
    int threshold;     /* a pixel is foreground when > threshold (127) */
    float fg_min;      /* 0.002 */
    float fg_max;      /* 0.60 */
    float aspect_min;  /* 1.0 */
    float aspect_max;  /* 5.0 */
    float main_min;    /* 0.75 */
    float jump_max;    /* 0.5 */
    float min_score;   /* 0.5: frames scoring below are dropped when filtering */
} grt_quality_params;

grt_quality_params grt_quality_default_params(void);

/* Per-frame measurements; the jump needs the neighbours and is filled by grt_quality_score_sequence. */
typedef struct grt_quality_stats {
    int64_t fg;            /* foreground pixels */
    int64_t area;          /* w * h */
    int bx0, by0, bx1, by1;/* bounding box, inclusive (bx1 < bx0 when empty) */
    int n_components;      /* 8-connected components */
    int64_t largest;       /* pixels of the largest component */
    int touches_tb;        /* foreground on the top or bottom row */
    int touches_lr;        /* foreground on the left or right column */
    double cx, cy;         /* centroid */
    double jump;           /* min over neighbours of the centroid shift / box height; -1 unknown */
    float score;           /* [0, 1] */
    unsigned flags;        /* GRT_QF_* that failed */
} grt_quality_stats;

grt_status grt_quality_measure(const uint8_t *img, int w, int h, const grt_quality_params *qp, grt_pre_work *work,
                               grt_quality_stats *out);
/* Fills jump, score and flags of n frames measured in sequence order. */
void grt_quality_score_sequence(grt_quality_stats *st, int n, const grt_quality_params *qp);

/* ---- sequences and datasets ---------------------------------------------------------------- */

typedef struct grt_frame_info {
    char *name;        /* file name inside the sequence folder */
    int status;        /* grt_drop */
    float quality;     /* score, or -1 when the quality filter is off */
    unsigned qflags;   /* GRT_QF_* */
    char *detail;      /* decode error text (status GRT_DROP_DECODE), else NULL */
} grt_frame_info;

typedef struct grt_seq_result {
    int n_files;            /* image files found (sorted by name) */
    grt_frame_info *files;
    int n_kept;             /* frames kept: T */
    int size;               /* S */
    uint8_t *frames;        /* T x S x S */
} grt_seq_result;

void grt_seq_result_release(grt_seq_result *r);

typedef struct grt_seq_opts {
    grt_pre_opts pre;
    int quality_filter;         /* 1: drop frames scoring below qp.min_score */
    grt_quality_params qp;
    grt_img_limits lim;
} grt_seq_opts;

grt_seq_opts grt_seq_default_opts(void);

/* 1 when the name ends in .png, .jpg or .jpeg (any case) and is not a gait-energy image. */
int grt_pre_is_frame_name(const char *name);

/* Pretreats the frames of one folder (files sorted by name, as OpenGait's sorted() does).
 * Unreadable frames are dropped and reported (status GRT_DROP_DECODE), not fatal. */
grt_status grt_pretreat_sequence_dir(const char *dir, const grt_seq_opts *o, grt_pre_work *w, grt_seq_result *out);

/* The same for frames already in memory (n frames of possibly different sizes). names may be NULL. */
grt_status grt_pretreat_sequence_frames(const uint8_t *const *imgs, const int *widths, const int *heights, int n,
                                        const char *const *names, const grt_seq_opts *o, grt_pre_work *w,
                                        grt_seq_result *out);

typedef struct grt_dataset_progress {
    int done, total;
    const char *sequence;          /* "<id>/<type>/<view>" */
    grt_status status;
    const char *error;             /* message when status != OK */
    const grt_seq_result *result;  /* per-frame report (frames already written and freed) */
    int written;                   /* 1 when a .pkl was written */
} grt_dataset_progress;

typedef void (*grt_dataset_progress_fn)(const grt_dataset_progress *p, void *user);

typedef struct grt_dataset_summary {
    int n_sequences;       /* sequence folders found */
    int n_written;         /* .pkl files written */
    int n_empty;           /* sequences without a valid frame (no file written, as OpenGait) */
    int n_failed;          /* sequences that failed (write errors, out of memory) */
    int64_t n_files;       /* image files seen */
    int64_t n_kept;        /* frames kept */
    int64_t n_dropped[8];  /* by grt_drop */
} grt_dataset_summary;

typedef struct grt_dataset_opts {
    grt_seq_opts seq;
    int n_threads;                  /* 0: all cores */
    grt_dataset_progress_fn progress; /* called once per sequence, serialised by a lock */
    void *progress_user;
} grt_dataset_opts;

/* Frames (.png, .jpg) in INPUT_ROOT/<id>/<type>/<view>/ -> OUTPUT_ROOT/<id>/<type>/<view>/<view>.pkl.
 * Sequences are processed by n_threads workers; a failing sequence does not stop the others
 * (the first failure is returned after all are done). */
grt_status grt_pretreat_dataset(const char *in_root, const char *out_root, const grt_dataset_opts *o,
                                grt_dataset_summary *summary);

/* ---- skeleton maps (SkeletonGait / SkeletonGait++) --------------------------------------------- */

typedef struct grt_pose {
    int n_frames;       /* T */
    int n_joints;       /* V: 17 (COCO) or 18 (OpenPose COCO-18) */
    int f64;            /* 1: data is double (numpy float64), 0: float (float32); arithmetic follows */
    void *data;         /* T x V x 3: x, y, confidence */
} grt_pose;

void grt_pose_release(grt_pose *p);

/* Reads keypoints from .pkl / .npy ([T, V, 3] or [T, V*3]) or JSON:
 *   {"frames": [{"keypoints": [[x, y, c], ...]}, ...]}   (keypoints may also be flat [x, y, c, ...];
 *   an empty list is a frame without a detection: all joints missing). */
grt_status grt_pose_load(const char *path, grt_pose *out);

typedef struct grt_skel_opts {
    int coco18;        /* -1: from the joint count (18 -> convert); 0: input is COCO-17; 1: COCO-18 */
    int fill_missing;  /* 1: k-NN filling of (0, 0) joints as KNNImputer(n_neighbors=4, weights="distance") */
    int canvas;        /* 128 */
    float sigma;       /* 8 */
    int out_size;      /* 64 */
    int align;         /* 1 */
} grt_skel_opts;

grt_skel_opts grt_skel_default_opts(void);

/* Renders [T, 2, S, S] uint8 maps (channel 0 limbs/bones, channel 1 joints) as OpenGait's
 * datasets/pretreatment_heatmap.py does. *n_degenerate (may be NULL) receives the number of
 * frames whose keypoints have no vertical extent (their maps are left empty). */
grt_status grt_skeleton_maps(const grt_pose *pose, const grt_skel_opts *o, uint8_t *out, size_t out_len,
                             int *n_degenerate);

/* A strict DEFLATE decoder (raw stream, no zlib header) that must fill out[0, out_len) exactly.
 * Returns the input bytes consumed, or -1 for anything it does not take (zlib then decides). */
ptrdiff_t grt_inflate_exact(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len);

/* The filling step alone (exposed for tests): X is a T x D table of coordinates where 0.0 means
 * missing, filled in place. */
grt_status grt_skel_knn_fill(double *X, int T, int D);

/* ---- small shared helpers -------------------------------------------------------------------- */

/* Reads a whole file into b (with a size limit). */
grt_status grt_pre_read_file(const char *path, size_t max_bytes, grt_buf *b, size_t *len);
/* Sorted list of the entries of a folder that pass keep() (NULL: all); dirs: 1 folders only,
 * 0 regular files only. Free with grt_pre_free_names. */
grt_status grt_pre_list_dir(const char *dir, int dirs, int (*keep)(const char *name), char ***names, int *n);
void grt_pre_free_names(char **names, int n);

#endif /* GRT_PREPROCESS_H */
