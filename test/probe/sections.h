/* Report sections. Each emits exactly one key and its value; `probe all`
 * emits them all in the order of the table in probe.c. */
#ifndef PROBE_SECTIONS_H
#define PROBE_SECTIONS_H

extern int probe_argc;
extern char **probe_argv;

/* report-proc.c: the process's identity and surroundings */
void section_pid(void);
void section_ppid(void);
void section_ids(void);
void section_umask(void);
void section_cwd(void);
void section_uts(void);
void section_tty(void);
void section_clocks(void);
void section_env(void);
void section_argv(void);
void section_oom_score_adj(void);

/* report-privs.c: privileges and signal state */
void section_caps(void);
void section_no_new_privs(void);
void section_seccomp(void);
void section_rlimits(void);
void section_signal_state(void);

/* report-fs.c: fds, mounts, namespaces, cgroup */
void section_fds(void);
void section_mounts(void);
void section_namespaces(void);
void section_cgroup(void);

/* report-paths.c: /dev, masked/read-only paths, sysctl */
void section_dev(void);
void section_paths(void);
/* `probe stat PATH...`: the same per-path object as "paths", for any paths. */
void emit_paths(char **paths, int count);
/* `probe sysctl NAME...`: {"net.ipv4.ip_forward":"0", ...}, null when unreadable. */
void emit_sysctls(char **names, int count);

#endif
