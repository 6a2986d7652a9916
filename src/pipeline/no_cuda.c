/* no_cuda.c — what the pipeline sees of CUDA when gaitrt is built without it: no devices,
 * and a backend request that fails with the reason. */
#ifndef GAITRT_HAVE_CUDA
#include "pipeline/pipeline.h"

int grt_cuda_device_list(gaitrt_device_desc *out, int cap) {
    (void)out;
    (void)cap;
    return 0;
}

const grt_backend_i *grt_backend_cuda(void) {
    grt_error(GAITRT_ERR_DEVICE, "gaitrt was built without CUDA ---> HINT: rebuild with the CUDA toolkit installed");
    return NULL;
}
#endif
