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

export const STATS = [
  'file_records', 'file_deferred', 'file_map_full', 'file_events', 'path_trunc', 'notice_drop',
  'sock_records', 'sock_drop', 'proc_records', 'proc_drop',
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

export const PID_EXIT_NOTICE: StructLayout = { size: 208, fields: { exit_code: [200, 4] } };

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
  size: 8 + ST_MAX * 8 + 32,
  fields: {
    boot_ns: [0, 8], counters: [8, ST_MAX * 8], records_out: [136, 8], sweeps: [144, 8],
    ringbuf_bytes: [152, 8], file_map_entries: [160, 8],
  },
};

/** C struct name → layout, for the layout test. */
export const C_STRUCTS: Record<string, StructLayout> = {
  rec_hdr: REC_HDR, file_record: FILE_RECORD, pid_exit_notice: PID_EXIT_NOTICE,
  fn_frame: FRAME, fn_hello: HELLO, fn_stats: STATS_FRAME,
};
export const FE_COUNT = FILE_EVENTS.length;
