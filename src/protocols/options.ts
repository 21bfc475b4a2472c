// `-p dns=PROTO/PORT,...`, `-p http=...`, `-p syslog=...` (kflowd's -p, §5.4/§6 of the notes):
// case-insensitive, each app at most once, at most 8 entries per app, no duplicates, `APP=off`
// disables it. DNS and SYSLOG take tcp/udp, HTTP only tcp, SYSLOG also `unix` (the default
// syslog sockets) or `unix:PATH` (a socket path of its own; falconet's addition). Apps not given
// keep kflowd's defaults.
import type { AppProto } from './app.js';

export type PortProto = 'tcp' | 'udp';

export interface AppPort {
  app: AppProto;
  proto: PortProto;
  port: number;
}

export interface ProtocolConfig {
  ports: AppPort[];
  /** UNIX datagram/stream sockets whose receivers get syslog messages (empty: off) */
  syslogSockets: string[];
}

/** What -p values given so far said, per app (undefined: not given; null: off). */
export type ProtocolArgs = Partial<Record<AppProto, { ports: { proto: PortProto; port: number }[]; unix: string[] } | null>>;

export const DEFAULT_SYSLOG_SOCKETS = ['/dev/log', '/run/systemd/journal/dev-log', '/run/systemd/journal/syslog'];

const DEFAULTS: Record<AppProto, string> = { DNS: 'udp/53,tcp/53', HTTP: 'tcp/80', SYSLOG: 'udp/514,tcp/514,unix' };
const MAX_PER_APP = 8;

export class ProtocolOptionError extends Error {}

/** One -p value; `prev` is what earlier -p values gave (commander's accumulator). */
export function parseProtocolOption(value: string, prev: ProtocolArgs = {}): ProtocolArgs {
  const eq = value.indexOf('=');
  const appName = (eq < 0 ? value : value.slice(0, eq)).trim().toUpperCase();
  if (appName !== 'DNS' && appName !== 'HTTP' && appName !== 'SYSLOG') {
    throw new ProtocolOptionError(`-p '${value}': expected dns=, http= or syslog= followed by PROTO/PORT,... or off`);
  }
  const app: AppProto = appName;
  if (app in prev) throw new ProtocolOptionError(`-p ${app.toLowerCase()} is given twice`);
  return { ...prev, [app]: parseList(app, eq < 0 ? '' : value.slice(eq + 1)) };
}

function parseList(app: AppProto, list: string): { ports: { proto: PortProto; port: number }[]; unix: string[] } | null {
  const name = app.toLowerCase();
  if (list.toLowerCase() === 'off') return null;
  if (!list) throw new ProtocolOptionError(`-p ${name}=: expected PROTO/PORT,... or off`);
  const ports: { proto: PortProto; port: number }[] = [];
  const unix: string[] = [];
  const tokens = list.split(',');
  if (tokens.length > MAX_PER_APP) throw new ProtocolOptionError(`-p ${name}: at most ${MAX_PER_APP} entries, got ${tokens.length}`);
  for (const raw of tokens) {
    const tok = raw.trim();
    const lower = tok.toLowerCase();
    if (app === 'SYSLOG' && (lower === 'unix' || lower.startsWith('unix:'))) {
      const paths = lower === 'unix' ? DEFAULT_SYSLOG_SOCKETS : [tok.slice(5)];
      if (!paths[0]!.startsWith('/')) throw new ProtocolOptionError(`-p syslog: '${tok}': a socket path must be absolute`);
      for (const p of paths) {
        if (unix.includes(p)) throw new ProtocolOptionError(`-p syslog: '${p}' is given twice`);
        unix.push(p);
      }
      continue;
    }
    const m = /^(tcp|udp)\/([0-9]{1,5})$/.exec(lower);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      const what = app === 'HTTP' ? 'tcp/PORT' : app === 'DNS' ? 'tcp/PORT or udp/PORT' : 'tcp/PORT, udp/PORT, unix or unix:PATH';
      throw new ProtocolOptionError(`-p ${name}: '${tok}' is not ${what} (PORT 1-65535)`);
    }
    const proto = m[1] as PortProto;
    if (app === 'HTTP' && proto !== 'tcp') throw new ProtocolOptionError(`-p http: '${tok}': HTTP is decoded over tcp only`);
    if (ports.some((p) => p.proto === proto && p.port === port)) throw new ProtocolOptionError(`-p ${name}: '${tok}' is given twice`);
    ports.push({ proto, port });
  }
  return { ports, unix };
}

/** The configuration: given apps as given, the others at kflowd's defaults. A port claimed by
 * two apps is an error (kflowd silently lets DNS win). */
export function resolveProtocols(args: ProtocolArgs = {}): ProtocolConfig {
  const cfg: ProtocolConfig = { ports: [], syslogSockets: [] };
  for (const app of ['DNS', 'HTTP', 'SYSLOG'] as const) {
    const given = app in args ? args[app] : parseList(app, DEFAULTS[app]);
    if (!given) continue;
    for (const p of given.ports) {
      const other = cfg.ports.find((q) => q.proto === p.proto && q.port === p.port);
      if (other) throw new ProtocolOptionError(`-p: ${p.proto}/${p.port} is given for both ${other.app.toLowerCase()} and ${app.toLowerCase()}`);
      cfg.ports.push({ app, ...p });
    }
    cfg.syslogSockets.push(...given.unix);
  }
  return cfg;
}

/** The app a packet between two ports belongs to: a port matches as local or remote. */
export function appOfPorts(cfg: ProtocolConfig, proto: PortProto, a: number, b: number): AppProto | undefined {
  return cfg.ports.find((p) => p.proto === proto && (p.port === a || p.port === b))?.app;
}

/** commander's parser for a repeatable -p: errors become commander's usage errors. */
export function protocolOptionParser(invalid: (msg: string) => Error): (value: string, prev?: ProtocolArgs) => ProtocolArgs {
  return (value, prev) => {
    try {
      return parseProtocolOption(value, prev);
    } catch (e) {
      throw invalid((e as Error).message);
    }
  };
}
