/* Helpers shared by the report sections. */
#define _GNU_SOURCE
#include "util.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *errno_name(int err)
{
	static char buf[24];
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, sizeof buf, "E%d", err);
	return buf;
}

#define MAX_ERRORS 256
static char *error_what[MAX_ERRORS];
static const char *error_name[MAX_ERRORS];
static int error_count;

void note_error(const char *what, int err)
{
	if (error_count >= MAX_ERRORS)
		return;
	error_what[error_count] = strdup(what);
	error_name[error_count] = strdup(errno_name(err));
	error_count++;
}

void note_error2(const char *what, const char *detail, int err)
{
	char buf[4200];

	snprintf(buf, sizeof buf, "%s:%s", what, detail);
	note_error(buf, err);
}

void emit_errors(void)
{
	j_key("errors");
	j_obj_begin();
	for (int i = 0; i < error_count; i++) {
		j_key(error_what[i]);
		j_str(error_name[i]);
	}
	j_obj_end();
}

char *read_file(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	size_t cap = 4096, len = 0;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

const char *status_field(const char *status, const char *name, char *buf, size_t buflen)
{
	size_t nlen = strlen(name);

	for (const char *line = status; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t llen = eol ? (size_t)(eol - line) : strlen(line);

		if (llen > nlen && strncmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			llen -= (size_t)(v - line);
			if (llen >= buflen)
				llen = buflen - 1;
			memcpy(buf, v, llen);
			buf[llen] = '\0';
			return buf;
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* capabilities(7), numbering from linux/capability.h. */
static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

const char *cap_name(unsigned int cap)
{
	return cap < sizeof cap_names / sizeof cap_names[0] ? cap_names[cap] : NULL;
}

/* signal(7) numbering on x86_64/arm64; realtime signals have no fixed names. */
static const char *const sig_names[32] = {
	NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
	"SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
	"SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
	"SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
	"SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
	"SIGSYS",
};

const char *signal_name(int sig, char *buf, size_t buflen)
{
	if (sig > 0 && sig < 32)
		return sig_names[sig];
	snprintf(buf, buflen, "SIG%d", sig);
	return buf;
}

int signal_from_name(const char *name)
{
	char *end;
	long n = strtol(name, &end, 10);

	if (*name && *end == '\0')
		return n > 0 && n <= 64 ? (int)n : -1;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (int i = 1; i < 32; i++)
		if (strcmp(sig_names[i] + 3, name) == 0)
			return i;
	return -1;
}

/* getrlimit(2) resource numbers 0..15, named as in the runtime-spec
 * (config.md "POSIX process" rlimits). */
const char *const rlimit_names[] = {
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK",
	"RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE",
	"RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
	"RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};
const int rlimit_count = sizeof rlimit_names / sizeof rlimit_names[0];

void emit_cap_set(uint64_t set)
{
	char hex[17];

	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)set);
	j_obj_begin();
	j_key("hex");
	j_str(hex);
	j_key("names");
	j_arr_begin();
	for (unsigned int i = 0; i < 64; i++) {
		if (!(set & (1ULL << i)))
			continue;
		if (cap_name(i)) {
			j_str(cap_name(i));
		} else {
			char buf[16];

			snprintf(buf, sizeof buf, "CAP_%u", i);
			j_str(buf);
		}
	}
	j_arr_end();
	j_obj_end();
}

void emit_sig_set(uint64_t set)
{
	char hex[17], buf[16];

	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)set);
	j_obj_begin();
	j_key("hex");
	j_str(hex);
	j_key("names");
	j_arr_begin();
	for (int i = 0; i < 64; i++)
		if (set & (1ULL << i))
			j_str(signal_name(i + 1, buf, sizeof buf));
	j_arr_end();
	j_obj_end();
}

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}
