/*
 * public_api.h — the preprocessing part of the public API, written as it is meant to appear in
 * include/gaitrt.h (it will be merged there; until then the command line and api.c include it
 * after gaitrt.h). Plain C, gaitrt_ names, GAITRT_API, the status enum and gaitrt_last_error()
 * of gaitrt.h. Not an internal header: nothing here exposes grt_ types.
 *
 * Usage:
 *
 *     gaitrt_pretreat_params p = gaitrt_pretreat_default_params();   // 64 x 64, silhouettes
 *     gaitrt_pretreat_summary sum;
 *     if (gaitrt_pretreat_dir("CASIA-B-raw", "CASIA-B-pkl", &p, &sum) != GAITRT_OK)
 *         fprintf(stderr, "%s\n", gaitrt_last_error());
 *
 *     gaitrt_pretreat_result r;
 *     gaitrt_pretreat_sequence("CASIA-B-raw/001/nm-01/090", &p, &r);  // r.frames: T x 64 x 64
 *     for (int i = 0; i < r.n_files; i++)
 *         if (r.files[i].status != GAITRT_FRAME_KEPT)
 *             printf("%s: %s\n", r.files[i].name, gaitrt_frame_status_str(r.files[i].status));
 *     gaitrt_pretreat_result_release(&r);
 */
#ifndef GAITRT_PREPROCESS_PUBLIC_API_H
#define GAITRT_PREPROCESS_PUBLIC_API_H

#include <stddef.h>
#include <stdint.h>

#include "gaitrt.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif /* GAITRT_PREPROCESS_PUBLIC_API_H */
