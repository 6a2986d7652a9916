/*
 * cu_libs.h — cuBLAS and cuDNN, opened at run time (dlopen) into tables of function
 * pointers held by the backend state. We do not link them: a gaitrt built with CUDA then
 * starts on machines that have neither library (nor a driver), and a missing or mismatched
 * library becomes a reported fallback to our own kernels instead of a loader error.
 *
 * What this file is not: a general loader. It opens the two libraries, checks their major
 * versions against the headers we compiled with, and resolves the few entry points we call.
 *
 * Usage:
 *     grt_cu_libs L;  grt_cu_libs_open(&L);
 *     if (L.have_cudnn) L.dnn.Create(&h);   // else L.cudnn_why says why not
 *     grt_cu_libs_close(&L);
 */
#ifndef GRT_CU_LIBS_H
#define GRT_CU_LIBS_H

#include <cublas_v2.h>
#ifdef GAITRT_HAVE_CUDNN
#include <cudnn.h>
#endif

typedef struct grt_cu_blas_api {
    __typeof__(cublasCreate_v2) *Create;
    __typeof__(cublasDestroy_v2) *Destroy;
    __typeof__(cublasSetStream_v2) *SetStream;
    __typeof__(cublasSetWorkspace_v2) *SetWorkspace;
    __typeof__(cublasSetMathMode) *SetMathMode;
    __typeof__(cublasGemmStridedBatchedEx) *GemmStridedBatchedEx;
    __typeof__(cublasGetStatusString) *GetStatusString;
} grt_cu_blas_api;

#ifdef GAITRT_HAVE_CUDNN
typedef struct grt_cu_dnn_api {
    __typeof__(cudnnGetVersion) *GetVersion;
    __typeof__(cudnnGetErrorString) *GetErrorString;
    __typeof__(cudnnCreate) *Create;
    __typeof__(cudnnDestroy) *Destroy;
    __typeof__(cudnnSetStream) *SetStream;
    __typeof__(cudnnCreateTensorDescriptor) *CreateTensorDescriptor;
    __typeof__(cudnnSetTensorNdDescriptor) *SetTensorNdDescriptor;
    __typeof__(cudnnDestroyTensorDescriptor) *DestroyTensorDescriptor;
    __typeof__(cudnnCreateFilterDescriptor) *CreateFilterDescriptor;
    __typeof__(cudnnSetFilterNdDescriptor) *SetFilterNdDescriptor;
    __typeof__(cudnnDestroyFilterDescriptor) *DestroyFilterDescriptor;
    __typeof__(cudnnCreateConvolutionDescriptor) *CreateConvolutionDescriptor;
    __typeof__(cudnnSetConvolutionNdDescriptor) *SetConvolutionNdDescriptor;
    __typeof__(cudnnSetConvolutionGroupCount) *SetConvolutionGroupCount;
    __typeof__(cudnnSetConvolutionMathType) *SetConvolutionMathType;
    __typeof__(cudnnDestroyConvolutionDescriptor) *DestroyConvolutionDescriptor;
    __typeof__(cudnnGetConvolutionNdForwardOutputDim) *GetConvolutionNdForwardOutputDim;
    __typeof__(cudnnFindConvolutionForwardAlgorithmEx) *FindConvolutionForwardAlgorithmEx;
    __typeof__(cudnnGetConvolutionForwardWorkspaceSize) *GetConvolutionForwardWorkspaceSize;
    __typeof__(cudnnConvolutionForward) *ConvolutionForward;
    __typeof__(cudnnConvolutionBiasActivationForward) *ConvolutionBiasActivationForward;
    __typeof__(cudnnCreateActivationDescriptor) *CreateActivationDescriptor;
    __typeof__(cudnnSetActivationDescriptor) *SetActivationDescriptor;
    __typeof__(cudnnDestroyActivationDescriptor) *DestroyActivationDescriptor;
} grt_cu_dnn_api;
#endif

typedef struct grt_cu_libs {
    void *blas_so, *dnn_so;
    int have_cublas, have_cudnn;
    grt_cu_blas_api blas;
#ifdef GAITRT_HAVE_CUDNN
    grt_cu_dnn_api dnn;
#endif
    char cublas_why[160];  /* why cuBLAS is unavailable ("" when it is there) */
    char cudnn_why[160];
    char cudnn_version[48];
} grt_cu_libs;

/* A library's own out-of-memory status. Such a failure is reported as GAITRT_ERR_NOMEM, as a
 * failed cudaMalloc is, so that the session answers it the same way (a smaller batch, then the
 * CPU): never as a refusal that would send a layer to a slower path for the plan's life. */
static inline int grt_cu_blas_nomem(cublasStatus_t s) { return s == CUBLAS_STATUS_ALLOC_FAILED; }
#ifdef GAITRT_HAVE_CUDNN
static inline int grt_cu_dnn_nomem(cudnnStatus_t s) {
#if CUDNN_MAJOR >= 9
    return s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED || s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
#else
    return s == CUDNN_STATUS_ALLOC_FAILED;
#endif
}
#endif

/* Opens what it can; never fails (what is missing is recorded in *_why). */
void grt_cu_libs_open(grt_cu_libs *L);
void grt_cu_libs_close(grt_cu_libs *L);

#endif /* GRT_CU_LIBS_H */
