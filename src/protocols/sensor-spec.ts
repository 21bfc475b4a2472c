// ProtocolConfig → the sensor's --payload argument (sensor/payload.c): ports with their app
// number (enum fn_app), and each syslog socket as the kernel's (dev, ino) of its path.
import { statSync } from 'node:fs';
import type { ProtocolConfig } from './options.js';

const APP_NUM = { DNS: 1, HTTP: 2, SYSLOG: 3 } as const;

/** glibc's dev_t (st_dev) → the kernel's s_dev (major << 20 | minor). */
export function kernelDev(dev: bigint): bigint {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return (major << 20n) | minor;
}

/** The syslog sockets that exist now (a path that is not a socket is left out). */
export function unixSocketIds(paths: readonly string[]): { path: string; dev: bigint; ino: bigint }[] {
  const out: { path: string; dev: bigint; ino: bigint }[] = [];
  for (const p of paths) {
    try {
      const st = statSync(p, { bigint: true });
      if (st.isSocket()) out.push({ path: p, dev: kernelDev(st.dev), ino: st.ino });
    } catch { /* absent: nothing to match */ }
  }
  return out;
}

/** undefined: nothing to capture. */
export function payloadSpec(cfg: ProtocolConfig, perFlow?: number): string | undefined {
  const parts = cfg.ports.map((p) => `${p.proto}/${p.port}=${APP_NUM[p.app]}`);
  for (const u of unixSocketIds(cfg.syslogSockets).slice(0, 8)) parts.push(`unix=${u.dev}:${u.ino}`);
  if (!parts.length) return undefined;
  if (perFlow) parts.push(`per-flow=${perFlow}`);
  return parts.join(',');
}
