/*
 * Scan time against its limit: reading and decompressing the layers.
 *
 *   build/bench/scan_layers make DIR [LAYERS [MB_PER_LAYER]]   write gzip layers to DIR
 *   build/bench/scan_layers run LAYER...                       time both, in order
 *
 * "make" writes LAYERS gzip tar layers (default 5 of 100 MiB uncompressed:
 * a 500 MB image) of files that are half random bytes and half text, the
 * last holding this machine's /var/lib/dpkg/status and a Debian
 * os-release. "run" first reads each layer through libarchive's
 * decompressor with no tar parsing at all (the limit: a scan cannot be
 * faster than decompressing its layers), then scans them as the scan job
 * does (scan_view_apply_fd in order, then inventory_from_view), each from
 * a cold page cache where the machine allows it, and prints both times,
 * their ratio, the packages found and the peak resident memory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "scan/scan.h"

#define FILE_BYTES (1 << 20)

static int make_layers(const char *dir, int layers, int mb)
{
    char *data = malloc(FILE_BYTES);
    for (int l = 0; l < layers; l++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/layer%02d.tar.gz", dir, l);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
        if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
            fprintf(stderr, "scan_layers: %s: %s\n", path, archive_error_string(a));
            return 1;
        }
        for (int f = 0; f < mb; f++) {
            struct archive_entry *e = archive_entry_new();
            char name[64];
            if (f % 2) {
                random_bytes(data, FILE_BYTES);
            } else {
                for (int i = 0; i < FILE_BYTES; i++)
                    data[i] = "abcdefgh ijklmnop\nqrstuvwxyz0123456789"[(i * 7 + f + l) % 38];
            }
            snprintf(name, sizeof(name), "usr/share/bench/l%d/f%05d", l, f);
            archive_entry_set_pathname(e, name);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, FILE_BYTES);
            archive_write_header(a, e);
            archive_write_data(a, data, FILE_BYTES);
            archive_entry_free(e);
        }
        if (l == layers - 1) {
            static const char os[] = "ID=debian\nVERSION_ID=\"12\"\n";
            FILE *st = fopen("/var/lib/dpkg/status", "rb");
            size_t n = st ? fread(data, 1, FILE_BYTES, st) : 0;
            if (st)
                fclose(st);
            const char *names[2] = {"etc/os-release", "var/lib/dpkg/status"};
            const void *bodies[2] = {os, data};
            size_t sizes[2] = {sizeof(os) - 1, n};
            for (int i = 0; i < 2; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, names[i]);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t)sizes[i]);
                archive_write_header(a, e);
                archive_write_data(a, bodies[i], sizes[i]);
                archive_entry_free(e);
            }
        }
        archive_write_close(a);
        archive_write_free(a);
        printf("%s\n", path);
    }
    free(data);
    return 0;
}

static void drop_cache(int fd)
{
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* The limit: every byte of every layer through the decompressor. */
static int decompress_only(int n, char **paths, uint64_t *bytes)
{
    static char block[1 << 16];
    for (int i = 0; i < n; i++) {
        struct archive *a = archive_read_new();
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_format_raw(a);
        struct archive_entry *e;
        int fd = open(paths[i], O_RDONLY);
        if (fd < 0 || archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK)
            return -1;
        la_ssize_t r;
        while ((r = archive_read_data(a, block, sizeof(block))) > 0)
            *bytes += (uint64_t)r;
        archive_read_free(a);
        drop_cache(fd);
        close(fd);
    }
    return 0;
}

static int run(int n, char **paths)
{
    uint64_t raw = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY);
        if (fd >= 0) {
            drop_cache(fd);
            close(fd);
        }
    }
    int64_t t0 = mono_us();
    if (decompress_only(n, paths, &raw) < 0) {
        fprintf(stderr, "scan_layers: cannot read the layers\n");
        return 1;
    }
    int64_t t1 = mono_us();
    struct scan_view *v = scan_view_new(NULL);
    for (int i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY);
        if (fd < 0 || scan_view_apply_fd(v, fd) < 0) {
            fprintf(stderr, "scan_layers: %s: %s\n", paths[i], error_message());
            return 1;
        }
        drop_cache(fd);
        close(fd);
    }
    struct inventory inv;
    inventory_init(&inv);
    inventory_from_view(&inv, v);
    int64_t t2 = mono_us();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("layers %d, %.1f MB compressed, %.1f MB expanded, %llu entries\n", n, inv.stats.bytes_in / 1e6,
           inv.stats.bytes_expanded / 1e6, (unsigned long long)inv.stats.entries);
    printf("decompress only: %.3f s (%.0f MB/s)\n", (t1 - t0) / 1e6, raw / ((t1 - t0) / 1e6) / 1e6);
    printf("scan:            %.3f s (%.2fx the limit), %zu packages, ecosystem %s\n", (t2 - t1) / 1e6,
           (double)(t2 - t1) / (double)(t1 - t0), inv.npkgs, inv.ecosystem ? inv.ecosystem : "none");
    printf("peak RSS:        %.1f MB\n", ru.ru_maxrss / 1024.0);
    inventory_release(&inv);
    scan_view_free(v);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "make") == 0)
        return make_layers(argv[2], argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5,
                           argc > 4 ? (int)strtol(argv[4], NULL, 10) : 100);
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return run(argc - 2, argv + 2);
    fprintf(stderr, "usage: scan_layers make DIR [LAYERS [MB_PER_LAYER]] | run LAYER...\n");
    return 2;
}
