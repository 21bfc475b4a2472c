// SPDX-License-Identifier: GPL-2.0
/* Guest workload for the booted-kernel test (static; busybox has no UDP client): exact loopback
 * exchanges whose byte counts the host asserts.
 *   netpair tcp PORT UP DOWN   client sends UP bytes, half-closes, server answers DOWN bytes
 *   netpair udp PORT N SIZE    client sends N datagrams of SIZE bytes, server echoes each
 *   netpair tcpfork PORT UP DOWN  as tcp, but a child of the server reads the request (and
 *                              prints "tcpfork reader pid=P rx=X") before the server answers
 *   netpair unix PATH UP DOWN  as tcp, over a UNIX stream socket bound to PATH
 *   netpair unixmm N SIZE      a UNIX datagram socketpair: the client sends N messages of SIZE
 *                              bytes in one sendmmsg and one of 33 by pwritev2 (offset -1), the
 *                              server takes them with recvmmsg and preadv2 and answers N of
 *                              2*SIZE in one sendmmsg, which the client takes with recvmmsg
 *   netpair unixuring          a UNIX datagram socketpair: the client sends 50 bytes by an
 *                              io_uring SENDMSG and 40 by one forced into an io-wq worker
 *                              (IOSQE_ASYNC), then writes 100 bytes to /dev/null, then 30 to
 *                              the socket by write(); the server reads the three messages
 *   netpair unixsplice         a UNIX stream socketpair: the client sends 3000 bytes of a file by
 *                              sendfile, 2000 from a pipe by splice and 500 by write; the server
 *                              takes 2500 by splice into a pipe (its socket's first call), the
 *                              rest by read, and answers 700 by splice from a pipe, which the
 *                              client takes by splice
 * Prints one line per side: "<proto> <role> pid=P lport=L rport=R tx=T rx=X". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[65536];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static struct sockaddr_in addr(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int lport(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	return ntohs(a.sin_port);
}

static long send_all(int fd, long n)
{
	long sent = 0;
	memset(buf, 'x', sizeof(buf));
	while (sent < n) {
		long k = n - sent < (long)sizeof(buf) ? n - sent : (long)sizeof(buf);
		long w = write(fd, buf, k);
		if (w <= 0)
			die("write");
		sent += w;
	}
	return sent;
}

static long recv_all(int fd)
{
	long got = 0, r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		got += r;
	return got;
}

/* fork_reader: a child of the server reads the request and exits; the server then answers and
 * closes (the socket's first reader is not its closer) */
static int tcp(int port, long up, long down, int fork_reader)
{
	const char *name = fork_reader ? "tcpfork" : "tcp";
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = addr(port);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1))
		die("tcp listen");
	pid_t c = fork();
	if (c == 0) {
		close(ls);
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)))
			die("connect");
		long tx = send_all(s, up);
		shutdown(s, SHUT_WR);
		long rx = recv_all(s);
		printf("%s client pid=%d lport=%d rport=%d tx=%ld rx=%ld\n", name, getpid(), lport(s), port, tx, rx);
		fflush(stdout);
		close(s);
		_exit(0);
	}
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	long rx = 0;
	if (fork_reader) {
		pid_t r = fork();
		if (r == 0) {
			rx = recv_all(s);
			printf("tcpfork reader pid=%d rx=%ld\n", getpid(), rx);
			fflush(stdout);
			_exit(0);
		}
		waitpid(r, NULL, 0);
	} else {
		rx = recv_all(s);
	}
	long tx = send_all(s, down);
	close(s);
	close(ls);
	waitpid(c, NULL, 0);
	printf("%s server pid=%d lport=%d tx=%ld rx=%ld\n", name, getpid(), port, tx, rx);
	return 0;
}

static int unix_stream(const char *path, long up, long down)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1))
		die("unix listen");
	pid_t c = fork();
	if (c == 0) {
		close(ls);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)))
			die("unix connect");
		long tx = send_all(s, up);
		shutdown(s, SHUT_WR);
		long rx = recv_all(s);
		printf("unix client pid=%d tx=%ld rx=%ld\n", getpid(), tx, rx);
		fflush(stdout);
		close(s);
		_exit(0);
	}
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("unix accept");
	long rx = recv_all(s);
	long tx = send_all(s, down);
	close(s);
	close(ls);
	waitpid(c, NULL, 0);
	printf("unix server pid=%d tx=%ld rx=%ld\n", getpid(), tx, rx);
	return 0;
}

static int udp(int port, int n, int size)
{
	int srv = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = addr(port);
	if (bind(srv, (struct sockaddr *)&a, sizeof(a)))
		die("udp bind");
	pid_t c = fork();
	if (c == 0) {
		close(srv);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		long tx = 0, rx = 0;
		memset(buf, 'u', size);
		for (int i = 0; i < n; i++) {
			tx += sendto(s, buf, size, 0, (struct sockaddr *)&a, sizeof(a));
			rx += recv(s, buf, sizeof(buf), 0);
		}
		printf("udp client pid=%d lport=%d rport=%d tx=%ld rx=%ld\n", getpid(), lport(s), port, tx, rx);
		fflush(stdout);
		close(s);
		_exit(0);
	}
	long tx = 0, rx = 0;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		long r = recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		rx += r;
		tx += sendto(srv, buf, r, 0, (struct sockaddr *)&from, fl);
	}
	waitpid(c, NULL, 0);
	close(srv);
	printf("udp server pid=%d lport=%d tx=%ld rx=%ld\n", getpid(), port, tx, rx);
	return 0;
}

#define MM_MAX 16

/* n messages of size bytes each from buf, in one sendmmsg (send) or recvmmsg (!send): bytes moved */
static long mmsg(int fd, int n, int size, int send)
{
	struct mmsghdr v[MM_MAX];
	struct iovec io[MM_MAX];
	memset(v, 0, sizeof(v));
	for (int i = 0; i < n; i++) {
		io[i].iov_base = buf + i * size;
		io[i].iov_len = size;
		v[i].msg_hdr.msg_iov = &io[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	int got = send ? sendmmsg(fd, v, n, 0) : recvmmsg(fd, v, n, 0, NULL);
	if (got != n)
		die(send ? "sendmmsg" : "recvmmsg");
	long bytes = 0;
	for (int i = 0; i < n; i++)
		bytes += v[i].msg_len;
	return bytes;
}

static int unix_mmsg(int n, int size)
{
	int sv[2];
	if (n > MM_MAX || 2 * size * n > (int)sizeof(buf) || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("unixmm setup");
	struct iovec one = { .iov_base = buf, .iov_len = 33 };
	pid_t c = fork();
	if (c == 0) {
		close(sv[1]);
		memset(buf, 'm', sizeof(buf));
		long tx = mmsg(sv[0], n, size, 1);
		tx += pwritev2(sv[0], &one, 1, -1, 0);
		long rx = mmsg(sv[0], n, 2 * size, 0);
		printf("unixmm client pid=%d tx=%ld rx=%ld\n", getpid(), tx, rx);
		fflush(stdout);
		_exit(0);
	}
	close(sv[0]);
	long rx = mmsg(sv[1], n, size, 0);
	rx += preadv2(sv[1], &one, 1, -1, 0);
	long tx = mmsg(sv[1], n, 2 * size, 1);
	waitpid(c, NULL, 0);
	close(sv[1]);
	printf("unixmm server pid=%d tx=%ld rx=%ld\n", getpid(), tx, rx);
	return 0;
}

/* One IORING_OP_SENDMSG of msg on fd through a ring of its own (no liburing in the guest):
 * the bytes sent, or -1. */
static long uring_sendmsg(int fd, struct msghdr *msg, unsigned char sqe_flags)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int ring = syscall(__NR_io_uring_setup, 2, &p);
	if (ring < 0)
		return -1;
	char *sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -1;
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail), mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	unsigned t = *tail, i = t & mask;
	memset(&sqes[i], 0, sizeof(sqes[i]));
	sqes[i].opcode = IORING_OP_SENDMSG;
	sqes[i].flags = sqe_flags;
	sqes[i].fd = fd;
	sqes[i].addr = (unsigned long)msg;
	sqes[i].len = 1;
	((unsigned *)(sq + p.sq_off.array))[i] = i;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1)
		return -1;
	unsigned head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
	struct io_uring_cqe *cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (head & *(unsigned *)(cq + p.cq_off.ring_mask));
	long res = cqe->res;
	__atomic_store_n((unsigned *)(cq + p.cq_off.head), head + 1, __ATOMIC_RELEASE);
	close(ring);
	return res;
}

static int unix_uring(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("unixuring setup");
	pid_t c = fork();
	if (c == 0) {
		close(sv[1]);
		memset(buf, 'r', sizeof(buf));
		struct iovec io = { .iov_base = buf, .iov_len = 50 };
		struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };
		long uring = uring_sendmsg(sv[0], &m, 0);
		io.iov_len = 40;
		long async = uring_sendmsg(sv[0], &m, IOSQE_ASYNC); /* in an io-wq worker */
		int null = open("/dev/null", O_WRONLY);
		long other = write(null, buf, 100);
		long tx = write(sv[0], buf, 30);
		printf("unixuring client pid=%d uring=%ld async=%ld null=%ld tx=%ld\n", getpid(), uring, async, other, tx);
		fflush(stdout);
		_exit(0);
	}
	close(sv[0]);
	long rx = read(sv[1], buf, sizeof(buf));
	rx += read(sv[1], buf, sizeof(buf));
	rx += read(sv[1], buf, sizeof(buf));
	waitpid(c, NULL, 0);
	close(sv[1]);
	printf("unixuring server pid=%d rx=%ld\n", getpid(), rx);
	return 0;
}

/* Moves n bytes from fd in to fd out by splice (one end a pipe); the bytes moved. */
static long splice_n(int in, int out, long n)
{
	long moved = 0;
	while (moved < n) {
		ssize_t k = splice(in, NULL, out, NULL, n - moved, 0);
		if (k <= 0)
			die("splice");
		moved += k;
	}
	return moved;
}

/* Splices n bytes out of socket s through a pipe of its own (drained as it fills). */
static long splice_from(int s, long n)
{
	int p[2];
	if (pipe(p))
		die("pipe");
	long got = 0;
	while (got < n) {
		long k = splice_n(s, p[1], n - got < 4096 ? n - got : 4096);
		if (read(p[0], buf, k) != k)
			die("pipe read");
		got += k;
	}
	close(p[0]);
	close(p[1]);
	return got;
}

/* Splices n bytes into socket s from a pipe of its own. */
static long splice_into(int s, long n)
{
	int p[2];
	if (pipe(p))
		die("pipe");
	memset(buf, 's', n);
	if (write(p[1], buf, n) != n)
		die("pipe write");
	long sent = splice_n(p[0], s, n);
	close(p[0]);
	close(p[1]);
	return sent;
}

static int unix_splice(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("unixsplice setup");
	pid_t c = fork();
	if (c == 0) {
		close(sv[1]);
		int f = memfd_create("netpair", 0);
		memset(buf, 'f', 3000);
		if (f < 0 || write(f, buf, 3000) != 3000)
			die("memfd");
		off_t off = 0;
		long tx = 0;
		while (tx < 3000) {
			ssize_t k = sendfile(sv[0], f, &off, 3000 - tx);
			if (k <= 0)
				die("sendfile");
			tx += k;
		}
		tx += splice_into(sv[0], 2000);
		tx += send_all(sv[0], 500);
		shutdown(sv[0], SHUT_WR);
		long rx = splice_from(sv[0], 700);
		printf("unixsplice client pid=%d tx=%ld rx=%ld\n", getpid(), tx, rx);
		fflush(stdout);
		close(sv[0]);
		_exit(0);
	}
	close(sv[0]);
	long rx = splice_from(sv[1], 2500);
	rx += recv_all(sv[1]);
	long tx = splice_into(sv[1], 700);
	waitpid(c, NULL, 0);
	close(sv[1]);
	printf("unixsplice server pid=%d tx=%ld rx=%ld\n", getpid(), tx, rx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "tcp"))
		return tcp(atoi(argv[2]), atol(argv[3]), atol(argv[4]), 0);
	if (argc == 5 && !strcmp(argv[1], "tcpfork"))
		return tcp(atoi(argv[2]), atol(argv[3]), atol(argv[4]), 1);
	if (argc == 5 && !strcmp(argv[1], "unix"))
		return unix_stream(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 2 && !strcmp(argv[1], "unixuring"))
		return unix_uring();
	if (argc == 2 && !strcmp(argv[1], "unixsplice"))
		return unix_splice();
	if (argc == 4 && !strcmp(argv[1], "unixmm"))
		return unix_mmsg(atoi(argv[2]), atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "udp"))
		return udp(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: netpair tcp|tcpfork PORT UP DOWN | netpair udp PORT N SIZE | netpair unix PATH UP DOWN | netpair unixmm N SIZE | netpair unixuring | netpair unixsplice\n");
	return 2;
}
