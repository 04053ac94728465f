/*
 * This module implements the thread-local error detail of error.h.
 */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[512];

int error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof(last_message), fmt, ap);
    va_end(ap);
    return code;
}

const char *error_message(void)
{
    return last_message;
}

void error_clear(void)
{
    last_message[0] = '\0';
}
