// SHA-1 and SHA-256 block functions on the x86 SHA extensions (SHA-NI), for the redaction and
// attributes processors' hashes. Callers check tp_sha_ni_available() first and otherwise use
// their portable code; on other architectures it is always 0.
#ifndef TRACEPIPE_SHA_NI_H
#define TRACEPIPE_SHA_NI_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the SHA extensions (and the SSSE3/SSE4.1 instructions used with them).
int tp_sha_ni_available(void);

/// Runs the SHA-1 compression function over `count` 64-byte blocks at `blocks`.
/// `state` is the five chaining words (host order).
void tp_sha1_blocks(uint32_t state[5], const uint8_t *blocks, size_t count);

/// Runs the SHA-256 compression function over `count` 64-byte blocks at `blocks`.
/// `state` is the eight chaining words (host order).
void tp_sha256_blocks(uint32_t state[8], const uint8_t *blocks, size_t count);

#endif
