/*
 * A directory of its own for a unit test (a data directory, layers):
 * made under /tmp, removed with everything in it afterwards.
 */
#ifndef BERTH_TESTS_TMPDIR_H
#define BERTH_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Makes /tmp/berth-<name>-XXXXXX into dir (size bytes); 0 or -1. */
static inline int tmpdir_make(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/berth-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int tmpdir_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything in it; 0 or -1. */
static inline int tmpdir_remove(const char *dir)
{
    return nftw(dir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

#endif
