// SPDX-License-Identifier: GPL-2.0
/* out-ctx OBJ [CHILDREN=1000] [ROUNDS=5]: ns per record output in the fork and exit hooks, by
 * channel (modes in out-ctx.bpf.c). Each round runs every mode, in an order rotated by the
 * round, over CHILDREN fork+exit+wait cycles; a consumer thread drains both buffers all along,
 * as the sensor does. Prints each mode's mean over all rounds and each round's mean.
 * Build and run (root, from the repo):
 *   clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Ibpf/vmlinux/x86 \
 *     -c bench/micro/out-ctx.bpf.c -o /tmp/out-ctx.bpf.o
 *   cc -O2 -pthread -o /tmp/out-ctx bench/micro/out-ctx.c -lbpf
 *   flock /tmp/falconet-kernel.lock /tmp/out-ctx /tmp/out-ctx.bpf.o 1000 5 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MODES 9
static const char *names[MODES] = { "clock only", "ringbuf reserve+submit", "ringbuf_output (stack)",
	"perf_event_output (stack)", "per-CPU counter (floor)", "stack fill only",
	"slot by tgid, 1.3 MB array", "slot by tgid, 20 KiB array", "hash insert+delete by tgid" };
struct g { __u32 mode, pad; __u64 ns[2][MODES], calls[2][MODES], fails[MODES]; };

static volatile int stop;
static long got_rb, got_pb;
static struct ring_buffer *rb;
static struct perf_buffer *pb;

static int on_rb(void *c, void *d, size_t s) { (void)c; (void)d; (void)s; got_rb++; return 0; }
static enum bpf_perf_event_ret on_pb_raw(void *c, int cpu, struct perf_event_header *h)
{
	(void)c; (void)cpu;
	if (h->type == PERF_RECORD_SAMPLE)
		got_pb++;
	return LIBBPF_PERF_EVENT_CONT;
}

static void *drain(void *a)
{
	while (!stop) {
		/* the hooks ask no wakeups: poll only paces the loop, consume reads */
		usleep(2000);
		ring_buffer__consume(rb);
		perf_buffer__consume(pb);
	}
	ring_buffer__consume(rb);
	perf_buffer__consume(pb);
	return a;
}

int main(int argc, char **argv)
{
	if (argc < 2) { fprintf(stderr, "usage: out-ctx OBJ [CHILDREN] [ROUNDS]\n"); return 2; }
	int children = argc > 2 ? atoi(argv[2]) : 1000, rounds = argc > 3 ? atoi(argv[3]) : 5;
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) { fprintf(stderr, "open failed\n"); return 1; }
	__u32 me = getpid();
	bpf_map__set_initial_value(bpf_object__find_map_by_name(obj, ".rodata"), &me, sizeof(me));
	if (bpf_object__load(obj)) { fprintf(stderr, "load failed\n"); return 1; }
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
		if (!bpf_program__attach(p)) { fprintf(stderr, "attach failed\n"); return 1; }
	rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "rb"), on_rb, NULL, NULL);
	/* wakeups by watermark (a quarter of each CPU's 1 MiB), not per event as perf_buffer__new
	 * sets: a wakeup is an irq_work, dear here; the consumer polls on a short timer anyway */
	struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW, .sample_period = 1, .watermark = 1, .wakeup_watermark = 256 << 10 };
	attr.size = sizeof(attr);
	pb = perf_buffer__new_raw(bpf_object__find_map_fd_by_name(obj, "pb"), 256, &attr, on_pb_raw, NULL, NULL);
	if (!rb || !pb) { fprintf(stderr, "buffers failed\n"); return 1; }
	pthread_t th;
	pthread_create(&th, NULL, drain, NULL);
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	if (!bss) bss = bpf_object__find_map_by_name(obj, ".data");
	int fd = bpf_map__fd(bss);
	__u32 zero = 0;
	struct g v;
	double per[64][2][MODES] = {0};
	__u64 last_ns[2][MODES] = {{0}}, last_calls[2][MODES] = {{0}};
	for (int r = 0; r < rounds && r < 64; r++) {
		for (int k = 0; k < MODES; k++) {
			int m = (k + r) % MODES;
			bpf_map_lookup_elem(fd, &zero, &v);
			v.mode = m;
			bpf_map_update_elem(fd, &zero, &v, 0);
			for (int i = 0; i < children; i++) {
				pid_t c = fork();
				if (c == 0) _exit(0);
				waitpid(c, NULL, 0);
			}
			bpf_map_lookup_elem(fd, &zero, &v);
			for (int w = 0; w < 2; w++) {
				__u64 dn = v.ns[w][m] - last_ns[w][m], dc = v.calls[w][m] - last_calls[w][m];
				per[r][w][m] = dc ? (double)dn / dc : 0;
				last_ns[w][m] = v.ns[w][m];
				last_calls[w][m] = v.calls[w][m];
			}
		}
	}
	v.mode = MODES; /* off */
	bpf_map_update_elem(fd, &zero, &v, 0);
	stop = 1;
	pthread_join(th, NULL);
	bpf_map_lookup_elem(fd, &zero, &v);
	printf("%-28s %10s %10s   per round (fork / exit)\n", "ns per output", "fork", "exit");
	for (int m = 0; m < MODES; m++) {
		printf("%-28s %10.0f %10.0f  ", names[m], v.calls[0][m] ? (double)v.ns[0][m] / v.calls[0][m] : 0,
		       v.calls[1][m] ? (double)v.ns[1][m] / v.calls[1][m] : 0);
		for (int r = 0; r < rounds && r < 64; r++)
			printf(" %.0f/%.0f", per[r][0][m], per[r][1][m]);
		printf("  fails %llu\n", (unsigned long long)v.fails[m]);
	}
	printf("records read: ring %ld, perf %ld\n", got_rb, got_pb);
	return 0;
}
