/* SPDX-License-Identifier: GPL-2.0 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Keys of a BPF hash map for which want(key, ctx) is true (want NULL: all), in a malloc'ed
 * array of *n keys (free it). Keys are collected before acting on them because deleting while
 * iterating makes get_next_key start over. */
void *map_keys(int fd, size_t key_size, bool (*want)(const void *key, void *ctx), void *ctx, size_t *n);

/* Number of entries in a BPF hash map. */
size_t map_count(int fd, size_t key_size);
