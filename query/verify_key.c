// SPDX-License-Identifier: MIT
/* The --verify-key option's value (verify_key.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/crypto.h>

#include "sealkey.h"
#include "verify_key.h"

int vkey_take(const struct opt *o, const char *arg, const char **out)
{
	static char from_file[SEALKEY_VERIFY_LEN + 64];
	uint8_t k0[SEALKEY_LEN];
	char id[SEALKEY_ID_LEN + 1];
	int err;

	if (arg[0] == '@') {
		FILE *f = fopen(arg + 1, "re");

		if (!f || !fgets(from_file, sizeof(from_file), f)) {
			if (f)
				fclose(f);
			return opt_bad_value(o, arg, "cannot read the file");
		}
		fclose(f);
		arg = from_file;
	}
	err = sealkey_parse_verify(arg, k0, id);
	OPENSSL_cleanse(k0, sizeof(k0));
	if (err)
		return opt_bad_value(o, "...", err == -EBADMSG
						       ? "damaged: its key id does not match"
						       : "expected KEYID-KEY as keygen printed it");
	*out = arg;
	return 0;
}
