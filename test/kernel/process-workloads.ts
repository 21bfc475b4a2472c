// C workloads for the process monitor's kernel tests and bench: compiled with gcc on demand.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A known sequence of process, credential, file and network events (argv[1]: a directory holding
 * s.sh, a #!/bin/sh script that exits 5). The main thread brackets
 * it with kill(getpid(), 0) markers; stdout is one JSON line of ground truth (pids, port, dir).
 */
export const SEQUENCE_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void *thread_main(void *arg) { (void)arg; return NULL; }

static pid_t spawn_paused(void)
{
	pid_t p = fork();
	if (p == 0) { for (;;) pause(); }
	return p;
}

int main(int argc, char **argv)
{
	const char *dir = argv[1];
	int st;
	kill(getpid(), 0);                                   /* marker */
	if (chdir(dir)) return 10;
	pid_t a = fork();
	if (a == 0) { execl("/bin/true", "true", "--falconet-e2e", "x y", (char *)0); _exit(99); }
	waitpid(a, &st, 0);
	pid_t b = fork();
	if (b == 0) _exit(3);
	waitpid(b, &st, 0);
	char script[4200];
	snprintf(script, sizeof(script), "%s/s.sh", dir);       /* written by the test: #!/bin/sh, exit 5 */
	pid_t e = fork();
	if (e == 0) { execl(script, "s.sh", "arg1", (char *)0); _exit(98); }
	waitpid(e, &st, 0);
	pid_t c = spawn_paused();
	kill(c, SIGTERM);
	waitpid(c, &st, 0);
	pid_t d = spawn_paused();
	long pt = ptrace(PTRACE_SEIZE, d, 0, 0);
	kill(d, SIGKILL);
	waitpid(d, &st, 0);
	ptrace(PTRACE_ATTACH, 0x3ffffff0, 0, 0);           /* ESRCH */
	/* credentials: all six calls, each leaving root where it was */
	setresgid(-1, 65534, -1);
	setresgid(-1, 0, -1);
	setregid(0, 0);
	setgid(0);
	setresuid(-1, 65534, -1);
	setresuid(-1, 0, -1);
	setreuid(0, 0);
	setuid(0);
	/* executable memory */
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int mf = open("m.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char page[4096] = { 0 };
	if (write(mf, page, sizeof(page)) != sizeof(page)) return 11;
	void *fmap = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, mf, 0);
	mprotect(anon, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
	/* files */
	mkdir("d", 0750);
	symlink("target-x", "d/sl");
	link("m.bin", "d/hl");
	rename("d/hl", "d/hl2");
	chmod("m.bin", 0640);
	chown("m.bin", 65534, 65534);
	truncate("m.bin", 100);
	unlink("no-such-file");                               /* ENOENT */
	unlink("d/hl2");
	unlink("d/sl");
	rmdir("d");
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY);        /* paths relative to a directory fd */
	mkdirat(dirfd, "d2", 0700);
	renameat(dirfd, "d2", AT_FDCWD, "d3");
	unlinkat(dirfd, "d3", AT_REMOVEDIR);
	int dfd = dup(mf);
	int pfd[2];
	if (pipe(pfd)) return 12;
	/* network: loopback TCP, then unix datagram */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(ls, (struct sockaddr *)&sa, sizeof(sa));
	listen(ls, 7);
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	int cs = socket(AF_INET, SOCK_STREAM, 0);
	connect(cs, (struct sockaddr *)&sa, sizeof(sa));
	struct sockaddr_in cl; sl = sizeof(cl);
	getsockname(cs, (struct sockaddr *)&cl, &sl);
	int as = accept(ls, NULL, NULL);
	struct sockaddr_in peer; sl = sizeof(peer);
	getpeername(as, (struct sockaddr *)&peer, &sl);
	/* IPv6 loopback: listen, connect, accept */
	int ls6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bind(ls6, (struct sockaddr *)&sa6, sizeof(sa6));
	listen(ls6, 3);
	sl = sizeof(sa6);
	getsockname(ls6, (struct sockaddr *)&sa6, &sl);
	int cs6 = socket(AF_INET6, SOCK_STREAM, 0);
	connect(cs6, (struct sockaddr *)&sa6, sizeof(sa6));
	struct sockaddr_in6 cl6; sl = sizeof(cl6);
	getsockname(cs6, (struct sockaddr *)&cl6, &sl);
	int as6 = accept4(ls6, NULL, NULL, SOCK_CLOEXEC);
	int us = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/u.sock", dir);
	bind(us, (struct sockaddr *)&un, sizeof(un));
	int uc = socket(AF_UNIX, SOCK_DGRAM, 0);
	connect(uc, (struct sockaddr *)&un, sizeof(un));
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	/* namespaces, fd-based chmod, a failed exec */
	int nsfd = open("/proc/self/ns/uts", O_RDONLY);
	unshare(CLONE_NEWUTS);
	setns(nsfd, CLONE_NEWUTS);
	fchmod(mf, 0600);
	execl("/nonexistent/prog", "prog", (char *)0);      /* ENOENT */
	/* a thread */
	pthread_t th;
	pthread_create(&th, NULL, thread_main, NULL);
	pthread_join(th, NULL);
	kill(getpid(), 0);                                   /* marker */
	printf("{\"pid\":%d,\"a\":%d,\"b\":%d,\"e\":%d,\"c\":%d,\"d\":%d,\"ptrace\":%ld,\"port\":%d,\"cport\":%d,"
	       "\"dup\":%d,\"mf\":%d,\"nsfd\":%d,\"pipe\":[%d,%d],\"ls\":%d,\"cs\":%d,\"as\":%d,\"port6\":%d,\"cport6\":%d,\"ls6\":%d,\"cs6\":%d,\"as6\":%d,\"us\":%d,\"uc\":%d,\"sp\":[%d,%d],"
	       "\"anon\":\"%p\",\"fmap\":\"%p\"}\n",
	       getpid(), a, b, e, c, d, pt, ntohs(sa.sin_port), ntohs(cl.sin_port), dfd, mf, nsfd, pfd[0], pfd[1], ls, cs, as,
	       ntohs(sa6.sin6_port), ntohs(cl6.sin6_port), ls6, cs6, as6, us, uc, sp[0], sp[1], anon, fmap);
	return 0;
}
`;

/**
 * The storm: N children, each fork → execve(/bin/true) → exit, WORKERS at a time. Prints
 * {"pid":…,"children":N,"ok":K} where K children exec'd and exited 0.
 */
export const STORM_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = atoi(argv[1]), workers = argc > 2 ? atoi(argv[2]) : 2, running = 0, ok = 0, started = 0;
	while (started < n || running > 0) {
		while (started < n && running < workers) {
			pid_t p = fork();
			if (p < 0) { perror("fork"); return 1; }
			if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(127); }
			started++;
			running++;
		}
		int st;
		if (wait(&st) > 0) {
			running--;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
		}
	}
	printf("{\"pid\":%d,\"children\":%d,\"ok\":%d}\n", getpid(), n, ok);
	return 0;
}
`;

/** Compiles a C source (cached per process) and returns the binary's path. */
export function buildC(name: string, source: string, extra: string[] = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), `fn-${name}-`));
  const src = path.join(dir, `${name}.c`);
  const bin = path.join(dir, name);
  writeFileSync(src, source);
  execFileSync('gcc', ['-O2', '-o', bin, src, ...extra]);
  return bin;
}
