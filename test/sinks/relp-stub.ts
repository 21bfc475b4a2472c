// A tiny RELP server for tests of what rsyslog does not do on demand: answer a record with an
// error, close the session (`serverclose`), or send a malformed frame. It answers `open` with the
// offers and `close` with 200 like librelp, and keeps the records it answered with 200.
import { createServer, type Server, type Socket } from 'node:net';
import { encodeRelpFrame, RelpParser } from '../../src/sinks/relp-frame.js';

/** What the stub does with one `syslog` record (its message text). */
export type StubAnswer =
  | { readonly code: number; readonly text: string }
  | { readonly serverclose: true }
  /** sends these bytes instead of an answer (a malformed frame) */
  | { readonly garbage: string };

export class RelpStub {
  private server: Server | null = null;
  private readonly socks = new Set<Socket>();
  /** messages answered with 200, in order */
  readonly stored: string[] = [];
  /** connections accepted */
  connections = 0;
  /** bytes sent on the connection where the last garbage went out, before it */
  garbageAt = -1;

  constructor(private readonly decide: (msg: string) => StubAnswer) {}

  async listen(): Promise<number> {
    const srv = createServer((s) => this.serve(s));
    this.server = srv;
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    return (srv.address() as { port: number }).port;
  }

  private serve(s: Socket): void {
    this.connections++;
    this.socks.add(s);
    s.on('close', () => this.socks.delete(s));
    s.on('error', () => {});
    const p = new RelpParser(1 << 20);
    let sent = 0;
    const send = (b: Buffer | string): void => {
      sent += Buffer.byteLength(b);
      s.write(b);
    };
    s.on('data', (d: Buffer) => {
      let frames;
      try {
        frames = p.push(d);
      } catch {
        s.destroy();
        return;
      }
      for (const f of frames) {
        if (s.destroyed) return;
        if (f.command === 'open') send(encodeRelpFrame(f.txnr, 'rsp', '200 OK\nrelp_version=0\nrelp_software=stub\ncommands=syslog'));
        else if (f.command === 'close') {
          send(encodeRelpFrame(f.txnr, 'rsp'));
          s.end();
        } else if (f.command === 'syslog') {
          const msg = f.data.toString('utf8');
          const a = this.decide(msg);
          if ('serverclose' in a) {
            send(encodeRelpFrame(0, 'serverclose'));
            s.end();
            return;
          }
          if ('garbage' in a) {
            this.garbageAt = sent;
            send(a.garbage);
            continue;
          }
          if (a.code === 200) this.stored.push(msg);
          send(encodeRelpFrame(f.txnr, 'rsp', `${a.code} ${a.text}`));
        } else send(encodeRelpFrame(f.txnr, 'rsp', '500 unknown command'));
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((res) => srv.close(() => res()));
  }
}
