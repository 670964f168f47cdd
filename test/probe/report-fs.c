/* Sections about what the process sees of its fds, the mount table,
 * namespaces and cgroup membership. */
#define _GNU_SOURCE
#include "json.h"
#include "sections.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void emit_fd(int fd, int with_target)
{
	char path[64], target[4096];
	int fdflags = fcntl(fd, F_GETFD), flflags = fcntl(fd, F_GETFL);
	ssize_t n = -1;

	j_obj_begin();
	j_key("fd"); j_int(fd);
	j_key("target");
	if (with_target) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof target);
	}
	if (n >= 0) j_strn(target, (size_t)n); else j_null();
	j_key("cloexec"); j_bool(fdflags >= 0 && (fdflags & FD_CLOEXEC));
	j_key("access");
	switch (flflags < 0 ? -1 : flflags & O_ACCMODE) {
	case O_RDONLY: j_str("r"); break;
	case O_WRONLY: j_str("w"); break;
	case O_RDWR: j_str("rw"); break;
	default: j_null(); break;
	}
	j_obj_end();
}

void section_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int fds[4096], count = 0;

	j_key("fds");
	j_arr_begin();
	if (d) {
		struct dirent *e;

		while ((e = readdir(d)) && count < 4096) {
			int fd;

			if (e->d_name[0] == '.')
				continue;
			fd = atoi(e->d_name);
			if (fd != dirfd(d))
				fds[count++] = fd;
		}
		qsort(fds, (size_t)count, sizeof fds[0], cmp_int);
		for (int i = 0; i < count; i++)
			emit_fd(fds[i], 1);
		closedir(d);
	} else {
		/* No /proc: probe the fd table directly; targets stay unknown. */
		note_error("fds", errno);
		for (int fd = 0; fd < 4096; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				emit_fd(fd, 0);
	}
	j_arr_end();
}

/* proc_pid_mountinfo(5): space, tab, newline and backslash are octal-escaped. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

static void emit_list(const char *s, const char *sep)
{
	char *copy = strdup(s), *save = NULL;

	j_arr_begin();
	for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
		unescape_octal(t);
		j_str(t);
	}
	j_arr_end();
	free(copy);
}

static void emit_mount_line(char *line)
{
	char *f[64];
	int n = 0, dash = -1;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save)) {
		if (dash < 0 && n >= 6 && strcmp(t, "-") == 0)
			dash = n;
		f[n++] = t;
	}
	if (dash < 0 || n < dash + 4)
		return;
	unescape_octal(f[3]);
	unescape_octal(f[4]);
	unescape_octal(f[dash + 2]);
	j_obj_begin();
	j_key("id"); j_int(atoll(f[0]));
	j_key("parent"); j_int(atoll(f[1]));
	j_key("dev"); j_str(f[2]);
	j_key("root"); j_str(f[3]);
	j_key("mountPoint"); j_str(f[4]);
	j_key("options"); emit_list(f[5], ",");
	j_key("propagation");
	j_arr_begin();
	for (int i = 6; i < dash; i++)
		j_str(f[i]);
	j_arr_end();
	j_key("fstype"); j_str(f[dash + 1]);
	j_key("source"); j_str(f[dash + 2]);
	j_key("superOptions"); emit_list(f[dash + 3], ",");
	j_obj_end();
}

void section_mounts(void)
{
	char *info = read_file("/proc/self/mountinfo", NULL);

	j_key("mounts");
	if (!info) {
		note_error("mounts", errno);
		j_null();
		return;
	}
	j_arr_begin();
	for (char *line = info, *eol; line && *line; line = eol ? eol + 1 : NULL) {
		eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		emit_mount_line(line);
	}
	j_arr_end();
	free(info);
}

/* namespaces(7): the ns links read "type:[inode]". */
void section_namespaces(void)
{
	static const char *const names[] = {
		"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
		"time", "time_for_children", "user", "uts",
	};

	j_key("namespaces");
	j_obj_begin();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[64], target[128];
		ssize_t n;
		const char *open;

		snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
		j_key(names[i]);
		n = readlink(path, target, sizeof target - 1);
		if (n < 0) {
			note_error2("namespaces", names[i], errno);
			j_null();
			continue;
		}
		target[n] = '\0';
		open = strchr(target, '[');
		if (open) j_uint(strtoull(open + 1, NULL, 10)); else j_null();
	}
	j_obj_end();
}

/* cgroups(7): "hierarchy-ID:controller-list:cgroup-path" per line. */
void section_cgroup(void)
{
	char *text = read_file("/proc/self/cgroup", NULL);

	j_key("cgroup");
	if (!text) {
		note_error("cgroup", errno);
		j_null();
		return;
	}
	j_arr_begin();
	for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
		char *c1, *c2;

		eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		j_obj_begin();
		j_key("hierarchy"); j_int(atoll(line));
		j_key("controllers"); emit_list(c1 + 1, ",");
		j_key("path"); j_str(c2 + 1);
		j_obj_end();
	}
	j_arr_end();
	free(text);
}
