// Real Debian servers for the payload tests, each on 127.0.0.1, a free port and a private
// directory, killed at the end: dnsmasq (no upstream), nginx, rsyslog (its own UNIX socket).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, freePorts } from '../lib/ports.js';

export interface Server { port: number; stop: () => Promise<void>; log: () => string }

function start(cmd: string, args: string[], ready: () => Promise<boolean>): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  return new Promise((resolve, reject) => {
    let done = false;
    child.on('exit', (c) => { if (!done) reject(new Error(`${cmd} exited ${c}: ${out}`)); });
    const poll = async () => {
      for (let i = 0; i < 600 && !done; i++) { // bounded: 30 s for a server to be ready
        if (await ready()) { done = true; resolve({ child, out: () => out }); return; }
        await new Promise((r) => setTimeout(r, 50));
      }
      if (!done) { done = true; child.kill('SIGKILL'); reject(new Error(`${cmd} not ready: ${out}`)); }
    };
    void poll();
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const tcpOpen = (port: number, host = '127.0.0.1') => new Promise<boolean>((resolve) => {
  const s = net.connect(port, host, () => { s.destroy(); resolve(true); }).on('error', () => resolve(false));
});

export interface DnsmasqConfig { records: string[] }

export async function startDnsmasq(dir: string, options: string[]): Promise<Server> {
  const port = await freePort({ udp: true });
  const { child, out } = await start('dnsmasq', [
    '-k', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1',
    `--port=${port}`, '--local-ttl=300', `--log-facility=${path.join(dir, 'dnsmasq.log')}`, `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
    '--user=root', ...options,
  ], () => tcpOpen(port));
  return { port, stop: stopper(child), log: out };
}

/** nginx on 127.0.0.1 and 127.0.0.7: /old → 301, /new → 200 "new page\n", /chunk.html (SSI: chunked).
 * deferred: `listen … deferred` (TCP_DEFER_ACCEPT: the request's segment completes the handshake). */
export async function startNginx(dir: string, opts: { deferred?: boolean } = {}): Promise<Server> {
  const port = await freePort({ udp: true });
  mkdirSync(path.join(dir, 'html'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  writeFileSync(path.join(dir, 'html/chunk.html'), 'hello <!--# echo var="ssi_x" default="chunked" --> world\n');
  const t = path.join(dir, 'tmp');
  writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${t}; proxy_temp_path ${t}; fastcgi_temp_path ${t}; uwsgi_temp_path ${t}; scgi_temp_path ${t};
  default_type text/plain;
  server {
    listen 127.0.0.1:${port}${opts.deferred ? ' deferred' : ''};
    listen 127.0.0.7:${port}${opts.deferred ? ' deferred' : ''};
    root ${dir}/html;
    location = /old { return 301 http://127.0.0.1:${port}/new; }
    location = /new { return 200 "new page\\n"; }
    location = /chunk.html { ssi on; }
  }
}
`);
  const { child, out } = await start('nginx', ['-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-p', dir], () => tcpOpen(port));
  return { port, stop: stopper(child), log: out };
}

export interface Rsyslog { udp: number; tcp: number; socket: string; out: string; stop: () => Promise<void> }

export async function startRsyslog(dir: string): Promise<Rsyslog> {
  const [udp, tcp] = (await freePorts(2, { udp: true })) as [number, number];
  const socket = path.join(dir, 'log');
  const out = path.join(dir, 'out.log');
  writeFileSync(path.join(dir, 'rsyslog.conf'), `global(workDirectory="${dir}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${socket}" CreatePath="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${udp}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${tcp}")
*.* action(type="omfile" file="${out}")
`);
  const { child } = await start('rsyslogd', ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslog.pid')],
    async () => existsSync(socket) && await tcpOpen(tcp));
  return { udp, tcp, socket, out, stop: stopper(child) };
}

export interface Run { pid: number; stdout: string; code: number | null }

/** Runs a client to completion; its pid is the process its socket records must name. */
export function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 20000 }, (err, stdout) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err);
      else resolve({ pid: child.pid!, stdout, code: child.exitCode });
    });
  });
}
