// SPDX-License-Identifier: GPL-2.0
/* rb-cost OBJ CALLS MODE...: ns per call of each mode of rb-cost.bpf.c with 1 and with 8
 * operations per call (per operation: the difference / 7). Build and run (root, from the repo):
 *   clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Ibpf/vmlinux/x86 \
 *     -c bench/micro/rb-cost.bpf.c -o /tmp/rb-cost.bpf.o
 *   cc -O2 -pthread -o /tmp/rb-cost bench/micro/rb-cost.c -lbpf
 *   flock /tmp/falconet-kernel.lock /tmp/rb-cost /tmp/rb-cost.bpf.o 20000 0 1 2 3 4 5 6 7 8 9 10 11
 * RB_MB=N in the environment sizes the ring buffer (MiB, a power of two; default 64).
 * GAP=N sleeps N µs after each call (outputs apart, as in a storm, not back to back).
 * PROD2=1 runs a second producer on CPU 1 (the bench itself is pinned to CPU 0): two CPUs
 * writing one ring, as in a storm; mode 12 gives each CPU its own ring.
 * Modes: 0 nothing, 1 ringbuf_output, 2 reserve+submit, 3 perf_event_output, 4 ringbuf_query,
 * 5 ktime_get_boot_ns, 6 per-CPU staging + one output per 8, 7 staging copy only, 8 comm,
 * 9 uid_gid, 10 exe name, 11 cgroup id, 12 ringbuf_output to a per-CPU ring; 13-19 see the
 * names below; 20 hash insert + delete, 21 hash look-up (no lock), 22 a slot claimed by
 * compare-and-swap and released, 23 hash update in place. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int on_rb(void *c, void *d, size_t s) { (void)c; (void)d; (void)s; return 0; }
static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

/* PROD2: the same program fires on CPU 1 as fast as it can (the bench's tgid: it counts too) */
static void *producer2(void *a)
{
	pin(1);
	for (;;)
		syscall(SYS_getppid);
	return a;
}

static void on_pb(void *c, int cpu, void *d, __u32 s) { (void)c; (void)cpu; (void)d; (void)s; }

static const char *names[] = { "empty loop", "ringbuf_output 384B", "ringbuf_reserve+submit 384B",
	"perf_event_output 384B", "ringbuf_query", "ktime_get_boot_ns", "stage 384B, 1 output / 8",
	"stage copy only", "get_current_comm", "get_current_uid_gid", "exe name (task_exe_name)",
	"get_current_cgroup_id", "per-CPU ring output 384B", "reserve+probe-read copy+submit",
	"reserve+BPF copy 384B+submit", "probe-read copy 384B only", "memcpy 384B only (map update)",
	"dynptr reserve+write+submit", "dynptr reserve+write+submit 2K", "ringbuf_output 2K",
	"hash insert+delete 64B", "hash lookup 64B (no lock)", "slot CAS claim+release",
	"hash update in place 64B" };

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: rb-cost OBJ CALLS [modes...]\n"); return 2; }
	long calls = atol(argv[2]);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	__u32 me = getpid();
	bpf_map__set_initial_value(rodata, &me, sizeof(me));
	/* RB_MB: the ring buffer's size in MiB (default 64). What an output costs depends on it: the
	 * producer writes where it wrote one lap of the ring ago, so a ring larger than the caches
	 * makes every record's copy cache misses. */
	const char *mb = getenv("RB_MB");
	if (mb && bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "rb"), (__u32)atoi(mb) << 20)) {
		fprintf(stderr, "RB_MB: not a power of two\n");
		return 2;
	}
	if (bpf_object__load(obj)) { fprintf(stderr, "load failed\n"); return 1; }
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "rbc");
	struct bpf_link *l = bpf_program__attach(p);
	if (!l) { fprintf(stderr, "attach failed\n"); return 1; }
	struct ring_buffer *rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "rb"), on_rb, NULL, NULL);
	struct perf_buffer *pb = perf_buffer__new(bpf_object__find_map_fd_by_name(obj, "pb"), 1024, on_pb, NULL, NULL, NULL);
	if (!rb || !pb || ring_buffer__add(rb, bpf_object__find_map_fd_by_name(obj, "rb2"), on_rb, NULL)) {
		fprintf(stderr, "buffers failed\n");
		return 1;
	}
	pin(0);
	/* GAP=N: sleep N µs after each call, as a hook's outputs are apart in a storm (the caches
	 * and TLB hold other work's lines by the next one) */
	const char *gap = getenv("GAP");
	unsigned gap_us = gap ? (unsigned)atoi(gap) : 0;
	const char *p2 = getenv("PROD2");
	pthread_t t2;
	if (p2 && *p2 && *p2 != '0')
		pthread_create(&t2, NULL, producer2, NULL);
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".data");
	if (!bss) bss = bpf_object__find_map_by_name(obj, ".bss");
	int bfd = bpf_map__fd(bss);
	struct { __u32 mode, reps; __u64 total, calls, fails; } v;
	__u32 zero = 0;
	for (int a = 3; a < argc; a++) {
		int mode = atoi(argv[a]);
		for (int reps = 1; reps <= 8; reps += 7) {
			v.mode = mode; v.reps = reps; v.total = v.calls = v.fails = 0;
			bpf_map_update_elem(bfd, &zero, &v, 0);
			for (long i = 0; i < calls; i++) {
				syscall(SYS_getppid);
				if (gap_us)
					usleep(gap_us);
				if ((i & 255) == 255) { ring_buffer__consume(rb); perf_buffer__consume(pb); }
			}
			ring_buffer__consume(rb); perf_buffer__consume(pb);
			bpf_map_lookup_elem(bfd, &zero, &v);
			printf("%-30s reps %d: %.1f ns per call (%llu calls, %llu fails)\n", names[mode], reps,
			       v.calls ? (double)v.total / v.calls : 0, (unsigned long long)v.calls, (unsigned long long)v.fails);
		}
	}
	return 0;
}
