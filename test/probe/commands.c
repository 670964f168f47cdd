/* Action subcommands: small, predictable behaviours a test can drive
 * (exit codes, stdio, signals, pids limits, writes to read-only paths). */
#define _GNU_SOURCE
#include "commands.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int usage(const char *msg)
{
	fprintf(stderr, "probe: %s\n", msg);
	return 2;
}

/* A whole-string non-negative integer, or -1. */
static long parse_count(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && *end == '\0' && v >= 0 ? v : -1;
}

int cmd_exit(int argc, char **argv)
{
	long n = argc == 1 ? parse_count(argv[0]) : -1;

	if (n < 0 || n > 255)
		return usage("usage: probe exit N (0-255)");
	return (int)n;
}

int cmd_sleep(int argc, char **argv)
{
	double secs = -1;
	struct timespec ts;
	char *end = NULL;

	if (argc == 1)
		secs = strtod(argv[0], &end);
	if (argc != 1 || !*argv[0] || *end || !(secs >= 0 && secs < 1e9))
		return usage("usage: probe sleep SECONDS");
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}

int cmd_echo(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		printf("%s%s", i ? " " : "", argv[i]);
	putchar('\n');
	return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_write_file(int argc, char **argv)
{
	int fd, err = 0;
	ssize_t n = -1;

	if (argc != 2)
		return usage("usage: probe write-file PATH DATA");
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
	} else {
		n = write(fd, argv[1], strlen(argv[1]));
		if (n < 0)
			err = errno;
		if (close(fd) != 0 && !err)
			err = errno;
	}
	j_obj_begin();
	j_key("path"); j_str(argv[0]);
	j_key("ok"); j_bool(!err);
	j_key("errno"); j_str(err ? errno_name(err) : NULL);
	j_key("bytes"); if (n >= 0) j_int(n); else j_null();
	j_obj_end();
	j_line_end();
	return err ? 1 : 0;
}

static const struct { const char *name; int flag; } open_flags[] = {
	{ "RDONLY", O_RDONLY }, { "WRONLY", O_WRONLY }, { "RDWR", O_RDWR },
	{ "CREAT", O_CREAT }, { "EXCL", O_EXCL }, { "TRUNC", O_TRUNC },
	{ "APPEND", O_APPEND }, { "DIRECTORY", O_DIRECTORY }, { "NOFOLLOW", O_NOFOLLOW },
	{ "PATH", O_PATH }, { "NONBLOCK", O_NONBLOCK }, { "NOCTTY", O_NOCTTY },
	{ "CLOEXEC", O_CLOEXEC }, { "SYNC", O_SYNC }, { "TMPFILE", O_TMPFILE },
	{ "R", O_RDONLY }, { "W", O_WRONLY }, { "RW", O_RDWR },
};

/* FLAGS: names joined by ',' or '|', with or without "O_", any case
 * ("O_WRONLY|O_CREAT", "rdwr,trunc", "w"). Returns -1 on an unknown name. */
static int parse_open_flags(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	int flags = 0;

	for (char *t = strtok_r(copy, ",|", &save); t; t = strtok_r(NULL, ",|", &save)) {
		const char *name = strncasecmp(t, "O_", 2) == 0 ? t + 2 : t;
		size_t i;

		for (i = 0; i < sizeof open_flags / sizeof open_flags[0]; i++)
			if (strcasecmp(name, open_flags[i].name) == 0)
				break;
		if (i == sizeof open_flags / sizeof open_flags[0]) {
			fprintf(stderr, "probe: unknown open flag '%s'\n", t);
			free(copy);
			return -1;
		}
		flags |= open_flags[i].flag;
	}
	free(copy);
	return flags;
}

/* A query, not an action: exits 0 whether or not open(2) succeeded. */
int cmd_open(int argc, char **argv)
{
	int flags, fd;

	if (argc < 1 || argc > 2)
		return usage("usage: probe open PATH [FLAGS]");
	flags = parse_open_flags(argc == 2 ? argv[1] : "RDONLY");
	if (flags < 0)
		return 2;
	fd = open(argv[0], flags, 0644);
	j_obj_begin();
	j_key("path"); j_str(argv[0]);
	j_key("flags"); j_int(flags);
	j_key("ok"); j_bool(fd >= 0);
	j_key("errno"); j_str(fd < 0 ? errno_name(errno) : NULL);
	j_obj_end();
	j_line_end();
	if (fd >= 0)
		close(fd);
	return 0;
}

static void on_signal(int sig) { (void)sig; }

/* Catches every catchable signal (so a pid-1 probe is not protected by the
 * kernel's init rule, pid_namespaces(7)), prints one JSON line per signal
 * and exits 0 on SIGTERM. The first line, {"ready":true}, says the handlers
 * are in place. */
int cmd_signals(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t all;
	char buf[16];

	(void)argc, (void)argv;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	j_obj_begin();
	j_key("ready"); j_bool(1);
	j_key("pid"); j_int(getpid());
	j_obj_end();
	j_line_end();
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig < 0)
			continue;
		j_obj_begin();
		j_key("signal"); j_str(signal_name(sig, buf, sizeof buf));
		j_key("number"); j_int(sig);
		j_key("senderPid"); j_int(si.si_pid);
		j_key("senderUid"); j_uint(si.si_uid);
		j_obj_end();
		j_line_end();
		if (sig == SIGTERM)
			return 0;
	}
}

/* Forks N children that stay alive until all are counted (so pids.max is
 * hit), then kills and reaps them. */
int cmd_fork(int argc, char **argv)
{
	long n = argc == 1 ? parse_count(argv[0]) : -1;
	int ok = 0, failed = 0, first_err = 0;
	pid_t *pids;

	if (n < 0 || n > 1000000)
		return usage("usage: probe fork N");
	pids = calloc((size_t)n + 1, sizeof *pids);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			for (;;)
				pause();
		}
		if (pid < 0) {
			if (!first_err)
				first_err = errno;
			failed++;
		} else {
			pids[ok++] = pid;
		}
	}
	for (int i = 0; i < ok; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < ok; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	free(pids);
	j_obj_begin();
	j_key("requested"); j_int(n);
	j_key("succeeded"); j_int(ok);
	j_key("failed"); j_int(failed);
	j_key("errno"); j_str(first_err ? errno_name(first_err) : NULL);
	j_obj_end();
	j_line_end();
	return 0;
}

/* Copies a file ("-" is stdin) to stdout byte for byte. */
int cmd_cat(int argc, char **argv)
{
	char buf[65536];
	int fd;
	ssize_t n;

	if (argc != 1)
		return usage("usage: probe cat PATH");
	fd = strcmp(argv[0], "-") == 0 ? 0 : open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "probe: cat %s: %s\n", argv[0], errno_name(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "probe: cat %s: %s\n", argv[0], errno_name(errno));
			return 1;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return 1;
			off += w;
		}
	}
	return 0;
}
