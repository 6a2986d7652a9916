/* libs.c — opens cuBLAS and cuDNN with dlopen and resolves the entry points the backend
 * calls (see cu_libs.h for why we do not link them). We try the plain soname first (the
 * loader's path, LD_LIBRARY_PATH), then the folders CMake found at build time.
 *
 * What this file is not: a place for policy. It records what is missing; the backend
 * decides what to do about it (our own kernels) and says so in its report. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cu_libs.h"

#define GRT__STR2(x) #x
#define GRT__STR(x) GRT__STR2(x)

static void *grt__dlopen_any(const char *soname, const char *const *dirs, int ndirs, char *why, size_t len) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    char first[128];
    const char *e = dlerror();
    snprintf(first, sizeof first, "%s", e ? e : soname);
    for (int i = 0; i < ndirs; i++) {
        if (!dirs[i] || !dirs[i][0]) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dirs[i], soname);
        if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) return h;
    }
    snprintf(why, len, "%s", first);
    return NULL;
}

/* Resolves name into *slot; returns 0 (and says which) when the library lacks it. */
static int grt__sym(void *so, const char *name, void **slot, char *why, size_t len) {
    *slot = dlsym(so, name);
    if (!*slot) snprintf(why, len, "symbol %s missing", name);
    return *slot != NULL;
}

#define GRT__SYM(so, tab, field, name, ok, why) ok = ok && grt__sym(so, name, (void **)&(tab).field, why, sizeof why)

void grt_cu_libs_open(grt_cu_libs *L) {
    memset(L, 0, sizeof *L);
#ifdef GAITRT_CUDA_LIBDIR
    const char *cuda_dir = GAITRT_CUDA_LIBDIR;
#else
    const char *cuda_dir = "/usr/local/cuda/lib64";
#endif
#ifdef GAITRT_CUDNN_LIBDIR
    const char *cudnn_dir = GAITRT_CUDNN_LIBDIR;
#else
    const char *cudnn_dir = "";
#endif
    const char *dirs[2] = {cudnn_dir, cuda_dir};

    /* cuBLAS */
    const char *blas_name = "libcublas.so." GRT__STR(CUBLAS_VER_MAJOR);
    L->blas_so = grt__dlopen_any(blas_name, dirs + 1, 1, L->cublas_why, sizeof L->cublas_why);
    if (L->blas_so) {
        int ok = 1;
        GRT__SYM(L->blas_so, L->blas, Create, "cublasCreate_v2", ok, L->cublas_why);
        GRT__SYM(L->blas_so, L->blas, Destroy, "cublasDestroy_v2", ok, L->cublas_why);
        GRT__SYM(L->blas_so, L->blas, SetStream, "cublasSetStream_v2", ok, L->cublas_why);
        GRT__SYM(L->blas_so, L->blas, SetWorkspace, "cublasSetWorkspace_v2", ok, L->cublas_why);
        GRT__SYM(L->blas_so, L->blas, SetMathMode, "cublasSetMathMode", ok, L->cublas_why);
        GRT__SYM(L->blas_so, L->blas, GemmStridedBatchedEx, "cublasGemmStridedBatchedEx", ok, L->cublas_why);
        GRT__SYM(L->blas_so, L->blas, GetStatusString, "cublasGetStatusString", ok, L->cublas_why);
        L->have_cublas = ok;
        if (!ok) {
            dlclose(L->blas_so);
            L->blas_so = NULL;
        }
    }

#ifdef GAITRT_HAVE_CUDNN
    const char *dnn_name = "libcudnn.so." GRT__STR(CUDNN_MAJOR);
    L->dnn_so = grt__dlopen_any(dnn_name, dirs, 2, L->cudnn_why, sizeof L->cudnn_why);
    if (L->dnn_so) {
        int ok = 1;
        void *so = L->dnn_so;
        char *why = L->cudnn_why;
        GRT__SYM(so, L->dnn, GetVersion, "cudnnGetVersion", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, GetErrorString, "cudnnGetErrorString", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, Create, "cudnnCreate", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, Destroy, "cudnnDestroy", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetStream, "cudnnSetStream", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, CreateTensorDescriptor, "cudnnCreateTensorDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetTensorNdDescriptor, "cudnnSetTensorNdDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, DestroyTensorDescriptor, "cudnnDestroyTensorDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, CreateFilterDescriptor, "cudnnCreateFilterDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetFilterNdDescriptor, "cudnnSetFilterNdDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, DestroyFilterDescriptor, "cudnnDestroyFilterDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetConvolutionNdDescriptor, "cudnnSetConvolutionNdDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetConvolutionMathType, "cudnnSetConvolutionMathType", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, DestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, GetConvolutionNdForwardOutputDim, "cudnnGetConvolutionNdForwardOutputDim", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, FindConvolutionForwardAlgorithmEx, "cudnnFindConvolutionForwardAlgorithmEx", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, GetConvolutionForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, ConvolutionForward, "cudnnConvolutionForward", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, ConvolutionBiasActivationForward, "cudnnConvolutionBiasActivationForward", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, CreateActivationDescriptor, "cudnnCreateActivationDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, SetActivationDescriptor, "cudnnSetActivationDescriptor", ok, L->cudnn_why);
        GRT__SYM(so, L->dnn, DestroyActivationDescriptor, "cudnnDestroyActivationDescriptor", ok, L->cudnn_why);
        if (ok) {
            /* the legacy API's structs and enums must be the ones we compiled against */
            size_t v = L->dnn.GetVersion();
            snprintf(L->cudnn_version, sizeof L->cudnn_version, "%zu.%zu.%zu", v / 10000, (v / 100) % 100, v % 100);
            if (v / 10000 != CUDNN_MAJOR) {
                snprintf(why, sizeof L->cudnn_why, "cuDNN %s found, built for %d.x", L->cudnn_version, CUDNN_MAJOR);
                ok = 0;
            }
        }
        L->have_cudnn = ok;
        if (!ok) {
            dlclose(so);
            L->dnn_so = NULL;
        }
    }
#else
    (void)dirs;
    snprintf(L->cudnn_why, sizeof L->cudnn_why, "gaitrt was built without cuDNN headers");
#endif
}

void grt_cu_libs_close(grt_cu_libs *L) {
    if (L->blas_so) dlclose(L->blas_so);
    if (L->dnn_so) dlclose(L->dnn_so);
    memset(L, 0, sizeof *L);
}
