/* test_pre_decode.c — PNG / JPEG files decoded to grey against cv2.imread(..., IMREAD_GRAYSCALE):
 * grey 1/2/4/8/16-bit, colour 8/16-bit, RGBA, grey+alpha, palettes (with tRNS), gAMA/sRGB,
 * Adam7, EXIF orientations (PNG eXIf and JPEG APP1), baseline/progressive/4:4:4/CMYK JPEG.
 * Then malformed files: each must fail with a one-line error that names the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pre_testdata.h"
#include "preprocess/preprocess.h"

static uint32_t grt_test_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

int main(void) {
    char dir[1024], path[1400];
    td_ref_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/decode.bin", dir);
    td_file f;
    if (!td_load(path, &f)) return 1;
    grt_pre_work w;
    grt_pre_work_init(&w);
    int n_files = 0, n_exact = 0;
    for (int i = 0; i < f.n; i++) {
        const td_array *a = &f.a[i];
        if (strncmp(a->name, "img/", 4)) continue;
        const char *fname = a->name + 4;
        snprintf(path, sizeof path, "%s/decode/%s", dir, fname);
        grt_gray g;
        grt_status st = grt_image_decode_file(path, NULL, &w, &g);
        n_files++;
        if (st) {
            CHECK_MSG(0, "%s: %s", fname, gaitrt_last_error());
            continue;
        }
        int H = (int)a->shape[0], W = (int)a->shape[1];
        if (g.width != W || g.height != H) {
            CHECK_MSG(0, "%s: size %dx%d, cv2 %dx%d", fname, g.width, g.height, W, H);
            continue;
        }
        const uint8_t *ref = a->data;
        int bad = 0, maxd = 0, first = -1;
        for (int k = 0; k < W * H; k++) {
            int d = abs((int)g.data[k] - (int)ref[k]);
            if (d) {
                if (first < 0) first = k;
                bad++;
                if (d > maxd) maxd = d;
            }
        }
        printf("%-22s %3dx%-3d %s", fname, W, H, bad ? "DIFFERS" : "identical");
        if (bad) printf(" (%d pixels, max %d; first at %d: ours %d cv2 %d)", bad, maxd, first, g.data[first], ref[first]);
        printf("\n");
        CHECK_MSG(bad == 0, "%s differs from cv2.imread", fname);
        if (!bad) n_exact++;
    }
    printf("%d/%d files identical to cv2.imread\n", n_exact, n_files);

    /* The fast grey-PNG path against libspng on the same bytes: every test file, every real
     * frame, and random corruptions of both (same status, same pixels). */
    grt_pre_work ws;
    grt_pre_work_init(&ws);
    ws.png_no_fast = 1;
    int n_cmp = 0, n_cmp_ok = 0;
    uint64_t rng = 12345;
    for (int i = 0; i < f.n; i++) {
        const td_array *a = &f.a[i];
        if (strncmp(a->name, "img/", 4) || !strstr(a->name, ".png")) continue;
        snprintf(path, sizeof path, "%s/decode/%s", dir, a->name + 4);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        static uint8_t buf[1 << 20], mut[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        for (int m = 0; m < 60; m++) {
            memcpy(mut, buf, n);
            size_t len = n;
            if (m > 0) { /* flip a few bytes, sometimes with a consistent CRC so the chunk is still accepted */
                int k = 1 + (int)(rng % 3);
                for (int j = 0; j < k; j++) {
                    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                    size_t at = 8 + (size_t)(rng >> 33) % (n - 8);
                    mut[at] ^= (uint8_t)(1u << ((rng >> 20) & 7));
                }
                if (m % 3 == 0) { /* recompute every chunk CRC */
                    size_t q = 8;
                    while (q + 12 <= len) {
                        uint32_t cl = (uint32_t)mut[q] << 24 | (uint32_t)mut[q + 1] << 16 | (uint32_t)mut[q + 2] << 8 | mut[q + 3];
                        if (cl > len - q - 12) break;
                        uint32_t c = grt_test_crc32(mut + q + 4, cl + 4);
                        mut[q + 8 + cl] = (uint8_t)(c >> 24), mut[q + 9 + cl] = (uint8_t)(c >> 16);
                        mut[q + 10 + cl] = (uint8_t)(c >> 8), mut[q + 11 + cl] = (uint8_t)c;
                        q += 12 + cl;
                    }
                }
            }
            grt_gray g1, g2;
            grt_status s1 = grt_image_decode_mem(mut, len, "mutant.png", NULL, &w, &g1);
            grt_status s2 = grt_image_decode_mem(mut, len, "mutant.png", NULL, &ws, &g2);
            n_cmp++;
            int same = (s1 == GRT_OK) == (s2 == GRT_OK);
            if (same && s1 == GRT_OK)
                same = g1.width == g2.width && g1.height == g2.height && !memcmp(g1.data, g2.data, (size_t)g1.width * g1.height);
            if (!same && m == 0) CHECK_MSG(0, "%s: fast path and libspng disagree", a->name);
            /* on corrupted files the two decoders may legitimately disagree about *whether* to
             * accept a damaged ancillary chunk, but never about pixels they both produce */
            if (s1 == GRT_OK && s2 == GRT_OK && !same) CHECK_MSG(0, "%s mutation %d: different pixels", a->name, m);
            n_cmp_ok += same;
        }
    }
    printf("fast grey PNG path vs libspng: %d decodes compared, %d agree in status and pixels\n", n_cmp, n_cmp_ok);
    grt_pre_work_release(&ws);
    CHECK(n_files >= 40);

    /* malformed files */
    const char *bad_files[] = {"empty.png", "garbage.png", "truncated.png", "header_only.png", "bad_crc.png",
                               "huge.png", "zero_width.png", "truncated.jpg", "garbage.jpg", "text.png"};
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        snprintf(path, sizeof path, "%s/decode_bad/%s", dir, bad_files[i]);
        grt_gray g;
        grt_status st = grt_image_decode_file(path, NULL, &w, &g);
        const char *e = gaitrt_last_error();
        printf("%-16s -> %s: %s\n", bad_files[i], gaitrt_status_str(st), e);
        CHECK_MSG(st != GRT_OK, "%s decoded", bad_files[i]);
        CHECK_MSG(strstr(e, bad_files[i]) != NULL, "error does not name the file: %s", e);
        CHECK_MSG(strchr(e, '\n') == NULL, "error is not one line");
    }
    snprintf(path, sizeof path, "%s/decode_bad/huge.png", dir);
    grt_gray g;
    CHECK(grt_image_decode_file(path, NULL, &w, &g) == GAITRT_ERR_LIMIT);
    snprintf(path, sizeof path, "%s/decode_bad/does-not-exist.png", dir);
    CHECK(grt_image_decode_file(path, NULL, &w, &g) == GAITRT_ERR_IO);

    /* limits are configurable */
    grt_img_limits lim = grt_img_default_limits();
    grt_status st0;
    lim.max_width = 40;
    snprintf(path, sizeof path, "%s/decode/grey8.png", dir);
    CHECK(grt_image_decode_file(path, &lim, &w, &g) == GAITRT_ERR_LIMIT);
    snprintf(path, sizeof path, "%s/decode/bgr.jpg", dir);
    st0 = grt_image_decode_file(path, &lim, &w, &g);
    CHECK_MSG(st0 == GAITRT_ERR_LIMIT, "%s", gaitrt_last_error());
    lim = grt_img_default_limits();
    lim.max_file_bytes = 100;
    CHECK(grt_image_decode_file(path, &lim, &w, &g) == GAITRT_ERR_LIMIT);

    /* memory decoding, every prefix of a small PNG and JPEG: never crashes, always an error
     * until the file is complete */
    const char *whole[] = {"grey8.png", "bgr.jpg", "palette4.png", "exif6.jpg"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/decode/%s", dir, whole[k]);
        FILE *fp = fopen(path, "rb");
        CHECK(fp != NULL);
        if (!fp) continue;
        uint8_t *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, 1 << 20, fp);
        fclose(fp);
        int ok_prefix = 0;
        for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 7)) {
            uint8_t *cp = malloc(cut ? cut : 1);
            memcpy(cp, buf, cut);
            grt_status st = grt_image_decode_mem(cp, cut, whole[k], NULL, &w, &g);
            if (st == GRT_OK) {
                ok_prefix++;
                printf("  %s: prefix of %zu/%zu bytes decoded\n", whole[k], cut, n);
            }
            free(cp);
        }
        CHECK_MSG(ok_prefix == 0, "%s: %d truncated prefixes decoded without error", whole[k], ok_prefix);
        st0 = grt_image_decode_mem(buf, n, whole[k], NULL, &w, &g);
        CHECK_MSG(st0 == GRT_OK, "%s", gaitrt_last_error());
        free(buf);
    }
    grt_pre_work_release(&w);
    td_free(&f);
    return grt_test_finish("test_pre_decode");
}
