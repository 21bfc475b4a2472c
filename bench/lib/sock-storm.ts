// socket-overhead's connection storm (C: N sequential loopback connect / 1-byte request / 1-byte
// reply / close) and the count of the records an agent wrote for its connections.
// bench/variants/sock-storm-sensor.sh reads STORM_C from this file.
import { execFileSync } from 'node:child_process';
import { createReadStream, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { scratchDir } from '../../test/lib/temp-dir.js';
import { childrenCpu } from './proc.js';

export const STORM_C = `
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int lfd, n;
static void *serve(void *a) {
  for (int i = 0; i < n; i++) {
    int c = accept(lfd, 0, 0); char b;
    if (c < 0 || read(c, &b, 1) != 1 || write(c, &b, 1) != 1) exit(3);
    close(c);
  }
  return a;
}
int main(int argc, char **argv) {
  n = atoi(argv[1]);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1; setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (void *)&sa, sizeof sa) || listen(lfd, 1024)) return 1;
  socklen_t sl = sizeof sa; getsockname(lfd, (void *)&sa, &sl);
  printf("%d\\n", ntohs(sa.sin_port)); fflush(stdout);
  pthread_t t; pthread_create(&t, 0, serve, 0);
  /* each run connects from its own source address: TIME_WAIT left by earlier runs does not
   * crowd its ephemeral ports */
  struct sockaddr_in src = { .sin_family = AF_INET };
  inet_pton(AF_INET, argv[2], &src.sin_addr);
  for (int i = 0; i < n; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0); char b = 'x';
    setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c, (void *)&src, sizeof src)) return 4;
    if (connect(c, (void *)&sa, sizeof sa) || write(c, &b, 1) != 1 || read(c, &b, 1) != 1) return 2;
    close(c);
  }
  pthread_join(t, 0);
  return 0;
}
`;

export function buildStorm(): string {
  const dir = scratchDir('fn-storm-');
  writeFileSync(path.join(dir, 'storm.c'), STORM_C);
  execFileSync('cc', ['-O2', '-pthread', '-o', path.join(dir, 'storm'), path.join(dir, 'storm.c')]);
  return path.join(dir, 'storm');
}

let runNo = 0;
/** Runs the storm of conns connections: connections/s, the server port, and cpuUs: the storm's
 * own CPU (user + sys; the hooks run in its context) per connection. */
export function storm(bin: string, conns: number): { rate: number; port: number; cpuUs: number } {
  const k = ++runNo;
  const src = `127.${1 + Math.floor(k / 250)}.${k % 250}.${(process.pid % 250) + 1}`;
  const c0 = childrenCpu();
  const t = process.hrtime.bigint();
  const out = execFileSync(bin, [String(conns), src], { encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  return { rate: conns / s, port: Number(out.trim()), cpuUs: (childrenCpu() - c0) * 1e6 / conns };
}

/** Client and server TCP records of one server port, counted from the agent's output. */
export async function countRecords(file: string, ports: Set<number>): Promise<Map<number, { client: number; server: number }>> {
  const m = new Map<number, { client: number; server: number }>();
  for (const p of ports) m.set(p, { client: 0, server: 0 });
  const rl = createInterface({ input: createReadStream(file) });
  for await (const line of rl) {
    if (!line.includes('"SockProtocol": "TCP"')) continue;
    const r = JSON.parse(line) as { SockRole: string; SockLocalPort: number; SockRemotePort: number };
    if (r.SockRole === 'SERVER' && m.has(r.SockLocalPort)) m.get(r.SockLocalPort)!.server++;
    if (r.SockRole === 'CLIENT' && m.has(r.SockRemotePort)) m.get(r.SockRemotePort)!.client++;
  }
  return m;
}
