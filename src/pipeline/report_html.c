/* report_html.c — the session's profile as one self-contained HTML file with inline SVG
 * plots: the run timeline, GPU utilisation (CUDA sessions, when NVML sampled it), time per
 * layer (bars), and throughput against batch size. No scripts, no external files: it opens
 * anywhere. */
#include <stdio.h>
#include <string.h>

#include "pipeline/session.h"

static void grt__html_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* One polyline point per pixel column at most (the column's maximum), so a long session's
 * 32k samples stay a small file. */
static void grt__html_polyline(FILE *f, const grt_gpu_sample *v, int n, int mem, double t0, double t_end, int Wd, int y0,
                               const char *style) {
    fprintf(f, "<polyline fill=\"none\" %s points=\"", style);
    int col = -1;
    double best = -1, bx = 0;
    for (int i = 0; i <= n; i++) {
        int c = -2;
        double x = 0, val = 0;
        if (i < n) {
            x = (v[i].t - t0) / t_end * (Wd - 20) + 10;
            c = (int)x;
            val = mem ? v[i].mem_pct : v[i].gpu_pct;
        }
        if (c != col && best >= 0) fprintf(f, "%.1f,%.1f ", bx, y0 - best * 1.2);
        if (c != col) {
            col = c;
            best = -1;
        }
        if (i < n && val > best) {
            best = val;
            bx = x;
        }
    }
    fprintf(f, "\"/>\n");
}

/* GPU utilisation over time, with the runs shaded behind it, on the timeline's origin. */
static void grt__html_gpu(FILE *f, const grt_profiler *p, double t_end, int Wd) {
    grt_gpu_sample *v = NULL;
    grt_gpu_summary sm;
    int n = grt_prof_gpu_read(p, &v, &sm);
    fprintf(f, "<h2>GPU utilisation</h2>\n");
    if (n == 0) {
        fprintf(f, "<p>No GPU utilisation: ");
        grt__html_text(f, p->gpu_note);
        if (sm.error[0]) {
            fprintf(f, "; ");
            grt__html_text(f, sm.error);
        }
        fprintf(f, "</p>\n");
        grt_free(v);
        return;
    }
    if (v[n - 1].t - p->t_first > t_end) t_end = v[n - 1].t - p->t_first;
    if (t_end <= 0) t_end = 1e-3;
    fprintf(f, "<p>");
    grt__html_text(f, sm.device_name);
    fprintf(f, " (driver ");
    grt__html_text(f, sm.driver);
    fprintf(f, "): %lld samples every %.0f ms, GPU %.1f%% mean, %.0f%% max; memory controller %.1f%% mean; peak memory used "
               "%.0f of %.0f MiB%s",
            (long long)sm.n_samples, sm.interval_s * 1e3, sm.mean_gpu_pct, sm.max_gpu_pct, sm.mean_mem_pct,
            (double)sm.peak_mem_used / 1048576.0, (double)sm.mem_total / 1048576.0, sm.error[0] ? "; " : "");
    grt__html_text(f, sm.error);
    fprintf(f, ". <span style=\"color:#3a9d5d\">GPU %%</span>, <span style=\"color:#8a4fb5\">memory controller %%</span>, "
               "runs shaded; %.1f ms.</p>\n<svg width=\"%d\" height=\"150\">\n", t_end * 1e3, Wd);
    for (int r = 0; r < p->n_runs; r++) {
        const grt_run_rec *rr = &p->runs[r];
        double x = (rr->t0 - p->t_first) / t_end * (Wd - 20) + 10, w = (rr->t1 - rr->t0) / t_end * (Wd - 20);
        fprintf(f, "<rect x=\"%.1f\" y=\"20\" width=\"%.2f\" height=\"120\" fill=\"#e3ecf7\"/>\n", x, w < 1 ? 1 : w);
    }
    for (int k = 0; k <= 2; k++)
        fprintf(f, "<line x1=\"10\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ccc\"/><text x=\"%d\" y=\"%d\" font-size=\"10\">%d%%</text>\n",
                140 - 60 * k, Wd - 10, 140 - 60 * k, Wd - 40, 138 - 60 * k, 50 * k);
    grt__html_polyline(f, v, n, 1, p->t_first, t_end, Wd, 140, "stroke=\"#8a4fb5\" stroke-dasharray=\"4 2\"");
    grt__html_polyline(f, v, n, 0, p->t_first, t_end, Wd, 140, "stroke=\"#3a9d5d\" stroke-width=\"1.5\"");
    fprintf(f, "</svg>\n");
    grt_free(v);
}

gaitrt_status gaitrt_session_write_report(const gaitrt_session *s, const char *path) {
    if (!s || !path) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_session_write_report: NULL argument");
    const grt_profiler *p = &s->prof;
    FILE *f = fopen(path, "w");
    if (!f) return grt_error(GAITRT_ERR_IO, "%s: cannot write the report", path);
    char rep[4096];
    gaitrt_session_report(s, rep, sizeof rep);
    fprintf(f, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gaitrt profile</title><style>"
               "body{font-family:sans-serif;margin:2em;color:#222}h2{margin-top:1.5em}svg{background:#fafafa;border:1px solid #ddd}"
               "code{font-size:90%%;word-break:break-all}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}"
               "td:first-child,th:first-child{text-align:left}</style></head><body>\n");
    fprintf(f, "<h1>gaitrt profile: %s (%s)</h1>\n<p><code>", s->model->info.type, s->model->info.variant);
    grt__html_text(f, rep);
    fprintf(f, "</code></p>\n");

    /* timeline of runs */
    double t_end = 0;
    for (int r = 0; r < p->n_runs; r++)
        if (p->runs[r].t1 - p->t_first > t_end) t_end = p->runs[r].t1 - p->t_first;
    const int Wd = 900, Hd = 80;
    fprintf(f, "<h2>Timeline (%d runs, %.1f ms)</h2>\n<svg width=\"%d\" height=\"%d\">\n", p->n_runs, t_end * 1e3, Wd, Hd);
    for (int r = 0; r < p->n_runs && t_end > 0; r++) {
        const grt_run_rec *rr = &p->runs[r];
        double x = (rr->t0 - p->t_first) / t_end * (Wd - 20) + 10, w = (rr->t1 - rr->t0) / t_end * (Wd - 20);
        fprintf(f, "<rect x=\"%.1f\" y=\"20\" width=\"%.2f\" height=\"40\" fill=\"%s\"><title>run %d: %d sequences, %d frames, "
                   "%.2f ms</title></rect>\n", x, w < 1 ? 1 : w, r % 2 ? "#4a7ab5" : "#6b9bd1", r, rr->sequences, rr->frames,
                (rr->t1 - rr->t0) * 1e3);
    }
    fprintf(f, "</svg>\n");
    grt__html_gpu(f, p, t_end, Wd);

    /* per-layer bars */
    int n_layers = 0;
    typedef struct { const char *name, *op; double ms, flops; } agg_t;
    agg_t *agg = grt_calloc((size_t)(p->n_events ? p->n_events : 1), sizeof *agg);
    if (!agg) {
        fclose(f);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory writing the report");
    }
    double max_ms = 0, tot_ms = 0;
    for (int e = 0; e < p->n_events; e++) {
        const grt_prof_event *ev = &p->events[e];
        int j = 0;
        while (j < n_layers && agg[j].name != ev->name) j++;
        if (j == n_layers) {
            agg[j].name = ev->name;
            agg[j].op = ev->op;
            n_layers++;
        }
        agg[j].ms += (ev->t1 - ev->t0) * 1e3;
        agg[j].flops += ev->flops;
    }
    for (int j = 0; j < n_layers; j++) {
        if (agg[j].ms > max_ms) max_ms = agg[j].ms;
        tot_ms += agg[j].ms;
    }
    const int bh = 16;
    fprintf(f, "<h2>Time per layer (all runs, %.1f ms)</h2>\n", tot_ms);
    if (n_layers == 0)
        fprintf(f, "<p>No per-layer events: profiling was off for this session.</p>\n");
    else {
        fprintf(f, "<svg width=\"%d\" height=\"%d\">\n", Wd, n_layers * bh + 10);
        for (int j = 0; j < n_layers; j++) {
            double w = max_ms > 0 ? agg[j].ms / max_ms * (Wd - 420) : 0;
            fprintf(f, "<text x=\"5\" y=\"%d\" font-size=\"11\">", j * bh + 17);
            grt__html_text(f, agg[j].name);
            fprintf(f, "</text><rect x=\"220\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#d98b3a\"/>"
                       "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%.2f ms, %.1f GFLOP/s</text>\n",
                    j * bh + 6, w, bh - 3, 225 + w, j * bh + 17, agg[j].ms, agg[j].ms > 0 ? agg[j].flops / (agg[j].ms * 1e6) : 0.0);
        }
        fprintf(f, "</svg>\n");
    }
    grt_free(agg);

    /* throughput against batch size (sequences per run) */
    double best[65] = {0}, sum_t[65] = {0};
    int cnt[65] = {0}, max_b = 0;
    for (int r = 0; r < p->n_runs; r++) {
        int b = p->runs[r].sequences > 64 ? 64 : p->runs[r].sequences;
        double dt = p->runs[r].t1 - p->runs[r].t0;
        if (b < 1 || dt <= 0) continue;
        sum_t[b] += dt;
        cnt[b]++;
        if (b > max_b) max_b = b;
    }
    double top = 0;
    for (int b = 1; b <= max_b; b++)
        if (cnt[b]) {
            best[b] = b * cnt[b] / sum_t[b];
            if (best[b] > top) top = best[b];
        }
    fprintf(f, "<h2>Throughput against batch size</h2>\n<svg width=\"%d\" height=\"220\">\n", Wd);
    fprintf(f, "<line x1=\"50\" y1=\"190\" x2=\"%d\" y2=\"190\" stroke=\"#444\"/><line x1=\"50\" y1=\"10\" x2=\"50\" y2=\"190\" stroke=\"#444\"/>\n", Wd - 10);
    fprintf(f, "<text x=\"5\" y=\"15\" font-size=\"11\">%.1f seq/s</text>\n", top);
    for (int b = 1; b <= max_b && top > 0; b++) {
        if (!cnt[b]) continue;
        double x = 50 + (double)b / (max_b + 1) * (Wd - 70), y = 190 - best[b] / top * 170;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#3a9d5d\"><title>batch %d: %.2f sequences/s (%d runs)</title></circle>"
                   "<text x=\"%.1f\" y=\"205\" font-size=\"10\">%d</text>\n", x, y, b, best[b], cnt[b], x - 3, b);
    }
    fprintf(f, "</svg>\n</body></html>\n");
    if (fclose(f) != 0) return grt_error(GAITRT_ERR_IO, "%s: write error", path);
    return GAITRT_OK;
}
