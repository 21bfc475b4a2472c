// `host:port` lists as kflowd's -u takes them: `10.0.0.1:514,[::1]:514,logs.example:6514`.
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** 4 or 6 for literal addresses, 0 for names */
  readonly family: 0 | 4 | 6;
}

/** Parses one `host:port`; throws a message (without a place) on bad input. */
export function parseHostPort(text: string, defaultPort?: number): HostPort {
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
    if (isIP(host) !== 6) throw new Error(`"${host}" in brackets is not an IPv6 address`);
  } else {
    const i = text.lastIndexOf(':');
    if (i >= 0 && text.indexOf(':') !== i) throw new Error(`IPv6 address "${text}" needs brackets: [addr]:port`);
    host = i >= 0 ? text.slice(0, i) : text;
    port = i >= 0 ? text.slice(i + 1) : undefined;
  }
  if (host === '') throw new Error(`missing host in "${text}"`);
  if (!v6 && !/^[A-Za-z0-9.-]+$/.test(host)) throw new Error(`bad host name "${host}"`);
  if (port === undefined || port === '') {
    if (defaultPort === undefined) throw new Error(`missing port in "${text}"`);
    return { host, port: defaultPort, family: famOf(host) };
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new Error(`bad port "${port}" in "${text}" (1-65535)`);
  return { host, port: Number(port), family: famOf(host) };
}

function famOf(host: string): 0 | 4 | 6 {
  const f = isIP(host);
  return f === 4 ? 4 : f === 6 ? 6 : 0;
}
