/* test_pre_cli.c — `gaitrt pretreat` (tools/gaitrt/cmd_pretreat.c, compiled into this test):
 * a run over the synthetic dataset root checked with Python's pickle.load against the
 * reference, the --report file, --quality-filter, and usage errors (exit 1, one line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pre_testdata.h"
#include "cli.h"

/* The command line's main.c maps statuses to exit codes; the test does not link main.c. */
int cli_exit_code(gaitrt_status st) { return st == GAITRT_OK ? 0 : 10 + (int)st; }

static int run(int argc, const char **argv) { return grt_cmd_pretreat(argc, (char **)argv); }

int main(void) {
    char ref[1024], in[1400], out[1400], report[1400], cmd[4096];
    td_ref_dir(ref, sizeof ref);
    const char *build = grt_test_env("GRT_BUILD_DIR", ".");
    snprintf(in, sizeof in, "%s/seq_synth", ref);
    snprintf(out, sizeof out, "%s/pre_out/cli64", build);
    snprintf(report, sizeof report, "%s/pre_out/cli_report.tsv", build);
    /* the report is opened before pretreat makes the output folder: its folder must exist even
       when this test runs before every other one that writes under pre_out */
    snprintf(cmd, sizeof cmd, "%s/pre_out", build);
    mkdir(cmd, 0777);
    const char *a1[] = {"pretreat", in, out, "--threads", "2", "--report", report};
    int rc = run(7, a1);
    CHECK(rc == 0);
    snprintf(cmd, sizeof cmd, "%s %s/tests/reference/pre_check_pkl.py '%s' '%s' 64 sil", grt_test_env("GRT_PYTHON", "/usr/bin/python3"),
             grt_test_env("GRT_SOURCE_DIR", ".."), in, out);
    int prc = system(cmd);
    prc = prc == -1 ? 1 : WEXITSTATUS(prc);
    if (prc == 77) printf("SKIPPED: pickle check (python3-opencv missing)\n");
    else CHECK(prc == 0);
    /* the report lists the dropped frames of the edge-case sequence */
    FILE *f = fopen(report, "r");
    CHECK(f != NULL);
    int lines = 0, edge = 0;
    char line[2048];
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        if (!strncmp(line, "edge/cases/000\t", 15)) edge++;
    }
    if (f) fclose(f);
    printf("report: %d lines, %d for edge/cases/000\n", lines, edge);
    CHECK(lines >= 2 && edge >= 2);

    const char *a2[] = {"pretreat", in, out, "--img-size=128", "--quality-filter", "--quiet", "-j", "1"};
    CHECK(run(8, a2) == 0);
    const char *a3[] = {"pretreat", in, out, "--ccpg", "--parsing"};
    CHECK(run(5, a3) == 1);
    const char *a4[] = {"pretreat", in};
    CHECK(run(2, a4) == 1);
    const char *a5[] = {"pretreat", in, out, "--img-size", "65"};
    CHECK(run(5, a5) == 1);
    const char *a6[] = {"pretreat", in, out, "--bogus"};
    CHECK(run(4, a6) == 1);
    const char *a7[] = {"pretreat", "/nonexistent/root", out, "--quiet"};
    rc = run(4, a7);
    CHECK(rc != 0 && rc != 1);
    const char *a8[] = {"pretreat", in, out, "--threads"};
    CHECK(run(4, a8) == 1);
    const char *a9[] = {"pretreat", "--help"};
    CHECK(run(2, a9) == 0);
    return grt_test_finish("test_pre_cli");
}
