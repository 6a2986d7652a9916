/* gallery.c — a gallery of enrolled identities in one SQLite file: each row is an identity
 * name and one embedding [C, P] (float32 blob). Identification ranks identities by the
 * smallest OpenGait distance over their enrolled sequences. The whole gallery is read into
 * memory on open (a gait gallery of thousands of sequences is a few hundred MB at most) and
 * kept in step with the file on every change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#ifdef GAITRT_HAVE_SQLITE3
#include <sqlite3.h>

struct gaitrt_gallery {
    sqlite3 *db;
    char path[512];
    int C, P;
    int n, cap;
    char **names;
    int64_t *rowids;
    float *emb; /* n x C x P */
};

static grt_status grt__sql_err(gaitrt_gallery *g, const char *what) {
    return grt_error(GAITRT_ERR_IO, "%s: %s: %s ---> HINT: is it a gaitrt gallery file?", g->path, what, sqlite3_errmsg(g->db));
}

static grt_status grt__push(gaitrt_gallery *g, int64_t rowid, const char *name, const void *emb) {
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        char **nn = grt_realloc(g->names, (size_t)cap * sizeof *nn);
        if (!nn) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", g->path);
        g->names = nn;
        int64_t *rr = grt_realloc(g->rowids, (size_t)cap * sizeof *rr);
        if (!rr) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", g->path);
        g->rowids = rr;
        float *ee = grt_realloc(g->emb, (size_t)cap * g->C * g->P * sizeof(float));
        if (!ee) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", g->path);
        g->emb = ee;
        g->cap = cap;
    }
    g->names[g->n] = grt_strdup(name);
    if (!g->names[g->n]) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", g->path);
    g->rowids[g->n] = rowid;
    memcpy(g->emb + (size_t)g->n * g->C * g->P, emb, (size_t)g->C * g->P * sizeof(float));
    g->n++;
    return GRT_OK;
}

void gaitrt_gallery_close(gaitrt_gallery *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) grt_free(g->names[i]);
    grt_free(g->names);
    grt_free(g->rowids);
    grt_free(g->emb);
    if (g->db) sqlite3_close(g->db);
    grt_free(g);
}

gaitrt_gallery *gaitrt_gallery_open(const char *path, int channels, int parts) {
    if (!path || channels <= 0 || parts <= 0) {
        grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_gallery_open: bad argument");
        return NULL;
    }
    gaitrt_gallery *g = grt_calloc(1, sizeof *g);
    if (!g) {
        grt_error(GAITRT_ERR_NOMEM, "out of memory opening a gallery");
        return NULL;
    }
    snprintf(g->path, sizeof g->path, "%s", path);
    g->C = channels;
    g->P = parts;
    if (sqlite3_open(path, &g->db) != SQLITE_OK) {
        grt__sql_err(g, "cannot open");
        gaitrt_gallery_close(g);
        return NULL;
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);"
             "CREATE TABLE IF NOT EXISTS enrolled(id INTEGER PRIMARY KEY, name TEXT NOT NULL, emb BLOB NOT NULL);");
    if (sqlite3_exec(g->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        grt__sql_err(g, "cannot create tables");
        gaitrt_gallery_close(g);
        return NULL;
    }
    /* the embedding shape is fixed per gallery: record it, or check it */
    sqlite3_stmt *st = NULL;
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%d", channels, parts);
    sqlite3_prepare_v2(g->db, "SELECT v FROM meta WHERE k = 'shape'", -1, &st, NULL);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(st, 0);
        if (!have || strcmp(have, shape) != 0) {
            grt_error(GAITRT_ERR_INPUT, "%s: the gallery holds %s embeddings, this model gives %s ---> HINT: one gallery per model",
                      path, have ? have : "?", shape);
            sqlite3_finalize(st);
            gaitrt_gallery_close(g);
            return NULL;
        }
    } else {
        sqlite3_finalize(st);
        st = NULL;
        sqlite3_prepare_v2(g->db, "INSERT INTO meta(k, v) VALUES('shape', ?)", -1, &st, NULL);
        if (st) sqlite3_bind_text(st, 1, shape, -1, SQLITE_TRANSIENT);
        if (!st || sqlite3_step(st) != SQLITE_DONE) {
            grt__sql_err(g, "cannot write");
            sqlite3_finalize(st);
            gaitrt_gallery_close(g);
            return NULL;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(g->db, "SELECT id, name, emb FROM enrolled ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
        grt__sql_err(g, "cannot read");
        gaitrt_gallery_close(g);
        return NULL;
    }
    const int bytes = channels * parts * (int)sizeof(float);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const void *blob = sqlite3_column_blob(st, 2);
        if (!name || !blob || sqlite3_column_bytes(st, 2) != bytes) {
            grt_error(GAITRT_ERR_FORMAT, "%s: row %lld has a malformed embedding ---> HINT: the file is corrupt", path,
                      (long long)sqlite3_column_int64(st, 0));
            sqlite3_finalize(st);
            gaitrt_gallery_close(g);
            return NULL;
        }
        if (grt__push(g, sqlite3_column_int64(st, 0), name, blob) != GRT_OK) {
            sqlite3_finalize(st);
            gaitrt_gallery_close(g);
            return NULL;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        grt__sql_err(g, "cannot read");
        gaitrt_gallery_close(g);
        return NULL;
    }
    return g;
}

gaitrt_status gaitrt_gallery_enroll(gaitrt_gallery *g, const char *name, const float *emb) {
    if (!g || !name || !*name || !emb) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_gallery_enroll: bad argument");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(g->db, "INSERT INTO enrolled(name, emb) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
        return grt__sql_err(g, "cannot enroll");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, emb, g->C * g->P * (int)sizeof(float), SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return grt__sql_err(g, "cannot enroll");
    return grt__push(g, sqlite3_last_insert_rowid(g->db), name, emb);
}

int gaitrt_gallery_remove(gaitrt_gallery *g, const char *name) {
    if (!g || !name) {
        grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_gallery_remove: bad argument");
        return -1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(g->db, "DELETE FROM enrolled WHERE name = ?", -1, &st, NULL) != SQLITE_OK) {
        grt__sql_err(g, "cannot remove");
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        grt__sql_err(g, "cannot remove");
        return -1;
    }
    int removed = 0, k = 0;
    for (int i = 0; i < g->n; i++) {
        if (!strcmp(g->names[i], name)) {
            grt_free(g->names[i]);
            removed++;
            continue;
        }
        g->names[k] = g->names[i];
        g->rowids[k] = g->rowids[i];
        memmove(g->emb + (size_t)k * g->C * g->P, g->emb + (size_t)i * g->C * g->P, (size_t)g->C * g->P * sizeof(float));
        k++;
    }
    g->n = k;
    return removed;
}

int gaitrt_gallery_size(const gaitrt_gallery *g) { return g ? g->n : 0; }

const char *gaitrt_gallery_name(const gaitrt_gallery *g, int i) { return g && i >= 0 && i < g->n ? g->names[i] : NULL; }

gaitrt_status gaitrt_gallery_identify(const gaitrt_gallery *g, const float *emb, int k, gaitrt_match *out, int *n_out) {
    if (!g || !emb || !out || !n_out || k <= 0) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_gallery_identify: bad argument");
    *n_out = 0;
    if (g->n == 0) return grt_error(GAITRT_ERR_INPUT, "%s: the gallery is empty ---> HINT: enroll identities first", g->path);
    float *d = grt_malloc((size_t)g->n * sizeof(float));
    if (!d) return grt_error(GAITRT_ERR_NOMEM, "out of memory identifying");
    gaitrt_distance_matrix(emb, 1, g->emb, g->n, g->C, g->P, 0, d);
    /* best distance per identity, then the k best identities */
    for (int i = 0; i < g->n; i++) {
        int seen = -1;
        for (int q = 0; q < *n_out && seen < 0; q++)
            if (!strcmp(out[q].name, g->names[i])) seen = q;
        if (seen >= 0) {
            if (d[i] < out[seen].distance) out[seen].distance = d[i];
            continue;
        }
        gaitrt_match m;
        snprintf(m.name, sizeof m.name, "%s", g->names[i]);
        m.distance = d[i];
        if (*n_out < k) {
            out[(*n_out)++] = m;
        } else {
            int worst = 0;
            for (int q = 1; q < *n_out; q++)
                if (out[q].distance > out[worst].distance) worst = q;
            if (m.distance < out[worst].distance) out[worst] = m;
        }
    }
    for (int a = 1; a < *n_out; a++) { /* insertion sort by distance */
        gaitrt_match m = out[a];
        int b = a - 1;
        while (b >= 0 && out[b].distance > m.distance) {
            out[b + 1] = out[b];
            b--;
        }
        out[b + 1] = m;
    }
    grt_free(d);
    return GAITRT_OK;
}
#else
gaitrt_gallery *gaitrt_gallery_open(const char *path, int channels, int parts) {
    (void)channels;
    (void)parts;
    grt_error(GAITRT_ERR_UNSUPPORTED, "%s: gaitrt was built without SQLite, so galleries are unavailable", path ? path : "");
    return NULL;
}
void gaitrt_gallery_close(gaitrt_gallery *g) { (void)g; }
gaitrt_status gaitrt_gallery_enroll(gaitrt_gallery *g, const char *name, const float *emb) {
    return grt_error(GAITRT_ERR_UNSUPPORTED, "built without SQLite");
}
int gaitrt_gallery_remove(gaitrt_gallery *g, const char *name) { return -1; }
int gaitrt_gallery_size(const gaitrt_gallery *g) { return 0; }
const char *gaitrt_gallery_name(const gaitrt_gallery *g, int i) { return NULL; }
gaitrt_status gaitrt_gallery_identify(const gaitrt_gallery *g, const float *emb, int k, gaitrt_match *out, int *n_out) {
    return grt_error(GAITRT_ERR_UNSUPPORTED, "built without SQLite");
}
#endif
