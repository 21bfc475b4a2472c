// SPDX-License-Identifier: GPL-2.0
/* Loads sock-floor.bpf.o, attaches every program (cgroup ones to the cgroup v2 root), prints
 * "floor-ready" and waits for SIGINT/SIGTERM; then prints the hit count. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: sock-floor OBJECT\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "sock-floor: cannot load %s\n", argv[1]);
		return 1;
	}
	/* the cgroup v2 root: the unified mount of a hybrid hierarchy, or /sys/fs/cgroup itself */
	int cg = open("/sys/fs/cgroup/unified", O_RDONLY | O_DIRECTORY);
	if (cg < 0)
		cg = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY);
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		struct bpf_link *l = bpf_program__section_name(p)[0] == 'c' ? bpf_program__attach_cgroup(p, cg)
									       : bpf_program__attach(p);
		if (!l) {
			fprintf(stderr, "sock-floor: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("floor-ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	int fd = bpf_object__find_map_fd_by_name(obj, "hits");
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long v[ncpu > 0 ? ncpu : 1], sum = 0;
	__u32 zero = 0;
	if (ncpu > 0 && bpf_map_lookup_elem(fd, &zero, v) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	printf("hits %llu\n", sum);
	bpf_object__close(obj);
	return 0;
}
