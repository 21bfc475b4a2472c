// SPDX-License-Identifier: GPL-2.0
/* Loads page-touch.bpf.o and prints ns per getppid() call of each mode, three rounds (the first
 * round's mode 1 includes the map's first touch). Usage: page-touch OBJ [CALLS=20000]; GAP and
 * BG as in page-touch.bpf.c. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: page-touch OBJ [CALLS]\n");
		return 2;
	}
	long calls = argc > 2 ? atol(argv[2]) : 20000;
	const char *gap = getenv("GAP");
	unsigned gap_us = gap ? (unsigned)atoi(gap) : 0;
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	__u32 me = getpid();
	bpf_map__set_initial_value(bpf_object__find_map_by_name(obj, ".rodata"), &me, sizeof(me));
	if (bpf_object__load(obj) || !bpf_program__attach(bpf_object__find_program_by_name(obj, "pt"))) {
		fprintf(stderr, "load or attach failed\n");
		return 1;
	}
	int gfd = bpf_map__fd(bpf_object__find_map_by_name(obj, ".bss"));
	pid_t bg = 0;
	if (getenv("BG") && !(bg = fork())) {
		pin(1);
		char *args[] = { "/bin/true", NULL };
		for (;;) {
			pid_t c;
			if (posix_spawn(&c, "/bin/true", NULL, NULL, args, environ) == 0)
				waitpid(c, NULL, 0);
		}
	}
	pin(0);
	static const char *names[] = { "nothing", "8 new pages", "the same 8 pages", "8 consecutive lines" };
	for (int round = 0; round < 3; round++) {
		for (__u32 mode = 0; mode < 4; mode++) {
			struct { __u32 mode, pad; __u64 total_ns, calls, off; } v = { .mode = mode };
			__u32 zero = 0;
			bpf_map_update_elem(gfd, &zero, &v, 0);
			for (long i = 0; i < calls; i++) {
				syscall(SYS_getppid);
				if (gap_us)
					usleep(gap_us);
			}
			bpf_map_lookup_elem(gfd, &zero, &v);
			printf("round %d %-20s %6.0f ns per call (%llu calls)\n", round, names[mode],
			       v.calls ? (double)v.total_ns / v.calls : 0, (unsigned long long)v.calls);
		}
	}
	if (bg)
		kill(bg, SIGKILL);
	return 0;
}
