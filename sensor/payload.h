/* SPDX-License-Identifier: GPL-2.0 */
/* Sensor side of payload capture (-p; bpf/payload.bpf.h). */
#pragma once
#include <stdbool.h>
#include <linux/types.h>

struct falconet_bpf;
struct bpf_program;

/* --payload SPEC: comma-separated tcp/PORT=APP, udp/PORT=APP, unix=DEV:INO, per-flow=N */
void payload_arg(const char *spec);
/* TCP or UDP ports to capture were given */
bool payload_ports(void);
void payload_configure(struct falconet_bpf *skel);
void payload_start(struct falconet_bpf *skel);
/* prog was attached (the UNIX reader side turns the sender side's drop_read off) */
void payload_attached(struct falconet_bpf *skel, struct bpf_program *prog);
void payload_tick(struct falconet_bpf *skel, __u64 boot_ns);
void payload_shutdown(struct falconet_bpf *skel);
