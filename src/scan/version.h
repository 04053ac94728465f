/*
 * Version comparison of the three package ecosystems the scanner reads:
 * dpkg (Debian, Ubuntu), apk (Alpine) and rpm (RHEL and its rebuilds,
 * Fedora, Amazon Linux). Each compares two version strings as that
 * package manager does and returns <0, 0 or >0. Any string is accepted:
 * versions come from images and advisories, so a malformed one still
 * compares deterministically (by the ecosystem's rules as far as they go)
 * and never fails.
 */
#ifndef BERTH_SCAN_VERSION_H
#define BERTH_SCAN_VERSION_H

enum version_kind {
    VERSION_DPKG,
    VERSION_APK,
    VERSION_RPM,
};

/* dpkg: [epoch:]upstream[-revision]; '~' sorts before everything, even
 * the end of the string; letters sort before non-letters (Debian Policy
 * 5.6.12). */
int version_compare_dpkg(const char *a, const char *b);
/* apk: digits{.digits}[letter]{_suffix[N]}[~hash][-rN] (apk-tools): pre-
 * release suffixes _alpha < _beta < _pre < _rc sort before the bare
 * version, post-release ones (_cvs, _svn, _git, _hg, _p) after it. */
int version_compare_apk(const char *a, const char *b);
/* rpm: [epoch:]version[-release], each part by rpmvercmp; a side without
 * a release matches any release of the other. */
int version_compare_rpm(const char *a, const char *b);
/* rpmvercmp itself, on one version or release segment ('~' sorts before
 * everything, '^' after the end but before anything else). */
int version_rpmvercmp(const char *a, const char *b);

int version_compare(enum version_kind kind, const char *a, const char *b);

#endif
