// SPDX-License-Identifier: MIT
#include "sockdump.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "connrec_event.h"
#include "log.h"

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_TIME_WAIT 6
#define TCP_LISTEN 10
#define TCP_NEW_SYN_RECV 12

/* inode -> owning pid, an open-addressing table filled from /proc/PID/fd. */
struct owner_map {
	uint64_t *inode;
	uint32_t *pid;
	size_t cap, len;
};

static int owner_put(struct owner_map *m, uint64_t inode, uint32_t pid)
{
	if (2 * (m->len + 1) > m->cap) {
		struct owner_map n = { .cap = m->cap ? 2 * m->cap : 4096 };

		n.inode = calloc(n.cap, sizeof(*n.inode));
		n.pid = calloc(n.cap, sizeof(*n.pid));
		if (!n.inode || !n.pid) {
			free(n.inode);
			free(n.pid);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->inode[i])
				owner_put(&n, m->inode[i], m->pid[i]);
		free(m->inode);
		free(m->pid);
		*m = n;
	}
	for (size_t i = inode % m->cap;; i = (i + 1) % m->cap) {
		if (m->inode[i] == inode)
			return 0; /* shared by several processes: keep the first (lowest pid) */
		if (!m->inode[i]) {
			m->inode[i] = inode;
			m->pid[i] = pid;
			m->len++;
			return 0;
		}
	}
}

static uint32_t owner_get(const struct owner_map *m, uint64_t inode)
{
	if (!m->cap || !inode)
		return 0;
	for (size_t i = inode % m->cap;; i = (i + 1) % m->cap) {
		if (m->inode[i] == inode)
			return m->pid[i];
		if (!m->inode[i])
			return 0;
	}
}

static int is_pid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int scan_owners(struct owner_map *m)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int err = 0;

	if (!proc)
		return -errno;
	while (!err && (de = readdir(proc))) {
		char path[300], link[64];
		struct dirent *fe;
		DIR *fds;

		if (!is_pid_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		fds = opendir(path);
		if (!fds)
			continue; /* exited meanwhile */
		while ((fe = readdir(fds))) {
			unsigned long long ino;
			ssize_t n;

			if (!is_pid_name(fe->d_name))
				continue;
			n = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) == 1) {
				err = owner_put(m, ino, (uint32_t)strtoul(de->d_name, NULL, 10));
				if (err)
					break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return err;
}

static void read_comm(uint32_t pid, char comm[16])
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, 16, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/*
 * When a process started, in ns since boot: field 22 of /proc/PID/stat, in clock ticks. The
 * name (field 2) may hold spaces and parentheses, so parse after its last ')'.
 */
static uint64_t read_pstart(uint32_t pid)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || hz <= 0)
		return 0;
	/* Step to the space before field 22 (fields 3.. follow ") "). */
	for (int field = 3; field <= 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return 0;
	}
	errno = 0;
	ticks = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1 || ticks > UINT64_MAX / 1000000000ull)
		return 0;
	return ticks * (1000000000ull / (unsigned long long)hz);
}

/* The cgroup v2 id of a process: the inode of its cgroup directory. */
static uint64_t read_cgroup(uint32_t pid, const char *cgroot)
{
	char path[64], line[4096], dir[4200];
	uint64_t id = 0;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(dir, sizeof(dir), "%s%s", cgroot, line + 3);
		if (stat(dir, &st) == 0)
			id = st.st_ino;
		break;
	}
	fclose(f);
	return id;
}

struct dump_ctx {
	struct sockdump_entry *v;
	size_t len, cap;
};

static int dump_push(struct dump_ctx *d, const struct sockdump_entry *e)
{
	if (d->len == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		struct sockdump_entry *n = realloc(d->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->v = n;
		d->cap = cap;
	}
	d->v[d->len++] = *e;
	return 0;
}

/* One sock_diag dump (family x protocol) in the current namespace. */
static int diag_dump(int nl, uint8_t family, uint8_t proto, uint32_t states, uint32_t netns,
		     struct dump_ctx *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.r = { .sdiag_family = family, .sdiag_protocol = proto, .idiag_states = states },
	};
	static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	int err;

	if (send(nl, &req, sizeof(req), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct sockdump_entry e = { .proto = proto, .netns = netns };

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *ne = NLMSG_DATA(h);

				return ne->error ? ne->error : -EIO;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			e.family = m->idiag_family == AF_INET6 ? 6 : 4;
			e.tcp_state = m->idiag_state;
			e.lport = ntohs(m->id.idiag_sport);
			e.rport = ntohs(m->id.idiag_dport);
			memcpy(e.laddr, m->id.idiag_src, e.family == 6 ? 16 : 4);
			memcpy(e.raddr, m->id.idiag_dst, e.family == 6 ? 16 : 4);
			e.uid = m->idiag_uid;
			e.cookie = (uint64_t)m->id.idiag_cookie[0] |
				   (uint64_t)m->id.idiag_cookie[1] << 32;
			/* Stash the inode in pid for now; resolved to an owner later. */
			e.pid = m->idiag_inode;
			err = dump_push(out, &e);
			if (err)
				return err;
		}
	}
}

static int dump_netns(uint32_t netns, struct dump_ctx *out)
{
	const uint32_t tcp_states = ~((1u << TCP_TIME_WAIT) | (1u << TCP_NEW_SYN_RECV));
	const uint32_t udp_states = 1u << TCP_ESTABLISHED; /* connected UDP only */
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	int nl, err = 0;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	for (size_t i = 0; !err && i < sizeof(fams); i++) {
		err = diag_dump(nl, fams[i], IPPROTO_TCP, tcp_states, netns, out);
		if (!err)
			err = diag_dump(nl, fams[i], IPPROTO_UDP, udp_states, netns, out);
	}
	close(nl);
	return err;
}

/* Every distinct network namespace: inode plus an fd to enter it. */
struct ns_list {
	uint32_t inode[4096];
	int fd[4096];
	size_t len;
};

static void ns_add(struct ns_list *l, const char *path)
{
	struct stat st;
	int fd;

	if (stat(path, &st) || l->len == sizeof(l->inode) / sizeof(l->inode[0]))
		return;
	for (size_t i = 0; i < l->len; i++)
		if (l->inode[i] == (uint32_t)st.st_ino)
			return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	l->inode[l->len] = (uint32_t)st.st_ino;
	l->fd[l->len++] = fd;
}

static void list_namespaces(struct ns_list *l)
{
	struct dirent *de;
	char path[300];
	DIR *d;

	ns_add(l, "/proc/self/ns/net");
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		if (!is_pid_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		ns_add(l, path);
	}
	if (d)
		closedir(d);
	d = opendir("/run/netns");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		ns_add(l, path);
	}
	if (d)
		closedir(d);
}

/* Listening (netns, port) pairs, to tell accepted connections from outgoing ones. */
struct listeners {
	uint32_t *netns;
	uint16_t *port;
	size_t len;
};

static int collect_listeners(const struct dump_ctx *d, struct listeners *l)
{
	l->len = 0;
	l->netns = calloc(d->len + 1, sizeof(*l->netns));
	l->port = calloc(d->len + 1, sizeof(*l->port));
	if (!l->netns || !l->port)
		return -ENOMEM;
	for (size_t i = 0; i < d->len; i++) {
		if (d->v[i].proto == IPPROTO_TCP && d->v[i].tcp_state == TCP_LISTEN) {
			l->netns[l->len] = d->v[i].netns;
			l->port[l->len++] = d->v[i].lport;
		}
	}
	return 0;
}

/* A connection whose local port is listened on in its namespace was accepted. */
static uint8_t infer_direction(const struct listeners *l, const struct sockdump_entry *e)
{
	if (e->tcp_state == TCP_LISTEN)
		return CR_DIR_LISTEN;
	if (e->proto != IPPROTO_TCP || e->tcp_state == TCP_SYN_SENT)
		return CR_DIR_OUT;
	for (size_t i = 0; i < l->len; i++)
		if (l->netns[i] == e->netns && l->port[i] == e->lport)
			return CR_DIR_IN;
	return CR_DIR_OUT;
}

int sockdump_all(sockdump_fn fn, void *ctx)
{
	struct owner_map owners = { 0 };
	struct listeners lis = { 0 };
	struct dump_ctx d = { 0 };
	struct ns_list *nsl;
	char cgroot[] = "/sys/fs/cgroup/unified";
	const char *cg = access(cgroot, F_OK) == 0 ? cgroot : "/sys/fs/cgroup";
	int self = -1, err;

	nsl = calloc(1, sizeof(*nsl));
	if (!nsl)
		return -ENOMEM;
	list_namespaces(nsl);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		goto cleanup;
	}
	for (size_t i = 0; i < nsl->len; i++) {
		if (setns(nsl->fd[i], CLONE_NEWNET)) {
			cr_warn("cannot enter network namespace %u: %s", nsl->inode[i],
				strerror(errno));
			continue;
		}
		err = dump_netns(nsl->inode[i], &d);
		if (err)
			cr_warn("socket dump of network namespace %u failed: %s", nsl->inode[i],
				strerror(-err));
	}
	if (setns(self, CLONE_NEWNET)) {
		err = -errno;
		cr_err("cannot return to the recorder's network namespace: %s", strerror(errno));
		goto cleanup;
	}
	/* Owners are looked up after the dump so sockets opened meanwhile are covered too. */
	err = scan_owners(&owners);
	if (!err)
		err = collect_listeners(&d, &lis);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < d.len; i++) {
		struct sockdump_entry *e = &d.v[i];

		e->pid = owner_get(&owners, e->pid);
		e->direction = infer_direction(&lis, e);
		if (e->pid) {
			read_comm(e->pid, e->comm);
			e->pstart_ns = read_pstart(e->pid);
			e->cgroup = read_cgroup(e->pid, cg);
		}
	}
	for (size_t i = 0; i < d.len; i++)
		fn(ctx, &d.v[i]);
	err = (int)d.len;
cleanup:
	for (size_t i = 0; i < nsl->len; i++)
		close(nsl->fd[i]);
	if (self >= 0)
		close(self);
	free(nsl);
	free(d.v);
	free(owners.inode);
	free(owners.pid);
	free(lis.netns);
	free(lis.port);
	return err;
}
