/* pre_testdata.h — reader for the reference files tests/reference/pre_reference.py writes:
 * a magic "GRTPRE" + version, then named arrays (uint8, int32, float32, float64) with shapes.
 * Test-only code: it aborts the test on malformed files rather than reporting them nicely. */
#ifndef GRT_PRE_TESTDATA_H
#define GRT_PRE_TESTDATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

enum { TD_U8 = 0, TD_I32 = 1, TD_F32 = 2, TD_F64 = 3 };

typedef struct td_array {
    char name[256];
    int dtype;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    void *data;
} td_array;

typedef struct td_file {
    int n;
    td_array *a;
} td_file;

static inline size_t td_elem(int dt) { return dt == TD_U8 ? 1 : dt == TD_F64 ? 8 : 4; }

static inline int td_load(const char *path, td_file *f) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    char magic[8];
    uint32_t n;
    if (fread(magic, 1, 8, fp) != 8 || memcmp(magic, "GRTPRE\0\1", 8) || fread(&n, 4, 1, fp) != 1) {
        fclose(fp);
        fprintf(stderr, "%s: not a reference file (magic/version)\n", path);
        return 0;
    }
    f->a = calloc(n ? n : 1, sizeof(td_array));
    f->n = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        td_array *a = &f->a[i];
        uint16_t nl;
        uint8_t dt, nd;
        if (fread(&nl, 2, 1, fp) != 1 || nl >= sizeof a->name || fread(a->name, 1, nl, fp) != nl ||
            fread(&dt, 1, 1, fp) != 1 || fread(&nd, 1, 1, fp) != 1 || nd > 8) {
            fprintf(stderr, "%s: truncated record %u\n", path, i);
            fclose(fp);
            return 0;
        }
        a->name[nl] = 0;
        a->dtype = dt;
        a->ndim = nd;
        a->numel = 1;
        for (int d = 0; d < nd; d++) {
            uint32_t v;
            if (fread(&v, 4, 1, fp) != 1) {
                fclose(fp);
                return 0;
            }
            a->shape[d] = v;
            a->numel *= v;
        }
        size_t nb = (size_t)a->numel * td_elem(dt);
        a->data = malloc(nb ? nb : 1);
        if (nb && fread(a->data, 1, nb, fp) != nb) {
            fprintf(stderr, "%s: truncated data of %s\n", path, a->name);
            fclose(fp);
            return 0;
        }
    }
    fclose(fp);
    return 1;
}

static inline void td_free(td_file *f) {
    for (int i = 0; i < f->n; i++) free(f->a[i].data);
    free(f->a);
    memset(f, 0, sizeof *f);
}

static inline const td_array *td_get(const td_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->a[i].name, name)) return &f->a[i];
    return NULL;
}

/* The reference data folder, or a skip (exit 77) when the reference could not be built
 * (the generator writes SKIPPED there when python3-opencv is missing). */
static inline const char *td_ref_dir(char *buf, size_t len) {
    const char *ref = grt_test_env("GRT_REF_DIR", "ref");
    snprintf(buf, len, "%s/pre", ref);
    char p[2048];
    snprintf(p, sizeof p, "%s/SKIPPED", buf);
    FILE *f = fopen(p, "r");
    if (f) {
        char why[512] = {0};
        if (!fgets(why, sizeof why, f)) why[0] = 0;
        why[strcspn(why, "\n")] = 0;
        fclose(f);
        TEST_SKIP("preprocessing reference data unavailable: %s", why);
    }
    snprintf(p, sizeof p, "%s/DONE", buf);
    f = fopen(p, "r");
    if (!f) TEST_SKIP("preprocessing reference data missing in %s (run the pre_reference fixture)", buf);
    fclose(f);
    return buf;
}

#endif
