/* probe: a static test program that reports, as one JSON object on stdout,
 * what a process inside a container sees. See README.md for the commands
 * and the shape of the report. */
#define _GNU_SOURCE
#include "commands.h"
#include "json.h"
#include "sections.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

int probe_argc;
char **probe_argv;

/* Canonical key order of the report; selected sections keep this order. */
static const struct section {
	const char *name;
	void (*emit)(void);
} sections[] = {
	{ "pid", section_pid },
	{ "ppid", section_ppid },
	{ "ids", section_ids },
	{ "umask", section_umask },
	{ "cwd", section_cwd },
	{ "uts", section_uts },
	{ "tty", section_tty },
	{ "caps", section_caps },
	{ "noNewPrivs", section_no_new_privs },
	{ "seccomp", section_seccomp },
	{ "rlimits", section_rlimits },
	{ "fds", section_fds },
	{ "mounts", section_mounts },
	{ "namespaces", section_namespaces },
	{ "cgroup", section_cgroup },
	{ "clocks", section_clocks },
	{ "env", section_env },
	{ "argv", section_argv },
	{ "signalState", section_signal_state },
	{ "oomScoreAdj", section_oom_score_adj },
	{ "dev", section_dev },
	{ "paths", section_paths },
};
#define SECTION_COUNT ((int)(sizeof sections / sizeof sections[0]))

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "exit", cmd_exit },
	{ "sleep", cmd_sleep },
	{ "echo", cmd_echo },
	{ "write-file", cmd_write_file },
	{ "open", cmd_open },
	{ "signals", cmd_signals },
	{ "fork", cmd_fork },
	{ "cat", cmd_cat },
	{ "sd-notify", cmd_sd_notify },
};

static int find_section(const char *name)
{
	for (int i = 0; i < SECTION_COUNT; i++)
		if (strcmp(sections[i].name, name) == 0)
			return i;
	return -1;
}

static void usage(void)
{
	fputs("usage: probe [all | SECTION...]\n"
	      "       probe stat PATH... | sysctl NAME...\n"
	      "       probe exit N | sleep SECONDS | echo ARGS... | write-file PATH DATA\n"
	      "       probe open PATH [FLAGS] | signals | fork N | cat PATH\n"
	      "sections:", stderr);
	for (int i = 0; i < SECTION_COUNT; i++)
		fprintf(stderr, " %s", sections[i].name);
	fputc('\n', stderr);
}

/* Prints the selected sections (all when `want` is NULL) and the errors. */
static int report(const char *want)
{
	j_obj_begin();
	for (int i = 0; i < SECTION_COUNT; i++)
		if (!want || want[i])
			sections[i].emit();
	emit_errors();
	j_obj_end();
	j_line_end();
	return ferror(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	char want[SECTION_COUNT];
	const char *cmd = argc > 1 ? argv[1] : "all";

	probe_argc = argc;
	probe_argv = argv;
	if (strcmp(cmd, "all") == 0)
		return argc > 2 ? (usage(), 2) : report(NULL);
	if (strcmp(cmd, "stat") == 0 || strcmp(cmd, "sysctl") == 0) {
		j_obj_begin();
		if (cmd[1] == 't')
			emit_paths(argv + 2, argc - 2);
		else
			emit_sysctls(argv + 2, argc - 2);
		emit_errors();
		j_obj_end();
		j_line_end();
		return ferror(stdout) ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].run(argc - 2, argv + 2);
	memset(want, 0, sizeof want);
	for (int i = 1; i < argc; i++) {
		int s = find_section(argv[i]);

		if (s < 0) {
			fprintf(stderr, "probe: unknown command or section '%s'\n", argv[i]);
			usage();
			return 2;
		}
		want[s] = 1;
	}
	return report(want);
}
