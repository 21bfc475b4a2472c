// The ECS encoder: one JSON document per record (NDJSON line without the newline), for the
// Elasticsearch sink and for any sink with format=ecs. Pure: the envelope (record + enrichment)
// and the encoder's fixed context decide every byte.
import type { FileRecord, PidExitRecord } from '../../model/records.js';
import type { ProcRecord } from '../../model/process-record.js';
import type { SockRecord } from '../../model/socket-record.js';
import type { Encoder, Envelope } from '../../pipeline/types.js';
import { alertDoc, type AlertRecord } from './alert.js';
import type { EcsContext, EcsDoc } from './common.js';
import { fileDoc } from './file.js';
import { pidExitDoc, processDoc } from './process.js';
import { socketDoc } from './socket.js';

export type { EcsContext, EcsDoc, EcsEnrichment, EcsHost } from './common.js';
export type { AlertRecord, AlertRule } from './alert.js';

/** The ECS document of one envelope, or null when ECS has no representation for it. */
export function ecsDocument(env: Envelope, ctx: EcsContext): EcsDoc | null {
  switch (env.kind) {
    case 'socket': return socketDoc(env as Envelope<SockRecord>, ctx);
    case 'file': return fileDoc(env as Envelope<FileRecord>, ctx);
    case 'process': return processDoc(env as Envelope<ProcRecord>, ctx);
    case 'pid_exit': return pidExitDoc(env as Envelope<PidExitRecord>, ctx);
    case 'alert': return alertDoc(env as Envelope<AlertRecord>, ctx);
    default: return null; // payload and raw SysFlow rows: no ECS mapping yet
  }
}

export class EcsEncoder implements Encoder {
  readonly name = 'ecs';
  constructor(private readonly ctx: EcsContext) {}

  encode(env: Envelope): string | null {
    const doc = ecsDocument(env, this.ctx);
    return doc ? JSON.stringify(doc) : null;
  }
}
