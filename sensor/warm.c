// SPDX-License-Identifier: GPL-2.0
/* Warming the ring buffer and the large arrays before the hooks are attached (bpf/warm.bpf.h
 * says why: on our kind of guest the first touch of each vmalloc'd page through the kernel's
 * address costs ~10 us, which a fresh sensor's hooks otherwise paid, page by page, in their
 * first lap of the ring). Best effort: a kernel that cannot run a program here only loses the
 * warm-up, and the hooks pay the first touches as before. */
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "../bpf/records.h"
#include "falconet.skel.h"
#include "monitors.h"

static int skip_record(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data, (void)size;
	return 0; /* discarded samples never reach here; nothing else is in the ring yet */
}

static int run(struct bpf_program *p)
{
	if (!bpf_program__autoload(p) || bpf_program__fd(p) < 0)
		return -ENOENT;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int err = bpf_prog_test_run_opts(bpf_program__fd(p), &o);
	return err ? -errno : (int)o.retval;
}

/* Touches the ring's pages (one sample header each, fn_warm_ring); returns how many, or -errno. */
static long warm_ring(struct falconet_bpf *skel, long pages)
{
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), skip_record, NULL, NULL);
	if (!rb)
		return -errno;
	long done = 0;
	while (done < pages) {
		int n = run(skel->progs.fn_warm_ring);
		if (n < 0) {
			done = n;
			break;
		}
		done += n;
		ring_buffer__consume(rb); /* frees the ring for the next run */
		if (n == 0)
			break;
	}
	ring_buffer__free(rb);
	return done;
}

const char *warm_maps(struct falconet_bpf *skel)
{
	static char line[160];
	long total = bpf_map__max_entries(skel->maps.events) / 4096; /* WARM_PAGE in warm.bpf.h */
	long pages = warm_ring(skel, total);
	int n = pages < 0 ? snprintf(line, sizeof(line), "warm-up: ring not warmed (%s)", strerror((int)-pages))
			  : snprintf(line, sizeof(line), "warm-up: %ld of %ld ring pages", pages, total);
	const struct { unsigned mon; struct bpf_program *p; const char *name; } arrays[] = {
		{ FN_MON_PROCESS, skel->progs.proc_warm_slots, "process slots" },
		{ FN_MON_FILE, skel->progs.file_warm_slots, "file slots" },
	};
	for (unsigned i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		if (!(opt.monitors & arrays[i].mon) || n < 0 || (size_t)n >= sizeof(line))
			continue;
		int err = run(arrays[i].p);
		n += err < 0 ? snprintf(line + n, sizeof(line) - n, ", %s not warmed (%s)", arrays[i].name, strerror(-err))
			     : snprintf(line + n, sizeof(line) - n, ", %s", arrays[i].name);
	}
	return line;
}
