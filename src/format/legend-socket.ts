// Legend entries of the socket record: [key, description, subkeys]. (TCP) marks keys that UDP
// records omit; UNIX records carry only SockRole, SockAddress, SockFamily, SockTx/RxBytes, SockAge.
export type LegendEntry = [key: string, description: string, subkeys?: [string, string][]];
import { APP_LEGEND } from './legend-app.js';

const FLAGS: [string, string][] = [
  ['SYN', 'Synchronize (connection open)'],
  ['ACK', 'Acknowledgment'],
  ['PSH', 'Push'],
  ['FIN', 'Finish (connection close)'],
  ['RST', 'Reset'],
  ['URG', 'Urgent'],
];
const FLAGS_NOTE = 'Packets per TCP flag combination, e.g. "SYN-ACK", in the order first seen (TCP):';

export const SOCKET_LEGEND: LegendEntry[] = [
  ['SockProtocol', 'Transport protocol: TCP or UDP'],
  ['SockRole', 'CLIENT (connected / sent first) or SERVER (accepted / received first, UNIX: bound)'],
  ['SockState', 'TCP state (e.g. TCP_CLOSE, TCP_ESTABLISHED), UDP_ESTABLISHED (connected) or UDP_CLOSE'],
  ['SockFamily', 'Address family: AF_INET, AF_INET6 or AF_UNIX'],
  ['SockAddress', 'UNIX socket path of the server ("@name" for abstract names, "" if unnamed)'],
  ['SockLocalIP', 'Local IP address'],
  ['SockLocalPort', 'Local port'],
  ['SockRemoteIP', 'Remote IP address (UDP: one record per peer of an unconnected socket)'],
  ['SockRemotePort', 'Remote port'],
  ['SockRemoteNames', 'Names the remote IP was resolved from, by DNS answers seen on this host (-p dns)'],
  ['SockTxInterface', 'Interface of the last sent packet as <ifindex>:<name>:<mac>'],
  ['SockTxDataPackets', 'Sent packets with payload (TCP)'],
  ['SockTxPackets', 'Sent IP packets, counted as a capture sees them (a GSO packet counts once)'],
  ['SockTxPacketsRetrans', 'Retransmitted packets (TCP)'],
  ['SockTxPacketsDups', 'Duplicate segments reported by the peer with D-SACK (TCP)'],
  ['SockTxFlags', FLAGS_NOTE.replace('(TCP):', '(TCP)')],
  ['SockTxDuration', 'Seconds from the first to the last sent packet'],
  ['SockTxBytes', 'Sent payload bytes; TCP: stream bytes, retransmissions excluded (UNIX: bytes written)'],
  ['SockTxBytesAcked', 'Bytes acknowledged by the peer (TCP)'],
  ['SockTxBytesRetrans', 'Retransmitted bytes (TCP)'],
  ['SockTxRTO', 'Retransmission timeout in milliseconds at export (TCP)'],
  ['SockRxInterface', 'Interface of the last received packet as <ifindex>:<name>:<mac>'],
  ['SockRxDataPackets', 'Received packets with payload (TCP)'],
  ['SockRxPackets', 'Received IP packets, counted as a capture sees them (a GRO packet counts once)'],
  ['SockRxPacketsQueued', 'Bytes waiting in the receive queue at export (TCP: unread data, UDP: receive memory)'],
  ['SockRxPacketsDrop', 'Packets the kernel counted as dropped by the socket (sk_drops: buffer full, filter; TCP also counts segments discarded while closing)'],
  ['SockRxPacketsReorder', 'Reordering events seen (TCP)'],
  ['SockRxPacketsFrag', 'Page fragments of received packets (sum of skb nr_frags)'],
  ['SockRxFlags', FLAGS_NOTE, FLAGS],
  ['SockRxDuration', 'Seconds from the first to the last received packet'],
  ['SockRxBytes', 'Received payload bytes; TCP: stream bytes, duplicates excluded (UNIX: bytes read)'],
  ['SockRxTTL', 'Average TTL / hop limit of received packets'],
  ['SockRTT', 'Smoothed round-trip time in seconds at export (TCP)'],
  ['SockAge', 'Seconds from the first to the last activity of the socket'],
  ...APP_LEGEND, // -p
];
