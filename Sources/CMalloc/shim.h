// glibc's heap statistics (mallinfo2) for the otelcol_process_runtime_* metrics.
#include <malloc.h>
