/*
 * Leveled logging to stderr. The macros test the level before evaluating
 * their arguments (redis serverLog), so a disabled debug line costs a branch.
 * Never pass a secret to these.
 */
#ifndef BERTH_CORE_LOG_H
#define BERTH_CORE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

int log_level_parse(const char *z); /* -1 when z names no level */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
