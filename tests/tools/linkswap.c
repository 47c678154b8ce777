// SPDX-License-Identifier: MIT
/*
 * linkswap: the quiet way to blind a cgroup hook, for the e2e tests. It leaves the link
 * attached but puts another program into it (BPF_LINK_UPDATE): one that allows everything and
 * records nothing. Only the link named on the command line is touched.
 *
 *   linkswap LINK_ID
 *
 * Prints "swapped LINK_ID prog PROG_ID" (the new program's id) and exits 0. Raw bpf(2) calls,
 * so it needs nothing beyond the kernel headers.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int fail(const char *what)
{
	fprintf(stderr, "linkswap: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	/* r0 = 1 (allow); exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_link_info link;
	struct bpf_prog_info prog;
	union bpf_attr a;
	char *end;
	unsigned long id;
	int link_fd, old_fd, new_fd;

	if (argc != 2) {
		fprintf(stderr, "usage: linkswap LINK_ID\n");
		return 2;
	}
	errno = 0;
	id = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || id == 0 || id > UINT32_MAX) {
		fprintf(stderr, "linkswap: bad link id '%s'\n", argv[1]);
		return 2;
	}

	memset(&a, 0, sizeof(a));
	a.link_id = (uint32_t)id;
	link_fd = (int)sys_bpf(BPF_LINK_GET_FD_BY_ID, &a);
	if (link_fd < 0)
		return fail("BPF_LINK_GET_FD_BY_ID");
	memset(&link, 0, sizeof(link));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)link_fd;
	a.info.info_len = sizeof(link);
	a.info.info = (uint64_t)(uintptr_t)&link;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a))
		return fail("link info");
	if (link.type != BPF_LINK_TYPE_CGROUP) {
		fprintf(stderr, "linkswap: link %lu is not a cgroup link\n", id);
		return 1;
	}

	/* The new program must be of the old one's type, for the link's attach type. */
	memset(&a, 0, sizeof(a));
	a.prog_id = link.prog_id;
	old_fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
	if (old_fd < 0)
		return fail("BPF_PROG_GET_FD_BY_ID");
	memset(&prog, 0, sizeof(prog));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)old_fd;
	a.info.info_len = sizeof(prog);
	a.info.info = (uint64_t)(uintptr_t)&prog;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a))
		return fail("program info");

	memset(&a, 0, sizeof(a));
	a.prog_type = prog.type;
	a.expected_attach_type = link.cgroup.attach_type;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	a.license = (uint64_t)(uintptr_t) "GPL";
	new_fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (new_fd < 0)
		return fail("BPF_PROG_LOAD");

	memset(&a, 0, sizeof(a));
	a.link_update.link_fd = (uint32_t)link_fd;
	a.link_update.new_prog_fd = (uint32_t)new_fd;
	if (sys_bpf(BPF_LINK_UPDATE, &a))
		return fail("BPF_LINK_UPDATE");

	memset(&prog, 0, sizeof(prog));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)new_fd;
	a.info.info_len = sizeof(prog);
	a.info.info = (uint64_t)(uintptr_t)&prog;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a))
		return fail("new program info");
	printf("swapped %lu prog %u\n", id, prog.id);
	return 0;
}
