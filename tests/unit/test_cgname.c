// SPDX-License-Identifier: MIT
/* Container ids and systemd units from cgroup v2 paths, as the runtimes and systemd name them. */
#include <string.h>

#include "cgname.h"
#include "check.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void container(const char *path, const char *want)
{
	char out[80];
	size_t n = cgname_container(path, out, sizeof(out));

	CHECK(!strcmp(out, want) && n == strlen(want), "container of '%s': want '%s', got '%s'",
	      path, want, out);
}

static void unit(const char *path, const char *want)
{
	char out[256];
	size_t n = cgname_unit(path, out, sizeof(out));

	CHECK(!strcmp(out, want) && n == strlen(want), "unit of '%s': want '%s', got '%s'", path,
	      want, out);
}

int main(void)
{
	/* docker, systemd and cgroupfs drivers */
	container("/system.slice/docker-" ID ".scope", ID);
	container("/docker/" ID, ID);
	container("/system.slice/docker-" ID ".scope/inner", ID);
	/* containerd / CRI under kubernetes, both drivers */
	container("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b_3c4d.slice/"
		  "cri-containerd-" ID ".scope",
		  ID);
	container("/kubepods/besteffort/pod1a2b-3c4d/" ID, ID);
	/* CRI-O, and its monitor (conmon), which is not the container */
	container("/kubepods.slice/kubepods-pod9f.slice/crio-" ID ".scope", ID);
	container("/machine.slice/crio-conmon-" ID ".scope", "");
	/* podman, rootful and rootless */
	container("/machine.slice/libpod-" ID ".scope/container", ID);
	container("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
		  ID);
	container("/machine.slice/libpod-conmon-" ID ".scope", "");
	/* a pod without a container id: the pod's uid, dashes restored */
	container("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b_3c4d.slice",
		  "pod1a2b-3c4d");
	container("/kubepods/burstable/pod77", "pod77");
	/* LXC */
	container("/lxc.payload.web1/init.scope", "web1");
	/* nothing */
	container("/", "");
	container("", "");
	container("/system.slice/nginx.service", "");
	container("/docker/" ID "0", "");			/* 65 hex */
	container("/docker/0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", "");
	container("/kubepods", "");
	container("/podcast.service", "");

	unit("/system.slice/nginx.service", "nginx.service");
	unit("/system.slice/x.service", "x.service");
	unit("/system.slice/nginx.service/worker", "nginx.service");
	unit("/system.slice/docker-" ID ".scope", "docker-" ID ".scope");
	unit("/user.slice/user-1000.slice/session-2.scope", "session-2.scope");
	unit("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
	     "user@1000.service");
	unit("/init.scope", "init.scope");
	unit("/", "");
	unit("", "");
	unit("/system.slice", "");
	unit("/docker/" ID, "");
	unit("/system.slice/.service", "");
	unit("//system.slice//a.service//", "a.service");

	/* a short buffer cuts but still terminates */
	{
		char small[8];

		cgname_container("/docker/" ID, small, sizeof(small));
		CHECK(!strcmp(small, "0123456"), "cut container: '%s'", small);
		cgname_unit("/system.slice/nginx.service", small, sizeof(small));
		CHECK(!strcmp(small, "nginx.s"), "cut unit: '%s'", small);
	}
	return check_done();
}
