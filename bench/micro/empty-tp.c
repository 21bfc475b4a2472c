// SPDX-License-Identifier: GPL-2.0
/* Loads empty-tp.bpf.o, turns bpf_stats on, runs N x (fork, execve /bin/true, wait) and prints
 * each program's mean ns per invocation. Usage: empty-tp OBJ [N=3000] */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int set_stats(const char *v)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "w");
	if (!f)
		return -1;
	fputs(v, f);
	return fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJ [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 3000;
	struct bpf_object *o = bpf_object__open_file(argv[1], NULL);
	if (!o || bpf_object__load(o)) {
		fprintf(stderr, "empty-tp: cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, o) {
		if (!bpf_program__attach(p)) {
			fprintf(stderr, "empty-tp: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
	}
	if (set_stats("1")) {
		perror("empty-tp: kernel.bpf_stats_enabled");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		pid_t c = fork();
		if (c == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (c > 0)
			waitpid(c, NULL, 0);
	}
	set_stats("0");
	printf("| program | invocations | mean ns |\n|---|---|---|\n");
	bpf_object__for_each_program(p, o) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		printf("| %s | %llu | %.0f |\n", bpf_program__name(p), (unsigned long long)info.run_cnt,
		       info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0.0);
	}
	bpf_object__close(o);
	return 0;
}
