/* Sections about what the process sees of the filesystem: open fds, the
 * mount table, namespaces, cgroup membership, /dev and masked paths. */
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
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
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

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void emit_stat_fields(const struct stat *st)
{
	j_key("type"); j_str(file_type_name(st->st_mode));
	j_key("mode"); j_int(st->st_mode & 07777);
	j_key("uid"); j_uint(st->st_uid);
	j_key("gid"); j_uint(st->st_gid);
	j_key("major");
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) j_uint(major(st->st_rdev)); else j_null();
	j_key("minor");
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) j_uint(minor(st->st_rdev)); else j_null();
}

/* Lists a directory depth-first in strcmp order, never following symlinks. */
static void walk_dev(const char *dir, int depth)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, cmp_dirent);

	if (n < 0) {
		note_error2("dev", dir, errno);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char path[4096], target[4096];
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			goto next;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if (lstat(path, &st) != 0) {
			note_error2("dev", path, errno);
			goto next;
		}
		j_obj_begin();
		j_key("path"); j_str(path);
		emit_stat_fields(&st);
		j_key("target");
		if (S_ISLNK(st.st_mode)) {
			ssize_t len = readlink(path, target, sizeof target);

			if (len >= 0) j_strn(target, (size_t)len); else j_null();
		} else {
			j_null();
		}
		j_obj_end();
		if (S_ISDIR(st.st_mode) && depth < 4)
			walk_dev(path, depth + 1);
next:
		free(list[i]);
	}
	free(list);
}

void section_dev(void)
{
	j_key("dev");
	j_arr_begin();
	walk_dev("/dev", 1);
	j_arr_end();
}

/* Open and read a path the way a curious process would: directories are
 * listed, anything else read for its first bytes. Never writes. */
static void emit_path(const char *path)
{
	struct stat st;
	struct statfs sfs;
	int fd, st_ok = stat(path, &st) == 0;
	int st_err = errno;

	j_key(path);
	j_obj_begin();
	j_key("statErrno"); j_str(st_ok ? NULL : errno_name(st_err));
	j_key("stat");
	if (st_ok) {
		j_obj_begin();
		emit_stat_fields(&st);
		j_key("size"); j_int(st.st_size);
		j_key("dev"); j_int(st.st_dev);
		j_key("ino"); j_uint(st.st_ino);
		j_obj_end();
	} else {
		j_null();
	}
	/* statfs(2) f_flags carries ST_RDONLY for a read-only mount. */
	st_ok = st_ok && statfs(path, &sfs) == 0;
	j_key("fsMagic"); if (st_ok) j_uint((unsigned long)sfs.f_type); else j_null();
	j_key("readOnly"); if (st_ok) j_bool((sfs.f_flags & ST_RDONLY) != 0); else j_null();

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	j_key("openErrno"); j_str(fd < 0 ? errno_name(errno) : NULL);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = fdopendir(fd);
		long entries = 0;

		errno = 0;
		for (struct dirent *e; d && (e = readdir(d));)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
				entries++;
		j_key("readErrno"); j_str(errno ? errno_name(errno) : NULL);
		j_key("head"); j_null();
		j_key("entries"); j_int(entries);
		if (d) closedir(d);
	} else if (fd >= 0) {
		char buf[64];
		ssize_t n = read(fd, buf, sizeof buf);

		j_key("readErrno"); j_str(n < 0 ? errno_name(errno) : NULL);
		j_key("head"); if (n >= 0) j_strn(buf, (size_t)n); else j_null();
		j_key("entries"); j_null();
		close(fd);
	} else {
		j_key("readErrno"); j_null();
		j_key("head"); j_null();
		j_key("entries"); j_null();
	}
	j_obj_end();
}

void emit_paths(char **paths, int count)
{
	j_key("paths");
	j_obj_begin();
	for (int i = 0; i < count; i++)
		emit_path(paths[i]);
	j_obj_end();
}

/* The maskedPaths and readonlyPaths that runc's and Docker's default specs use. */
void section_paths(void)
{
	static char *defaults[] = {
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
		"/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	};

	emit_paths(defaults, (int)(sizeof defaults / sizeof defaults[0]));
}

/* sysctl(8) names map to /proc/sys paths with dots as slashes; a name that
 * already contains '/' is taken as a path below /proc/sys as-is. */
void emit_sysctls(char **names, int count)
{
	j_key("sysctl");
	j_obj_begin();
	for (int i = 0; i < count; i++) {
		char path[4096];
		size_t len;
		char *value;

		snprintf(path, sizeof path, "/proc/sys/%s", names[i]);
		if (!strchr(names[i], '/'))
			for (char *p = path + 10; *p; p++)
				if (*p == '.')
					*p = '/';
		j_key(names[i]);
		value = read_file(path, &len);
		if (!value) {
			note_error2("sysctl", names[i], errno);
			j_null();
			continue;
		}
		while (len > 0 && value[len - 1] == '\n')
			len--;
		j_strn(value, len);
		free(value);
	}
	j_obj_end();
}
