/*
 * fuzz_pose.c — fuzz target for keypoint files (src/preprocess/pose_io.c): JSON, .npy and .pkl
 * through grt_pose_load, then the first frames through grt_skeleton_maps (non-finite and huge
 * coordinates, missing joints, degenerate frames).
 *
 * grt_pose_load reads a path and picks the reader by its extension, so the first byte of the
 * input picks the extension and the rest is written to a private temporary file. The .npy and
 * .pkl readers underneath have their own targets; this one is about the JSON layout and turning
 * arrays of any dtype and shape into poses. At most 4 frames are rendered per input (the
 * filling step is quadratic in the frame count by design).
 */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "preprocess/preprocess.h"

static char path[3][256];

static void make_paths(void) {
    if (path[0][0]) return;
    const char *tmp = getenv("TMPDIR");
    static const char *ext[3] = {"json", "npy", "pkl"};
    for (int i = 0; i < 3; i++)
        snprintf(path[i], sizeof path[i], "%s/gaitrt_fuzz_pose_%ld.%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(), ext[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    make_paths();
    const char *p = path[data[0] % 3];
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    size_t off = 1;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
    grt_pose pose;
    grt_status st = grt_pose_load(p, &pose);
    unlink(p);
    if (st) {
        fuzz_check_error(st, p);
        return 0;
    }
    if (pose.n_frames < 0 || (pose.n_joints != 17 && pose.n_joints != 18) || (pose.n_frames && !pose.data))
        fuzz_fail("pose with a bad size", p);
    fuzz_touch(pose.data, (size_t)pose.n_frames * pose.n_joints * 3 * (pose.f64 ? 8 : 4));
    grt_pose head = pose;
    if (head.n_frames > 4) head.n_frames = 4;
    grt_skel_opts o = grt_skel_default_opts();
    size_t need = (size_t)head.n_frames * 2 * o.out_size * o.out_size;
    uint8_t *maps = malloc(need ? need : 1);
    int degenerate = 0;
    if (maps) {
        st = grt_skeleton_maps(&head, &o, maps, need, &degenerate);
        /* The pose is valid, so the only acceptable refusal is running out of memory. */
        if (st && st != GAITRT_ERR_NOMEM) fuzz_fail("skeleton maps refused a loaded pose", gaitrt_last_error());
        if (degenerate < 0 || degenerate > head.n_frames) fuzz_fail("degenerate frame count out of range", p);
        free(maps);
    }
    grt_pose_release(&pose);
    return 0;
}
