/*
 * Allocation wrappers. Out-of-memory is not a condition request code can
 * recover from, so these abort instead of returning NULL (as h2o_mem_alloc and
 * redis zmalloc do); callers never test for NULL.
 */
#ifndef BERTH_CORE_ALLOC_H
#define BERTH_CORE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
