#include "deflate_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static tp_deflate_api api;
static const tp_deflate_api *loaded = NULL;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    const char *off = getenv("TRACEPIPE_NO_LIBDEFLATE");
    if (off != NULL && strcmp(off, "") != 0 && strcmp(off, "0") != 0) return;
    // The soname, not "libdeflate.so": the unversioned link comes only with the -dev package.
    void *lib = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return;
    api.alloc_compressor = (void *(*)(int))dlsym(lib, "libdeflate_alloc_compressor");
    api.free_compressor = (void (*)(void *))dlsym(lib, "libdeflate_free_compressor");
    api.gzip_compress = (size_t (*)(void *, const void *, size_t, void *, size_t))dlsym(lib, "libdeflate_gzip_compress");
    api.gzip_compress_bound = (size_t (*)(void *, size_t))dlsym(lib, "libdeflate_gzip_compress_bound");
    api.zlib_compress = (size_t (*)(void *, const void *, size_t, void *, size_t))dlsym(lib, "libdeflate_zlib_compress");
    api.zlib_compress_bound = (size_t (*)(void *, size_t))dlsym(lib, "libdeflate_zlib_compress_bound");
    api.crc32 = (unsigned int (*)(unsigned int, const void *, size_t))dlsym(lib, "libdeflate_crc32");
    if (api.alloc_compressor && api.free_compressor && api.gzip_compress && api.gzip_compress_bound &&
        api.zlib_compress && api.zlib_compress_bound && api.crc32) {
        loaded = &api;
    } else {
        dlclose(lib);
    }
}

const tp_deflate_api *tp_deflate_api_get(void) {
    pthread_once(&once, load);
    return loaded;
}
