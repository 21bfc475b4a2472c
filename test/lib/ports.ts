// Free 127.0.0.1 ports for the servers tests start. Two ways the old "listen(0), close, use"
// helpers failed: two calls in a row can get the same port back (a nats node's client and
// route ports once did, and the node died with EADDRINUSE), and any outgoing connection can
// take a freed port from the ephemeral range before the server binds it. So the ports come from
// below the ephemeral range, and every candidate stays bound until all of a call's are chosen.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';

export interface PortOptions {
  /** The port must be free for UDP too (a server listening on both). */
  udp?: boolean;
}

type Held = { close: () => Promise<void> };

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch { /* not Linux: fall through */ }
  return 32768;
}

function holdTcp(port: number): Promise<Held | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      resolve({ close: () => new Promise<void>((r) => s.close(() => r())) }));
  });
}

function holdUdp(port: number): Promise<Held | null> {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => { u.close(); resolve(null); });
    u.bind({ port, address: '127.0.0.1', exclusive: true }, () =>
      resolve({ close: () => new Promise<void>((r) => u.close(() => r())) }));
  });
}

/** `n` distinct ports, free on 127.0.0.1 when returned, none in the kernel's ephemeral range. */
export async function freePorts(n: number, opts: PortOptions = {}): Promise<number[]> {
  const high = ephemeralLow();
  const low = Math.max(1024, high - 20_000);
  const held: Held[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < n; tries++) {
      if (tries > 10 * n + 1000) throw new Error(`no ${n} free ports in ${low}..${high - 1}`);
      const port = low + Math.floor(Math.random() * (high - low));
      if (ports.includes(port)) continue;
      const tcp = await holdTcp(port);
      if (!tcp) continue;
      held.push(tcp);
      if (opts.udp) {
        const udp = await holdUdp(port);
        if (!udp) continue;
        held.push(udp);
      }
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map((h) => h.close()));
  }
  return ports;
}

/** One port: see freePorts. */
export async function freePort(opts: PortOptions = {}): Promise<number> {
  return (await freePorts(1, opts))[0]!;
}
