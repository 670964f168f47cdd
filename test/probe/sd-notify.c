/* probe sd-notify MESSAGE: what sd_notify(3) does, for containers with no
 * systemd tools. Sends MESSAGE as one datagram to $NOTIFY_SOCKET (a path, or
 * an abstract name when it starts with '@') and prints
 * {"socket","ok","errno","bytes"}. */
#define _GNU_SOURCE
#include "commands.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Returns 0 or an errno value; *sent gets the bytes sent, or -1. */
static int notify(const char *path, const char *msg, ssize_t *sent)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	socklen_t len;
	int fd, err = 0;

	*sent = -1;
	if (n == 0 || n >= sizeof sa.sun_path)
		return n ? ENAMETOOLONG : EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	*sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	if (*sent < 0)
		err = errno;
	close(fd);
	return err;
}

int cmd_sd_notify(int argc, char **argv)
{
	const char *path = getenv("NOTIFY_SOCKET");
	ssize_t sent = -1;
	int err;

	if (argc != 1) {
		fprintf(stderr, "probe: usage: probe sd-notify MESSAGE\n");
		return 2;
	}
	err = path ? notify(path, argv[0], &sent) : ENOENT;
	j_obj_begin();
	j_key("socket"); j_str(path);
	j_key("ok"); j_bool(!err);
	j_key("errno"); j_str(err ? errno_name(err) : NULL);
	j_key("bytes"); if (sent >= 0) j_int(sent); else j_null();
	j_obj_end();
	j_line_end();
	return err ? 1 : 0;
}
