// Socket monitor record (FN_REC_SOCK), decoded by sensor/decode-socket.ts. Counters are per
// export: a socket exported on active timeout restarts them; SockAge stays cumulative.
import type { ProcHeader } from './records.js';

export type SockFamily = 'AF_INET' | 'AF_INET6' | 'AF_UNIX' | 'AF_UNKNOWN';
export type SockRole = 'CLIENT' | 'SERVER';
export type SockExportReason = 'close' | 'idle' | 'active' | 'shutdown';

export interface SockDirection {
  /** CLOCK_BOOTTIME ns of the first and last packet since the previous export (0: none) */
  tsFirst: bigint;
  ts: bigint;
  packets: number;
  dataPackets: number;
  /** payload bytes of the packets (retransmitted and duplicate segments included) */
  bytes: number;
  ifindex: number;
  /** TCP flag combinations ("SYN-ACK", …) with packet counts, in the order first seen */
  flags: [string, number][];
}

export interface SockRecord {
  type: 'sock';
  hdr: ProcHeader;
  cookie: bigint;
  reason: SockExportReason;
  /** no process context was seen for this socket (kernel-side server never accepted, …) */
  noOwner: boolean;
  /** UDP record of one peer of an unconnected socket */
  perPeer: boolean;
  family: SockFamily;
  /** 'TCP' | 'UDP' for IP sockets; '' for UNIX */
  protocol: 'TCP' | 'UDP' | '';
  role: SockRole;
  /** kflowd state name: TCP_*, UDP_ESTABLISHED, UDP_CLOSE; '' for UNIX */
  state: string;
  /** SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
  sockType: string;
  localIP: string;
  localPort: number;
  remoteIP: string;
  remotePort: number;
  /** UNIX: the server's path ("@name" for abstract names) */
  path: string;
  tx: SockDirection;
  rx: SockDirection;
  retransPackets: number;
  retransBytes: number;
  dups: number;
  bytesAcked: number;
  reorder: number;
  drops: number;
  frags: number;
  /** average rx TTL / hop limit over packets that carried one (0: none) */
  rxTtl: number;
  /** retransmission timeout in milliseconds (raw jiffies when rtoIsJiffies) */
  rtoMs: number;
  rtoIsJiffies: boolean;
  rttNs: bigint;
  /** TCP: unique payload bytes received (tcp_sock.bytes_received; rx.bytes also counts duplicates) */
  bytesReceived: number;
  /** bytes waiting in the receive queue at export */
  rxQueued: number;
  /** the kernel's struct sock address (UNIX: joins syslog payloads captured at the receiver) */
  skAddr?: bigint;
  /** UNIX: the socket's inode number (with skAddr, names the socket across address reuse) */
  skIno?: bigint;
  // ---- set by the protocols stage (src/protocols/join.ts), not by the decoder ----
  /** names the remote IP was resolved from (DNS answers seen on this host) */
  remoteNames?: string[];
  /** kflowd's App keys (`App`, `AppTxDns`, ...) in output order; values are JSON values */
  appKeys?: ReadonlyArray<readonly [string, unknown]>;
}
