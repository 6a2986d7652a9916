/* cmd_profile.c — `gaitrt profile compare A.json B.json`: two profiles (from `gaitrt embed
 * --profile`) side by side: total and per-layer time, with the ratio B/A. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static cJSON *load_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gaitrt profile: %s: cannot open\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 && n < (1L << 30) ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "gaitrt profile: %s: cannot read\n", path);
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j || !cJSON_IsArray(cJSON_GetObjectItem(j, "layers"))) {
        fprintf(stderr, "gaitrt profile: %s: not a gaitrt profile (no \"layers\") ---> HINT: write one with gaitrt embed --profile\n", path);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int grt_cmd_profile(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "compare") != 0) {
        fprintf(stderr, "usage: gaitrt profile compare A.json B.json\n");
        return 1;
    }
    cJSON *a = load_json(argv[2]), *b = a ? load_json(argv[3]) : NULL;
    if (!a || !b) {
        cJSON_Delete(a);
        return 4;
    }
    const cJSON *la = cJSON_GetObjectItem(a, "layers"), *lb = cJSON_GetObjectItem(b, "layers");
    double ta = 0, tb = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, la) ta += num(x, "ms");
    cJSON_ArrayForEach(x, lb) tb += num(x, "ms");
    const cJSON *sa = cJSON_GetObjectItem(a, "session"), *sb = cJSON_GetObjectItem(b, "session");
    const cJSON *ba = cJSON_GetObjectItem(sa, "backend"), *bb = cJSON_GetObjectItem(sb, "backend");
    printf("A: %s (%s)\nB: %s (%s)\n", argv[2], cJSON_IsString(ba) ? ba->valuestring : "?", argv[3],
           cJSON_IsString(bb) ? bb->valuestring : "?");
    printf("%-32s %12s %12s %8s\n", "layer", "A ms", "B ms", "B/A");
    cJSON_ArrayForEach(x, la) {
        const cJSON *nm = cJSON_GetObjectItem(x, "name");
        if (!cJSON_IsString(nm)) continue;
        double ma = num(x, "ms"), mb = -1;
        const cJSON *y;
        cJSON_ArrayForEach(y, lb) {
            const cJSON *n2 = cJSON_GetObjectItem(y, "name");
            if (cJSON_IsString(n2) && !strcmp(n2->valuestring, nm->valuestring)) mb = (mb < 0 ? 0 : mb) + num(y, "ms");
        }
        if (mb >= 0)
            printf("%-32s %12.3f %12.3f %8.2f\n", nm->valuestring, ma, mb, ma > 0 ? mb / ma : 0);
        else
            printf("%-32s %12.3f %12s %8s\n", nm->valuestring, ma, "(fused)", "");
    }
    printf("%-32s %12.3f %12.3f %8.2f\n", "total", ta, tb, ta > 0 ? tb / ta : 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return 0;
}
