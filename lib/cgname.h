/* SPDX-License-Identifier: MIT */
/*
 * What a cgroup v2 path says about the processes in it: the container they run in, and the
 * systemd unit. Pure string work on a path below the cgroup v2 root ("/system.slice/x.service");
 * the path itself comes from the recorder, which looks cgroup ids up once each.
 */
#ifndef CONNREC_CGNAME_H
#define CONNREC_CGNAME_H

#include <stddef.h>

/*
 * The container id the path names, into OUT (always NUL-terminated; "" when none):
 *   - the 64-hex id of docker, containerd/CRI, CRI-O and podman/libpod, whether as a
 *     systemd scope ("docker-ID.scope", "cri-containerd-ID.scope", "crio-ID.scope",
 *     "libpod-ID.scope") or a plain directory ("/docker/ID", "/kubepods/.../podUID/ID");
 *   - else, in a kubepods tree, the pod ("pod" + its uid) when the path stops at the pod;
 *   - else the name of an LXC container ("lxc.payload.NAME").
 * The deepest component that names one wins. Returns the length.
 */
size_t cgname_container(const char *path, char *out, size_t len);

/*
 * The systemd unit the path lies in, into OUT ("" when none): the first component that is
 * not a slice, when it is a .service or .scope ("/system.slice/nginx.service/x" gives
 * "nginx.service", "/user.slice/user-1000.slice/session-2.scope" gives "session-2.scope").
 * Returns the length.
 */
size_t cgname_unit(const char *path, char *out, size_t len);

#endif /* CONNREC_CGNAME_H */
