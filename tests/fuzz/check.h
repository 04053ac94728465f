/*
 * CHECK() for the fuzz targets: a property every input must keep. A
 * failure aborts, which libFuzzer (and standalone.c's replay) reports
 * with the input that broke it.
 */
#ifndef BERTH_FUZZ_CHECK_H
#define BERTH_FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(cond)                                                                                                        \
    do {                                                                                                                   \
        if (!(cond))                                                                                                       \
            abort();                                                                                                       \
    } while (0)

#endif
