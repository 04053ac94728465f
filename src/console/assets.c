/*
 * This module implements assets.h: the table of the files assets_data.S built
 * in, with their content types and ETags (computed once, on first use).
 */
#include "console/assets.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/digest.h"

#define ASSETS(X)                                                                                                          \
    X(console_index_html, "index.html", "text/html; charset=utf-8")                                                       \
    X(console_style_css, "style.css", "text/css; charset=utf-8")                                                          \
    X(console_app_js, "app.js", "text/javascript; charset=utf-8")                                                         \
    X(console_api_js, "api.js", "text/javascript; charset=utf-8")                                                         \
    X(console_ui_js, "ui.js", "text/javascript; charset=utf-8")                                                           \
    X(console_repos_js, "repos.js", "text/javascript; charset=utf-8")                                                     \
    X(console_images_js, "images.js", "text/javascript; charset=utf-8")                                                   \
    X(console_settings_js, "settings.js", "text/javascript; charset=utf-8")                                               \
    X(console_iam_js, "iam.js", "text/javascript; charset=utf-8")                                                         \
    X(console_favicon_svg, "favicon.svg", "image/svg+xml")

#define DECLARE(sym, name, type) extern const char sym[], sym##_end[];
ASSETS(DECLARE)

#define ENTRY(sym, name, type) {name, type, sym, 0, ""},
static struct console_asset assets[] = {ASSETS(ENTRY)};

#define END(sym, name, type) sym##_end,
static const char *const ends[] = {ASSETS(END)};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void assets_init(void)
{
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        char d[DIGEST_MAX];
        assets[i].size = (size_t)(ends[i] - assets[i].data);
        digest_sha256(d, assets[i].data, assets[i].size);
        snprintf(assets[i].etag, sizeof(assets[i].etag), "\"%.16s\"", d + 7);
    }
}

const struct console_asset *console_asset_find(const char *name)
{
    pthread_once(&once, assets_init);
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
        if (strcmp(assets[i].name, name) == 0)
            return &assets[i];
    return NULL;
}
