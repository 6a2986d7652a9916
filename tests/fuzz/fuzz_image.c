/*
 * fuzz_image.c — fuzz target for frame decoding (src/preprocess/image_decode.c): PNG through
 * libspng and JPEG through TurboJPEG, to 8-bit grey with the EXIF orientation applied, via
 * grt_image_decode_mem on any bytes.
 *
 * We decode each input twice with the same working memory, as a sequence of frames reuses it
 * (and the JPEG decoder handle, which must survive an earlier failure). The limits are smaller
 * than the defaults (1 Mpx instead of 64) so that a tiny header claiming a huge image costs
 * milliseconds, not seconds; the code paths are the same. The codec libraries themselves are
 * not instrumented here: what we check is how we call them and what we do with their output.
 */
#include "fuzz_util.h"
#include "preprocess/preprocess.h"

#define NAME "fuzz.png"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    grt_img_limits lim = grt_img_default_limits();
    lim.max_width = 4096;
    lim.max_height = 4096;
    lim.max_pixels = (uint64_t)1 << 20;
    grt_pre_work w;
    grt_pre_work_init(&w);
    for (int pass = 0; pass < 2; pass++) {
        grt_gray g;
        grt_status st = grt_image_decode_mem(data, size, NAME, &lim, &w, &g);
        if (st) {
            fuzz_check_error(st, NAME);
            continue;
        }
        if (g.width <= 0 || g.height <= 0 || (uint64_t)g.width * (uint64_t)g.height > lim.max_pixels || !g.data)
            fuzz_fail("decoded image has a bad size", NAME);
        fuzz_touch(g.data, (size_t)g.width * (size_t)g.height);
    }
    grt_pre_work_release(&w);
    return 0;
}
