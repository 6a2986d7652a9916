/* test_io_pickle.c — the safe pickle reader on pickles built byte by byte: every opcode
 * family of protocols 0-5, the allow-listed calls, and hostile input: calls of os.system,
 * builtins.eval and subprocess.Popen (refused, and provably not run), deep nesting, memo
 * abuse, huge declared lengths, truncation and bit flips. Runs without Python. */
#include <unistd.h>

#include "io_test.h"
#include "io/pickle.h"

static const char *NAME = "unit.pkl";

typedef struct run {
    grt_pk_arena a;
    grt_pv *v;
    grt_status st;
} run;

static grt_status persid_echo(grt_pk_vm *vm, void *user, grt_pv *pid, grt_pv **out) {
    (*(int *)user)++;
    *out = pid;
    return GRT_OK;
}

static run load_opts(const tb *b, grt_pk_opts *o) {
    run r;
    grt_pk_arena_init(&r.a, grt_pk_default_alloc_limit(b->n));
    r.st = grt_pk_load(&r.a, b->p, b->n, o, &r.v, NULL);
    return r;
}

static run load(const tb *b) {
    grt_pk_opts o = grt_pk_default_opts(NAME);
    return load_opts(b, &o);
}

static void done(run *r) { grt_pk_arena_free(&r->a); }

static int is_int(const grt_pv *v, int64_t want) { return v && v->kind == GRT_PV_INT && v->u.i == want; }

static void test_protocol2_values(void) {
    tb b = {0};
    TB_LIT(&b, "\x80\x02");
    tb_u8(&b, '}');                      /* EMPTY_DICT */
    tb_u8(&b, 'q'); tb_u8(&b, 0);        /* BINPUT 0 */
    tb_u8(&b, '(');                      /* MARK */
    pk_ustr(&b, "i1"); TB_LIT(&b, "K\xff");
    pk_ustr(&b, "i2"); TB_LIT(&b, "M\x34\x12");
    pk_ustr(&b, "i4"); TB_LIT(&b, "J\xfe\xff\xff\xff");               /* -2 */
    pk_ustr(&b, "l1"); TB_LIT(&b, "\x8a\x03\x00\x80\x00");            /* LONG1 32768 */
    pk_ustr(&b, "l1m"); TB_LIT(&b, "\x8a\x02\x00\x80");               /* LONG1 -32768 */
    pk_ustr(&b, "l1neg"); TB_LIT(&b, "\x8a\x01\xff");                 /* -1 */
    pk_ustr(&b, "l0"); TB_LIT(&b, "\x8a\x00");                        /* 0 */
    pk_ustr(&b, "big"); TB_LIT(&b, "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19");
    pk_ustr(&b, "l4"); TB_LIT(&b, "\x8b\x03\x00\x00\x00\x01\x00\x00"); /* 1 */
    pk_ustr(&b, "f"); TB_LIT(&b, "G\x3f\xf8\x00\x00\x00\x00\x00\x00"); /* 1.5 */
    pk_ustr(&b, "t"); tb_u8(&b, 0x88);
    pk_ustr(&b, "n"); tb_u8(&b, 'N');
    pk_ustr(&b, "sb"); TB_LIT(&b, "\x8c\x03" "abc");
    pk_ustr(&b, "s8"); TB_LIT(&b, "\x8d\x02\0\0\0\0\0\0\0" "xy");
    pk_ustr(&b, "b1"); TB_LIT(&b, "C\x02\x00\x01");
    pk_ustr(&b, "b4"); TB_LIT(&b, "B\x01\0\0\0\x07");
    pk_ustr(&b, "b8"); TB_LIT(&b, "\x8e\x01\0\0\0\0\0\0\0\x09");
    pk_ustr(&b, "ba"); TB_LIT(&b, "\x96\x01\0\0\0\0\0\0\0\x0a");
    pk_ustr(&b, "lst");
    tb_u8(&b, ']'); TB_LIT(&b, "K\x01"); tb_u8(&b, 'a');             /* [1] */
    tb_u8(&b, '('); TB_LIT(&b, "K\x02K\x03"); tb_u8(&b, 'e');        /* + [2, 3] */
    pk_ustr(&b, "L"); tb_u8(&b, '('); TB_LIT(&b, "K\x04"); tb_u8(&b, 'l');
    pk_ustr(&b, "t0"); tb_u8(&b, ')');
    pk_ustr(&b, "t1"); TB_LIT(&b, "K\x01\x85");
    pk_ustr(&b, "t2"); TB_LIT(&b, "K\x01K\x02\x86");
    pk_ustr(&b, "t3"); TB_LIT(&b, "K\x01K\x02K\x03\x87");
    pk_ustr(&b, "tm"); tb_u8(&b, '('); TB_LIT(&b, "K\x01K\x02K\x03K\x04"); tb_u8(&b, 't');
    pk_ustr(&b, "d"); tb_u8(&b, '('); pk_ustr(&b, "k"); TB_LIT(&b, "K\x05"); tb_u8(&b, 'd');
    pk_ustr(&b, "set"); tb_u8(&b, 0x8f); tb_u8(&b, '('); TB_LIT(&b, "K\x01K\x02"); tb_u8(&b, 0x90);
    pk_ustr(&b, "fs"); tb_u8(&b, '('); TB_LIT(&b, "K\x01"); tb_u8(&b, 0x91);
    pk_ustr(&b, "memo"); TB_LIT(&b, "h\x00");                         /* the dict itself: a cycle */
    pk_ustr(&b, "dup"); TB_LIT(&b, "K\x07"); tb_u8(&b, '2'); tb_u8(&b, 0x86);
    pk_ustr(&b, "pop"); TB_LIT(&b, "K\x08K\x09"); tb_u8(&b, '0');    /* 8 */
    pk_ustr(&b, "popmark"); TB_LIT(&b, "K\x0a(K\x0bK\x0c"); tb_u8(&b, '1'); /* 10 */
    tb_u8(&b, 'u');                                                      /* SETITEMS */
    pk_ustr(&b, "one"); TB_LIT(&b, "K\x01"); tb_u8(&b, 's');          /* SETITEM */
    tb_u8(&b, '.');
    run r = load(&b);
    CHECK_MSG(r.st == GRT_OK, "%s", gaitrt_last_error());
    const grt_pv *d = r.v;
    if (!r.st && d->kind == GRT_PV_DICT) {
        CHECK(is_int(grt_pv_dict_get(d, "i1"), 255));
        CHECK(is_int(grt_pv_dict_get(d, "i2"), 0x1234));
        CHECK(is_int(grt_pv_dict_get(d, "i4"), -2));
        CHECK(is_int(grt_pv_dict_get(d, "l1"), 32768));
        CHECK(is_int(grt_pv_dict_get(d, "l1m"), -32768));
        CHECK(is_int(grt_pv_dict_get(d, "l1neg"), -1));
        CHECK(is_int(grt_pv_dict_get(d, "l0"), 0));
        CHECK(is_int(grt_pv_dict_get(d, "l4"), 1));
        const grt_pv *big = grt_pv_dict_get(d, "big");
        CHECK(big && big->kind == GRT_PV_BIGINT && big->u.s.n == 10);
        const grt_pv *f = grt_pv_dict_get(d, "f");
        CHECK(f && f->kind == GRT_PV_FLOAT && f->u.f == 1.5);
        CHECK(grt_pv_dict_get(d, "t")->kind == GRT_PV_BOOL && grt_pv_dict_get(d, "t")->u.b == 1);
        CHECK(grt_pv_dict_get(d, "n")->kind == GRT_PV_NONE);
        CHECK(grt_pv_is_str(grt_pv_dict_get(d, "sb"), "abc"));
        CHECK(grt_pv_is_str(grt_pv_dict_get(d, "s8"), "xy"));
        CHECK(grt_pv_dict_get(d, "b1")->kind == GRT_PV_BYTES && grt_pv_dict_get(d, "b1")->u.s.n == 2);
        CHECK(grt_pv_dict_get(d, "b8")->u.s.p[0] == 9 && grt_pv_dict_get(d, "ba")->u.s.p[0] == 10);
        const grt_pv *l = grt_pv_dict_get(d, "lst");
        CHECK(l->kind == GRT_PV_LIST && l->u.seq.n == 3 && is_int(l->u.seq.v[2], 3));
        CHECK(grt_pv_dict_get(d, "L")->u.seq.n == 1);
        CHECK(grt_pv_dict_get(d, "t0")->kind == GRT_PV_TUPLE && grt_pv_dict_get(d, "t0")->u.seq.n == 0);
        CHECK(grt_pv_dict_get(d, "t1")->u.seq.n == 1 && grt_pv_dict_get(d, "t2")->u.seq.n == 2);
        CHECK(grt_pv_dict_get(d, "t3")->u.seq.n == 3 && grt_pv_dict_get(d, "tm")->u.seq.n == 4);
        CHECK(is_int(grt_pv_dict_get(grt_pv_dict_get(d, "d"), "k"), 5));
        CHECK(grt_pv_dict_get(d, "set")->kind == GRT_PV_SET && grt_pv_dict_get(d, "set")->u.seq.n == 2);
        CHECK(grt_pv_dict_get(d, "fs")->kind == GRT_PV_SET);
        CHECK(grt_pv_dict_get(d, "memo") == d);
        const grt_pv *dup = grt_pv_dict_get(d, "dup");
        CHECK(dup->u.seq.n == 2 && dup->u.seq.v[0] == dup->u.seq.v[1]);
        CHECK(is_int(grt_pv_dict_get(d, "pop"), 8));
        CHECK(is_int(grt_pv_dict_get(d, "popmark"), 10));
        CHECK(is_int(grt_pv_dict_get(d, "one"), 1));
    } else {
        CHECK(0);
    }
    done(&r);
    tb_free(&b);
}

static void test_protocol0_text(void) {
    tb b = {0};
    tb_s(&b, "(dp0\n");
    tb_s(&b, "Vint\np1\nI42\n");
    tb_s(&b, "sVneg\np2\nI-7\n");
    tb_s(&b, "sVtrue\nI01\n");
    tb_s(&b, "sVlong\nL12345678901L\n");
    tb_s(&b, "sVfloat\nF0.25\n");
    tb_s(&b, "sVstr\nS'a\\'b\\n\\x41\\101'\n");
    tb_s(&b, "sVuni\nVcaf\xe9 \\u20ac\\u005c\n");
    tb_s(&b, "sVagain\ng1\n");
    tb_s(&b, "sVod\nccollections\nOrderedDict\np3\n((lp4\n(Vk\nI1\ntp5\natp6\nRp7\n");
    tb_s(&b, "sVinst\n(I1\nicollections\nCounter\n");
    tb_s(&b, "sVobj\n(ccollections\nCounter\n(dI1\nI2\nso");
    tb_s(&b, "s.");
    run r = load(&b);
    CHECK_MSG(r.st == GRT_OK, "%s", gaitrt_last_error());
    if (!r.st) {
        const grt_pv *d = r.v;
        CHECK(is_int(grt_pv_dict_get(d, "int"), 42));
        CHECK(is_int(grt_pv_dict_get(d, "neg"), -7));
        CHECK(grt_pv_dict_get(d, "true")->kind == GRT_PV_BOOL);
        CHECK(is_int(grt_pv_dict_get(d, "long"), 12345678901LL));
        CHECK(grt_pv_dict_get(d, "float")->u.f == 0.25);
        const grt_pv *s = grt_pv_dict_get(d, "str");
        CHECK(s->kind == GRT_PV_STR && s->u.s.n == 6 && !memcmp(s->u.s.p, "a'b\nAA", 6));
        CHECK(grt_pv_is_str(grt_pv_dict_get(d, "uni"), "caf\xc3\xa9 \xe2\x82\xac\\"));
        CHECK(grt_pv_is_str(grt_pv_dict_get(d, "again"), "int")); /* memo 1 holds the key */
        const grt_pv *od = grt_pv_dict_get(d, "od");
        CHECK(od && od->kind == GRT_PV_DICT && is_int(grt_pv_dict_get(od, "k"), 1));
        const grt_pv *inst = grt_pv_dict_get(d, "inst");
        CHECK(inst && inst->kind == GRT_PV_OBJECT && is_int(inst->u.obj.args->u.seq.v[0], 1));
        const grt_pv *obj = grt_pv_dict_get(d, "obj");
        CHECK(obj && obj->kind == GRT_PV_OBJECT && !strcmp(obj->u.obj.callable->u.g.name, "Counter"));
    }
    done(&r);
    tb_free(&b);
}

static void test_calls_and_persid(void) {
    tb b = {0};
    TB_LIT(&b, "\x80\x02(");
    /* set([1, 2]) as protocol 2 writes it */
    pk_global(&b, "__builtin__", "set");
    tb_u8(&b, ']'); tb_u8(&b, '('); TB_LIT(&b, "K\x01K\x02"); tb_u8(&b, 'e'); tb_u8(&b, 0x85); tb_u8(&b, 'R');
    /* _codecs.encode('\xff\x00A', 'latin1') as protocol 2 writes bytes */
    pk_global(&b, "_codecs", "encode");
    pk_ustr(&b, "\xc3\xbf"); /* U+00FF */
    pk_ustr(&b, "latin1");
    tb_u8(&b, 0x86); tb_u8(&b, 'R');
    /* bytes() */
    pk_global(&b, "__builtin__", "bytes"); tb_u8(&b, ')'); tb_u8(&b, 'R');
    /* torch.Size((2, 3)) */
    pk_global(&b, "torch", "Size"); TB_LIT(&b, "K\x02K\x03\x86\x85R");
    /* argparse.Namespace via NEWOBJ + BUILD */
    pk_global(&b, "argparse", "Namespace"); tb_u8(&b, ')'); tb_u8(&b, 0x81);
    tb_u8(&b, '}'); pk_ustr(&b, "lr"); TB_LIT(&b, "K\x01"); tb_u8(&b, 's'); tb_u8(&b, 'b');
    /* a persistent id */
    pk_ustr(&b, "pid"); tb_u8(&b, 'Q');
    /* a dangerous global only referenced, never called: fine as an opaque value */
    pk_global(&b, "os", "system");
    /* numpy float64 scalar via numpy.core.multiarray.scalar(dtype('f8'), bytes) */
    pk_global(&b, "numpy.core.multiarray", "scalar");
    pk_global(&b, "numpy", "dtype"); pk_ustr(&b, "f8"); TB_LIT(&b, "\x89\x88\x87R");
    TB_LIT(&b, "C\x08\x00\x00\x00\x00\x00\x00\x04\x40"); /* 2.5 */
    TB_LIT(&b, "\x86R");
    tb_u8(&b, 't');
    tb_u8(&b, '.');
    int calls = 0;
    grt_pk_opts o = grt_pk_default_opts(NAME);
    o.persistent_load = persid_echo;
    o.user = &calls;
    run r = load_opts(&b, &o);
    CHECK_MSG(r.st == GRT_OK, "%s", gaitrt_last_error());
    if (!r.st) {
        grt_pv **v = r.v->u.seq.v;
        CHECK(r.v->u.seq.n == 8);
        CHECK(v[0]->kind == GRT_PV_SET && v[0]->u.seq.n == 2);
        CHECK(v[1]->kind == GRT_PV_BYTES && v[1]->u.s.n == 1 && v[1]->u.s.p[0] == 0xff);
        CHECK(v[2]->kind == GRT_PV_BYTES && v[2]->u.s.n == 0);
        CHECK(v[3]->kind == GRT_PV_TUPLE && is_int(v[3]->u.seq.v[1], 3));
        CHECK(v[4]->kind == GRT_PV_OBJECT && is_int(grt_pv_dict_get(v[4]->u.obj.state, "lr"), 1));
        CHECK(grt_pv_is_str(v[5], "pid") && calls == 1);
        CHECK(v[6]->kind == GRT_PV_GLOBAL);
        CHECK(v[7]->kind == GRT_PV_FLOAT && v[7]->u.f == 2.5);
    }
    done(&r);
    /* Without a persistent_load, persistent ids are an error. */
    r = load(&b);
    CHECK_ERR(r.st, GAITRT_ERR_FORMAT, NAME);
    done(&r);
    tb_free(&b);
}

/* Each payload would create `marker` when Python loads it; we must refuse it, name the
 * callable and the file, and the marker must not appear. */
static void expect_refused(tb *b, const char *what, const char *marker) {
    run r = load(b);
    CHECK_ERR(r.st, GAITRT_ERR_REFUSED, NAME);
    CHECK_MSG(strstr(gaitrt_last_error(), what) != NULL, "error does not name %s: %s", what, gaitrt_last_error());
    CHECK_MSG(!tio_exists(marker), "%s exists: the payload ran", marker);
    done(&r);
    tb_free(b);
}

static void test_hostile_calls(void) {
    char marker[512], cmd[600];
    snprintf(marker, sizeof marker, "%s/grt_io_pickle_marker_%ld", grt_test_env("TMPDIR", "/tmp"), (long)getpid());
    unlink(marker);
    snprintf(cmd, sizeof cmd, "touch %s", marker);
    tb b = {0};
    /* os.system('touch marker') */
    TB_LIT(&b, "\x80\x02");
    pk_global(&b, "os", "system");
    pk_ustr(&b, cmd);
    TB_LIT(&b, "\x85R.");
    expect_refused(&b, "os.system", marker);
    /* posix.system, as Python writes os.system on Linux, inside a dict value */
    TB_LIT(&b, "\x80\x02}(");
    pk_ustr(&b, "model");
    pk_global(&b, "posix", "system");
    pk_ustr(&b, cmd);
    TB_LIT(&b, "\x85Ru.");
    expect_refused(&b, "posix.system", marker);
    /* builtins.eval via STACK_GLOBAL (protocol 4) */
    TB_LIT(&b, "\x80\x04");
    TB_LIT(&b, "\x8c\x08" "builtins");
    TB_LIT(&b, "\x8c\x04" "eval");
    tb_u8(&b, 0x93);
    pk_ustr(&b, "__import__('os').system('true')");
    TB_LIT(&b, "\x85R.");
    expect_refused(&b, "builtins.eval", marker);
    /* subprocess.Popen(['touch', marker]) */
    TB_LIT(&b, "\x80\x02");
    pk_global(&b, "subprocess", "Popen");
    tb_u8(&b, ']');
    tb_u8(&b, '(');
    pk_ustr(&b, "touch");
    pk_ustr(&b, marker);
    tb_u8(&b, 'e');
    TB_LIT(&b, "\x85R.");
    expect_refused(&b, "subprocess.Popen", marker);
    /* protocol 0 INST and OBJ */
    tb_s(&b, "(V");
    tb_s(&b, cmd);
    tb_s(&b, "\nios\nsystem\n.");
    expect_refused(&b, "os.system", marker);
    tb_s(&b, "(cos\nsystem\nV");
    tb_s(&b, cmd);
    tb_s(&b, "\no.");
    expect_refused(&b, "os.system", marker);
    /* NEWOBJ of a class whose purpose is running code */
    TB_LIT(&b, "\x80\x02");
    pk_global(&b, "subprocess", "Popen");
    tb_u8(&b, ')');
    TB_LIT(&b, "\x81.");
    expect_refused(&b, "subprocess.Popen", marker);
    /* __builtin__.getattr (Python 2 name), used to reach os.system indirectly */
    TB_LIT(&b, "\x80\x02");
    pk_global(&b, "__builtin__", "getattr");
    pk_global(&b, "os", "path");
    pk_ustr(&b, "join");
    TB_LIT(&b, "\x86R.");
    expect_refused(&b, "getattr", marker);
    /* calling the result of a call */
    TB_LIT(&b, "\x80\x02");
    pk_global(&b, "collections", "Counter");
    TB_LIT(&b, ")R)R.");
    run r = load(&b);
    CHECK_ERR(r.st, GAITRT_ERR_REFUSED, NAME);
    done(&r);
    tb_free(&b);
    CHECK(!tio_exists(marker));
}

static void test_limits(void) {
    tb b = {0};
    run r;
    /* MARK nesting past GRT_IO_MAX_PICKLE_DEPTH */
    TB_LIT(&b, "\x80\x02");
    for (int i = 0; i < 5000; i++) tb_u8(&b, '(');
    tb_u8(&b, '.');
    r = load(&b);
    CHECK_ERR(r.st, GAITRT_ERR_LIMIT, NAME);
    done(&r);
    tb_free(&b);
    /* 200k nested lists built with APPEND: no recursion anywhere, so this simply loads. */
    TB_LIT(&b, "\x80\x02");
    for (int i = 0; i < 200000; i++) tb_u8(&b, ']');
    for (int i = 0; i < 199999; i++) tb_u8(&b, 'a');
    tb_u8(&b, '.');
    r = load(&b);
    CHECK_MSG(r.st == GRT_OK && r.v->kind == GRT_PV_LIST, "%s", gaitrt_last_error());
    done(&r);
    tb_free(&b);
    /* A list that contains itself. */
    TB_LIT(&b, "\x80\x02]q\x00h\x00" "a.");
    r = load(&b);
    CHECK(r.st == GRT_OK && r.v->u.seq.v[0] == r.v);
    done(&r);
    tb_free(&b);
    /* Memo abuse: a huge index, an unset slot, a GET before any PUT. */
    TB_LIT(&b, "\x80\x02K\x01r\xf0\xff\xff\xff.");
    r = load(&b);
    CHECK_ERR(r.st, GAITRT_ERR_LIMIT, NAME);
    done(&r);
    tb_free(&b);
    TB_LIT(&b, "\x80\x02K\x01q\x05h\x06.");
    r = load(&b);
    CHECK_ERR(r.st, GAITRT_ERR_FORMAT, NAME);
    done(&r);
    tb_free(&b);
    TB_LIT(&b, "\x80\x02j\x00\x00\x00\x10.");
    r = load(&b);
    CHECK_ERR(r.st, GAITRT_ERR_FORMAT, NAME);
    done(&r);
    tb_free(&b);
    /* Huge declared lengths. */
    static const struct {
        const char *s;
        size_t n;
    } huge[] = {{"\x80\x02\x8e\xff\xff\xff\xff\xff\xff\xff\x3f.", 12}, {"\x80\x02\x8d\x00\x00\x00\x00\x00\x00\x00\x80.", 12},
                {"\x80\x02X\xff\xff\xff\xff.", 8}, {"\x80\x02T\xff\xff\xff\xff.", 8}, {"\x80\x02\x8b\xff\xff\xff\x7f.", 8},
                {"\x80\x02\x8b\xff\xff\xff\xff.", 8}, {"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff.", 12},
                {"\x80\x02" "B\xff\xff\xff\x00.", 8}};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        tb_raw(&b, huge[i].s, huge[i].n);
        r = load(&b);
        CHECK_ERR(r.st, GAITRT_ERR_FORMAT, NAME);
        done(&r);
        tb_free(&b);
    }
    /* Stack and allocation limits with small settings. */
    TB_LIT(&b, "\x80\x02");
    for (int i = 0; i < 1000; i++) TB_LIT(&b, "K\x01");
    tb_u8(&b, '.');
    grt_pk_opts o = grt_pk_default_opts(NAME);
    o.max_stack = 100;
    r = load_opts(&b, &o);
    CHECK_ERR(r.st, GAITRT_ERR_LIMIT, NAME);
    done(&r);
    grt_pk_arena_init(&r.a, 70000);
    o = grt_pk_default_opts(NAME);
    tb c = {0};
    TB_LIT(&c, "\x80\x02]");
    for (int i = 0; i < 20000; i++) TB_LIT(&c, "K\x01" "a");
    tb_u8(&c, '.');
    r.st = grt_pk_load(&r.a, c.p, c.n, &o, &r.v, NULL);
    CHECK_ERR(r.st, GAITRT_ERR_LIMIT, NAME);
    done(&r);
    tb_free(&c);
    tb_free(&b);
    /* Malformed: stack underflow, wrong container, odd SETITEMS, unknown opcode, protocol 6,
     * MARK-less TUPLE, negative LONG4, out-of-band buffers, ops reaching below a mark. */
    const char *bad[] = {"\x80\x02" "a.", "\x80\x02K\x01K\x02" "a.", "\x80\x02}(K\x01u.", "\x80\x02\xff.",
                         "\x80\x02t.", "\x80\x02" "0.", "\x80\x02K\x01(a.", "\x80\x02K\x01(" "2.", "\x80\x02K\x01(" "\x85.",
                         "\x80\x02]K\x01(" "a.", "\x80\x02" ".", "\x80\x02K\x01K\x01" "b."};
    gaitrt_status want_bad[] = {GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT,
                                GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT,
                                GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT, GAITRT_ERR_FORMAT, GAITRT_OK};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_raw(&b, bad[i], strlen(bad[i]));
        r = load(&b);
        if (want_bad[i] == GAITRT_OK) {
            /* BUILD on an int: Python would fail in setstate; we ignore states of types we
             * do not model, and the result is the int. */
            CHECK(r.st == GRT_OK);
        } else {
            CHECK_ERR(r.st, want_bad[i], NAME);
        }
        done(&r);
        tb_free(&b);
    }
    const char *unsup[] = {"\x80\x06K\x01.", "\x80\x05\x97.", "\x80\x02\x82\x01."};
    for (size_t i = 0; i < sizeof unsup / sizeof unsup[0]; i++) {
        tb_raw(&b, unsup[i], strlen(unsup[i]));
        r = load(&b);
        CHECK_ERR(r.st, GAITRT_ERR_UNSUPPORTED, NAME);
        done(&r);
        tb_free(&b);
    }
}

/* A valid pickle cut anywhere, or with bits flipped: an error that names the file, or a
 * value; never a crash. */
static void test_truncation_and_flips(void) {
    tb b = {0};
    TB_LIT(&b, "\x80\x02}q\x00(");
    int64_t size[2] = {2, 3}, stride[2] = {3, 1};
    pk_ustr(&b, "w");
    TB_LIT(&b, "\x8c\x05" "hello");
    pk_ustr(&b, "tup");
    TB_LIT(&b, "K\x01K\x02]q\x01h\x01" "a\x87");
    pk_ustr(&b, "od");
    pk_global(&b, "collections", "OrderedDict");
    TB_LIT(&b, ")R");
    pk_ustr(&b, "t");
    pk_global(&b, "torch", "Size");
    pk_ints_tuple(&b, 2, size);
    pk_ints_tuple(&b, 2, stride);
    TB_LIT(&b, "\x86\x85R");
    TB_LIT(&b, "u.");
    run r = load(&b);
    CHECK_MSG(r.st == GRT_OK, "%s", gaitrt_last_error());
    done(&r);
    for (size_t n = 0; n < b.n; n++) {
        tb c = {0};
        tb_raw(&c, b.p, n);
        r = load(&c);
        CHECK_ERR(r.st, GAITRT_ERR_FORMAT, NAME);
        done(&r);
        tb_free(&c);
    }
    grt_rng rng = {7};
    for (int it = 0; it < 20000; it++) {
        tb c = {0};
        tb_raw(&c, b.p, b.n);
        int flips = 1 + (int)(grt_rng_next(&rng) % 3);
        for (int f = 0; f < flips; f++) c.p[grt_rng_next(&rng) % c.n] ^= (uint8_t)(1u << (grt_rng_next(&rng) % 8));
        r = load(&c);
        if (r.st) CHECK_MSG(strstr(gaitrt_last_error(), NAME) != NULL, "%s", gaitrt_last_error());
        done(&r);
        tb_free(&c);
    }
    /* Pure garbage. */
    for (int it = 0; it < 5000; it++) {
        tb c = {0};
        size_t n = 1 + grt_rng_next(&rng) % 64;
        TB_LIT(&c, "\x80\x02");
        for (size_t i = 0; i < n; i++) tb_u8(&c, (unsigned)(grt_rng_next(&rng) & 0xff));
        r = load(&c);
        done(&r);
        tb_free(&c);
    }
    tb_free(&b);
}

int main(void) {
    test_protocol2_values();
    test_protocol0_text();
    test_calls_and_persid();
    test_hostile_calls();
    test_limits();
    test_truncation_and_flips();
    return grt_test_finish("test_io_pickle");
}
