/* SPDX-License-Identifier: GPL-2.0 */
/* The single BPF object: each monitor is a header of programs, so they share one ring buffer,
 * one counter array and the common helpers. The sensor disables the programs of monitors that
 * were not asked for (by name prefix) before load. */
#include "common.bpf.h"
#include "file.bpf.h"
#include "file_fd.bpf.h"
#include "file_path.bpf.h"
#include "file_compat.bpf.h" /* fd hooks and path-op exits without kfuncs (6.1) */
#include "file_lsm.bpf.h"    /* path operations through BPF LSM where the ctime tracepoints are missing */
#include "socket.bpf.h"
#include "socket_tcp.bpf.h"
#include "socket_udp_unix.bpf.h"
#include "socket_packets.bpf.h"
#include "socket_timer.bpf.h"
#include "socket_unix_compat.bpf.h" /* UNIX bytes through BPF LSM where sock_*_length are missing */
#include "payload.bpf.h"   /* -p: DNS/HTTP/SYSLOG payloads (socket monitor) */
#include "payload_unix.bpf.h" /* -p on UNIX syslog sockets */
#include "process.bpf.h"
#include "process_record.bpf.h"
#include "process_syscalls.bpf.h"
#include "process_sched.bpf.h"
#include "warm.bpf.h"        /* run once by the sensor before attaching (sensor/warm.c) */
