/* SPDX-License-Identifier: MIT */
/* A growing byte buffer, for request bodies and answers of fleet/. 0 or -ENOMEM. */
#ifndef CONNREC_FLEET_CH_BUF_H
#define CONNREC_FLEET_CH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ch_buf {
	uint8_t *p;
	size_t n, cap;
};

int ch_buf_reserve(struct ch_buf *b, size_t more);
int ch_buf_put(struct ch_buf *b, const void *v, size_t n);
void ch_buf_free(struct ch_buf *b);

#endif /* CONNREC_FLEET_CH_BUF_H */
