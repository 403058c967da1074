// libdeflate, loaded at run time: a fresh machine has its shared library (libdeflate.so.0) but
// not its header, so tracepipe declares the few functions it calls and looks them up with dlopen.
// When the library is missing, tp_deflate_api() returns NULL and callers fall back to zlib.
#ifndef TRACEPIPE_DEFLATE_LOADER_H
#define TRACEPIPE_DEFLATE_LOADER_H

#include <stddef.h>

typedef struct tp_deflate_api {
    void *(*alloc_compressor)(int level);
    void (*free_compressor)(void *compressor);
    size_t (*gzip_compress)(void *compressor, const void *in, size_t in_nbytes, void *out, size_t out_nbytes_avail);
    size_t (*gzip_compress_bound)(void *compressor, size_t in_nbytes);
    size_t (*zlib_compress)(void *compressor, const void *in, size_t in_nbytes, void *out, size_t out_nbytes_avail);
    size_t (*zlib_compress_bound)(void *compressor, size_t in_nbytes);
    /// zlib's crc32 (same polynomial and conventions), several times faster.
    unsigned int (*crc32)(unsigned int crc, const void *buffer, size_t len);
} tp_deflate_api;

/// The library's entry points, or NULL when libdeflate.so.0 cannot be loaded (or lacks one of
/// them). Loaded once; safe to call from any thread. TRACEPIPE_NO_LIBDEFLATE=1 forces NULL.
const tp_deflate_api *tp_deflate_api_get(void);

#endif
