// SPDX-License-Identifier: MIT
#include "cgname.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CONTAINER_ID_LEN 64

/* One path component: [p, p + n). */
struct comp {
	const char *p;
	size_t n;
};

static bool ends_with(struct comp c, const char *suffix)
{
	size_t k = strlen(suffix);

	return c.n >= k && !memcmp(c.p + c.n - k, suffix, k);
}

static bool starts_with(struct comp c, const char *prefix)
{
	size_t k = strlen(prefix);

	return c.n >= k && !memcmp(c.p, prefix, k);
}

static bool is_hex_id(const char *p, size_t n)
{
	if (n != CONTAINER_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static size_t put(char *out, size_t len, const char *p, size_t n)
{
	if (!len)
		return 0;
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

/* The components of PATH, at most MAX of them; returns how many. */
static size_t split(const char *path, struct comp *v, size_t max)
{
	size_t n = 0;

	for (const char *p = path; *p && n < max;) {
		size_t k;

		while (*p == '/')
			p++;
		k = strcspn(p, "/");
		if (k)
			v[n++] = (struct comp){ p, k };
		p += k;
	}
	return n;
}

/* The 64-hex id a runtime's component carries: "ID", "docker-ID.scope", ... */
static bool runtime_id(struct comp c, struct comp *id)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-",
						"containerd-", "" };

	if (ends_with(c, ".scope"))
		c.n -= strlen(".scope");
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t k = strlen(prefixes[i]);

		if (starts_with(c, prefixes[i]) && is_hex_id(c.p + k, c.n - k)) {
			*id = (struct comp){ c.p + k, c.n - k };
			return true;
		}
	}
	return false;
}

/* A kubepods pod component: "podUID" or "kubepods-QOS-podUID.slice" (uid's '-' as '_'). */
static bool pod_uid(struct comp c, struct comp *uid)
{
	const char *p = NULL;

	if (ends_with(c, ".slice"))
		c.n -= strlen(".slice");
	for (size_t i = 0; i + 3 < c.n; i++) {
		if (!memcmp(c.p + i, "pod", 3) && (i == 0 || c.p[i - 1] == '-'))
			p = c.p + i + 3;
	}
	if (!p || p == c.p + c.n)
		return false;
	*uid = (struct comp){ p, (size_t)(c.p + c.n - p) };
	return true;
}

size_t cgname_container(const char *path, char *out, size_t len)
{
	struct comp v[64], id;
	size_t n = split(path, v, 64);
	bool kube = false;

	if (len)
		out[0] = '\0';
	for (size_t i = n; i-- > 0;)
		if (runtime_id(v[i], &id))
			return put(out, len, id.p, id.n);
	for (size_t i = 0; i < n; i++)
		kube |= starts_with(v[i], "kubepods");
	for (size_t i = n; kube && i-- > 0;) {
		if (pod_uid(v[i], &id)) {
			char buf[128];
			size_t k = (size_t)snprintf(buf, sizeof(buf), "pod%.*s", (int)id.n, id.p);

			if (k >= sizeof(buf))
				k = sizeof(buf) - 1;
			/* systemd's slice names spell the uid's dashes as underscores. */
			for (size_t j = 3; j < k; j++)
				if (buf[j] == '_')
					buf[j] = '-';
			return put(out, len, buf, k);
		}
	}
	for (size_t i = n; i-- > 0;)
		if (starts_with(v[i], "lxc.payload.") && v[i].n > strlen("lxc.payload."))
			return put(out, len, v[i].p + strlen("lxc.payload."),
				   v[i].n - strlen("lxc.payload."));
	return 0;
}

size_t cgname_unit(const char *path, char *out, size_t len)
{
	struct comp v[64];
	size_t n = split(path, v, 64);

	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (ends_with(v[i], ".slice"))
			continue;
		if ((ends_with(v[i], ".service") && v[i].n > strlen(".service")) ||
		    (ends_with(v[i], ".scope") && v[i].n > strlen(".scope")))
			return put(out, len, v[i].p, v[i].n);
		break;
	}
	return 0;
}
