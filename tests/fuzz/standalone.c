/*
 * Replays a libFuzzer corpus without libFuzzer (libgit2's standalone_driver.c,
 * SQLite's fuzzcheck): every file in the directories named on the command
 * line is fed once to LLVMFuzzerTestOneInput. Normal CI builds each target
 * with this driver, under the sanitizer build too, so the corpus is a
 * regression suite even where clang's fuzzer runtime is not used.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: cannot read '%s'\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    uint8_t *data = malloc((size_t)st.st_size + 1);
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int count = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        if (!d) {
            fprintf(stderr, "replay: no corpus directory '%s'\n", argv[i]);
            return 1;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (replay_file(path) < 0)
                failed++;
            count++;
        }
        closedir(d);
    }
    printf("replay %s: %d inputs, %d unreadable\n", argc > 1 ? argv[1] : "", count, failed);
    return failed ? 1 : 0;
}
