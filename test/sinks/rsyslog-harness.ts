// A private rsyslogd for tests: its own config, ports on 127.0.0.1 chosen free at run time,
// UDP (imudp), plain TCP (imptcp) and TLS (imtcp + gtls, a CA and server certificate made with
// openssl at test time), and RELP (imrelp) when rsyslog-relp is installed. Every message goes to
// one file with a template that keeps the message and the fields the tests check; RELP input has
// its own file and a ruleset without a queue in memory (Direct): rsyslog answers `rsp 200` only
// after the line was written, so an acknowledged record survives a SIGKILL of rsyslogd.
// Never the system's rsyslog, /dev/log or its config.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../lib/ports.js';

export interface Rsyslog {
  readonly dir: string;
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly tlsPort: number;
  /** imrelp's port (0 when rsyslog-relp is not installed) and its output file */
  readonly relpPort: number;
  readonly relpOutFile: string;
  readonly caFile: string;
  readonly outFile: string;
  start(): Promise<void>;
  /** SIGKILL (default) or SIGTERM; resolves once the process is gone */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** lines written so far: input|protocol-version|app-name|structured-data|msg */
  lines(): string[];
}

export function haveRelp(): boolean {
  return existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so');
}

export function haveRsyslog(): boolean {
  return existsSync('/usr/sbin/rsyslogd') && existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so');
}

/** A test CA and a server certificate for localhost / 127.0.0.1 (EC keys: fast to make). */
export function makeCerts(dir: string): { ca: string; cert: string; key: string; otherCa: string } {
  const run = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=falconet test CA');
  run('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=some other CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), otherCa: join(dir, 'other-ca.pem') };
}

export async function makeRsyslog(dir: string): Promise<Rsyslog> {
  mkdirSync(join(dir, 'work'), { recursive: true });
  const certs = makeCerts(dir);
  const [udpPort, tcpPort, tlsPort, relpFree] = (await freePorts(4, { udp: true })) as [number, number, number, number];
  const relpPort = haveRelp() ? relpFree : 0;
  const outFile = join(dir, 'out.log');
  const relpOutFile = join(dir, 'relp-out.log');
  const relp = relpPort
    ? `module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="${relpPort}" ruleset="relp")
ruleset(name="relp" queue.type="Direct") {
  action(type="omfile" file="${relpOutFile}" template="exact")
}
`
    : '';
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${dir}/work" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="${certs.ca}" defaultNetstreamDriverCertFile="${certs.cert}" defaultNetstreamDriverKeyFile="${certs.key}")
module(load="imudp")
module(load="imptcp")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="${udpPort}")
input(type="imptcp" address="127.0.0.1" port="${tcpPort}")
input(type="imtcp" address="127.0.0.1" port="${tlsPort}")
template(name="exact" type="string" string="%inputname%|%protocol-version%|%app-name%|%structured-data%|%msg%\\n")
action(type="omfile" file="${outFile}" template="exact")
${relp}`,
  );
  let proc: ChildProcess | null = null;
  let errText = '';
  const r: Rsyslog = {
    dir,
    udpPort,
    tcpPort,
    tlsPort,
    relpPort,
    relpOutFile,
    caFile: certs.ca,
    outFile,
    async start() {
      if (proc && proc.exitCode === null) return;
      proc = spawn('/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.on('data', (d: Buffer) => (errText += d.toString()));
      // generous: under a loaded machine rsyslogd (gnutls, imrelp) once took over 10 s to listen again
      const end = Date.now() + 30_000;
      for (const port of relpPort ? [tcpPort, tlsPort, relpPort] : [tcpPort, tlsPort]) {
        for (;;) {
          if (proc.exitCode !== null) throw new Error(`rsyslogd exited: ${errText}`);
          if (await canConnect(port)) break;
          if (Date.now() > end) throw new Error(`rsyslogd did not listen on ${port}: ${errText}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((res) => {
        p.once('exit', () => res());
        p.kill(signal);
      });
    },
    lines() {
      return existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n').filter(Boolean) : [];
    },
  };
  return r;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
