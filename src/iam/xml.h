/*
 * Writing the XML of AWS Query replies into a struct buf: elements with
 * escaped text, and the value formats IAM uses (ISO-8601 UTC timestamps
 * without fractions, true/false, URL-encoded policy documents).
 */
#ifndef BERTH_IAM_XML_H
#define BERTH_IAM_XML_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends text with &, <, >, " and ' escaped; characters XML 1.0 cannot
 * carry (controls other than tab, newline and CR) become U+FFFD. */
void xml_escape(struct buf *b, const char *text);
void xml_open(struct buf *b, const char *name);
void xml_close(struct buf *b, const char *name);
/* <name>text</name>; nothing when text is NULL. */
void xml_text(struct buf *b, const char *name, const char *text);
void xml_bool(struct buf *b, const char *name, bool v);
void xml_int(struct buf *b, const char *name, int64_t v);
/* 2026-11-23T12:00:00Z */
void xml_time(struct buf *b, const char *name, int64_t ms);
void xml_format_time(char out[32], int64_t ms);
/* The text percent-encoded as IAM returns policy documents (RFC 3986:
 * every byte but A-Z a-z 0-9 - . _ ~). */
void xml_urlencoded(struct buf *b, const char *name, const char *text);

/* A reply's result XML (what these functions wrote: elements without
 * attributes) read back as JSON for its audit record: an element with
 * children becomes an object keyed by their names in lowerCamelCase
 * (CloudTrail's spelling), one whose children are all <member> a list,
 * any other its unescaped text. NULL when xml is not of that form. */
struct json_t;
struct json_t *xml_to_json(const char *xml, size_t n);

#endif
