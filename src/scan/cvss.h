/*
 * CVSS base scores and ECR's severity names.
 *
 * cvss3_base_score() computes the base score of a CVSS v3.0 or v3.1
 * vector ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") per the CVSS
 * v3.1 specification, section 7 (with its Roundup); cvss2_base_score()
 * that of a v2 vector ("AV:N/AC:L/Au:N/C:P/I:P/A:P", optionally in
 * parentheses). Temporal and environmental metrics may follow and are
 * ignored; a missing, repeated or unknown base metric value is E_INVALID.
 *
 * severity_from_cvss3() maps a v3 score to ECR's FindingSeverity
 * (0.0 INFORMATIONAL, 0.1-3.9 LOW, 4.0-6.9 MEDIUM, 7.0-8.9 HIGH,
 * 9.0-10.0 CRITICAL: CVSS v3's own qualitative scale);
 * severity_from_priority() maps a distribution's own word (Ubuntu's
 * priority, Debian's urgency, Red Hat's impact) to one, or NULL when the
 * word is unknown.
 */
#ifndef BERTH_SCAN_CVSS_H
#define BERTH_SCAN_CVSS_H

int cvss3_base_score(const char *vector, double *out);
int cvss2_base_score(const char *vector, double *out);

const char *severity_from_cvss3(double score);
const char *severity_from_priority(const char *word);

#endif
