/* Shared helpers: file reading, the error list every report ends with, and
 * name tables for capabilities, signals and rlimits. */
#ifndef PROBE_UTIL_H
#define PROBE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* errno -> "ENOENT" (strerrorname_np, glibc >= 2.32), or "E<number>". */
const char *errno_name(int err);

/* Remember that `what` failed with errno `err`; emitted as "errors". */
void note_error(const char *what, int err);
void note_error2(const char *what, const char *detail, int err);
void emit_errors(void);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL + errno. */
char *read_file(const char *path, size_t *len_out);
/* First line of /proc/self/status starting with "Name:" (value only), or NULL. */
const char *status_field(const char *status, const char *name, char *buf, size_t buflen);

const char *cap_name(unsigned int cap);  /* "CAP_CHOWN"; NULL past the table */
const char *signal_name(int sig, char *buf, size_t buflen);  /* "SIGTERM" / "SIG40" */
int signal_from_name(const char *name);  /* "TERM", "SIGTERM" or "15"; -1 if unknown */
extern const char *const rlimit_names[];
extern const int rlimit_count;

/* {"hex":"000001ffffffffff","names":[...]} for a capability set. */
void emit_cap_set(uint64_t set);
/* {"hex":"0000000000001000","names":["SIGPIPE"]} for a signal mask (bit n-1 = signal n). */
void emit_sig_set(uint64_t set);

/* "file", "dir", "symlink", "char", "block", "fifo", "socket" or "unknown". */
const char *file_type_name(mode_t mode);

#endif
