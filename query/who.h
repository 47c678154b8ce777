/* SPDX-License-Identifier: MIT */
/*
 * Who a flow's process was: the process lives and cgroup names a query read from its
 * segments (schema version 2), the lookups that give each flow its executable, command line,
 * parent, container and unit, the filters on them, and `query --procs`.
 *
 * A life is keyed by (host and boot, pid, pstart_ns): pids are reused, pstart_ns (the
 * process's start on the kernel's clock) only counts within one boot. The same life appears
 * in every segment that refers to it; its rows are merged here, one image per start time.
 * Strings are interned: an exec storm repeats one executable a million times.
 */
#ifndef CONNREC_QUERY_WHO_H
#define CONNREC_QUERY_WHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flows.h"
#include "store_read.h"

struct who_image {
	int64_t image_ns;
	uint64_t cgroup;
	uint32_t uid, flags;
	const char *comm, *exe, *args; /* interned */
	int32_t next;		       /* the life's next image (later image_ns), -1 at the end */
};

struct who_life {
	uint32_t boot, pid, ppid;
	uint64_t pstart_ns, ppstart_ns;
	int64_t start_ns, exit_ns; /* exit_ns valid when has_exit */
	int64_t exit_code;
	bool has_exit;
	const char *pcomm;
	int32_t first; /* its earliest image, -1 when only its exit is known */
	int32_t next;  /* hash chain */
	uint64_t flows; /* flows counted for --procs */
};

struct who_cgroup {
	uint32_t boot;
	uint64_t id;
	const char *path, *container, *unit;
	int32_t next;
};

struct who {
	struct who_life *lives;
	size_t n_lives, cap_lives;
	struct who_image *images;
	size_t n_images, cap_images;
	struct who_cgroup *cgroups;
	size_t n_cgroups, cap_cgroups;
	int32_t *life_idx, *cg_idx; /* hash heads, -1 = empty */
	size_t life_nb, cg_nb;
	char **boots; /* "host\nboot_id" per boot index */
	uint32_t *boot_host;
	size_t n_boots;
	struct who_strings *strings;
};

/* What a flow's process was, for the printers: pointers into the table, NULL when unknown. */
struct who_info {
	const struct who_life *life;
	const struct who_image *image;
	const struct who_cgroup *cgroup;
};

void who_init(struct who *w);
void who_free(struct who *w);

/* The boot index of (host, boot id); flows and lookups use it. -ENOMEM as (uint32_t)-1. */
uint32_t who_boot(struct who *w, uint32_t host, const char *boot_id);

/* The host index of a boot index. */
uint32_t who_boot_host(const struct who *w, uint32_t boot);

/* Reads the lives, life ends and cgroup names of SEG (of boot BOOT). 0 or -errno. */
int who_read_segment(struct who *w, struct sr_segment *seg, uint32_t boot);

/* The same rows of one segment, read elsewhere (query --from gets them from the server). */
struct who_rows {
	const struct sr_life *lives;
	size_t n_lives;
	const struct sr_life_exit *exits;
	size_t n_exits;
	const struct sr_cgroup *cgroups;
	size_t n_cgroups;
};
int who_read_rows(struct who *w, const struct who_rows *rows, uint32_t boot);

/*
 * The process of flow F: its life, the image it had when the flow began (the latest that had
 * begun by then, else the first), and its cgroup's names.
 */
void who_of_flow(const struct who *w, const struct flow *f, struct who_info *out);

/* Filters on who (NULL / -1 when unset). */
struct who_filter {
	const char *exe;       /* glob on the path */
	const char *args;      /* glob on the command line; "*" added around it */
	int64_t ppid;	       /* -1 = any */
	const char *container; /* prefix */
	const char *unit;      /* exact or glob */
};

void who_filter_init(struct who_filter *f);
bool who_filter_set(const struct who_filter *f);
bool who_filter_match(const struct who_filter *f, const struct who_info *i);
/* The same on a life's image (--procs). */
bool who_filter_match_image(const struct who_filter *f, const struct who *w,
			    const struct who_life *l, const struct who_image *m);

/* A life's cgroup names for an image (NULL when unknown). */
const struct who_cgroup *who_cgroup_of(const struct who *w, uint32_t boot, uint64_t id);

/* The life's last image (the one it had at the end of what is known), or NULL. */
const struct who_image *who_last_image(const struct who *w, const struct who_life *l);

#endif /* CONNREC_QUERY_WHO_H */
