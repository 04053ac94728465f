/*
 * Leveled logging, one line per event, to stderr or a file (--log-file),
 * as text or as one JSON object per line (--log-format json). The macros
 * test the level before evaluating their arguments (redis serverLog), so a
 * disabled debug line costs a branch. Never pass a secret to these.
 */
#ifndef BERTH_CORE_LOG_H
#define BERTH_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_TEXT = 0, LOG_JSON = 1 };

extern int log_level;

int log_level_parse(const char *z);  /* -1 when z names no level */
int log_format_parse(const char *z); /* -1 when z is not text or json */
void log_set_format(int format);

/* Lines go to path from now on (appended; created 0640). Call before other
 * threads log. */
int log_open(const char *path);
/* Opens the log file's path again, for logrotate: lines written from then
 * on go to whatever file has that name now. Safe while other threads log;
 * a no-op when logging to stderr. */
int log_reopen(void);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The one line a completed request gets (at info level). */
struct log_request {
    const char *method;
    const char *path;
    const char *operation; /* "" when none */
    unsigned status;
    uint64_t bytes;
    int64_t duration_us;
    const char *principal; /* "" when none; never a secret */
    const char *client_ip;
    bool aborted;
};
void log_request(const struct log_request *lr);

#define log_at(lvl, ...)                                                                                                   \
    do {                                                                                                                   \
        if ((lvl) <= log_level)                                                                                            \
            log_write((lvl), __VA_ARGS__);                                                                                 \
    } while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
