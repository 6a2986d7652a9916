/* cli.h — shared pieces of the gaitrt command line (public API only). */
#ifndef GAITRT_CLI_H
#define GAITRT_CLI_H

#include "gaitrt.h"

int grt_cmd_info(int argc, char **argv);
int grt_cmd_embed(int argc, char **argv);
int grt_cmd_bench(int argc, char **argv);
int grt_cmd_convert(int argc, char **argv);
int grt_cmd_check(int argc, char **argv);
int grt_cmd_profile(int argc, char **argv);
int grt_cmd_enroll(int argc, char **argv);
int grt_cmd_identify(int argc, char **argv);
int grt_cmd_eval(int argc, char **argv);
int grt_cmd_heatmap(int argc, char **argv);
int grt_cmd_pretreat(int argc, char **argv);

/* Exit codes: 0 ok, 1 usage, then one per status class. */
int cli_exit_code(gaitrt_status st);
/* Prints "gaitrt <cmd>: <last error>" and returns the exit code. */
int cli_fail(const char *cmd, gaitrt_status st);
int cli_parse_level(const char *s, gaitrt_level *out);
int cli_parse_precision(const char *s, gaitrt_precision *out);
int cli_parse_device(const char *s, gaitrt_device_kind *kind, int *index);
void cli_log_to_stderr(gaitrt_log_level lvl, const char *msg, void *user);
double cli_now_s(void);
/* "\rembed [=====>    ] 120/400  3.2 seq/s  ETA 1m27s" on stderr */
void cli_progress(const char *what, int done, int total, double t_start);
/* Every sequence folder <root>/<id>/<type>/<view>/ in OpenGait's order (sorted at each
 * level); *paths and *labels ("id\ttype\tview") are malloc'd arrays of malloc'd strings. */
int cli_dataset_list(const char *root, char ***paths, char ***labels, int *n);

#endif
