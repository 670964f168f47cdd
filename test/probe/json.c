/* Streaming JSON writer: a stack of "an element was already written" flags
 * decides where commas go. Strings are escaped per RFC 8259 §7. */
#include "json.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64

static int has_items[MAX_DEPTH];
static int depth;
static int after_key;

static void separate(void)
{
	if (after_key) {
		after_key = 0;
		return;
	}
	if (depth > 0 && has_items[depth - 1])
		putchar(',');
	if (depth > 0)
		has_items[depth - 1] = 1;
}

static void open_container(char c)
{
	separate();
	putchar(c);
	if (depth < MAX_DEPTH)
		has_items[depth] = 0;
	depth++;
}

void j_obj_begin(void) { open_container('{'); }
void j_arr_begin(void) { open_container('['); }

void j_obj_end(void)
{
	depth--;
	putchar('}');
}

void j_arr_end(void)
{
	depth--;
	putchar(']');
}

/* Length of the valid UTF-8 sequence starting at s (RFC 3629 §4), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	size_t n;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, UTF-16 surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void j_strn(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	separate();
	putchar('"');
	while (i < len) {
		unsigned char c = s[i];
		size_t n;

		switch (c) {
		case '"': fputs("\\\"", stdout); i++; continue;
		case '\\': fputs("\\\\", stdout); i++; continue;
		case '\n': fputs("\\n", stdout); i++; continue;
		case '\r': fputs("\\r", stdout); i++; continue;
		case '\t': fputs("\\t", stdout); i++; continue;
		case '\b': fputs("\\b", stdout); i++; continue;
		case '\f': fputs("\\f", stdout); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq_len(s + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", stdout);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, stdout);
		i += n;
	}
	putchar('"');
}

void j_str(const char *s)
{
	if (!s)
		j_null();
	else
		j_strn(s, strlen(s));
}

void j_key(const char *key)
{
	j_str(key);
	putchar(':');
	after_key = 1;
}

void j_int(long long v)
{
	separate();
	printf("%lld", v);
}

void j_uint(unsigned long long v)
{
	separate();
	printf("%llu", v);
}

void j_bool(int v)
{
	separate();
	fputs(v ? "true" : "false", stdout);
}

void j_null(void)
{
	separate();
	fputs("null", stdout);
}

void j_raw_number(const char *digits)
{
	separate();
	fputs(digits, stdout);
}

void j_line_end(void)
{
	putchar('\n');
	fflush(stdout);
	depth = 0;
	after_key = 0;
}
