/* movement.c — reference data movement: concat, slice, transpose over row-major tensors. */
#include <string.h>

#include "ref_kernels.h"

void grt_ref_concat(const float *const *xs, const int64_t (*shapes)[GRT_MAX_DIMS], int n_x, int ndim, int axis,
                    float *y) {
    int64_t outer = 1, inner = 1, total = 0;
    for (int d = 0; d < axis; d++) outer *= shapes[0][d];
    for (int d = axis + 1; d < ndim; d++) inner *= shapes[0][d];
    for (int k = 0; k < n_x; k++) total += shapes[k][axis];
    int64_t base = 0;
    for (int k = 0; k < n_x; k++) {
        const int64_t len = shapes[k][axis] * inner;
        for (int64_t o = 0; o < outer; o++) memcpy(y + o * total * inner + base, xs[k] + o * len, (size_t)len * sizeof(float));
        base += len;
    }
}

void grt_ref_slice(const float *x, const int64_t *shape, int ndim, int axis, int start, int len, float *y) {
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= shape[d];
    for (int d = axis + 1; d < ndim; d++) inner *= shape[d];
    for (int64_t o = 0; o < outer; o++)
        memcpy(y + o * len * inner, x + (o * shape[axis] + start) * inner, (size_t)(len * inner) * sizeof(float));
}

void grt_ref_transpose(const float *x, const int64_t *shape, int ndim, const int *perm, float *y) {
    int64_t in_stride[GRT_MAX_DIMS], out_shape[GRT_MAX_DIMS], idx[GRT_MAX_DIMS] = {0}, total = 1;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        in_stride[d] = s;
        s *= shape[d];
    }
    for (int d = 0; d < ndim; d++) {
        out_shape[d] = shape[perm[d]];
        total *= out_shape[d];
    }
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        for (int d = 0; d < ndim; d++) off += idx[d] * in_stride[perm[d]];
        y[i] = x[off];
        for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < out_shape[d]) break;
            idx[d] = 0;
        }
    }
}
