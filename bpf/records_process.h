/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process/credential/extended event records (FN_REC_PROC). Included by records.h only.
 *
 * One record per event (no aggregation). Two shapes share the first fields after rec_hdr, told
 * apart by `event`: struct proc_record (every event type) and struct proc_throttle_record
 * (PE_THROTTLED, written by the sensor from the rate-limit map). docs/process-events.md lists
 * what arg[]/str[] mean for each event type.
 */
#ifndef FALCONET_RECORDS_PROCESS_H
#define FALCONET_RECORDS_PROCESS_H

/* Event types. The order is the bit order of --proc-events masks and of the per-type counters
 * in THROTTLED records: append only. */
enum fn_proc_event {
	PE_FORK = 0,     /* clone/fork/vfork/clone3: process or thread (also failed clones) */
	PE_EXEC,         /* execve/execveat (failed ones too) */
	PE_EXIT,         /* thread or process exit */
	PE_KILL,         /* kill/tkill/tgkill */
	PE_PTRACE,
	PE_MMAP,         /* mmap with PROT_EXEC */
	PE_MPROTECT,     /* mprotect with PROT_EXEC */
	PE_PIPE,         /* pipe/pipe2 */
	PE_SETNS,
	PE_UNSHARE,
	PE_SETUID,
	PE_SETREUID,
	PE_SETRESUID,
	PE_SETGID,
	PE_SETREGID,
	PE_SETRESGID,
	PE_MKDIR,        /* mkdir/mkdirat */
	PE_RMDIR,        /* rmdir, unlinkat(AT_REMOVEDIR) */
	PE_LINK,         /* link/linkat */
	PE_SYMLINK,      /* symlink/symlinkat */
	PE_RENAME,       /* rename/renameat/renameat2 */
	PE_UNLINK,       /* unlink/unlinkat */
	PE_CHMOD,        /* chmod/fchmod/fchmodat/fchmodat2 */
	PE_CHOWN,        /* chown/lchown/fchown/fchownat */
	PE_TRUNCATE,     /* truncate/ftruncate */
	PE_DUP,          /* dup/dup2/dup3 */
	PE_CHDIR,        /* chdir/fchdir */
	PE_CONNECT,
	PE_ACCEPT,       /* accept/accept4 */
	PE_BIND,
	PE_LISTEN,
	PE_GETPEERNAME,
	PE_SOCKETPAIR,
	PE_THROTTLED,    /* not an event: suppressed/lost counts of one process over one window */
	PE_MAX
};

/* proc_record.hdr.flags (the FF_EXE_TRUNC bit of records.h keeps its meaning) */
#define PF_STR_TRUNC   0x10000  /* a string was cut (path longer than the slot, argv longer than FN_ARGV_MAX) */
#define PF_THREAD      0x20000  /* FORK: a thread (CLONE_THREAD); EXIT: a thread, not the last one */
#define PF_ANON        0x40000  /* MMAP/MPROTECT: anonymous memory (no file) */
#define PF_PATH_ABS    0x80000  /* str[0] was given absolute (not resolved against cwd/dirfd) */
#define PF_PATH2_ABS   0x100000 /* str[1] likewise */
#define PF_NO_PENDING  0x200000 /* the enter hook's state was missing: arguments are incomplete */

#define FN_PROC_STRS 4
#define FN_ARGV_MAX 1024        /* bytes of NUL-separated argv kept for EXEC */
#define FN_PROC_STR_MAX 8191    /* one string: base directory (<= 4095) + '/' + user path (<= 4095) */
#define FN_PROC_DATA_MAX 16384  /* all strings of one record (a per-CPU scratch must stay under 32 KiB) */

/* A socket address: family AF_INET (2), AF_INET6 (10) or AF_UNIX (1; the path is a string of
 * the record, see docs). port in host byte order; addr in network byte order. */
struct fn_sockaddr {
	__u16 family;
	__u16 port;
	__u32 pad;
	__u8 addr[16];
};

struct proc_record {
	struct rec_hdr hdr;
	__u16 event;           /* enum fn_proc_event */
	__u16 pad1;
	__u32 syscall;         /* syscall number (the tracepoint's id; 0 for sched tracepoints) */
	__s64 ret;             /* the syscall's return value (-errno on failure) */
	__u64 parent_start;    /* real parent's start_boottime: with ppid, the parent's identity */
	__u64 cgroup_id;
	__u32 euid;
	__u32 egid;
	__u64 arg[6];          /* integer arguments, per event type */
	__u32 id_old[3];       /* credential events: real, effective, saved id before the call */
	__u32 id_new[3];       /* ... and after it */
	struct fn_sockaddr addr;   /* network events: the address of the call (peer, or own for bind/listen) */
	struct fn_sockaddr addr2;  /* network events: the socket's other end (local side of connect/accept) */
	__u16 str_len[FN_PROC_STRS]; /* bytes of each string in data[], back to back, no NULs */
	char data[FN_PROC_DATA_MAX];
};

#define PROC_RECORD_FIXED ((unsigned long)&((struct proc_record *)0)->data)

/* PE_THROTTLED: for one process, the events suppressed by the rate limit and the records lost
 * (ring buffer full) since the previous THROTTLED record of that process. Counts are per event
 * type (index = enum fn_proc_event). */
struct proc_throttle_record {
	struct rec_hdr hdr;
	__u16 event;           /* PE_THROTTLED */
	__u16 pad1;
	__u32 exited;          /* 1: the process has exited (this is its last THROTTLED record) */
	__u64 window_start;    /* CLOCK_BOOTTIME ns: first suppressed/lost event counted here */
	__u64 window_end;      /* CLOCK_BOOTTIME ns: when the sensor took the counts */
	__u32 suppressed_total;
	__u32 lost_total;
	__u32 suppressed[PE_MAX];
	__u32 lost[PE_MAX];
};

/* Key of the rate-limit maps: a process (a reused tgid is another key). */
struct proc_bucket_key {
	__u32 tgid;
	__u32 pad;
	__u64 start;           /* group leader's start_boottime */
};

/* Suppressed/lost counts of one process (map proc_counts, created at its first suppressed or
 * lost event; read by the sensor). Counters only grow; the sensor reports differences. */
struct proc_counts {
	__u64 first_ns;        /* first suppressed/lost event */
	__u32 exited;          /* the process has exited: the sensor reports and removes it */
	__u32 pad;
	__u32 suppressed[PE_MAX];
	__u32 lost[PE_MAX];
	struct rec_hdr hdr;    /* the process, at its first suppressed/lost event */
};

/* Per-CPU counts of lost records of processes without a bucket (map full); sensor: pid 0. */
struct proc_orphan {
	__u32 lost[64];        /* indexes >= PE_MAX unused (64: a bound the verifier can check) */
};

#endif
