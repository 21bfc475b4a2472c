/* SPDX-License-Identifier: GPL-2.0 */
/* Application payload records (FN_REC_PAYLOAD), written by bpf/payload.bpf.h for -p. Included
 * by records.h only. A record is variable-size: hdr.size = PAYLOAD_RECORD_FIXED + cap_len. The
 * process fields of hdr are zero: userspace joins the payload to the socket record of its flow
 * (cookie, plus the peer for UDP), which names the owner. */
#ifndef FALCONET_RECORDS_PAYLOAD_H
#define FALCONET_RECORDS_PAYLOAD_H

#define FN_REC_PAYLOAD 5          /* rec_hdr.type (next to enum fn_rec_type) */
#define FN_PAYLOAD_MAX 2048       /* bytes captured per message (a power of two) */
#define FN_PAYLOAD_UNIX_SOCKS 8   /* syslog UNIX sockets matched by (dev, ino) */

enum fn_app { FN_APP_NONE = 0, FN_APP_DNS = 1, FN_APP_HTTP = 2, FN_APP_SYSLOG = 3 };
enum fn_pl_transport { FN_PL_TCP = 1, FN_PL_UDP = 2, FN_PL_UNIX = 3 };

/* payload_record.hdr.flags */
#define PLF_RX 0x1                /* received by the socket (else sent) */

struct payload_record {
	struct rec_hdr hdr;       /* ts_first = ts = capture time (CLOCK_BOOTTIME) */
	__u64 cookie;             /* socket cookie (UNIX: the sender's socket) */
	__u8 raddr[16];           /* UDP: the peer (IPv4 in the first 4 bytes). UNIX: the sender's
	                           * struct sock address (its socket record's sk) and socket inode,
	                           * two little-endian u64 (cookie may still be 0 there). TCP: zero */
	__u16 rport;              /* UDP: the peer's port, host order */
	__u16 family;             /* AF_INET, AF_INET6, AF_UNIX */
	__u8 app;                 /* enum fn_app */
	__u8 transport;           /* enum fn_pl_transport */
	__u16 cap_len;            /* bytes in data[] */
	__u32 wire_len;           /* payload bytes of the packet (or datagram) */
	__u32 seq;                /* TCP: sequence number of the first payload byte */
	__u32 pad;
	__u8 data[FN_PAYLOAD_MAX];
};
#define PAYLOAD_RECORD_FIXED ((unsigned long)&((struct payload_record *)0)->data)

/* Counters of the per-CPU array "payload_stats": every payload of a matching port or socket is
 * captured or counted under one reason. */
enum fn_pl_stat {
	PL_CAPTURED = 0,       /* records submitted */
	PL_DROP_RINGBUF,       /* ring buffer full */
	PL_DROP_FLOW_CAP,      /* the flow (UDP: socket and peer) already gave its messages in this direction */
	PL_DROP_FLOW_MAP,      /* no flow state (map full) */
	PL_DROP_HANDSHAKE,     /* data reached a listening/request socket (not attributed to the listener) */
	PL_SKIP_RETRANS,       /* TCP retransmission of bytes already captured (de-duplicated, not a loss) */
	PL_DROP_READ,          /* packet bytes could not be read (UNIX, without the reader side: a
	                        * receiver took the datagram before sk_data_ready looked) */
	PL_UNIX_READER,        /* not a reason: UNIX datagrams handled on the reader side
	                        * (skb_copy_datagram_iovec), also counted under captured or a drop */
	PL_MAX = 8
};

/* The sensor's summary of payload_stats (summed over CPUs), a record of its own
 * (FN_REC_PAYLOAD_STATS) sent when the counters changed, at most once a second, and at the end. */
#define FN_REC_PAYLOAD_STATS 6
struct payload_stats_record {
	struct rec_hdr hdr;       /* ts = when sampled; process fields zero */
	__u64 counters[PL_MAX];   /* enum fn_pl_stat */
};

#endif
