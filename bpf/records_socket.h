/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor records (FN_REC_SOCK). Included by records.h only.
 *
 * One map entry per socket (TCP, UNIX) or per socket and peer (UDP: an unconnected socket that
 * talks to many peers gets one record per peer). The entry is also the record: exports copy it
 * to the ring buffer, taking the per-export counters with atomic exchanges so nothing counted
 * between two exports is lost or counted twice. */
#ifndef FALCONET_RECORDS_SOCKET_H
#define FALCONET_RECORDS_SOCKET_H

#define FN_SOCK_PATH_LEN 108   /* sizeof(sun_path) */
#define FN_SOCK_FLAGS 64       /* TCP flag combinations of FIN SYN RST PSH ACK URG (bits 0..5) */

/* sock_record.hdr.flags: why the record was exported, and state */
#define SF_CLOSED       0x1    /* the socket was closed (last record of this socket/peer) */
#define SF_IDLE         0x2    /* idle timeout */
#define SF_ACTIVE       0x4    /* active timeout: counters restart, the socket stays tracked */
#define SF_SHUTDOWN     0x8    /* agent shutdown while still open */
#define SF_PENDING      0x10   /* ring buffer was full: the next tick exports it */
#define SF_NO_OWNER     0x20   /* no process context seen for this socket yet (pid 0) */
#define SF_RTO_JIFFIES  0x40   /* rto_us holds jiffies (CONFIG_HZ unknown) */
#define SF_PER_PEER     0x80   /* UDP: counters of one peer of this socket */
#define SF_FINAL        0x100  /* TCP: counters were read at the transition to TCP_CLOSE */

enum fn_sock_role { SOCK_ROLE_CLIENT = 0, SOCK_ROLE_SERVER = 1 };

/* A server entry is made when the child socket is cloned from the listener (SYN_RECV), before the
 * kernel hashes it, so that a segment another CPU delivers to the child before it is ESTABLISHED
 * is counted. Until then the entry is an embryo: never exported, dropped if the child dies (a
 * Fast Open child still in SYN_RECV at shutdown is exported as it stands). */
enum fn_sock_embryo {
	SOCK_BORN = 0,        /* an entry to export (every entry but a server child's before ESTABLISHED) */
	SOCK_EMBRYO = 1,      /* cloned: the handshake is credited at ESTABLISHED */
	SOCK_EMBRYO_TFO = 2,  /* a TCP Fast Open child: it sent its SYN-ACK itself and the SYN is credited */
};

/* Map key: the socket cookie, plus the peer for UDP (zero for TCP and UNIX). */
struct sock_key {
	__u64 cookie;
	__u8 raddr[16];        /* UNIX: bytes 8..16 hold the socket's inode number */
	__u16 rport;          /* host order */
	__u16 family;         /* of raddr (UDP) */
	__u32 pad;
};

/* Per direction, per export. */
struct sock_dir {
	__u64 ts_first;       /* CLOCK_BOOTTIME ns of the first packet since the last export */
	__u64 ts;             /* ... of the last */
	__u64 packets;        /* IP packets as the socket sees them (a GSO/GRO packet counts once, like a capture) */
	__u64 data_packets;   /* packets with payload */
	__u64 bytes;          /* payload bytes (UNIX: bytes of send/recv calls, packets = calls) */
	__u32 ifindex;        /* interface of the last packet */
	__u32 pad;
	__u64 nflags;         /* entries used in flag_order (64-bit: BPF atomics) */
	__u64 flags[FN_SOCK_FLAGS];      /* packets per TCP flag combination */
	__u8 flag_order[FN_SOCK_FLAGS];  /* combinations in the order first seen */
};

struct sock_record {
	struct rec_hdr hdr;   /* ts_first: socket first seen (SockAge); ts: last activity */
	__u64 cookie;
	__u64 ts_export;      /* last export (or first seen): base of the active timeout */
	__u16 family;         /* AF_INET, AF_INET6, AF_UNIX */
	__u16 protocol;       /* IPPROTO_TCP, IPPROTO_UDP; 0 for UNIX */
	__u8 role;            /* enum fn_sock_role */
	__u8 state;           /* TCP state (tcp_states.h); UDP: 1 connected, 7 closed/unconnected */
	__u8 sotype;          /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	__u8 embryo;          /* TCP server child not ESTABLISHED yet (enum fn_sock_embryo; kernel only) */
	__u16 lport;          /* host order */
	__u16 rport;
	__u16 path_len;       /* UNIX: bytes of path used (abstract names start with NUL) */
	__u16 pad1;
	__u32 rx_no_ttl;      /* rx packets without a TTL since the last export (kernel only) */
	__u64 busy;           /* export in progress (kernel only) */
	__u8 laddr[16];       /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	struct sock_dir tx;
	struct sock_dir rx;
	/* TCP, per export */
	__u64 retrans_packets; /* tcp_sock.total_retrans delta */
	__u64 retrans_bytes;   /* bytes_retrans delta */
	__u64 dups;            /* dsack_dups delta */
	__u64 bytes_acked;     /* bytes_acked delta */
	__u64 reorder;         /* reord_seen delta */
	/* TCP and UDP */
	__u64 drops;           /* sk_drops delta */
	__u64 frags;           /* rx: sum of skb page fragments (kflowd's SockRxPacketsFrag) */
	__u64 ttl_sum;         /* rx: TTL / hop limit sum over rx packets */
	__u64 ttl_count;       /* rx packets in ttl_sum (the server's credited handshake has none); set at export */
	/* gauges at export */
	__u64 rto_us;          /* icsk_rto in microseconds */
	__u64 rtt_ns;          /* srtt */
	__u64 rx_queued;       /* bytes: TCP unread (rcv_nxt - copied_seq), UDP receive memory */
	__u64 bytes_received;  /* TCP: bytes_received delta (unique payload; rx.bytes counts duplicates too) */
	/* kernel cumulative values at the last export (kernel only) */
	__u64 base_retrans_packets;
	__u64 base_retrans_bytes;
	__u64 base_dups;
	__u64 base_bytes_acked;
	__u64 base_reorder;
	__u64 base_drops;
	__u64 base_bytes_received;
	__u64 sk;              /* struct sock address, read only while its cookie matches (kernel only) */
	char path[FN_SOCK_PATH_LEN]; /* UNIX: the server's path (own for SERVER, the peer's for CLIENT) */
	__u32 pad2;
};

/* Context of the sock_export program, run by the sensor's timer (BPF_PROG_TEST_RUN). */
enum fn_sock_export_mode {
	SOCK_EXPORT_TICK = 0,       /* idle/active timeouts, pending and closed entries */
	SOCK_EXPORT_FINALIZE = 1,   /* shutdown: finalize every entry in place for the sensor to emit */
};

struct sock_export_ctx {
	__u64 now;           /* CLOCK_BOOTTIME ns */
	__u64 idle_ns;
	__u64 active_ns;
	__u32 mode;          /* enum fn_sock_export_mode */
	__u32 exported;      /* out: records submitted */
	__u32 pending;       /* out: records left for the next tick (ring buffer full) */
	__u32 pad;
};

#endif
