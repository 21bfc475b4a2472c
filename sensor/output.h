/* SPDX-License-Identifier: GPL-2.0 */
#pragma once
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
extern __u64 records_out;
