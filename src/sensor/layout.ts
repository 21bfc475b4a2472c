// Byte layout of bpf/records.h, the single definition of kernel → user records. Offsets here
// are checked against the C header by test/unit/layout.test.ts (which compiles offsetof()s).

export const STREAM_MAGIC = 0x54454e4f434c4146n; // "FALCONET"
export const STREAM_VERSION = 1;

export const COMM_LEN = 16;
export const EXE_LEN = 64;
export const NAME_MAX = 256;
export const PATH_MAX = 4096;

export enum RecType { File = 1, Sock = 2, PidExit = 3, Proc = 4 }
export enum FrameKind { Hello = 1, Records = 2, Stats = 3, Log = 4, End = 5 }

export const MON_FILE = 0x1;
export const MON_SOCKET = 0x2;
export const MON_PROCESS = 0x4;

/** File event indexes in kflowd's table order (also the JSON order of FileEvents). */
export const FILE_EVENTS = [
  'CREATE', 'OPEN', 'OPEN_EXEC', 'ACCESS', 'ATTRIB', 'MODIFY',
  'CLOSE_WRITE', 'CLOSE_NOWRITE', 'MOVED_FROM', 'MOVED_TO', 'DELETE',
] as const;
export type FileEventName = (typeof FILE_EVENTS)[number];

export const FF = {
  MOVED: 0x1, PATH_FSREL: 0x2, PATH_TRUNC: 0x4, EXE_TRUNC: 0x8, PENDING: 0x10,
  LINK_CREATED: 0x20, EXITED: 0x40, SHUTDOWN: 0x80, EVENT_LIMIT: 0x100,
} as const;

/** Counter names by enum fn_stat index; null marks a reserved slot. */
export const STATS = [
  'file_records', 'file_deferred', 'file_map_full', null, 'path_trunc', 'notice_drop',
  'sock_records', 'sock_drop', 'proc_records', 'proc_drop', 'proc_throttled', 'sock_ux_uncounted',
] as const;
export const ST_MAX = 16;

/** struct field offsets: name → [offset, size]. */
export type StructLayout = { size: number; fields: Record<string, readonly [number, number]> };

export const REC_HDR: StructLayout = {
  size: 200,
  fields: {
    type: [0, 2], size: [2, 2], flags: [4, 4], pid: [8, 4], tid: [12, 4], ppid: [16, 4],
    uid: [20, 4], gid: [24, 4], ts_first: [32, 8], ts: [40, 8], proc_start: [48, 8],
    comm: [56, COMM_LEN], exe: [72, EXE_LEN], parent_exe: [136, EXE_LEN],
  },
};

export const FILE_RECORD: StructLayout = {
  size: 4704,
  fields: {
    events: [200, 4], event: [204, 44], ino: [248, 8], dev: [256, 4], mode: [260, 4],
    nlink: [264, 4], iuid: [268, 4], igid: [272, 4], open_flags: [276, 4],
    size_first: [280, 8], size: [288, 8], bytes_read: [296, 8], bytes_written: [304, 8],
    atime_ns: [312, 8], mtime_ns: [320, 8], ctime_ns: [328, 8], mtime_first_ns: [336, 8],
    path_len: [344, 2], name_off: [346, 2], origin_len: [348, 2], origin: [352, NAME_MAX],
    path: [608, PATH_MAX],
  },
};
export const FILE_RECORD_FIXED = 608;

export const PID_SLOTS = 16;
export const PID_EXIT_NOTICE: StructLayout = { size: 464, fields: { exit_code: [200, 4], overflow: [204, 4], keys: [208, 256] } };

export const FRAME: StructLayout = { size: 8, fields: { len: [0, 4], kind: [4, 2], flags: [6, 2] } };

export const HELLO: StructLayout = {
  size: 176,
  fields: {
    magic: [0, 8], version: [8, 4], sensor_pid: [12, 4], boot_to_real_ns: [16, 8],
    start_boot_ns: [24, 8], monitors: [32, 4], programs_attached: [36, 4],
    programs_skipped: [40, 4], kernel_release: [48, 64], hostname: [112, 64],
  },
};

export const STATS_FRAME: StructLayout = {
  size: 8 + ST_MAX * 8 + 48,
  fields: {
    boot_ns: [0, 8], counters: [8, ST_MAX * 8], records_out: [136, 8], sweeps: [144, 8],
    ringbuf_bytes: [152, 8], file_map_entries: [160, 8], tcp_export: [168, 8], ux_marks: [176, 8],
  },
};
/** Stats frames of streams recorded before tcp_export was added end after file_map_entries. */
export const STATS_FRAME_V1_SIZE = 168;
/** ... and before ux_marks, after tcp_export. */
export const STATS_FRAME_V2_SIZE = 176;

/** enum fn_tcp_export: how the socket monitor exports TCP records (fn_stats.tcp_export). */
export const TCP_EXPORT = ['off', 'iterator', 'map-walk'] as const;
export type TcpExport = (typeof TCP_EXPORT)[number] | 'unknown';

/** C struct name → layout, for the layout test. */
export const C_STRUCTS: Record<string, StructLayout> = {
  rec_hdr: REC_HDR, file_record: FILE_RECORD, pid_exit_notice: PID_EXIT_NOTICE,
  fn_frame: FRAME, fn_hello: HELLO, fn_stats: STATS_FRAME,
};
export const FE_COUNT = FILE_EVENTS.length;

// ---- process monitor (bpf/records_process.h) ----

/** enum fn_proc_event, in order: bit i of --proc-events, index i of THROTTLED counts. */
export const PROC_EVENTS = [
  'FORK', 'EXEC', 'EXIT', 'KILL', 'PTRACE', 'MMAP', 'MPROTECT', 'PIPE', 'SETNS', 'UNSHARE',
  'SETUID', 'SETREUID', 'SETRESUID', 'SETGID', 'SETREGID', 'SETRESGID',
  'MKDIR', 'RMDIR', 'LINK', 'SYMLINK', 'RENAME', 'UNLINK', 'CHMOD', 'CHOWN', 'TRUNCATE', 'DUP', 'CHDIR',
  'CONNECT', 'ACCEPT', 'BIND', 'LISTEN', 'GETPEERNAME', 'SOCKETPAIR', 'THROTTLED',
] as const;
export type ProcEventName = (typeof PROC_EVENTS)[number];
/** PE_MAX: entries of the THROTTLED count arrays. */
export const PE_MAX = PROC_EVENTS.length;

export const PF = {
  STR_TRUNC: 0x10000, THREAD: 0x20000, ANON: 0x40000, PATH_ABS: 0x80000, PATH2_ABS: 0x100000,
  NO_PENDING: 0x200000,
} as const;

export const PROC_STRS = 4;
export const PROC_DATA_MAX = 16384;

export const FN_SOCKADDR: StructLayout = { size: 24, fields: { family: [0, 2], port: [2, 2], addr: [8, 16] } };

export const PROC_RECORD: StructLayout = {
  size: 368 + PROC_DATA_MAX,
  fields: {
    event: [200, 2], syscall: [204, 4], ret: [208, 8], parent_start: [216, 8], cgroup_id: [224, 8],
    euid: [232, 4], egid: [236, 4], arg: [240, 48], id_old: [288, 12], id_new: [300, 12],
    addr: [312, 24], addr2: [336, 24], str_len: [360, 2 * PROC_STRS], data: [368, PROC_DATA_MAX],
  },
};
export const PROC_RECORD_FIXED = 368;

export const PROC_THROTTLE_RECORD: StructLayout = {
  size: 232 + 8 * PE_MAX,
  fields: {
    event: [200, 2], exited: [204, 4], window_start: [208, 8], window_end: [216, 8],
    suppressed_total: [224, 4], lost_total: [228, 4], suppressed: [232, 4 * PE_MAX], lost: [232 + 4 * PE_MAX, 4 * PE_MAX],
  },
};

C_STRUCTS.fn_sockaddr = FN_SOCKADDR;
C_STRUCTS.proc_record = PROC_RECORD;
C_STRUCTS.proc_throttle_record = PROC_THROTTLE_RECORD;

// ---- socket monitor (bpf/records_socket.h) ----
export const SOCK_FLAGS = 64;
export const SOCK_PATH_LEN = 108;
/** sock_record.hdr.flags */
export const SF = {
  CLOSED: 0x1, IDLE: 0x2, ACTIVE: 0x4, SHUTDOWN: 0x8, PENDING: 0x10, NO_OWNER: 0x20,
  RTO_JIFFIES: 0x40, PER_PEER: 0x80, FINAL: 0x100,
} as const;

export const SOCK_KEY: StructLayout = {
  size: 32, fields: { cookie: [0, 8], raddr: [8, 16], rport: [24, 2], family: [26, 2] },
};

/** struct sock_dir, offsets relative to the start of tx or rx */
export const SOCK_DIR: StructLayout = {
  size: 632,
  fields: {
    ts_first: [0, 8], ts: [8, 8], packets: [16, 8], data_packets: [24, 8], bytes: [32, 8],
    ifindex: [40, 4], nflags: [48, 8], flags: [56, SOCK_FLAGS * 8], flag_order: [568, SOCK_FLAGS],
  },
};

export const SOCK_RECORD: StructLayout = {
  size: 1824,
  fields: {
    cookie: [200, 8], ts_export: [208, 8], family: [216, 2], protocol: [218, 2], role: [220, 1],
    state: [221, 1], sotype: [222, 1], lport: [224, 2], rport: [226, 2], path_len: [228, 2],
    busy: [240, 8], laddr: [248, 16], raddr: [264, 16], tx: [280, 632], rx: [912, 632],
    retrans_packets: [1544, 8], retrans_bytes: [1552, 8], dups: [1560, 8], bytes_acked: [1568, 8],
    reorder: [1576, 8], drops: [1584, 8], frags: [1592, 8], ttl_sum: [1600, 8], ttl_count: [1608, 8],
    rto_us: [1616, 8], rtt_ns: [1624, 8], rx_queued: [1632, 8], bytes_received: [1640, 8], sk: [1704, 8],
    path: [1712, SOCK_PATH_LEN],
  },
};

export const SOCK_EXPORT_CTX: StructLayout = {
  size: 40,
  fields: {
    now: [0, 8], idle_ns: [8, 8], active_ns: [16, 8], mode: [24, 4], exported: [28, 4], pending: [32, 4],
  },
};

C_STRUCTS.sock_key = SOCK_KEY;
C_STRUCTS.sock_dir = SOCK_DIR;
C_STRUCTS.sock_record = SOCK_RECORD;
C_STRUCTS.sock_export_ctx = SOCK_EXPORT_CTX;

// ---- payload capture (bpf/records_payload.h) ----
export const REC_PAYLOAD = 5;
export const REC_PAYLOAD_STATS = 6;
export const PAYLOAD_MAX = 2048;
export const PLF_RX = 0x1;
/** enum fn_pl_stat, by index. unix_reader is no reason: the UNIX datagrams handled on the reader
 * side, also counted under captured or a drop. */
export const PAYLOAD_STATS = ['captured', 'drop_ringbuf', 'drop_flow_cap', 'drop_flow_map', 'drop_handshake', 'skip_retrans', 'drop_read', 'unix_reader'] as const;
export const PL_MAX = 8;

export const PAYLOAD_RECORD: StructLayout = {
  size: 2296,
  fields: {
    cookie: [200, 8], raddr: [208, 16], rport: [224, 2], family: [226, 2], app: [228, 1], transport: [229, 1],
    cap_len: [230, 2], wire_len: [232, 4], seq: [236, 4], data: [244, PAYLOAD_MAX],
  },
};
export const PAYLOAD_STATS_RECORD: StructLayout = { size: 264, fields: { counters: [200, PL_MAX * 8] } };
C_STRUCTS.payload_record = PAYLOAD_RECORD;
C_STRUCTS.payload_stats_record = PAYLOAD_STATS_RECORD;
