// SPDX-License-Identifier: GPL-2.0
/* The least CPU a native build of the package index (-v) could take on this machine: what
 * src/enrich/package-db.ts does for dpkg, in C, without its exactness work. It reads dpkg's
 * status and every info/ list file (sorted, as Node's readdir gives them), hashes each listed path
 * (FNV-1a) into an open-addressing table, and lstats each distinct directory once. It does not
 * add the canonical forms of paths under symlinked directories or resolve odd lines, so it is a
 * floor, not a replacement. Prints user and system CPU from getrusage.
 *
 *   cc -O2 -o /tmp/pkg-index-floor bench/micro/pkg-index-floor.c && /tmp/pkg-index-floor [dpkg dir]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char *blob;
static size_t blob_len, blob_cap = 64u << 20;

struct table {
	uint32_t *slot, *hash;
	size_t *off, *len;
	size_t n, cap;
};

static void table_init(struct table *t, size_t cap)
{
	t->cap = cap;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->hash = calloc(cap, sizeof(*t->hash));
	t->off = calloc(cap, sizeof(*t->off));
	t->len = calloc(cap, sizeof(*t->len));
	if (!t->slot || !t->hash || !t->off || !t->len) {
		perror("calloc");
		exit(1);
	}
}

static uint32_t fnv(const unsigned char *p, size_t n)
{
	uint32_t h = 0x811c9dc5;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x01000193;
	return h;
}

/* Returns the entry number + 1 of the key at blob[o, o + len); *added says whether it is new. */
static uint32_t table_put(struct table *t, size_t o, size_t len, uint32_t h, int *added)
{
	size_t m = t->cap - 1;
	for (size_t s = h & m;; s = (s + 1) & m) {
		uint32_t e = t->slot[s];
		if (!e) {
			if ((t->n + 1) * 2 > t->cap) {
				fprintf(stderr, "table full\n");
				exit(1);
			}
			t->off[t->n] = o;
			t->len[t->n] = len;
			t->hash[t->n] = h;
			t->slot[s] = (uint32_t)++t->n;
			*added = 1;
			return t->slot[s];
		}
		if (t->hash[e - 1] == h && t->len[e - 1] == len && !memcmp(blob + t->off[e - 1], blob + o, len)) {
			*added = 0;
			return e;
		}
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *dpkg = argc > 1 ? argv[1] : "/var/lib/dpkg";
	char path[4096];
	struct table paths, dirs;
	long lstats = 0, links = 0, packages = 0;
	blob = malloc(blob_cap);
	table_init(&paths, 1u << 19);
	table_init(&dirs, 1u << 16);
	unsigned char *is_link = calloc(dirs.cap, 1);

	snprintf(path, sizeof(path), "%s/status", dpkg);
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		return 1;
	}
	char *status = malloc(st.st_size + 1);
	if (read(fd, status, st.st_size) != st.st_size) {
		perror(path);
		return 1;
	}
	status[st.st_size] = 0;
	close(fd);
	for (char *p = status; (p = strstr(p, "\nPackage: ")); p++)
		packages++;

	snprintf(path, sizeof(path), "%s/info", dpkg);
	DIR *d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	size_t nnames = 0, cap_names = 4096;
	char **names = malloc(cap_names * sizeof(*names));
	for (struct dirent *de; (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".list"))
			continue;
		if (nnames == cap_names)
			names = realloc(names, (cap_names *= 2) * sizeof(*names));
		names[nnames++] = strdup(de->d_name);
	}
	int dfd = dirfd(d);
	qsort(names, nnames, sizeof(*names), by_name);

	for (size_t i = 0; i < nnames; i++) {
		int lf = openat(dfd, names[i], O_RDONLY);
		if (lf < 0)
			continue;
		size_t at = blob_len;
		for (ssize_t r; blob_cap - blob_len > 0 && (r = read(lf, blob + blob_len, blob_cap - blob_len)) > 0;)
			blob_len += r;
		close(lf);
		for (size_t s = at, k = at; k <= blob_len; k++) {
			if (k < blob_len && blob[k] != '\n')
				continue;
			size_t len = k - s;
			if (len > 0 && blob[s] == '/' && !(len == 2 && blob[s + 1] == '.')) {
				size_t sl = len;
				while (sl > 0 && blob[s + sl - 1] != '/')
					sl--;
				sl = sl ? sl - 1 : 0; /* the directory part, without its last '/' ('' for the root) */
				int added;
				uint32_t e = table_put(&dirs, s, sl, fnv((unsigned char *)blob + s, sl), &added);
				if (added && sl < sizeof(path)) {
					memcpy(path, blob + s, sl);
					path[sl] = 0;
					struct stat ls;
					lstats++;
					if (lstat(sl ? path : "/", &ls) == 0 && S_ISLNK(ls.st_mode)) {
						is_link[e - 1] = 1;
						links++;
					}
				}
				table_put(&paths, s, len, fnv((unsigned char *)blob + s, len), &added);
			}
			s = k + 1;
		}
	}
	closedir(d);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("packages %ld, lists %zu, bytes %zu, paths %zu, directories %zu (lstat %ld, symlinks %ld): "
	       "user %.1f ms, sys %.1f ms\n",
	       packages, nnames, blob_len, paths.n, dirs.n, lstats, links,
	       ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3, ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3);
	return 0;
}
