// Sink/source URLs of the fleet engines. WHATWG URL cannot hold a host list
// ("nats://a:4222,b:4222/prefix"), so these are parsed here, with errors that name the place.

export interface FleetUrl {
  scheme: string;
  user?: string;
  password?: string;
  /** host:port entries, in order */
  hosts: string[];
  /** path without the leading '/', percent-decoded */
  path: string;
  params: Record<string, string>;
}

export function parseFleetUrl(text: string, where: string, defaultPort: number): FleetUrl {
  const dec = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new Error(`${where}: bad %-escape in the ${what} of '${text}'`);
    }
  };
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i.exec(text.trim());
  if (!m) throw new Error(`${where}: '${text}' is not a URL (expected scheme://host:port[,host:port]/path?key=value)`);
  const [, scheme, authority, rawPath, query] = m as unknown as [string, string, string, string, string | undefined];
  let hostPart = authority;
  let user: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const cred = authority.slice(0, at);
    hostPart = authority.slice(at + 1);
    const colon = cred.indexOf(':');
    user = dec(colon >= 0 ? cred.slice(0, colon) : cred, 'user name');
    if (colon >= 0) password = dec(cred.slice(colon + 1), 'password');
  }
  if (!hostPart) throw new Error(`${where}: '${text}' names no host`);
  const hostList = (list: string, what: string): string[] => list.split(',').map((h, i) => {
    const hm = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(h);
    if (!hm) throw new Error(`${where}: ${what} #${i + 1} '${h}' is not host[:port]`);
    const port = hm[2] === undefined ? defaultPort : Number(hm[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${where}: ${what} #${i + 1} '${h}' has port ${hm[2]} outside 1..65535`);
    return `${hm[1]}:${port}`;
  });
  const hosts = hostList(hostPart, 'host');
  const params: Record<string, string> = {};
  for (const kv of (query ?? '').split('&')) {
    if (!kv) continue;
    const eq = kv.indexOf('=');
    const k = dec(eq >= 0 ? kv.slice(0, eq) : kv, 'query');
    params[k] = dec(eq >= 0 ? kv.slice(eq + 1).replace(/\+/g, ' ') : '', 'query');
  }
  // hosts=h2:port,h3:port: more servers in a form WHATWG URL parsers accept too
  if (params['hosts']) hosts.push(...hostList(params['hosts'], 'hosts= entry'));
  return { scheme: scheme.toLowerCase(), user, password, hosts, path: dec(rawPath.replace(/^\/+/, ''), 'path'), params };
}

const DURATION: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "60s", "2m", "1h", "7d", or a bare number of milliseconds → ms. */
export function parseDurationMs(text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`${where}: '${text}' is not a duration (e.g. 500ms, 60s, 2m, 1h)`);
  return Math.round(Number(m[1]) * DURATION[m[2] ?? 'ms']!);
}

const SIZE: Record<string, number> = { '': 1, b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

/** "64MB", "512kb", "1GB", "1000" → bytes. */
export function parseBytes(text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const mult = m ? SIZE[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined) throw new Error(`${where}: '${text}' is not a size (e.g. 512kb, 64MB, 1GB)`);
  return Math.round(Number(m[1]) * mult);
}

export function parseIntParam(params: Record<string, string>, key: string, where: string, def: number, min: number, max: number): number {
  const v = params[key];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${where}: ${key}=${v} must be an integer in ${min}..${max}`);
  return n;
}

export function parseBoolParam(params: Record<string, string>, key: string, where: string, def: boolean): boolean {
  const v = params[key];
  if (v === undefined) return def;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new Error(`${where}: ${key}=${v} must be true or false`);
}
