// SPDX-License-Identifier: GPL-2.0
/* Sensor side of the sock monitor (see monitors.h). */
#include "falconet.skel.h"
#include "monitors.h"
#include "output.h"

void sock_configure(struct falconet_bpf *skel) { (void)skel; }
void sock_start(struct falconet_bpf *skel) { (void)skel; }
void sock_tick(struct falconet_bpf *skel, __u64 boot_ns) { (void)skel; (void)boot_ns; }
void sock_shutdown(struct falconet_bpf *skel) { (void)skel; }
