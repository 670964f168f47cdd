/* Sections about the process itself: ids, umask, cwd, uts, tty, clocks,
 * environment and argv. Syscalls rather than /proc wherever they answer, so
 * these sections still work in a container without /proc mounted. */
#define _GNU_SOURCE
#include "json.h"
#include "sections.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void section_pid(void) { j_key("pid"); j_int(getpid()); }
void section_ppid(void) { j_key("ppid"); j_int(getppid()); }

void section_ids(void)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	gid_t groups[256];
	int n;

	getresuid(&ruid, &euid, &suid);
	getresgid(&rgid, &egid, &sgid);
	j_key("ids");
	j_obj_begin();
	j_key("uid"); j_uint(ruid);
	j_key("euid"); j_uint(euid);
	j_key("suid"); j_uint(suid);
	/* setfsuid(2): an invalid id (-1) changes nothing and returns the current fsuid. */
	j_key("fsuid"); j_uint((unsigned int)setfsuid((uid_t)-1));
	j_key("gid"); j_uint(rgid);
	j_key("egid"); j_uint(egid);
	j_key("sgid"); j_uint(sgid);
	j_key("fsgid"); j_uint((unsigned int)setfsgid((gid_t)-1));
	j_key("groups");
	j_arr_begin();
	n = getgroups(256, groups);
	if (n < 0)
		note_error("ids.groups", errno);
	for (int i = 0; i < n; i++)
		j_uint(groups[i]);
	j_arr_end();
	j_obj_end();
}

void section_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	j_key("umask");
	j_int(m);
}

void section_cwd(void)
{
	char buf[4096];

	j_key("cwd");
	if (getcwd(buf, sizeof buf)) {
		j_str(buf);
	} else {
		note_error("cwd", errno);
		j_null();
	}
}

void section_uts(void)
{
	struct utsname u;

	j_key("uts");
	if (uname(&u) != 0) {
		note_error("uts", errno);
		j_null();
		return;
	}
	j_obj_begin();
	j_key("hostname"); j_str(u.nodename);
	j_key("domainname"); j_str(u.domainname);
	j_key("sysname"); j_str(u.sysname);
	j_key("release"); j_str(u.release);
	j_key("machine"); j_str(u.machine);
	j_obj_end();
}

void section_tty(void)
{
	struct winsize ws;
	int tty_fd = -1;
	pid_t fg;

	j_key("tty");
	j_obj_begin();
	for (int fd = 0; fd < 3; fd++) {
		int is = isatty(fd);

		j_key(fd == 0 ? "stdin" : fd == 1 ? "stdout" : "stderr");
		j_bool(is);
		if (is && tty_fd < 0)
			tty_fd = fd;
	}
	j_key("sid"); j_int(getsid(0));
	j_key("pgid"); j_int(getpgrp());
	/* tcgetpgrp(3) answers only for our controlling terminal. */
	fg = tty_fd >= 0 ? tcgetpgrp(tty_fd) : -1;
	j_key("foregroundPgid");
	if (fg >= 0) j_int(fg); else j_null();
	if (tty_fd >= 0 && ioctl(tty_fd, TIOCGWINSZ, &ws) == 0) {
		j_key("rows"); j_int(ws.ws_row);
		j_key("cols"); j_int(ws.ws_col);
	} else {
		j_key("rows"); j_null();
		j_key("cols"); j_null();
	}
	j_obj_end();
}

static void emit_clock(const char *name, clockid_t id)
{
	struct timespec ts;
	char buf[48];

	j_key(name);
	if (clock_gettime(id, &ts) != 0) {
		note_error2("clocks", name, errno);
		j_null();
		return;
	}
	snprintf(buf, sizeof buf, "%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
	j_raw_number(buf);
}

/* time_namespaces(7) offsets apply to exactly these two clocks. */
void section_clocks(void)
{
	j_key("clocks");
	j_obj_begin();
	emit_clock("monotonic", CLOCK_MONOTONIC);
	emit_clock("boottime", CLOCK_BOOTTIME);
	j_obj_end();
}

void section_env(void)
{
	j_key("env");
	j_arr_begin();
	for (char **e = environ; e && *e; e++)
		j_str(*e);
	j_arr_end();
}

void section_argv(void)
{
	j_key("argv");
	j_arr_begin();
	for (int i = 0; i < probe_argc; i++)
		j_str(probe_argv[i]);
	j_arr_end();
}

void section_oom_score_adj(void)
{
	char *s = read_file("/proc/self/oom_score_adj", NULL);

	j_key("oomScoreAdj");
	if (!s) {
		note_error("oomScoreAdj", errno);
		j_null();
		return;
	}
	j_int(atoll(s));
	free(s);
}
