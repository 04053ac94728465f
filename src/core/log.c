/*
 * This module implements the log line writer: one line, with a UTC
 * timestamp and the level, written with a single write(2) so lines from
 * different threads never interleave. As text a line is
 *   2026-11-29T03:04:05.678Z info <message>
 * with control characters replaced (so no input can forge a line); as
 * JSON it is {"time":...,"level":...,"msg":...} and a request's line has
 * its fields as members. The log file's descriptor number never changes:
 * log_reopen() puts the new file in its place with dup2(), which is atomic
 * for the writers.
 */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"

#define LINE_MAX_BYTES 4096
#define FIELD_MAX 1024 /* bytes of one string in a JSON line */

int log_level = LOG_INFO;
static int log_format = LOG_TEXT;
static int log_fd = STDERR_FILENO;
static char *log_path;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *z)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(z, level_names[i]) == 0)
            return i;
    return -1;
}

int log_format_parse(const char *z)
{
    if (strcasecmp(z, "text") == 0)
        return LOG_TEXT;
    if (strcasecmp(z, "json") == 0)
        return LOG_JSON;
    return -1;
}

void log_set_format(int format)
{
    log_format = format;
}

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return error_set(E_ERROR, "cannot open log file '%s': %s", path, strerror(errno));
    return fd;
}

int log_open(const char *path)
{
    int fd = open_log(path);
    if (fd < 0)
        return fd;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = xstrdup(path);
    return 0;
}

int log_reopen(void)
{
    if (!log_path)
        return 0;
    int fd = open_log(log_path);
    if (fd < 0)
        return fd;
    int rc = dup2(fd, log_fd) < 0 ? error_set(E_ERROR, "cannot reopen log file '%s': %s", log_path, strerror(errno)) : 0;
    close(fd);
    return rc;
}

static void emit(char *line, size_t n)
{
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* nowhere left to report it */
    }
}

/* "2026-11-29T03:04:05.678Z" */
static void timestamp(char out[32])
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

/* A JSON string of z, cut to FIELD_MAX bytes (at a character boundary)
 * so that a request's line always fits; bytes that are not UTF-8 become
 * '?'. */
static json_t *json_text(const char *z)
{
    size_t n = strlen(z);
    if (n > FIELD_MAX) {
        n = FIELD_MAX;
        while (n > 0 && ((unsigned char)z[n] & 0xc0) == 0x80)
            n--;
    }
    json_t *j = json_stringn(z, n);
    if (j)
        return j;
    char *copy = xmalloc(n + 1);
    memcpy(copy, z, n);
    copy[n] = '\0';
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* Writes the JSON line of obj (which it takes); too long a line is cut to
 * its message. */
static void emit_json(json_t *obj)
{
    char line[LINE_MAX_BYTES + 1];
    size_t n = json_dumpb(obj, line, LINE_MAX_BYTES, JSON_COMPACT);
    json_decref(obj);
    if (n == 0 || n > LINE_MAX_BYTES) {
        static const char cut[] = "{\"level\":\"warn\",\"msg\":\"a log line was too long to write\"}";
        memcpy(line, cut, sizeof(cut) - 1);
        n = sizeof(cut) - 1;
    }
    emit(line, n);
}

void log_write(int level, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES + 1], ts[32];
    va_list ap;
    size_t n;

    timestamp(ts);
    if (log_format == LOG_JSON) {
        char msg[2048];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_t *obj = json_object();
        json_object_set_new(obj, "time", json_string(ts));
        json_object_set_new(obj, "level", json_string(level_names[level]));
        json_object_set_new(obj, "msg", json_text(msg));
        emit_json(obj);
        return;
    }
    n = (size_t)snprintf(line, sizeof(line), "%s %s ", ts, level_names[level]);
    size_t start = n;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    for (size_t i = start; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    emit(line, n);
}

void log_request(const struct log_request *lr)
{
    if (LOG_INFO > log_level)
        return;
    if (log_format == LOG_JSON) {
        char ts[32];
        timestamp(ts);
        json_t *obj = json_object();
        json_object_set_new(obj, "time", json_string(ts));
        json_object_set_new(obj, "level", json_string("info"));
        json_object_set_new(obj, "msg", json_string("request"));
        json_object_set_new(obj, "method", json_text(lr->method));
        json_object_set_new(obj, "path", json_text(lr->path));
        json_object_set_new(obj, "operation", json_text(lr->operation));
        json_object_set_new(obj, "status", json_integer(lr->status));
        json_object_set_new(obj, "bytes", json_integer((json_int_t)lr->bytes));
        json_object_set_new(obj, "duration_ms", json_real((double)lr->duration_us / 1000.0));
        json_object_set_new(obj, "principal", json_text(lr->principal));
        json_object_set_new(obj, "client_ip", json_text(lr->client_ip));
        json_object_set_new(obj, "aborted", json_boolean(lr->aborted));
        emit_json(obj);
        return;
    }
    int64_t us = lr->duration_us;
    log_write(LOG_INFO, "%s %s%s%s %u %llu %lld.%03lldms %s %s%s", lr->method, lr->path, lr->operation[0] ? " " : "",
              lr->operation, lr->status, (unsigned long long)lr->bytes, (long long)(us / 1000), (long long)(us % 1000),
              lr->principal[0] ? lr->principal : "-", lr->client_ip[0] ? lr->client_ip : "-", lr->aborted ? " aborted" : "");
}
