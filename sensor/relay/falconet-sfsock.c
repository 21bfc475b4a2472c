// SPDX-License-Identifier: GPL-2.0
/*
 * falconet-sfsock PATH: relays SysFlow messages to sf-processor's socket driver. Node cannot
 * open AF_UNIX SOCK_SEQPACKET sockets, so the agent writes [u32 little-endian length][message]
 * frames on this program's stdin and each frame becomes exactly one SEQPACKET message.
 * It connects to PATH (retrying for --wait seconds while the processor starts), exits 0 at the
 * end of its input, 1 if the processor goes away, 2 on bad usage or input. On stdout it says
 * "connected" once connected, and "sent N" (the messages the socket took) when it ends after
 * that: the agent counts what a lost connection cost, and knows when to start a new segment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MSG (1u << 20)

static int read_full(void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(STDIN_FILENO, p, len);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int wait_s = 10;
	if (argc == 4 && !strcmp(argv[1], "--wait")) {
		wait_s = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "usage: falconet-sfsock [--wait SECONDS] SOCKET_PATH\n");
		return 2;
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, argv[1]);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("falconet-sfsock: socket");
		return 1;
	}
	for (int i = 0;; i++) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		if ((errno != ENOENT && errno != ECONNREFUSED) || i >= wait_s * 10) {
			fprintf(stderr, "falconet-sfsock: cannot connect to %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		usleep(100000);
	}
	printf("connected\n");
	fflush(stdout);
	char *msg = malloc(MAX_MSG);
	if (!msg)
		return 1;
	unsigned long long sent = 0;
	int rc = 0;
	for (;;) {
		uint32_t len;
		int r = read_full(&len, sizeof(len));
		if (r == 0)
			break;
		if (r < 0 || len > MAX_MSG || read_full(msg, len) != 1) {
			fprintf(stderr, "falconet-sfsock: malformed input frame\n");
			rc = 2;
			break;
		}
		while (send(fd, msg, len, MSG_NOSIGNAL) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "falconet-sfsock: send: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (rc)
			break;
		sent++;
	}
	printf("sent %llu\n", sent);
	fflush(stdout);
	close(fd);
	return rc;
}
