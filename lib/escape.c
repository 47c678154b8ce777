// SPDX-License-Identifier: MIT
#include "escape.h"

#include <stdio.h>

char *cr_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	if (!len)
		return out;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 5 < len; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	return out;
}
