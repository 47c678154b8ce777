// SPDX-License-Identifier: MIT
/*
 * connrec keygen: makes a store's sealing key and prints its verification key, once
 * (store/sealkey.h; docs/store.md, "Sealing key").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "commands.h"
#include "opts.h"
#include "sealkey.h"
#include "store.h"

enum { OPT_DATA_DIR = OPT_FIRST, OPT_KEY_FILE, OPT_FORCE };

static const struct opt keygen_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	{ .id = OPT_KEY_FILE, .name = "key-file", .arg = OPT_REQUIRED, .metavar = "PATH",
	  .help = "write the sealing key here instead of DIR/connrec.key" },
	{ .id = OPT_FORCE, .name = "force", .help = "replace an existing sealing key" },
	{ 0 },
};

struct keygen_args {
	const char *dir, *key_file;
	bool force;
};

static int on_opt(void *ctx, const struct opt *o, const char *arg)
{
	struct keygen_args *a = ctx;

	switch (o->id) {
	case OPT_DATA_DIR:
		if (!*arg)
			return opt_bad_value(o, arg, "empty path");
		a->dir = arg;
		break;
	case OPT_KEY_FILE:
		if (!*arg)
			return opt_bad_value(o, arg, "empty path");
		a->key_file = arg;
		break;
	case OPT_FORCE:
		a->force = true;
		break;
	}
	return 0;
}

static int keygen_run(int argc, char **argv);

const struct opt_cmd cmd_keygen = {
	.name = "keygen",
	.summary = "make a sealing key; print its verification key once",
	.synopsis = "[-d DIR] [--key-file PATH] [--force]",
	.description =
		"Makes a forward-secure sealing key for a store (DIR/connrec.key, mode 0600) and\n"
		"prints the matching verification key on stdout, once. The recorder then seals\n"
		"every checkpoint and sealed segment with the key of the current epoch and erases\n"
		"that key right after, so whoever takes the host later cannot forge what was\n"
		"sealed before. Keep the verification key off this host: it checks the seals\n"
		"(connrec verify --verify-key) and it can also forge them.\n",
	.epilog = "Restart the recorder to start sealing with a new key. Exit status: 0 done,\n"
		  "1 failure (e.g. a key exists and --force was not given), 2 bad usage.\n\n"
		  "Example:\n"
		  "  connrec keygen -d /var/lib/connrec > /media/usb/host7-verify-key\n",
	.opts = keygen_options,
	.run = keygen_run,
};

static int keygen_run(int argc, char **argv)
{
	struct keygen_args a = { .dir = STORE_DEFAULT_DIR };
	char path[4096], vk[SEALKEY_VERIFY_LEN + 1];
	int err = opt_parse(&cmd_keygen, argc, argv, on_opt, &a);

	if (err)
		return opt_exit_status(err);
	if (a.key_file) {
		snprintf(path, sizeof(path), "%s", a.key_file);
	} else {
		if (snprintf(path, sizeof(path), "%s/%s", a.dir, SEALKEY_NAME) >= (int)sizeof(path)) {
			fprintf(stderr, "connrec keygen: %s: path too long\n", a.dir);
			return EXIT_FAIL;
		}
		/* Like record, a data dir that does not exist yet is made, private. */
		if (mkdir(a.dir, 0700) && errno != EEXIST) {
			fprintf(stderr, "connrec keygen: cannot create %s: %s\n", a.dir,
				strerror(errno));
			return EXIT_FAIL;
		}
	}
	err = sealkey_create(path, a.force, vk);
	if (err == -EEXIST) {
		fprintf(stderr, "connrec keygen: %s exists; --force replaces it (the old "
				"verification key still checks what was sealed before)\n",
			path);
		return EXIT_FAIL;
	}
	if (err) {
		fprintf(stderr, "connrec keygen: cannot write %s: %s\n", path, strerror(-err));
		return EXIT_FAIL;
	}
	printf("%s\n", vk);
	fflush(stdout);
	fprintf(stderr,
		"connrec keygen: sealing key written to %s (key id %.*s).\n"
		"The line on stdout is the verification key, shown only this once. Keep it off\n"
		"this host and secret: it checks the seals and can also forge them. Restart the\n"
		"recorder to seal with it; check with: connrec verify --verify-key KEY\n",
		path, SEALKEY_ID_LEN, vk);
	OPENSSL_cleanse(vk, sizeof(vk));
	return EXIT_OK;
}
