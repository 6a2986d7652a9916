/*
 * test_hostile_api.c — hostile checkpoints and dataset files (written by make_hostile.py)
 * through the public API, end to end: gaitrt_model_load and gaitrt_checkpoint_convert for
 * checkpoints, gaitrt_array_load and gaitrt_sequence_load for dataset .pkl files.
 *
 * Each must be refused with the status the manifest names and a one-line message that names
 * the file, says what is wrong and ends with a hint. Afterwards no payload may have run (no
 * PWNED_* marker in the folder), while the control proves the payloads are real (Python's own
 * unpickler ran one and left proof_payload_runs). The benign twin must pass every parser and
 * fail only as a state dict that fits no model.
 *
 * The unit-level cases of each reader (every opcode, every limit) are in tests/io/; this test
 * is about the entry points users call.
 *
 *     hardening_hostile_api DIR      (DIR holds manifest.tsv and the files)
 */
#include <dirent.h>
#include <unistd.h>

#include "gaitrt.h"
#include "test_util.h"

static char dir[1024];

static void check_message(const char *what, const char *path, gaitrt_status want, gaitrt_status got, const char *says) {
    const char *e = gaitrt_last_error();
    CHECK_MSG(got == want, "%s: status %s, expected %s: %s", what, gaitrt_status_str(got), gaitrt_status_str(want), e);
    CHECK_MSG(gaitrt_last_status() == got, "%s: gaitrt_last_status() is %d, returned %d", what, gaitrt_last_status(), got);
    CHECK_MSG(strstr(e, path) != NULL, "%s: the message does not name the file: %s", what, e);
    CHECK_MSG(!*says || strstr(e, says) != NULL, "%s: the message does not say '%s': %s", what, says, e);
    CHECK_MSG(strstr(e, "---> HINT:") != NULL, "%s: the message has no hint: %s", what, e);
    CHECK_MSG(strchr(e, '\n') == NULL, "%s: the message spans several lines: %s", what, e);
}

static int n_model, n_array;

static void model_case(const char *path, gaitrt_status want, const char *says) {
    gaitrt_model_params mp = gaitrt_model_default_params();
    gaitrt_model *m = gaitrt_model_load(path, &mp);
    CHECK_MSG(m == NULL, "%s loaded", path);
    if (m) {
        gaitrt_model_free(m);
        return;
    }
    check_message("gaitrt_model_load", path, want, gaitrt_last_status(), says);
    /* The converter reads the same file without building a model: every parser error must
     * come out the same; only a benign file (MODEL: fits no architecture) converts. */
    char out[1200];
    snprintf(out, sizeof out, "%s/converted.safetensors", dir);
    gaitrt_status st = gaitrt_checkpoint_convert(path, out);
    if (want == GAITRT_ERR_MODEL) {
        CHECK_MSG(st == GAITRT_OK, "%s: the benign file does not convert: %s", path, gaitrt_last_error());
        if (st == GAITRT_OK) {
            gaitrt_model *m2 = gaitrt_model_load(out, &mp);
            CHECK_MSG(m2 == NULL && gaitrt_last_status() == GAITRT_ERR_MODEL, "%s converted: %s", path, gaitrt_last_error());
            gaitrt_model_free(m2);
            unlink(out);
        }
    } else {
        check_message("gaitrt_checkpoint_convert", path, want, st, says);
        CHECK_MSG(access(out, F_OK) != 0, "%s: a refused file left %s behind", path, out);
    }
    n_model++;
}

static void array_case(gaitrt_model *m, const char *path, gaitrt_status want, const char *says) {
    gaitrt_array a;
    gaitrt_status st = gaitrt_array_load(path, &a);
    CHECK_MSG(st != GAITRT_OK, "%s loaded as an array", path);
    if (st == GAITRT_OK) gaitrt_array_free(&a);
    else check_message("gaitrt_array_load", path, want, st, says);
    if (m) {
        gaitrt_sequence_data d;
        st = gaitrt_sequence_load(m, path, NULL, &d);
        CHECK_MSG(st != GAITRT_OK, "%s loaded as a sequence", path);
        if (st == GAITRT_OK) gaitrt_sequence_data_free(&d);
        else check_message("gaitrt_sequence_load", path, want, st, says);
    }
    n_array++;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/manifest.tsv", dir);
    FILE *f = fopen(mpath, "r");
    if (!f) TEST_SKIP("%s missing (make_hostile.py did not run)", mpath);
    gaitrt_model *m = gaitrt_model_create_random("GaitBase:small", 1);
    CHECK_MSG(m != NULL, "random model: %s", gaitrt_last_error());
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *kind = strtok(line, "\t"), *name = strtok(NULL, "\t"), *status = strtok(NULL, "\t"), *says = strtok(NULL, "\t");
        if (!kind || !name || !status) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (!strcmp(kind, "model")) model_case(path, (gaitrt_status)atoi(status), says ? says : "");
        else array_case(m, path, (gaitrt_status)atoi(status), says ? says : "");
    }
    fclose(f);
    gaitrt_model_free(m);
    CHECK_MSG(n_model >= 30 && n_array >= 3, "only %d checkpoint and %d array cases in the manifest", n_model, n_array);

    /* Nothing ran: no marker. The control shows that the payloads do run elsewhere. */
    DIR *d = opendir(dir);
    int proof = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        CHECK_MSG(strncmp(e->d_name, "PWNED", 5) != 0, "a payload ran: %s/%s exists", dir, e->d_name);
        proof |= !strcmp(e->d_name, "proof_payload_runs");
    }
    if (d) closedir(d);
    CHECK_MSG(proof, "the control file proof_payload_runs is missing: the payloads were never shown to work");
    printf("%d hostile checkpoints and %d hostile dataset files refused; no payload ran\n", n_model - 1, n_array);
    return grt_test_finish("hardening_hostile_api");
}
