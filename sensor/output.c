// SPDX-License-Identifier: GPL-2.0
/* Frame writer: batches records into FR_RECORDS frames on stdout. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "output.h"

static unsigned char batch[BATCH_MAX + 16];
static size_t batch_len;
__u64 records_out;

/* ---- output ---- */
static void write_all(const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* the agent went away: nothing left to report to */
			_exit(errno == EPIPE ? 0 : 3);
		}
		p += n;
		len -= n;
	}
}

void write_frame(__u16 kind, const void *body, __u32 len)
{
	struct fn_frame h = { .len = len, .kind = kind };
	write_all(&h, sizeof(h));
	if (len)
		write_all(body, len);
}

void flush_batch(void)
{
	if (!batch_len)
		return;
	write_frame(FR_RECORDS, batch, batch_len);
	batch_len = 0;
}

void add_record(const void *data, size_t size)
{
	size_t padded = (size + 7) & ~7UL;
	if (batch_len + padded > BATCH_MAX)
		flush_batch();
	memcpy(batch + batch_len, data, size);
	memset(batch + batch_len + size, 0, padded - size);
	batch_len += padded;
	records_out++;
}

