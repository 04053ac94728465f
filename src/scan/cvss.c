/*
 * This module implements CVSS v3.x and v2 base scores (cvss.h) and the
 * mapping of scores and distribution priorities to ECR's severity names.
 * The metric weights are the specifications' tables; scores are computed
 * in double and rounded with v3.1's Roundup (which works on integers to
 * avoid the floating-point surprises of a plain ceil) and v2's
 * round-to-one-decimal.
 */
#include "scan/cvss.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

struct metric_value {
    char value;
    double weight;
};

struct metric {
    const char *name;
    struct metric_value values[4];
};

/* v3 base metrics, in the vector's order. PR's weights depend on scope
 * and are chosen after parsing; the table holds the unchanged-scope ones. */
enum { V3_AV, V3_AC, V3_PR, V3_UI, V3_S, V3_C, V3_I, V3_A, V3_N };
static const struct metric v3_metrics[V3_N] = {
    {"AV", {{'N', 0.85}, {'A', 0.62}, {'L', 0.55}, {'P', 0.2}}},
    {"AC", {{'L', 0.77}, {'H', 0.44}}},
    {"PR", {{'N', 0.85}, {'L', 0.62}, {'H', 0.27}}},
    {"UI", {{'N', 0.85}, {'R', 0.62}}},
    {"S", {{'U', 0}, {'C', 1}}},
    {"C", {{'H', 0.56}, {'L', 0.22}, {'N', 0}}},
    {"I", {{'H', 0.56}, {'L', 0.22}, {'N', 0}}},
    {"A", {{'H', 0.56}, {'L', 0.22}, {'N', 0}}},
};

enum { V2_AV, V2_AC, V2_AU, V2_C, V2_I, V2_A, V2_N };
static const struct metric v2_metrics[V2_N] = {
    {"AV", {{'L', 0.395}, {'A', 0.646}, {'N', 1.0}}},
    {"AC", {{'H', 0.35}, {'M', 0.61}, {'L', 0.71}}},
    {"Au", {{'M', 0.45}, {'S', 0.56}, {'N', 0.704}}},
    {"C", {{'N', 0}, {'P', 0.275}, {'C', 0.660}}},
    {"I", {{'N', 0}, {'P', 0.275}, {'C', 0.660}}},
    {"A", {{'N', 0}, {'P', 0.275}, {'C', 0.660}}},
};

/* Reads "M:V/M:V/..." from z (up to end) into the weights w[] and the
 * letters v[] of the n base metrics; other metrics are skipped. */
static int parse_metrics(const char *z, const char *end, const struct metric *m, int n, double *w, char *v)
{
    bool seen[8] = {false};
    while (z < end) {
        const char *slash = memchr(z, '/', (size_t)(end - z));
        const char *stop = slash ? slash : end;
        const char *colon = memchr(z, ':', (size_t)(stop - z));
        if (!colon || colon == z || stop - colon != 2)
            return error_set(E_INVALID, "cvss: malformed metric '%.*s'", (int)(stop - z), z);
        size_t nlen = (size_t)(colon - z);
        for (int k = 0; k < n; k++) {
            if (strlen(m[k].name) != nlen || memcmp(m[k].name, z, nlen) != 0)
                continue;
            if (seen[k])
                return error_set(E_INVALID, "cvss: metric '%s' repeated", m[k].name);
            int j = 0;
            while (j < 4 && m[k].values[j].value && m[k].values[j].value != colon[1])
                j++;
            if (j == 4 || !m[k].values[j].value)
                return error_set(E_INVALID, "cvss: metric '%s' has no value '%c'", m[k].name, colon[1]);
            seen[k] = true;
            w[k] = m[k].values[j].weight;
            v[k] = colon[1];
        }
        z = slash ? slash + 1 : end;
    }
    for (int k = 0; k < n; k++)
        if (!seen[k])
            return error_set(E_INVALID, "cvss: base metric '%s' missing", m[k].name);
    return 0;
}

/* CVSS v3.1 Appendix A: the smallest number with one decimal that is equal
 * to or higher than its input, computed on integers. */
static double roundup(double x)
{
    long long i = llround(x * 100000.0);
    if (i % 10000 == 0)
        return (double)i / 100000.0;
    return (double)(i / 10000 + 1) / 10.0;
}

int cvss3_base_score(const char *vector, double *out)
{
    double w[V3_N];
    char v[V3_N];
    if (strncmp(vector, "CVSS:3.0/", 9) != 0 && strncmp(vector, "CVSS:3.1/", 9) != 0)
        return error_set(E_INVALID, "cvss: '%.40s' is not a CVSS v3 vector", vector);
    int rc = parse_metrics(vector + 9, vector + strlen(vector), v3_metrics, V3_N, w, v);
    if (rc < 0)
        return rc;
    bool changed = v[V3_S] == 'C';
    if (changed && v[V3_PR] == 'L')
        w[V3_PR] = 0.68;
    else if (changed && v[V3_PR] == 'H')
        w[V3_PR] = 0.5;
    double iss = 1 - (1 - w[V3_C]) * (1 - w[V3_I]) * (1 - w[V3_A]);
    double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
    double exploitability = 8.22 * w[V3_AV] * w[V3_AC] * w[V3_PR] * w[V3_UI];
    if (impact <= 0)
        *out = 0;
    else if (changed)
        *out = roundup(fmin(1.08 * (impact + exploitability), 10));
    else
        *out = roundup(fmin(impact + exploitability, 10));
    return 0;
}

int cvss2_base_score(const char *vector, double *out)
{
    double w[V2_N];
    char v[V2_N];
    size_t n = strlen(vector);
    const char *z = vector, *end = vector + n;
    if (n >= 2 && z[0] == '(' && z[n - 1] == ')')
        z++, end--;
    if (end - z > 5 && strncmp(z, "CVSS:", 5) == 0)
        return error_set(E_INVALID, "cvss: '%.40s' is not a CVSS v2 vector", vector);
    int rc = parse_metrics(z, end, v2_metrics, V2_N, w, v);
    if (rc < 0)
        return rc;
    double impact = 10.41 * (1 - (1 - w[V2_C]) * (1 - w[V2_I]) * (1 - w[V2_A]));
    double exploitability = 20 * w[V2_AV] * w[V2_AC] * w[V2_AU];
    double f = impact == 0 ? 0 : 1.176;
    double score = (0.6 * impact + 0.4 * exploitability - 1.5) * f;
    *out = round(score * 10.0 + 1e-9) / 10.0;
    if (*out < 0)
        *out = 0;
    return 0;
}

const char *severity_from_cvss3(double score)
{
    if (score <= 0)
        return "INFORMATIONAL";
    if (score < 4.0)
        return "LOW";
    if (score < 7.0)
        return "MEDIUM";
    if (score < 9.0)
        return "HIGH";
    return "CRITICAL";
}

/* Each distribution's own words, case-insensitive. */
static const struct {
    const char *word, *severity;
} priorities[] = {
    /* Ubuntu priorities */
    {"negligible", "INFORMATIONAL"},
    {"low", "LOW"},
    {"medium", "MEDIUM"},
    {"high", "HIGH"},
    {"critical", "CRITICAL"},
    {"untriaged", "UNDEFINED"},
    /* Debian urgencies (the tracker's "low**" and friends are normalised
     * by the caller stripping trailing '*') */
    {"unimportant", "INFORMATIONAL"},
    {"not yet assigned", "UNDEFINED"},
    {"end-of-life", "UNDEFINED"},
    /* Red Hat impacts (also used by Rocky Linux and AlmaLinux) */
    {"important", "HIGH"},
    {"moderate", "MEDIUM"},
    /* an OSV database_specific severity in ECR's own words */
    {"informational", "INFORMATIONAL"},
    {"undefined", "UNDEFINED"},
    {"unknown", "UNDEFINED"},
};

const char *severity_from_priority(const char *word)
{
    size_t n = strlen(word);
    while (n > 0 && (word[n - 1] == '*' || word[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < sizeof(priorities) / sizeof(priorities[0]); i++)
        if (strlen(priorities[i].word) == n && strncasecmp(priorities[i].word, word, n) == 0)
            return priorities[i].severity;
    return NULL;
}
