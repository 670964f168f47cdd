/* Sections about privileges: capabilities, no_new_privs, seccomp, rlimits
 * and signal state. Syscalls rather than /proc wherever they answer. */
#define _GNU_SOURCE
#include "json.h"
#include "sections.h"
#include "util.h"

#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

void section_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint64_t eff = 0, prm = 0, inh = 0, bnd = 0, amb = 0;

	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) != 0)
		note_error("caps.capget", errno);
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	/* prctl(2): PR_CAPBSET_READ fails with EINVAL past the last known cap. */
	for (int c = 0; c < 64; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0)
			break;
		if (r == 1)
			bnd |= 1ULL << c;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			amb |= 1ULL << c;
	}
	j_key("caps");
	j_obj_begin();
	j_key("effective"); emit_cap_set(eff);
	j_key("permitted"); emit_cap_set(prm);
	j_key("inheritable"); emit_cap_set(inh);
	j_key("bounding"); emit_cap_set(bnd);
	j_key("ambient"); emit_cap_set(amb);
	j_obj_end();
}

void section_no_new_privs(void)
{
	int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);

	j_key("noNewPrivs");
	if (r < 0) {
		note_error("noNewPrivs", errno);
		j_null();
	} else {
		j_bool(r);
	}
}

void section_seccomp(void)
{
	char *status = read_file("/proc/self/status", NULL);
	char buf[64];
	const char *filters = status ? status_field(status, "Seccomp_filters", buf, sizeof buf) : NULL;
	/* PR_GET_SECCOMP returns 0 or 2 (filter); in strict mode it would kill us,
	 * but strict mode could not have exec'd the probe in the first place. */
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);

	j_key("seccomp");
	j_obj_begin();
	j_key("mode");
	if (mode < 0) {
		note_error("seccomp.mode", errno);
		j_null();
	} else {
		j_int(mode);
	}
	j_key("filters");
	if (filters) j_int(atoll(filters)); else j_null();
	j_obj_end();
	free(status);
}

void section_rlimits(void)
{
	j_key("rlimits");
	j_obj_begin();
	for (int i = 0; i < rlimit_count; i++) {
		struct rlimit rl;

		j_key(rlimit_names[i]);
		if (getrlimit(i, &rl) != 0) {
			note_error2("rlimits", rlimit_names[i], errno);
			j_null();
			continue;
		}
		/* RLIM_INFINITY is reported as -1 (what runtime-spec users write). */
		j_obj_begin();
		j_key("soft");
		if (rl.rlim_cur == RLIM_INFINITY) j_int(-1); else j_uint(rl.rlim_cur);
		j_key("hard");
		if (rl.rlim_max == RLIM_INFINITY) j_int(-1); else j_uint(rl.rlim_max);
		j_obj_end();
	}
	j_obj_end();
}

/* The kernel's struct sigaction for rt_sigaction(2) (x86_64/arm64 layout). */
struct k_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* Without /proc: ask the kernel directly (raw syscalls, so glibc's reserved
 * signals 32 and 33 are not hidden from us). */
static void signal_state_from_syscalls(uint64_t *blk, uint64_t *ign, uint64_t *cgt)
{
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, blk, 8);
	for (int sig = 1; sig <= 64; sig++) {
		struct k_sigaction sa;

		if (syscall(SYS_rt_sigaction, sig, NULL, &sa, 8) != 0)
			continue;
		if (sa.handler == (void *)SIG_IGN)
			*ign |= 1ULL << (sig - 1);
		else if (sa.handler != (void *)SIG_DFL)
			*cgt |= 1ULL << (sig - 1);
	}
}

void section_signal_state(void)
{
	char *status = read_file("/proc/self/status", NULL);
	uint64_t pnd = 0, blk = 0, ign = 0, cgt = 0;
	char buf[64];
	int from_status = 0;

	if (status && status_field(status, "SigCgt", buf, sizeof buf)) {
		from_status = 1;
		if (status_field(status, "SigPnd", buf, sizeof buf)) pnd = strtoull(buf, NULL, 16);
		if (status_field(status, "SigBlk", buf, sizeof buf)) blk = strtoull(buf, NULL, 16);
		if (status_field(status, "SigIgn", buf, sizeof buf)) ign = strtoull(buf, NULL, 16);
		if (status_field(status, "SigCgt", buf, sizeof buf)) cgt = strtoull(buf, NULL, 16);
	} else {
		signal_state_from_syscalls(&blk, &ign, &cgt);
	}
	free(status);
	j_key("signalState");
	j_obj_begin();
	j_key("source"); j_str(from_status ? "status" : "syscalls");
	j_key("pending"); emit_sig_set(pnd);
	j_key("blocked"); emit_sig_set(blk);
	j_key("ignored"); emit_sig_set(ign);
	j_key("caught"); emit_sig_set(cgt);
	j_obj_end();
}
