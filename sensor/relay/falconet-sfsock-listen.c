// SPDX-License-Identifier: GPL-2.0
/*
 * falconet-sfsock-listen PATH: the receiving end of sf-processor's socket driver, for the agent's
 * SysFlow socket *source*. Node cannot open AF_UNIX SOCK_SEQPACKET sockets, so this program
 * listens on PATH (removing a stale socket there first), accepts one collector at a time (and
 * the next one when it leaves, as sf-processor does), and writes every packet it receives on
 * stdout as a [u32 little-endian length][message] frame. A zero-length frame says "listening".
 * On SIGTERM or SIGINT it stops accepting, reads what the current connection has queued
 * already, and exits 0; it exits 1 on socket errors, 2 on bad usage, 0 when stdout closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MSG (1u << 20)

static int write_full(const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int emit(const char *msg, uint32_t len)
{
	if (write_full(&len, sizeof(len)) < 0)
		return -1;
	return len ? write_full(msg, len) : 0;
}

/* Reads one packet; returns its length, 0 at the peer's end, -1 on error (errno), -2 when
 * nothing is queued and dontwait is set. Empty packets carry nothing and are skipped. */
static ssize_t recv_one(int fd, char *buf, int dontwait)
{
	for (;;) {
		ssize_t n = recv(fd, buf, MAX_MSG, dontwait ? MSG_DONTWAIT : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && dontwait && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -2;
		return n;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "usage: falconet-sfsock-listen SOCKET_PATH\n");
		return 2;
	}
	const char *path = argv[1];
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "falconet-sfsock-listen: %s exists and is not a socket\n", path);
			return 1;
		}
		unlink(path);
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, path);
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1) < 0) {
		fprintf(stderr, "falconet-sfsock-listen: cannot listen on %s: %s\n", path, strerror(errno));
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	char *msg = malloc(MAX_MSG);
	if (!msg || sfd < 0)
		return 1;
	int rc = 0;
	int cfd = -1;
	if (emit(NULL, 0) < 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = { { .fd = cfd >= 0 ? cfd : lfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = 1;
			break;
		}
		if (p[1].revents) {
			/* stop: what the connection has queued was sent before the stop; deliver it */
			while (cfd >= 0) {
				ssize_t n = recv_one(cfd, msg, 1);
				if (n == -2 || n == 0 || n < 0)
					break;
				if (emit(msg, (uint32_t)n) < 0)
					break;
			}
			break;
		}
		if (!p[0].revents)
			continue;
		if (cfd < 0) {
			cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0 && errno != EINTR && errno != ECONNABORTED) {
				fprintf(stderr, "falconet-sfsock-listen: accept: %s\n", strerror(errno));
				rc = 1;
				break;
			}
			continue;
		}
		ssize_t n = recv_one(cfd, msg, 0);
		if (n <= 0) {
			/* the collector left (or failed): wait for the next one */
			close(cfd);
			cfd = -1;
			continue;
		}
		if (emit(msg, (uint32_t)n) < 0)
			break; /* the agent went away */
	}
	if (cfd >= 0)
		close(cfd);
out:
	close(lfd);
	unlink(path);
	free(msg);
	return rc;
}
