/* SPDX-License-Identifier: MIT */
/*
 * `record --ship-to URL`: the recorder runs `connrec ship` as a child process after each seal,
 * off the capture path (its own process, at a lower priority; the recorder never waits for it).
 * One child at a time; a seal while one runs is picked up when it ends, and a failed run is
 * tried again after SHIP_SPAWN_RETRY_NS. A password in the URL reaches the child through a
 * pipe (--auth /dev/fd/N), never through its command line.
 */
#ifndef CONNREC_FLEET_SHIP_SPAWN_H
#define CONNREC_FLEET_SHIP_SPAWN_H

#include <stdint.h>

#define SHIP_SPAWN_RETRY_NS (300LL * 1000000000)

struct ship_spawn_opts {
	const char *url;      /* may hold USER:PASSWORD@ */
	const char *auth;     /* --ship-auth FILE, or NULL */
	const char *database; /* or NULL */
	const char *dir;      /* the data dir */
};

struct ship_spawn;

/* Checks the URL and copies the options; nothing runs yet. 0, -EINVAL (message printed). */
int ship_spawn_new(struct ship_spawn **out, const struct ship_spawn_opts *o);

/*
 * Called from the recorder's loop with the store's count of seals so far: reaps a child that
 * ended, and starts one when a seal happened since the last start (or at the first call, for
 * what earlier runs left), or when a failed run is due again. now_ns: a monotonic clock.
 */
void ship_spawn_poll(struct ship_spawn *sp, uint64_t sealed, int64_t now_ns);

/* At the recorder's stop: asks a running child to stop (SIGTERM), waits for it, frees. */
void ship_spawn_free(struct ship_spawn *sp);

#endif /* CONNREC_FLEET_SHIP_SPAWN_H */
