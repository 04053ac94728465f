/*
 * The console's files, included into the binary at build time; assets.c
 * lists them with their content types. A file added to www/ is added to
 * both lists (and to the Makefile's dependency of this object on www/).
 */
    .macro asset sym, file
    .section .rodata.console,"a"
    .balign 16
    .global \sym
\sym:
    .incbin "\file"
    .global \sym\()_end
\sym\()_end:
    .byte 0
    .endm

    asset console_index_html, "src/console/www/index.html"
    asset console_style_css, "src/console/www/style.css"
    asset console_app_js, "src/console/www/app.js"
    asset console_api_js, "src/console/www/api.js"
    asset console_ui_js, "src/console/www/ui.js"
    asset console_repos_js, "src/console/www/repos.js"
    asset console_images_js, "src/console/www/images.js"
    asset console_settings_js, "src/console/www/settings.js"
    asset console_iam_js, "src/console/www/iam.js"
    asset console_favicon_svg, "src/console/www/favicon.svg"

    .section .note.GNU-stack,"",@progbits
