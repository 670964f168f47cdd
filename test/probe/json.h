/* Minimal streaming JSON writer for the probe. Output is compact, keys are
 * written in the order the caller emits them, so the report is deterministic. */
#ifndef PROBE_JSON_H
#define PROBE_JSON_H

#include <stddef.h>

void j_obj_begin(void);
void j_obj_end(void);
void j_arr_begin(void);
void j_arr_end(void);
void j_key(const char *key);
/* A string from arbitrary bytes: escapes per RFC 8259 §7; bytes that are not
 * valid UTF-8 become U+FFFD so the output always parses. */
void j_strn(const char *s, size_t len);
void j_str(const char *s); /* NULL writes null */
void j_int(long long v);
void j_uint(unsigned long long v);
void j_bool(int v);
void j_null(void);
/* A number already formatted by the caller (e.g. "12.000000001"). */
void j_raw_number(const char *digits);
/* Ends the current top-level value with a newline and flushes stdout. */
void j_line_end(void);

#endif
