// S3 sink (@aws-sdk/client-s3): records are cut into objects by time and size windows, named
// like sf-exporter names its traces:
//   [prefix/][cluster/][node/][nodeip/]YYYY/MM/DD/<epoch>.<nodeip>.ndjson.gz   (object=ndjson.gz)
//   [prefix/][cluster/][node/][nodeip/]YYYY/MM/DD/<epoch>.<nodeip>.sf          (object=sf)
// An `ndjson.gz` object holds the encoded records, one per line. An `sf` object is a
// self-contained SysFlow v5 trace built from `format=sysflow-msg` items (s3-sysflow.ts).
// A window is written to a local directory first (each send appends one complete gzip member or
// whole Avro blocks, so the file is valid at every batch boundary); a cut window is uploaded
// (multipart above the part size) and the local file is deleted only after the store confirms
// the object's size.
// Files left by a crash or an unreachable store are uploaded on the next open or cut (a window
// torn mid-append is first cut back to its last whole gzip member or Avro block).
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { registerSinkScheme } from './registry.js';
import { SysFlowObjectBuilder, wholeSysFlowRuns } from './s3-sysflow.js';
import { wholeGzipRuns } from './gzip-members.js';
import { parseBoolParam, parseBytes, parseDurationMs, parseFleetUrl } from '../util/fleet-url.js';

export interface S3SinkOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** sf-exporter --s3prefix */
  prefix: string;
  clusterId?: string;
  nodeName?: string;
  nodeIp: string;
  /** cut a window after this long */
  windowMs: number;
  /** or once its file reaches this size */
  maxBytes: number;
  /** multipart above this size, parts of this size (S3 minimum 5 MiB) */
  partBytes: number;
  /** local directory holding windows until their upload is confirmed */
  dir: string;
  createBucket: boolean;
  forcePathStyle: boolean;
  /** what an object holds: NDJSON.gz lines, or a self-contained SysFlow trace (`.sf`) */
  object: S3ObjectFormat;
  name?: string;
  /** lines about windows repaired at open (torn, damaged, set aside) */
  log?: (line: string) => void;
}

export type S3ObjectFormat = 'ndjson.gz' | 'sf';
const OBJECT_FORMATS: readonly S3ObjectFormat[] = ['ndjson.gz', 'sf'];

const MIN_PART = 5 * 1024 * 1024;

/**
 * `s3+http(s)://[access:secret@]host:port/bucket/prefix?window=60s&max_bytes=64MB&dir=/var/lib/falconet/s3`
 * Other keys: region, part_size, node, nodeip, cluster, create_bucket, path_style, and
 * object=ndjson.gz|sf (`sf` takes the items of format=sysflow-msg, the only encoding whose items
 * carry the entities their records reference; the URL must say so).
 */
export function parseS3SinkUrl(text: string, where: string): S3SinkOptions {
  const u = parseFleetUrl(text, where, 443);
  if (u.scheme !== 's3+http' && u.scheme !== 's3+https') throw new Error(`${where}: scheme '${u.scheme}' is not s3+http or s3+https`);
  if (u.hosts.length !== 1) throw new Error(`${where}: an S3 endpoint is one host`);
  const p = u.params;
  const [bucket, ...rest] = u.path.split('/');
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`${where}: bucket '${bucket ?? ''}' is not a valid S3 bucket name`);
  const partBytes = p['part_size'] ? parseBytes(p['part_size'], `${where} part_size`) : 8 * 1024 * 1024;
  if (partBytes < MIN_PART) throw new Error(`${where}: part_size must be at least 5MB (the S3 minimum)`);
  const host = hostname();
  const object = (p['object'] ?? 'ndjson.gz') as S3ObjectFormat;
  if (!OBJECT_FORMATS.includes(object)) throw new Error(`${where}: object '${p['object']}' is not one of ${OBJECT_FORMATS.join(', ')}`);
  if (object === 'sf' && p['format'] !== 'sysflow-msg') {
    throw new Error(`${where}: object=sf builds SysFlow traces from format=sysflow-msg items (each carries the entities its record references); add format=sysflow-msg${p['format'] ? ` instead of format=${p['format']}` : ''}`);
  }
  return {
    endpoint: `${u.scheme === 's3+https' ? 'https' : 'http'}://${u.hosts[0]}`,
    region: p['region'] ?? 'us-east-1',
    accessKeyId: u.user ?? process.env['AWS_ACCESS_KEY_ID'] ?? '',
    secretAccessKey: u.password ?? process.env['AWS_SECRET_ACCESS_KEY'] ?? '',
    bucket,
    prefix: rest.join('/').replace(/\/+$/, ''),
    clusterId: p['cluster'],
    nodeName: p['node'] ?? host,
    nodeIp: p['nodeip'] ?? host,
    windowMs: p['window'] ? parseDurationMs(p['window'], `${where} window`) : 60_000,
    maxBytes: p['max_bytes'] ? parseBytes(p['max_bytes'], `${where} max_bytes`) : 64 * 1024 * 1024,
    partBytes,
    dir: p['dir'] ?? join(process.cwd(), 'falconet-s3'),
    createBucket: parseBoolParam(p, 'create_bucket', where, true),
    forcePathStyle: parseBoolParam(p, 'path_style', where, true),
    object,
  };
}

const p2 = (n: number): string => String(n).padStart(2, '0');

/** sf-exporter's key: [prefix/][cluster/][node/][nodeip/]YYYY/MM/DD/<epoch>.<nodeip>.<ext> */
export function s3ObjectKey(o: Pick<S3SinkOptions, 'prefix' | 'clusterId' | 'nodeName' | 'nodeIp'>, epochSec: number, ext: string): string {
  const d = new Date(epochSec * 1000);
  const parts = [o.prefix, o.clusterId, o.nodeName, o.nodeIp].filter((x): x is string => !!x);
  parts.push(`${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}`);
  return `${parts.join('/')}/${epochSec}.${o.nodeIp}.${ext}`;
}

interface Window { epoch: number; path: string; bytes: number; openedAt: number; sf?: SysFlowObjectBuilder }

export class S3Sink implements Sink {
  readonly name: string;
  private client: S3Client | undefined;
  private win: Window | undefined;
  private timer: NodeJS.Timeout | undefined;
  private uploading: Promise<void> = Promise.resolve();
  private lastEpoch = 0;
  /** the object name's ending, also the local window files' */
  private readonly ext: string;
  private readonly contentType: { ContentType: string; ContentEncoding?: string };
  readonly stats = { objects: 0, multipart: 0, parts: 0, bytesUploaded: 0, uploadErrors: 0, lastError: '', rejected: 0, truncatedWindows: 0, corruptWindows: 0, damagedWindows: 0, damagedBytes: 0 };

  counters(): Readonly<Record<string, number>> {
    const { lastError: _, ...numbers } = this.stats;
    return numbers;
  }

  constructor(private readonly opts: S3SinkOptions, private readonly now: () => number = Date.now) {
    this.name = opts.name ?? `s3:${opts.bucket}`;
    this.ext = opts.object;
    this.contentType = opts.object === 'sf' ? { ContentType: 'application/octet-stream' } : { ContentType: 'application/x-ndjson', ContentEncoding: 'gzip' };
  }

  async open(): Promise<void> {
    if (this.client) return;
    const o = this.opts;
    mkdirSync(o.dir, { recursive: true });
    // the pinned SDK runs on Node 20; its multi-line notice that later releases will need Node 22
    // concerns whoever upgrades it, not an operator reading the agent's log (set the variable to
    // "false" to see it)
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    this.client = new S3Client({
      endpoint: o.endpoint, region: o.region, forcePathStyle: o.forcePathStyle,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      // plain payloads: stores like s3rver would otherwise keep the aws-chunked framing as data
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
    // windows of an earlier run: a half-written one is complete up to its last batch
    const left = readdirSync(o.dir);
    for (const f of left) if (f.endsWith('.part.tmp')) unlinkSync(join(o.dir, f)); // a repair cut short: its .part is still there
    for (const f of left) if (f.endsWith('.part')) this.recover(join(o.dir, f));
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.min(1000, Math.floor(o.windowMs / 4))));
    this.timer.unref();
    this.kickUploads();
  }

  /**
   * A window cut short by a crash in the middle of an append is truncated to its last whole
   * gzip member (`.ndjson.gz`) or Avro block (`.sf`); the batch that tore was never acknowledged,
   * so the spool sends it again. Damage in the middle (a bad sector: the batches after it were
   * acknowledged) costs only the members or blocks it hit: the rest is kept, the bytes lost are
   * counted (`damagedWindows`, `damagedBytes`). One without a whole member or block holds no
   * record and is set aside (`.corrupt`, neither uploaded nor deleted); an empty one is removed.
   */
  private recover(path: string): void {
    const done = path.slice(0, -5);
    const file = readFileSync(path);
    if (!file.length) {
      unlinkSync(path);
      return;
    }
    const log = this.opts.log ?? (() => {});
    const runs = done.endsWith('.sf') ? wholeSysFlowRuns(file) : wholeGzipRuns(file);
    if (runs.length === 0) {
      renameSync(path, `${done}.corrupt`);
      this.stats.corruptWindows++;
      log(`${this.name}: window ${path} holds no whole ${this.ext === 'sf' ? 'block' : 'gzip member'} (${file.length} bytes); set aside as ${done}.corrupt, neither uploaded nor deleted`);
      return;
    }
    const end = runs[runs.length - 1]![1];
    if (end < file.length) {
      this.stats.truncatedWindows++;
      log(`${this.name}: window ${path} ends in a batch torn by a crash: ${file.length - end} bytes cut (the spool sends that batch again)`);
    }
    if (runs.length === 1 && runs[0]![0] === 0) {
      if (end < file.length) truncateSync(path, end);
    } else {
      const lost = end - runs.reduce((n, [a, b]) => n + b - a, 0);
      this.stats.damagedWindows++;
      this.stats.damagedBytes += lost;
      const gaps: string[] = [];
      let prev = 0;
      for (const [a, b] of runs) {
        if (a > prev) gaps.push(`${prev}–${a}`);
        prev = b;
      }
      log(`${this.name}: window ${path} is damaged at bytes ${gaps.join(', ')}: ${lost} bytes lost, the ${this.ext === 'sf' ? 'blocks' : 'gzip members'} around them kept and uploaded`);
      // the kept runs replace the file whole: written and fsynced beside it, then renamed over it
      writeFileSync(`${path}.tmp`, Buffer.concat(runs.map(([a, b]) => file.subarray(a, b))));
      fsyncFile(`${path}.tmp`);
      renameSync(`${path}.tmp`, path);
    }
    renameSync(path, done);
  }

  private tick(): void {
    if (this.win && this.now() - this.win.openedAt >= this.opts.windowMs) this.cut();
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    if (!batch.length) return {};
    await this.open();
    if (this.opts.object === 'sf') return this.sendSysFlow(batch);
    const body = gzipSync(Buffer.concat(batch.flatMap((it) => [Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength), Buffer.from('\n')])));
    const w = this.window();
    appendFileSync(w.path, body);
    w.bytes += body.length;
    if (w.bytes >= this.opts.maxBytes) this.cut();
    return {};
  }

  /** object=sf: the batch as Avro blocks of the window's trace; items that are no sysflow-msg are rejected. */
  private sendSysFlow(batch: readonly SinkItem[]): SendResult {
    const w = this.window();
    const b = w.sf!.encode(batch);
    if (b.bytes.length) {
      appendFileSync(w.path, b.bytes);
      b.commit();
      w.bytes += b.bytes.length;
    }
    this.stats.rejected += b.failed.length;
    if (w.bytes >= this.opts.maxBytes) this.cut();
    return b.failed.length ? { failed: b.failed } : {};
  }

  private window(): Window {
    if (this.win) return this.win;
    let epoch = Math.floor(this.now() / 1000);
    // two windows in one second (size cuts): keep names unique and all digits
    if (epoch <= this.lastEpoch) epoch = this.lastEpoch + 1;
    this.lastEpoch = epoch;
    this.win = { epoch, path: join(this.opts.dir, `${epoch}.${this.opts.nodeIp}.${this.ext}.part`), bytes: 0, openedAt: this.now() };
    if (this.opts.object === 'sf') {
      const o = this.opts;
      this.win.sf = new SysFlowObjectBuilder({ version: 5n, exporter: o.nodeName ?? o.nodeIp, ip: o.nodeIp, filename: s3ObjectKey(o, epoch, this.ext) });
    }
    return this.win;
  }

  /** Closes the current window (durably) and queues its upload. */
  private cut(): void {
    const w = this.win;
    this.win = undefined;
    // a window nothing was written to (object=sf, every item rejected) has no file
    if (w && w.bytes > 0) {
      fsyncFile(w.path);
      renameSync(w.path, w.path.slice(0, -5));
    }
    this.kickUploads();
  }

  private kickUploads(): void {
    this.uploading = this.uploading.then(() => this.uploadPending()).catch((e: Error) => {
      this.stats.uploadErrors++;
      this.stats.lastError = e.message;
    });
  }

  /** Every finished window in the directory, oldest first; each deleted once confirmed. */
  private async uploadPending(): Promise<void> {
    const o = this.opts;
    const files = readdirSync(o.dir).filter((f) => f.endsWith(`.${this.ext}`) && /^\d+\./.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    if (!files.length) return;
    await this.ensureBucket();
    for (const f of files) {
      const path = join(o.dir, f);
      const size = statSync(path).size;
      const key = s3ObjectKey(o, parseInt(f, 10), this.ext);
      if (size > o.partBytes) await this.multipart(path, key);
      else await this.client!.send(new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: readFileSync(path), ...this.contentType, Metadata: this.metadata() }));
      const head = await this.client!.send(new HeadObjectCommand({ Bucket: o.bucket, Key: key }));
      if (head.ContentLength !== size) throw new Error(`s3: ${key} holds ${head.ContentLength} bytes, uploaded ${size}; local file kept`);
      unlinkSync(path);
      this.stats.objects++;
      this.stats.bytesUploaded += size;
    }
  }

  private metadata(): Record<string, string> {
    const o = this.opts;
    return { nodename: o.nodeName ?? '', nodeip: o.nodeIp };
  }

  private bucketChecked = false;
  private async ensureBucket(): Promise<void> {
    if (this.bucketChecked || !this.opts.createBucket) return;
    try {
      await this.client!.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
    } catch {
      await this.client!.send(new CreateBucketCommand({ Bucket: this.opts.bucket }));
    }
    this.bucketChecked = true;
  }

  private async multipart(path: string, key: string): Promise<void> {
    const o = this.opts;
    const data = readFileSync(path);
    const up = await this.client!.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key: key, ...this.contentType, Metadata: this.metadata() }));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let off = 0, n = 1; off < data.length; off += o.partBytes, n++) {
        const r = await this.client!.send(new UploadPartCommand({ Bucket: o.bucket, Key: key, UploadId: up.UploadId, PartNumber: n, Body: data.subarray(off, off + o.partBytes) }));
        parts.push({ ETag: r.ETag!, PartNumber: n });
        this.stats.parts++;
      }
      await this.client!.send(new CompleteMultipartUploadCommand({ Bucket: o.bucket, Key: key, UploadId: up.UploadId, MultipartUpload: { Parts: parts } }));
      this.stats.multipart++;
    } catch (e) {
      await this.client!.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: key, UploadId: up.UploadId })).catch(() => undefined);
      throw e;
    }
  }

  /** Cuts the current window and waits for every pending upload (errors: see stats). */
  async flush(): Promise<void> {
    this.cut();
    await this.uploading;
  }

  /** Local windows not yet confirmed by the store. */
  pendingFiles(): string[] {
    return readdirSync(this.opts.dir).filter((f) => f.endsWith(`.${this.ext}`) || f.endsWith('.part'));
  }

  async close(): Promise<void> {
    if (!this.client) return;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.client.destroy();
    this.client = undefined;
  }
}

/** Plugs the scheme into the sink registry (parseSinkUrl/createSink, --sink, pipeline.json). */
export function registerS3(register: typeof registerSinkScheme = registerSinkScheme): void {
  for (const scheme of ['s3+http', 's3+https']) register(scheme, (spec, log) => new S3Sink({ ...parseS3SinkUrl(spec.text ?? spec.url.href, spec.text ?? 'sink'), log }), parseS3SinkUrl);
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
