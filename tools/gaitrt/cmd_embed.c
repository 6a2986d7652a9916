/* cmd_embed.c — `gaitrt embed -m CKPT -o OUT.npy INPUT...`: embeddings [N, C, P] float32,
 * OpenGait's inference_feat['embeddings'] (L2-normalised per part with --normalize). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void embed_usage(void) {
    fprintf(stderr,
            "usage: gaitrt embed -m CKPT -o OUT.npy [options] INPUT... | --tensor X.npy [--tensor Y.npy]\n"
            "  INPUT: an OpenGait sequence folder (one .pkl per modality), a .pkl/.npy array [T,H,W] or\n"
            "         [T,C,H,W] (uint8 0..255 or float 0..1, 64 or 44 wide), or a folder of raw PNG/JPEG frames\n"
            "  --dataset ROOT      every sequence <ROOT>/<id>/<type>/<view>/ in OpenGait's order; labels go to\n"
            "                      OUT.labels.tsv (id, type, view per row)\n"
            "  --tensor X.npy      the model's forward input after the test transform, float32 [N,T,H,W] or\n"
            "                      [N,T,C,H,W], repeated in OpenGait's ipts order\n"
            "  --normalize         L2-normalise each part's C-vector\n"
            "  --model-type T      model family when the keys are ambiguous;  --config YAML  OpenGait config\n"
            "  --no-strict         ignore checkpoint keys the architecture does not read (default: an error)\n"
            "  --level L           conservative | balanced (default) | aggressive\n"
            "  --precision P       auto (the level's) | f32 | tf32 | f16 | bf16 (tf32, f16: GPU only)\n"
            "  --device D          auto (default) | cpu | cuda[:i]\n"
            "  --batch B           sequences per batch (default 8);  --threads N;  --max-frames N (default 720)\n"
            "  --memory-budget MiB activation memory for a batch (default: a quarter of free RAM, at most 8 GiB)\n"
            "  --seq-tolerance F   models with temporal convolutions: lengths within F frames share a padded\n"
            "                      batch (default 0: equal lengths only)\n"
            "  --profile P.json    per-layer profile;  --trace T.json  Chrome trace (Perfetto)\n"
            "  --report R.html     self-contained HTML report with plots\n"
            "  --quality-filter    raw frames: drop low-quality frames (reported; off by default, as OpenGait)\n"
            "  --quiet             no progress or report on stderr\n");
}

int grt_cmd_embed(int argc, char **argv) {
    gaitrt_model_params mp = gaitrt_model_default_params();
    gaitrt_session_params sp = gaitrt_session_default_params();
    const char *ckpt = NULL, *out = NULL, *prof = NULL, *trace = NULL, *report = NULL, *dataset = NULL;
    char **ds_paths = NULL, **ds_labels = NULL;
    int n_ds = 0;
    const char *tensors[GAITRT_MAX_INPUTS];
    int n_tensors = 0, quiet = 0;
    gaitrt_pretreat_params pre = gaitrt_pretreat_default_params();
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_inputs = 0;
    if (!inputs) return 9;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-m") && more) ckpt = argv[++i];
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--tensor") && more) {
            if (n_tensors == GAITRT_MAX_INPUTS) {
                fprintf(stderr, "gaitrt embed: at most %d --tensor inputs\n", GAITRT_MAX_INPUTS);
                free(inputs);
                return 1;
            }
            tensors[n_tensors++] = argv[++i];
        } else if (!strcmp(a, "--normalize")) sp.normalize = 1;
        else if (!strcmp(a, "--model-type") && more) mp.model_type = argv[++i];
        else if (!strcmp(a, "--config") && more) mp.config_path = argv[++i];
        else if (!strcmp(a, "--no-strict")) mp.strict = 0;
        else if (!strcmp(a, "--level") && more) {
            if (!cli_parse_level(argv[++i], &sp.level)) { embed_usage(); free(inputs); return 1; }
        } else if (!strcmp(a, "--precision") && more) {
            if (!cli_parse_precision(argv[++i], &sp.precision)) { embed_usage(); free(inputs); return 1; }
        } else if (!strcmp(a, "--device") && more) {
            if (!cli_parse_device(argv[++i], &sp.device, &sp.device_index)) { embed_usage(); free(inputs); return 1; }
        } else if (!strcmp(a, "--batch") && more) sp.max_batch_size = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && more) sp.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--memory-budget") && more) sp.memory_budget = (int64_t)(atof(argv[++i]) * 1048576.0);
        else if (!strcmp(a, "--seq-tolerance") && more) sp.seq_len_tolerance = atoi(argv[++i]);
        else if (!strcmp(a, "--max-frames") && more) sp.max_frames = atoi(argv[++i]);
        else if (!strcmp(a, "--profile") && more) prof = argv[++i];
        else if (!strcmp(a, "--trace") && more) trace = argv[++i];
        else if (!strcmp(a, "--report") && more) report = argv[++i];
        else if (!strcmp(a, "--dataset") && more) dataset = argv[++i];
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--quality-filter")) pre.quality_filter = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { embed_usage(); free(inputs); return 0; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "gaitrt embed: unknown option '%s'\n", a); embed_usage(); free(inputs); return 1; }
        else inputs[n_inputs++] = argv[i];
    }
    if (dataset) {
        if (n_inputs || n_tensors) {
            fprintf(stderr, "gaitrt embed: --dataset takes no other INPUT or --tensor\n");
            free(inputs);
            return 1;
        }
        if (cli_dataset_list(dataset, &ds_paths, &ds_labels, &n_ds) != 0 || n_ds == 0) {
            fprintf(stderr, "gaitrt embed: bad input: %s: no sequence folders <id>/<type>/<view>/ found ---> HINT: give the root of an "
                            "OpenGait dataset (after pretreatment)\n", dataset);
            free(inputs);
            return 8;
        }
        free(inputs);
        inputs = ds_paths;
        n_inputs = n_ds;
    }
    if (!ckpt || !out || (n_inputs == 0) == (n_tensors == 0)) {
        if (n_inputs && n_tensors) fprintf(stderr, "gaitrt embed: give INPUTs or --tensor, not both\n");
        embed_usage();
        free(inputs);
        return 1;
    }
    sp.profile = prof || trace || report;
    int rc = 0;
    gaitrt_status st = GAITRT_OK;
    mp.keep_reference_weights = sp.level == GAITRT_LEVEL_CONSERVATIVE; /* it runs the unfused graph at once */
    gaitrt_model *m = gaitrt_model_load(ckpt, &mp);
    gaitrt_session *s = NULL;
    gaitrt_sequence *seqs = NULL;
    gaitrt_sequence_data *datas = NULL;
    gaitrt_array tarr[GAITRT_MAX_INPUTS];
    memset(tarr, 0, sizeof tarr);
    float *emb = NULL;
    int n_seq = 0;
    gaitrt_model_info info;
    if (!m) { rc = cli_fail("embed", gaitrt_last_status()); goto done; }
    gaitrt_model_get_info(m, &info);
    s = gaitrt_session_create(m, &sp);
    if (!s) { rc = cli_fail("embed", gaitrt_last_status()); goto done; }
    if (n_tensors) {
        if (n_tensors != info.n_inputs) {
            fprintf(stderr, "gaitrt embed: %s takes %d input%s (%s%s%s), %d --tensor given\n", info.type, info.n_inputs,
                    info.n_inputs > 1 ? "s" : "", info.inputs[0].name, info.n_inputs > 1 ? ", " : "",
                    info.n_inputs > 1 ? info.inputs[1].name : "", n_tensors);
            rc = 8;
            goto done;
        }
        for (int k = 0; k < n_tensors; k++) {
            if ((st = gaitrt_array_load(tensors[k], &tarr[k])) != GAITRT_OK) { rc = cli_fail("embed", st); goto done; }
            const gaitrt_array *a = &tarr[k];
            const gaitrt_model_input_desc *d = &info.inputs[k];
            int C = a->ndim == 5 ? (int)a->shape[2] : 1, H = (int)a->shape[a->ndim - 2], W = (int)a->shape[a->ndim - 1];
            if ((a->ndim != 4 && a->ndim != 5) || a->dtype != GAITRT_DTYPE_F32 || C != d->channels || H != d->height || W != d->width) {
                char shp[128] = "";
                for (int q = 0; q < a->ndim && q < 8; q++)
                    snprintf(shp + strlen(shp), sizeof shp - strlen(shp), "%s%lld", q ? "," : "", (long long)a->shape[q]);
                fprintf(stderr, "gaitrt embed: bad input: %s: expected float32 [N,T,%s%d,%d] for the %s input, got %s [%s] "
                        "---> HINT: --tensor takes the model's input after the test transform\n", tensors[k],
                        d->channels > 1 ? "C," : "", d->height, d->width, d->name,
                        a->dtype == GAITRT_DTYPE_U8 ? "uint8" : "float32", shp);
                rc = 8;
                goto done;
            }
            if (k == 0) n_seq = (int)a->shape[0];
            if (a->shape[0] != n_seq || a->shape[1] != tarr[0].shape[1]) {
                fprintf(stderr, "gaitrt embed: %s: N and T must agree with %s\n", tensors[k], tensors[0]);
                rc = 8;
                goto done;
            }
        }
        seqs = calloc((size_t)(n_seq ? n_seq : 1), sizeof *seqs);
        if (!seqs) { rc = 9; goto done; }
        for (int i = 0; i < n_seq; i++) {
            seqs[i].n_frames = (int)tarr[0].shape[1];
            for (int k = 0; k < n_tensors; k++) {
                const gaitrt_model_input_desc *d = &info.inputs[k];
                size_t per = (size_t)tarr[k].shape[1] * d->channels * d->height * d->width;
                seqs[i].inputs[k] = (gaitrt_input){GAITRT_DTYPE_F32, d->channels, d->height, d->width,
                                                   (const float *)tarr[k].data + (size_t)i * per, 0};
            }
        }
    } else {
        n_seq = n_inputs;
    }
    size_t per = (size_t)info.embed_channels * info.embed_parts;
    emb = malloc((size_t)(n_seq ? n_seq : 1) * per * sizeof(float));
    if (!emb) { rc = 9; goto done; }
    /* Sequences from files are loaded and embedded in chunks, so that a whole dataset never
     * sits in memory at once; the session batches within each chunk. */
    const int chunk = n_tensors ? (n_seq ? n_seq : 1) : (sp.max_batch_size > 0 ? 4 * sp.max_batch_size : 32);
    if (!n_tensors) {
        seqs = calloc((size_t)chunk, sizeof *seqs);
        datas = calloc((size_t)chunk, sizeof *datas);
        if (!seqs || !datas) { rc = 9; goto done; }
    }
    int progress = !quiet && n_seq > 1 && isatty(2);
    double t_start = cli_now_s();
    for (int c0 = 0; c0 < n_seq; c0 += chunk) {
        int cn = n_seq - c0 < chunk ? n_seq - c0 : chunk;
        if (!n_tensors) {
            for (int i = 0; i < cn; i++) {
                if ((st = gaitrt_sequence_load(m, inputs[c0 + i], &pre, &datas[i])) != GAITRT_OK) { rc = cli_fail("embed", st); goto done; }
                if (datas[i].n_dropped && !quiet) fprintf(stderr, "%sgaitrt embed: %s: %s\n", progress ? "\r" : "", inputs[c0 + i], datas[i].note);
                seqs[i] = datas[i].seq;
            }
        }
        const gaitrt_sequence *cs = n_tensors ? seqs + c0 : seqs;
        if ((st = gaitrt_embed(s, cs, cn, emb + (size_t)c0 * per, (size_t)cn * per)) != GAITRT_OK) {
            /* name the file the failing sequence came from */
            const char *e = gaitrt_last_error();
            int idx = -1, off = 0;
            if (sscanf(e, "sequence %d:%n", &idx, &off) == 1 && off > 0 && idx >= 0 && idx < cn) {
                if (n_tensors)
                    fprintf(stderr, "gaitrt embed: %s: %s: %s (sequence %d)\n", gaitrt_status_str(st), tensors[0], e + off + 1, idx);
                else
                    fprintf(stderr, "gaitrt embed: %s: %s: %s\n", gaitrt_status_str(st), inputs[c0 + idx], e + off + 1);
                rc = cli_exit_code(st);
            } else {
                rc = cli_fail("embed", st);
            }
            goto done;
        }
        for (int i = 0; !n_tensors && i < cn; i++) gaitrt_sequence_data_free(&datas[i]);
        if (progress) cli_progress("embed", c0 + cn, n_seq, t_start);
    }
    if (progress) fprintf(stderr, "\n");
    gaitrt_array oa = {GAITRT_DTYPE_F32, 3, {n_seq, info.embed_channels, info.embed_parts}, emb};
    if ((st = gaitrt_array_save_npy(out, &oa)) != GAITRT_OK) { rc = cli_fail("embed", st); goto done; }
    if (dataset) {
        char lp[4096];
        snprintf(lp, sizeof lp, "%.*s.labels.tsv", (int)(strlen(out) > 4 && !strcmp(out + strlen(out) - 4, ".npy") ? strlen(out) - 4 : strlen(out)), out);
        FILE *lf = fopen(lp, "w");
        if (!lf) {
            fprintf(stderr, "gaitrt embed: i/o error: %s: cannot write the labels\n", lp);
            rc = 3;
            goto done;
        }
        fprintf(lf, "index\tid\ttype\tview\n");
        for (int i = 0; i < n_ds; i++) fprintf(lf, "%d\t%s\n", i, ds_labels[i]);
        fclose(lf);
    }
    if (prof && (st = gaitrt_session_write_profile(s, prof)) != GAITRT_OK) { rc = cli_fail("embed", st); goto done; }
    if (trace && (st = gaitrt_session_write_trace(s, trace)) != GAITRT_OK) { rc = cli_fail("embed", st); goto done; }
    if (report && (st = gaitrt_session_write_report(s, report)) != GAITRT_OK) { rc = cli_fail("embed", st); goto done; }
    if (!quiet) {
        char rep[4096];
        gaitrt_session_report(s, rep, sizeof rep);
        fprintf(stderr, "gaitrt embed: %d sequence%s -> %s [%d, %d, %d]\n", n_seq, n_seq == 1 ? "" : "s", out, n_seq,
                info.embed_channels, info.embed_parts);
    }
done:
    for (int i = 0; datas && i < (n_seq < 1 ? 1 : n_seq) && i < (sp.max_batch_size > 0 ? 4 * sp.max_batch_size : 32); i++)
        gaitrt_sequence_data_free(&datas[i]);
    for (int k = 0; k < GAITRT_MAX_INPUTS; k++) gaitrt_array_free(&tarr[k]);
    free(datas);
    free(seqs);
    free(emb);
    if (dataset)
        for (int i = 0; i < n_ds; i++) {
            free(ds_paths[i]);
            free(ds_labels[i]);
        }
    free(ds_labels);
    free(inputs);
    gaitrt_session_free(s);
    gaitrt_model_free(m);
    return rc;
}
