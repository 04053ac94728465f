/*
 * OSV records shaped as the publishers write them (trimmed): Debian's
 * DSA, Ubuntu's CVE records (with Pro entries, ubuntu_priority and a
 * CVSS v3 vector, and the older "Ubuntu" severity type), Alpine's
 * (upstream instead of aliases), Rocky Linux's (epochs in versions), and
 * a PyPI record, which the database does not keep. Shared by the unit
 * tests of scan/.
 */
#ifndef BERTH_TEST_SCAN_RECORDS_H
#define BERTH_TEST_SCAN_RECORDS_H

static const char debian_dsa[] =
    "{\"id\":\"DSA-5585-1\",\"summary\":\"openssl - security update\","
    "\"details\":\"Several vulnerabilities were discovered in OpenSSL.\",\"aliases\":[\"CVE-2023-5678\"],"
    "\"modified\":\"2024-01-10T12:00:00Z\",\"published\":\"2023-12-19T00:00:00Z\","
    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"openssl\","
    "\"purl\":\"pkg:deb/debian/openssl?arch=source\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"3.0.11-1~deb12u2\"}]}],"
    "\"versions\":[\"3.0.9-1\",\"3.0.11-1~deb12u1\"]},"
    "{\"package\":{\"ecosystem\":\"Debian:11\",\"name\":\"openssl\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1.1.1w-0+deb11u1\"}]}]}],"
    "\"references\":[{\"type\":\"WEB\",\"url\":\"https://security-tracker.debian.org/tracker/CVE-2023-5678\"},"
    "{\"type\":\"ADVISORY\",\"url\":\"https://www.debian.org/security/2023/dsa-5585\"}]}";

static const char ubuntu_cve[] =
    "{\"schema_version\":\"1.6.3\",\"id\":\"CVE-2024-0727\",\"details\":\"Issue summary: Processing a maliciously "
    "formatted PKCS12 file may lead OpenSSL to crash\",\"aliases\":[],\"related\":[],"
    "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H\"}],"
    "\"published\":\"2024-01-26T09:15:00Z\",\"modified\":\"2024-08-23T16:30:37Z\","
    "\"affected\":[{\"package\":{\"ecosystem\":\"Ubuntu:Pro:18.04:LTS\",\"name\":\"openssl\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1.1.1-1ubuntu2.1~18.04.23+esm4\"}]}]},"
    "{\"package\":{\"ecosystem\":\"Ubuntu:22.04:LTS\",\"name\":\"openssl\","
    "\"purl\":\"pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.14?arch=src?distro=jammy\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"3.0.2-0ubuntu1.14\"}]}],"
    "\"versions\":[\"3.0.2-0ubuntu1\",\"3.0.2-0ubuntu1.13\"],"
    "\"ecosystem_specific\":{\"binaries\":[{\"libssl3\":\"3.0.2-0ubuntu1.14\",\"openssl\":\"3.0.2-0ubuntu1.14\"}],"
    "\"availability\":\"No subscription required\",\"ubuntu_priority\":\"low\"}},"
    "{\"package\":{\"ecosystem\":\"Ubuntu:22.04:LTS\",\"name\":\"edk2\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}],"
    "\"versions\":[\"2022.02-3ubuntu0.22.04.1\"]}],"
    "\"references\":[{\"type\":\"REPORT\",\"url\":\"https://ubuntu.com/security/CVE-2024-0727\"}]}";

/* An older Ubuntu record: no CVSS, the priority as a severity of type Ubuntu. */
static const char ubuntu_priority_only[] =
    "{\"id\":\"UBUNTU-CVE-2022-1234\",\"summary\":\"zlib issue\",\"modified\":\"2023-01-01T00:00:00.123456Z\","
    "\"severity\":[{\"type\":\"Ubuntu\",\"score\":\"high\"}],"
    "\"affected\":[{\"package\":{\"ecosystem\":\"Ubuntu:22.04:LTS\",\"name\":\"zlib\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1:1.2.11.dfsg-2ubuntu9.2\"}]}]},"
    "{\"package\":{\"ecosystem\":\"Ubuntu:24.04:LTS\",\"name\":\"zlib\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}],"
    "\"ecosystem_specific\":{\"ubuntu_priority\":\"negligible\"}}]}";

static const char alpine_cve[] =
    "{\"id\":\"ALPINE-CVE-2024-0727\",\"upstream\":[\"CVE-2024-0727\"],\"modified\":\"2024-03-01T00:00:00Z\","
    "\"affected\":[{\"package\":{\"name\":\"openssl\",\"ecosystem\":\"Alpine:v3.19\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"3.1.4-r5\"}]}]}]}";

static const char rocky_rlsa[] =
    "{\"id\":\"RLSA-2024:2447\",\"summary\":\"Moderate: openssl security update\","
    "\"modified\":\"2024-05-10T00:00:00Z\",\"database_specific\":{\"severity\":\"Moderate\"},"
    "\"affected\":[{\"package\":{\"ecosystem\":\"Rocky Linux:9\",\"name\":\"openssl\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"3.0.7-27.el9\"}]}]}]}";

/* Ranges with last_affected, several ranges, and a versions list alone. */
static const char ranges_record[] =
    "{\"id\":\"TEST-RANGES-1\",\"summary\":\"ranges\",\"modified\":\"2024-01-01T00:00:00Z\","
    "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"},"
    "{\"type\":\"CVSS_V2\",\"score\":\"AV:N/AC:L/Au:N/C:P/I:P/A:P\"}],"
    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"lastpkg\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"1.0\"},{\"last_affected\":\"1.5\"}]}]},"
    "{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"tworanges\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"fixed\":\"4\"},{\"introduced\":\"3\"},{\"introduced\":\"0\"},"
    "{\"fixed\":\"2\"}]},{\"type\":\"GIT\",\"repo\":\"https://example.org/x.git\",\"events\":[{\"introduced\":\"0\"}]}]},"
    "{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"listpkg\"},\"versions\":[\"2.0-1\",\"2.0-3\"]}]}";

static const char pypi_record[] =
    "{\"id\":\"GHSA-aaaa-bbbb-cccc\",\"modified\":\"2024-01-01T00:00:00Z\","
    "\"affected\":[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"requests\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"2.31.0\"}]}]}]}";

#endif
