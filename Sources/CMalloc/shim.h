// glibc's heap statistics (mallinfo2) and malloc_trim, for the platform's process statistics.
#include <malloc.h>
