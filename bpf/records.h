/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one definition of everything that crosses from the kernel to userspace: records written
 * by BPF programs, and the frames the sensor process writes on its stdout (which are also the
 * record/replay file format). The TypeScript decoder (src/sensor/layout.ts) is checked against
 * this file by test/unit/layout.test.ts: change both together.
 *
 * All integers are little-endian (x86_64/arm64 hosts). Every struct is explicitly padded so its
 * layout is the same for clang -target bpf and the host compiler.
 */
#ifndef FALCONET_RECORDS_H
#define FALCONET_RECORDS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FN_STREAM_MAGIC 0x54454e4f434c4146ULL /* "FALCONET" */
#define FN_STREAM_VERSION 1

#define FN_COMM_LEN 16
#define FN_EXE_LEN 64      /* exe basename; longer names are cut and flagged */
#define FN_NAME_MAX 256    /* NAME_MAX (255) + NUL */
#define FN_PATH_MAX 4096   /* PATH_MAX */

/* ---- record types (rec_hdr.type) ---- */
enum fn_rec_type {
	FN_REC_FILE = 1,       /* aggregated file record (struct file_record) */
	FN_REC_SOCK = 2,       /* aggregated socket record (reserved for the socket monitor) */
	FN_REC_PID_EXIT = 3,   /* a process with open file records exited (struct pid_exit_notice) */
	FN_REC_PROC = 4,       /* process/credential/extended events (reserved for the process monitor) */
};

/* Header shared by every record. Process facts are captured when the record is created and
 * refreshed (ts, uid, gid) at every event. */
struct rec_hdr {
	__u16 type;            /* enum fn_rec_type */
	__u16 size;            /* bytes of the whole record, header included (records are variable-length) */
	__u32 flags;           /* per-type flags */
	__u32 pid;             /* tgid */
	__u32 tid;
	__u32 ppid;            /* real_parent tgid */
	__u32 uid;
	__u32 gid;
	__u32 pad0;
	__u64 ts_first;        /* CLOCK_BOOTTIME ns of the first event */
	__u64 ts;              /* CLOCK_BOOTTIME ns of the last event */
	__u64 proc_start;      /* task->start_boottime ns: ProcAge = ts - proc_start */
	char comm[FN_COMM_LEN];       /* task comm */
	char exe[FN_EXE_LEN];         /* basename of mm->exe_file (comm for kernel threads) */
	char parent_exe[FN_EXE_LEN];  /* basename of the real parent's mm->exe_file */
};

/* ---- file monitor ---- */
/* Event indexes: kflowd's table order, which is also the JSON order of FileEvents. */
enum fn_file_event {
	FE_CREATE = 0,
	FE_OPEN,
	FE_OPEN_EXEC,
	FE_ACCESS,
	FE_ATTRIB,
	FE_MODIFY,
	FE_CLOSE_WRITE,
	FE_CLOSE_NOWRITE,
	FE_MOVED_FROM,
	FE_MOVED_TO,
	FE_DELETE,
	FE_MAX
};

/* file_record.hdr.flags */
#define FF_MOVED        0x1   /* renamed: origin holds the old name */
#define FF_PATH_FSREL   0x2   /* path is relative to the filesystem root: userspace prefixes the mount point */
#define FF_PATH_TRUNC   0x4   /* path was deeper than the walk limit and is cut at the front */
#define FF_EXE_TRUNC    0x8   /* hdr.exe or parent_exe was cut */
#define FF_PENDING      0x10  /* kernel could not submit: the sensor emits it from file_deferred */
#define FF_LINK_CREATED 0x20  /* CREATE came from link()/symlink() */
#define FF_EXITED       0x40  /* emitted because the process exited (implicit close) */
#define FF_SHUTDOWN     0x80  /* emitted at agent shutdown while still open */
#define FF_EVENT_LIMIT  0x100 /* emitted because -e N events were reached */

struct file_key {
	__u32 pid;
	__u32 dev;
	__u64 ino;
};

struct file_record {
	struct rec_hdr hdr;
	__u32 events;                 /* total of event[] */
	__u32 event[FE_MAX];          /* per-event counts */
	__u64 ino;
	__u32 dev;                    /* kernel dev_t: major << 20 | minor */
	__u32 mode;                   /* i_mode */
	__u32 nlink;
	__u32 iuid;
	__u32 igid;
	__u32 open_flags;             /* f_flags of the first open seen */
	__s64 size_first;             /* i_size at the first event */
	__s64 size;                   /* i_size at the last event */
	__u64 bytes_read;             /* sum of successful read() results */
	__u64 bytes_written;          /* sum of successful write() results */
	__u64 atime_ns;               /* CLOCK_REALTIME ns */
	__u64 mtime_ns;
	__u64 ctime_ns;
	__u64 mtime_first_ns;
	__u16 path_len;               /* bytes of path[] used (no NUL) */
	__u16 name_off;               /* offset of the basename within path[] */
	__u16 origin_len;             /* bytes of origin[] used */
	__u16 pad1;
	char origin[FN_NAME_MAX];     /* old name after a rename */
	char path[FN_PATH_MAX];       /* full path; only path_len bytes are transmitted */
};

/* Bytes of a file_record before the variable-length path. */
#define FILE_RECORD_FIXED ((unsigned long)&((struct file_record *)0)->path)

/* Open records of one process, so its exit flushes them by key (not by scanning the map). */
#define FN_PID_SLOTS 16

struct pid_exit_notice {
	struct rec_hdr hdr;
	__u32 exit_code;
	__u32 overflow;                      /* more open records than slots: sweep by pid */
	struct file_key keys[FN_PID_SLOTS];  /* ino == 0: empty slot */
};

/* ---- the socket and process monitors define their records in their own headers ---- */
#include "records_socket.h"
#include "records_process.h"
#include "records_payload.h"  /* -p payload capture */

/* ---- drop/accounting counters (per-CPU array "stats", index = enum) ---- */
enum fn_stat {
	ST_FILE_RECORDS = 0,      /* file records submitted by the kernel */
	ST_FILE_DEFERRED,         /* ring buffer full: record kept in the map for the sensor (not lost) */
	ST_FILE_MAP_FULL,         /* new record could not be inserted: its events are lost */
	ST_FILE_EVENTS,           /* reserved (per-event counting was taken off the write/read hot path) */
	ST_PATH_TRUNC,            /* paths cut at the walk limit */
	ST_NOTICE_DROP,           /* pid-exit notices lost (records then wait for shutdown or the sweep) */
	ST_SOCK_RECORDS,
	ST_SOCK_DROP,
	ST_PROC_RECORDS,
	ST_PROC_DROP,
	ST_PROC_THROTTLED,        /* process events suppressed by --proc-rate (counted, reported in THROTTLED records) */
	ST_SOCK_UX_UNCOUNTED,     /* splice/sendfile calls on an orphaned UNIX stream socket (no cookie, no inode): bytes not counted */
	ST_MAX = 16
};

/* ---- sensor stdout frames (also the record/replay file format) ---- */
enum fn_frame_kind {
	FR_HELLO = 1,     /* struct fn_hello, then NUL-separated program status strings */
	FR_RECORDS = 2,   /* records back to back, each padded to 8 bytes (rec_hdr.size is unpadded) */
	FR_STATS = 3,     /* struct fn_stats */
	FR_LOG = 4,       /* UTF-8 text line from the sensor (warnings, skipped programs) */
	FR_END = 5,       /* clean end of stream: everything was flushed */
};

struct fn_frame {
	__u32 len;        /* bytes of the body that follows this header */
	__u16 kind;       /* enum fn_frame_kind */
	__u16 flags;
};

struct fn_hello {
	__u64 magic;               /* FN_STREAM_MAGIC */
	__u32 version;             /* FN_STREAM_VERSION */
	__u32 sensor_pid;
	__s64 boot_to_real_ns;     /* CLOCK_REALTIME - CLOCK_BOOTTIME at start */
	__u64 start_boot_ns;       /* CLOCK_BOOTTIME when monitoring started */
	__u32 monitors;            /* bitmask FN_MON_* actually enabled */
	__u32 programs_attached;
	__u32 programs_skipped;
	__u32 pad;
	char kernel_release[64];
	char hostname[64];
};

#define FN_MON_FILE    0x1
#define FN_MON_SOCKET  0x2
#define FN_MON_PROCESS 0x4

struct fn_stats {
	__u64 boot_ns;             /* when sampled */
	__u64 counters[ST_MAX];    /* summed over CPUs */
	__u64 records_out;         /* records the sensor has written */
	__u64 sweeps;              /* map sweeps (exit notices, deferred records) */
	__u64 ringbuf_bytes;       /* ring buffer size */
	__u64 file_map_entries;    /* live file records in the map at sample time */
	__u64 tcp_export;          /* enum fn_tcp_export: how the socket monitor exports TCP entries */
	__u64 ux_marks;            /* UNIX call marks held (6.1's fallback, sock_ux_pending; 0 elsewhere) */
};

/* fn_stats.tcp_export */
enum fn_tcp_export {
	FN_TCP_EXPORT_OFF = 0,       /* socket monitor not running */
	FN_TCP_EXPORT_ITERATOR = 1,  /* entries in socket storage, timer runs iter/bpf_sk_storage_map */
	FN_TCP_EXPORT_MAP_WALK = 2,  /* entries in the cookie-keyed socket map, walked by the timer */
};

#endif /* FALCONET_RECORDS_H */
