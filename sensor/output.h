/* SPDX-License-Identifier: GPL-2.0 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "../bpf/records.h"

#define BATCH_MAX (256 * 1024)

/* Writes one frame (header + body) to stdout; exits quietly when the agent is gone. */
void write_frame(__u16 kind, const void *body, __u32 len);
/* Appends a record (rec_hdr.size bytes) to the current FR_RECORDS batch. */
void add_record(const void *data, size_t size);
/* Writes the pending batch as one frame. */
void flush_batch(void);
/* Writes the batch if it is due: BATCH_DUE bytes, or its first record hold_ns old (now_ns:
 * CLOCK_MONOTONIC). Returns the ms until it falls due (-1: no batch). */
int flush_batch_due(__u64 now_ns, __u64 hold_ns);
#define BATCH_DUE (64 * 1024)
/* Bytes queued for a slow agent (stdout a pipe): the main loop waits for stdout to take them. */
bool output_pending(void);
/* Writes what stdout takes now, without blocking. */
void output_pump(void);
/* Writes the batch and everything queued, blocking (shutdown). */
void output_drain(void);
extern __u64 records_out;
