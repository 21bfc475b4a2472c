// Application payload captured by the kernel (FN_REC_PAYLOAD), decoded by
// sensor/decode-payload.ts. It belongs to the socket record with the same flow key: the socket
// cookie, plus the peer for UDP (one record per peer).

import type { ProcHeader } from './records.js';

export type AppProto = 'DNS' | 'HTTP' | 'SYSLOG';
export type AppTransport = 'tcp' | 'udp' | 'unix';

export interface PayloadRecord {
  type: 'payload';
  /** the kernel's record header: ts is the capture time; process fields are zero (the socket
   * record of the flow names its owner) */
  hdr: ProcHeader;
  /** CLOCK_BOOTTIME ns of the capture (hdr.ts) */
  ts: bigint;
  cookie: bigint;
  app: AppProto;
  transport: AppTransport;
  rx: boolean;
  /** UDP: the peer (the record of this socket and peer gets the payload); '' and 0 otherwise */
  peerIP: string;
  peerPort: number;
  /** UNIX: the sender's struct sock address (its socket record's skAddr); 0n otherwise */
  skAddr: bigint;
  /** UNIX: the sender's socket inode number (its socket record's skIno); absent otherwise */
  skIno?: bigint;
  /** TCP: sequence number of the first payload byte */
  seq: number;
  /** payload bytes on the wire; bytes.length is less when the capture was cut */
  wireLen: number;
  bytes: Uint8Array;
}

/** The sensor's payload capture counters (FN_REC_PAYLOAD_STATS): totals since start. */
export interface PayloadStatsRecord {
  type: 'payload_stats';
  hdr: ProcHeader;
  /** captured, drop_ringbuf, drop_flow_cap, drop_flow_map, drop_handshake, skip_retrans, drop_read;
   * unix_reader: of those, UNIX datagrams handled on the reader side */
  counters: Record<string, number>;
}
