// Socket workloads with a known ground truth: a Node server in the calling process and clients
// in child processes (so the two records carry different pids).
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { JsonRecord } from './harness.js';

export interface ChildResult { pid: number; stdout: string; code: number | null }

/** Runs `node -e code args…`; resolves when it exits. */
export function nodeChild(code: string, args: string[] = []): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', code, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.on('error', reject);
    c.on('close', (code) => resolve({ pid: c.pid!, stdout: out, code }));
  });
}

/** Client: connects to HOST:PORT, sends N bytes, half-closes, reads until the server closes;
 * prints its local port and the bytes it received. */
export const TCP_CLIENT = `
const net = require('node:net');
const [host, port, n] = process.argv.slice(1);
let got = 0, localPort = 0;
const c = net.connect(Number(port), host, () => { localPort = c.localPort; c.end(Buffer.alloc(Number(n), 0x61)); });
c.on('data', (d) => { got += d.length; });
c.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); });
c.on('close', (hadError) => { if (!hadError) console.log(JSON.stringify({ localPort, got })); });
`;

export interface TcpServer { port: number; received: Promise<number>; close: () => Promise<void> }

/** Server: reads until the client half-closes, then answers M bytes and closes. */
export function tcpServer(host: string, m: number, onConn?: (s: net.Socket) => void): Promise<TcpServer> {
  return new Promise((resolve) => {
    let resolveReceived!: (n: number) => void;
    const received = new Promise<number>((r) => { resolveReceived = r; });
    const srv = net.createServer((s) => {
      if (onConn) { onConn(s); return; }
      let got = 0;
      s.on('data', (d) => { got += d.length; });
      s.on('end', () => { resolveReceived(got); s.end(Buffer.alloc(m, 0x62)); });
      s.on('error', () => undefined);
    });
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      resolve({ port, received, close: () => new Promise<void>((r) => srv.close(() => r())) });
    });
  });
}

export const sock = (recs: JsonRecord[]) => recs.filter((r) => r.InfoMonitor === 'socket');

/** Records of a TCP/UDP conversation, by local and remote port. */
export function byPorts(recs: JsonRecord[], local: number, remote: number): JsonRecord[] {
  return sock(recs).filter((r) => r.SockLocalPort === local && r.SockRemotePort === remote);
}

export function flagKeys(r: JsonRecord, key: 'SockTxFlags' | 'SockRxFlags'): Record<string, number> {
  return (r[key] as Record<string, number> | undefined) ?? {};
}
