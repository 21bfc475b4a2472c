// Host facts for the Info* keys, gathered once at start.
import dgram from 'node:dgram';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface HostInfo {
  hostName: string;
  hostIP: string;
  system: string;
  kernel: string;
  version: string;
  token?: string;
}

export function agentVersion(): string {
  const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json');
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** IPv4 of the default route, the way kflowd finds it: a UDP "connect" sends no packet but
 * makes the kernel pick the source address. Falls back to the first non-internal IPv4. */
export async function defaultRouteIPv4(): Promise<string> {
  const viaConnect = await new Promise<string | undefined>((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (v?: string) => { try { s.close(); } catch { /* closed */ } resolve(v); };
    s.on('error', () => done());
    try {
      s.connect(53, '8.8.8.8', () => {
        try { done(s.address().address); } catch { done(); }
      });
    } catch { done(); }
    setTimeout(() => done(), 500).unref();
  });
  if (viaConnect && viaConnect !== '0.0.0.0') return viaConnect;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export async function hostInfo(token?: string, hostname?: string, kernel?: string): Promise<HostInfo> {
  return {
    hostName: hostname ?? os.hostname(),
    hostIP: await defaultRouteIPv4(),
    system: os.type(),
    kernel: kernel ?? os.release(),
    version: `falconet-v${agentVersion()}`,
    token,
  };
}
