// SPDX-License-Identifier: GPL-2.0
/* Userspace walks over BPF hash maps (sweeps, counts). */
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mapwalk.h"
#include "monitors.h"

void *map_keys(int fd, size_t key_size, bool (*want)(const void *key, void *ctx), void *ctx, size_t *n)
{
	char prev[256], next[256];
	size_t cap = 0;
	char *keys = NULL;
	bool first = true;

	if (key_size > sizeof(next))
		die("map key of %zu bytes is too large to walk", key_size);
	*n = 0;
	while (bpf_map_get_next_key(fd, first ? NULL : prev, next) == 0) {
		first = false;
		if (!want || want(next, ctx)) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 256;
				keys = realloc(keys, cap * key_size);
				if (!keys)
					die("out of memory");
			}
			memcpy(keys + *n * key_size, next, key_size);
			(*n)++;
		}
		memcpy(prev, next, key_size);
	}
	return keys;
}

size_t map_count(int fd, size_t key_size)
{
	size_t n = 0;
	free(map_keys(fd, key_size, NULL, NULL, &n));
	return n;
}
