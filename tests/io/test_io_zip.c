/* test_io_zip.c — the zip reader on archives built here: stored and deflated entries, the
 * zip64 records torch writes, and broken ones: truncation at every 1/16th, entries out of
 * range, bad CRCs, lying sizes, zip bombs, random bit flips. Runs without Python. */
#include "io_test.h"
#include "io/zip.h"

static const char *NAME = "unit.zip";

static void test_roundtrip(int zip64) {
    uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 7 == 0 ? i : 0);
    tzip_entry e[] = {
        {"a/data.pkl", (const uint8_t *)"hello", 5, 0, -1},
        {"a/data/0", big, sizeof big, 1, -1},
        {"a/empty", (const uint8_t *)"", 0, 0, -1},
        {"a/empty_deflated", (const uint8_t *)"", 0, 1, -1},
    };
    tb b = {0};
    tzip_build(&b, e, 4, zip64);
    grt_zip z;
    CHECK(grt_zip_open(&z, b.p, b.n, NAME) == GRT_OK);
    CHECK(z.n == 4);
    CHECK(grt_zip_find(&z, "a/data.pkl") == 0);
    CHECK(grt_zip_find(&z, "a/data/0") == 1);
    CHECK(grt_zip_find(&z, "a/data/1") == -1);
    CHECK(grt_zip_find(&z, "a/data") == -1);
    const uint8_t *p;
    size_t n;
    uint8_t *owned;
    CHECK(grt_zip_read(&z, 0, &p, &n, &owned) == GRT_OK && n == 5 && !memcmp(p, "hello", 5) && !owned);
    CHECK(grt_zip_read(&z, 1, &p, &n, &owned) == GRT_OK && n == sizeof big && !memcmp(p, big, n) && owned);
    grt_free(owned);
    CHECK(grt_zip_read(&z, 2, &p, &n, &owned) == GRT_OK && n == 0);
    CHECK(grt_zip_read(&z, 3, &p, &n, &owned) == GRT_OK && n == 0);
    grt_free(owned);
    grt_zip_close(&z);

    /* A corrupted byte inside a stored entry: the CRC catches it. */
    size_t at = 30 + strlen("a/data.pkl") + 1;
    b.p[at] ^= 0x20;
    CHECK(grt_zip_open(&z, b.p, b.n, NAME) == GRT_OK);
    CHECK_ERR(grt_zip_read(&z, 0, &p, &n, &owned), GAITRT_ERR_FORMAT, NAME);
    CHECK(strstr(gaitrt_last_error(), "CRC") != NULL);
    grt_zip_close(&z);
    tb_free(&b);
}

static void test_broken(void) {
    const char *msg = "some payload bytes";
    tzip_entry e[] = {{"x/data.pkl", (const uint8_t *)msg, strlen(msg), 0, -1}};
    tb b = {0};
    tzip_build(&b, e, 1, 0);
    grt_zip z;
    /* Central directory offset beyond the file. */
    tb c = {0};
    tb_raw(&c, b.p, b.n);
    memcpy(c.p + c.n - 6, "\xff\xff\xff\x7f", 4);
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_FORMAT, NAME);
    /* Too many entries for the directory size. */
    memcpy(c.p, b.p, b.n);
    c.p[c.n - 12] = 0xff;
    c.p[c.n - 11] = 0x00;
    c.p[c.n - 14] = 0xff;
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_FORMAT, NAME);
    /* Local header offset pointing past the end. */
    memcpy(c.p, b.p, b.n);
    size_t cd = 30 + strlen("x/data.pkl") + strlen(msg);
    memcpy(c.p + cd + 42, "\x00\x00\x00\x70", 4);
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_FORMAT, NAME);
    /* Entry size beyond the file. */
    memcpy(c.p, b.p, b.n);
    memcpy(c.p + cd + 20, "\x00\x00\x10\x00", 4);
    memcpy(c.p + cd + 24, "\x00\x00\x10\x00", 4);
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_FORMAT, NAME);
    /* Stored entry whose sizes disagree. */
    memcpy(c.p, b.p, b.n);
    c.p[cd + 24] ^= 1;
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_FORMAT, NAME);
    /* Local header name differs from the directory's. */
    memcpy(c.p, b.p, b.n);
    c.p[30] = 'y';
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_FORMAT, NAME);
    /* Compression method 12 (bzip2) is not for us. */
    memcpy(c.p, b.p, b.n);
    c.p[cd + 10] = 12;
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_UNSUPPORTED, NAME);
    /* Encrypted. */
    memcpy(c.p, b.p, b.n);
    c.p[cd + 8] = 1;
    CHECK_ERR(grt_zip_open(&z, c.p, c.n, NAME), GAITRT_ERR_UNSUPPORTED, NAME);
    /* Not a zip at all, and empty input. */
    CHECK_ERR(grt_zip_open(&z, (const uint8_t *)"hello world, not a zip archive", 30, NAME), GAITRT_ERR_FORMAT, NAME);
    CHECK_ERR(grt_zip_open(&z, (const uint8_t *)"", 0, NAME), GAITRT_ERR_FORMAT, NAME);
    /* The same name twice. */
    tzip_entry d[] = {{"x/a", (const uint8_t *)"1", 1, 0, -1}, {"x/a", (const uint8_t *)"2", 1, 0, -1}};
    tb dd = {0};
    tzip_build(&dd, d, 2, 0);
    CHECK_ERR(grt_zip_open(&z, dd.p, dd.n, NAME), GAITRT_ERR_FORMAT, NAME);
    tb_free(&dd);
    /* zip64 locator pointing nowhere. */
    tb z64 = {0};
    tzip_build(&z64, e, 1, 1);
    z64.p[z64.n - 22 - 20 + 8] ^= 0x40;
    CHECK_ERR(grt_zip_open(&z, z64.p, z64.n, NAME), GAITRT_ERR_FORMAT, NAME);
    tb_free(&z64);
    tb_free(&c);
    tb_free(&b);
}

static void test_bombs(void) {
    /* 64 MiB of zeros deflate to ~64 KiB: a plausible ratio for one entry, but we declare a
     * size far beyond it, and separately a huge entry in a tiny archive. */
    size_t n = (size_t)1 << 20;
    uint8_t *zeros = calloc(1, n);
    grt_zip z;
    tzip_entry e1[] = {{"b/data/0", zeros, n, 1, (int64_t)1 << 36}};
    tb b = {0};
    tzip_build(&b, e1, 1, 1);
    CHECK_ERR(grt_zip_open(&z, b.p, b.n, NAME), GAITRT_ERR_LIMIT, NAME);
    CHECK(strstr(gaitrt_last_error(), "zip bomb") != NULL);
    tb_free(&b);
    /* Sum over entries: 40 entries each claiming 1000x their compressed size. */
    tzip_entry many[40];
    char names[40][32];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "b/data/%d", i);
        many[i] = (tzip_entry){names[i], zeros, n, 1, -1};
    }
    tzip_build(&b, many, 40, 0);
    /* Each entry inflates to 1 MiB from ~1 KiB: 40 MiB from ~40 KiB is within 64x + 256 MiB,
     * so this one is fine; now claim 16x more per entry. */
    CHECK(grt_zip_open(&z, b.p, b.n, NAME) == GRT_OK);
    grt_zip_close(&z);
    tb_free(&b);
    for (int i = 0; i < 40; i++) many[i].fake_size = (int64_t)n * 1000;
    tzip_build(&b, many, 40, 1);
    CHECK_ERR(grt_zip_open(&z, b.p, b.n, NAME), GAITRT_ERR_LIMIT, NAME);
    tb_free(&b);
    /* A stream longer than declared: inflating stops at the declared size. */
    tzip_entry e2[] = {{"b/data/0", zeros, 100000, 1, 5000}};
    tzip_build(&b, e2, 1, 0);
    CHECK(grt_zip_open(&z, b.p, b.n, NAME) == GRT_OK);
    const uint8_t *p;
    size_t len;
    uint8_t *owned;
    CHECK_ERR(grt_zip_read(&z, 0, &p, &len, &owned), GAITRT_ERR_FORMAT, NAME);
    CHECK(owned == NULL);
    grt_zip_close(&z);
    tb_free(&b);
    /* And shorter than declared. */
    tzip_entry e3[] = {{"b/data/0", zeros, 1000, 1, 5000}};
    tzip_build(&b, e3, 1, 0);
    CHECK(grt_zip_open(&z, b.p, b.n, NAME) == GRT_OK);
    CHECK_ERR(grt_zip_read(&z, 0, &p, &len, &owned), GAITRT_ERR_FORMAT, NAME);
    grt_zip_close(&z);
    tb_free(&b);
    free(zeros);
}

/* Every prefix that cuts the archive at k/16 of its length, and random bit flips: errors
 * or success, never a crash (ASan watches). */
static void test_fuzzish(void) {
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 13);
    tzip_entry e[] = {{"f/data.pkl", data, 200, 0, -1}, {"f/data/0", data, sizeof data, 1, -1},
                      {"f/version", (const uint8_t *)"3\n", 2, 0, -1}};
    tb b = {0};
    tzip_build(&b, e, 3, 1);
    for (int k = 0; k < 16; k++) {
        size_t n = b.n * (size_t)k / 16;
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, b.p, n);
        grt_zip z;
        CHECK_ERR(grt_zip_open(&z, cut, n, NAME), GAITRT_ERR_FORMAT, NAME);
        free(cut);
    }
    grt_rng rng = {42};
    uint8_t *m = malloc(b.n);
    int opened = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, b.p, b.n);
        int flips = 1 + (int)(grt_rng_next(&rng) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)(grt_rng_next(&rng) % b.n);
            m[at] ^= (uint8_t)(1u << (grt_rng_next(&rng) % 8));
        }
        grt_zip z;
        if (grt_zip_open(&z, m, b.n, NAME) != GRT_OK) {
            CHECK_MSG(strstr(gaitrt_last_error(), NAME) != NULL, "%s", gaitrt_last_error());
            continue;
        }
        opened++;
        for (int i = 0; i < z.n; i++) {
            const uint8_t *p;
            size_t len;
            uint8_t *owned;
            if (grt_zip_read(&z, i, &p, &len, &owned) == GRT_OK) grt_free(owned);
        }
        grt_zip_close(&z);
    }
    CHECK(opened > 0);
    free(m);
    tb_free(&b);
}

int main(void) {
    test_roundtrip(0);
    test_roundtrip(1);
    test_broken();
    test_bombs();
    test_fuzzish();
    return grt_test_finish("test_io_zip");
}
