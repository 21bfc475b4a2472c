// SPDX-License-Identifier: GPL-2.0
/* Sensor side of the proc monitor (see monitors.h). */
#include "falconet.skel.h"
#include "monitors.h"
#include "output.h"

void proc_configure(struct falconet_bpf *skel) { (void)skel; }
void proc_start(struct falconet_bpf *skel) { (void)skel; }
void proc_tick(struct falconet_bpf *skel, __u64 boot_ns) { (void)skel; (void)boot_ns; }
void proc_shutdown(struct falconet_bpf *skel) { (void)skel; }
