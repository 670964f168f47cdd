/* Sections about files: the /dev listing, masked and read-only paths
 * (runtime-spec config-linux.md maskedPaths/readonlyPaths) and sysctls. */
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
