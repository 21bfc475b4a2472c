/* SPDX-License-Identifier: GPL-2.0 */
/* Warming the large maps before the hooks are attached (run once by the sensor, warm.c).
 *
 * On paravirtualised guests like ours, the first access to each page of vmalloc'd memory (the
 * ring buffer, array maps) through the kernel's address costs ~10 us (measured in the fork hook:
 * 6 lines of a never-touched page of an array map, 9.8-12 us; of the same page in a later storm,
 * ~1 us). The kernel zeroes these pages through another address, so the first touch is left to
 * the hooks: a fresh sensor's first lap of its 4 MiB ring paid it for every 4 KiB, ~1 us per
 * 376-byte record. These programs touch each page once, through the same addresses the hooks
 * use, while nothing is attached. */
#pragma once
#include "common.bpf.h"
#include "process.bpf.h"
#include "file.bpf.h"

#define WARM_PAGE 4096
/* samples per run: the sensor consumes (skips) the discarded samples between runs, so a run
 * never needs more than this much free ring */
#define WARM_RING_STEPS 64

/* Reserves and discards page-sized samples: each header lands on the next page of the ring.
 * Returns the samples made (fewer than asked: the ring is full until the sensor consumes). */
SEC("syscall")
int fn_warm_ring(void *ctx)
{
	for (int i = 0; i < WARM_RING_STEPS; i++) {
		void *p = bpf_ringbuf_reserve(&events, WARM_PAGE - 8, 0);
		if (!p)
			return i;
		bpf_ringbuf_discard(p, BPF_RB_NO_WAKEUP);
	}
	return WARM_RING_STEPS;
}

/* A word read and written back, in each page of an array's values: a write, so that the page
 * is warm for the hooks' writes too. Nothing is attached yet, so nothing races with it. */
#define WARM_ARRAY(map, entries, value_size)                                                  \
	for (__u32 i = 0; i < (entries); i += WARM_PAGE / (value_size)) {                      \
		__u32 k = i;                                                                   \
		__u64 *v = bpf_map_lookup_elem(&(map), &k);                                    \
		if (v)                                                                         \
			*(volatile __u64 *)v = *(volatile __u64 *)v;                           \
	}

SEC("syscall")
int proc_warm_slots(void *ctx)
{
	WARM_ARRAY(proc_pend_slots, PEND_SLOTS, sizeof(struct proc_pend_slot));
	WARM_ARRAY(proc_bucket_slots, BUCKET_SLOTS, sizeof(struct proc_bucket_slot));
	for (__u32 i = 0; i < PEND_SLOTS; i += WARM_PAGE / sizeof(__u32))
		*(volatile __u32 *)&proc_pend_owner[i] = *(volatile __u32 *)&proc_pend_owner[i];
	return 0;
}

SEC("syscall")
int file_warm_slots(void *ctx)
{
	WARM_ARRAY(file_pend_slots, FILE_PEND_SLOTS, sizeof(struct pend_slot));
	return 0;
}
