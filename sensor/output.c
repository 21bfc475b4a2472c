// SPDX-License-Identifier: GPL-2.0
/* Frame writer: batches records into FR_RECORDS frames on stdout.
 *
 * When stdout is a pipe (the agent), frames go through a queue in the sensor's memory and are
 * written without blocking: a slow agent then fills this queue instead of the kernel's ring
 * buffer, which keeps draining. (A full ring buffer defers file records and drops process
 * records; and the ring's size is what each record's copy costs in cache misses, so its slack
 * is better kept here.) Past OUT_QUEUE_MAX the writer blocks, and the ring buffer takes the
 * rest as before. Other stdout kinds (a file, a terminal) are written directly, blocking.
 *
 * Records are held in the batch until it has BATCH_DUE bytes or its first record is --hold-ms
 * old: each write wakes the agent, and on a paravirtualised guest a wakeup costs the agent more
 * than the few records a 5 ms drain brings (a process storm: agent CPU -42 % at 50 ms). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "monitors.h"
#include "output.h"

static unsigned char batch[BATCH_MAX + 16];
static size_t batch_len;
static __u64 batch_first_ns; /* CLOCK_MONOTONIC when the batch got its first record */
__u64 records_out;

#define OUT_QUEUE_MAX ((size_t)64 << 20)

static unsigned char *q;    /* queued bytes are q[q_head, q_head + q_len) */
static size_t q_head, q_len, q_cap;
static int nonblocking = -1; /* -1: not decided yet */

static void gone(void)
{
	/* the agent went away: nothing left to report to */
	_exit(errno == EPIPE ? 0 : 3);
}

static bool use_queue(void)
{
	if (nonblocking < 0) {
		struct stat st;
		int fl = fcntl(STDOUT_FILENO, F_GETFL);
		nonblocking = fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) && fl >= 0 &&
			      fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) == 0;
	}
	return nonblocking;
}

/* Writes what stdout takes now; with `block`, waits until the queue is at most `keep` bytes. */
static void pump(bool block, size_t keep)
{
	while (q_len > keep) {
		ssize_t n = write(STDOUT_FILENO, q + q_head, q_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				gone();
			if (!block)
				return;
			struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
			poll(&p, 1, -1);
			continue;
		}
		q_head += n;
		q_len -= n;
	}
	if (!q_len) {
		q_head = 0;
		if (q_cap > ((size_t)4 << 20)) { /* a burst is over: give its memory back */
			free(q);
			q = NULL;
			q_cap = 0;
		}
	}
}

/* Queues buf; false when memory ran out (the queue is then written out and stdout is blocking) */
static bool enqueue(const void *buf, size_t len)
{
	if (q_head + q_len + len > q_cap) {
		if (q_head) { /* move the unwritten bytes to the front before growing */
			memmove(q, q + q_head, q_len);
			q_head = 0;
		}
		if (q_len + len > q_cap) {
			size_t cap = q_cap ? q_cap : 1 << 20;
			while (cap < q_len + len)
				cap *= 2;
			unsigned char *nq = realloc(q, cap);
			if (!nq) { /* no memory for slack: write through, blocking */
				pump(true, 0);
				nonblocking = 0;
				fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) & ~O_NONBLOCK);
				return false;
			}
			q = nq;
			q_cap = cap;
		}
	}
	memcpy(q + q_head + q_len, buf, len);
	q_len += len;
	return true;
}

static void write_all(const void *buf, size_t len)
{
	if (use_queue() && enqueue(buf, len)) {
		pump(false, 0);
		if (q_len > OUT_QUEUE_MAX)
			pump(true, OUT_QUEUE_MAX / 2);
		return;
	}
	const char *p = buf;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			gone();
		}
		p += n;
		len -= n;
	}
}

bool output_pending(void)
{
	return q_len != 0;
}

void output_pump(void)
{
	pump(false, 0);
}

void output_drain(void)
{
	flush_batch();
	pump(true, 0);
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

int flush_batch_due(__u64 now_ns, __u64 hold_ns)
{
	if (!batch_len)
		return -1;
	if (batch_len >= BATCH_DUE || now_ns >= batch_first_ns + hold_ns) {
		flush_batch();
		return -1;
	}
	return (int)((batch_first_ns + hold_ns - now_ns + 999999) / 1000000);
}

void add_record(const void *data, size_t size)
{
	size_t padded = (size + 7) & ~7UL;
	if (batch_len + padded > BATCH_MAX)
		flush_batch();
	if (!batch_len)
		batch_first_ns = now_ns(CLOCK_MONOTONIC);
	memcpy(batch + batch_len, data, size);
	memset(batch + batch_len + size, 0, padded - size);
	batch_len += padded;
	records_out++;
}
