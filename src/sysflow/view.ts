// SfRecordView: one event or flow record joined with the entities it references. This is the
// object the policy engine (src/policy) resolves `sf.*` fields against, and what `falconet
// print` formats. Produced by EntityTable (entities.ts) from a stream of SfObjects in file order.
//
// Members:
//   type       short record type of the event/flow: PE, NF, FF, FE, NE, PF or KE.
//   obj        the event/flow itself ({ type, rec }, narrow on `type` to get the typed `rec`).
//   index      0-based position of the record in its source (all records counted, entities too).
//   header     the last SFHeader seen (null only for a headerless stream).
//   proc       Process entity of `rec.procOID` (null for KE, or when the trace lacks it).
//   pproc      parent Process (via proc.poid), null when unknown / root.
//   file       File entity of FF/FE `fileOID` (null for other types or when missing).
//   newFile    File entity of FE `newFileOID` (rename/link/symlink target), else null.
//   container  Container of proc.containerId (for FF/FE with no process, of file.containerId).
//   pod        Pod of container.podId, else null.
//   ancestors() ancestor Process entities, nearest first: [parent, grandparent, ... root].
//              Excludes the process itself (sf-processor's sf.proc.aname/apid lists start with
//              the process itself, so prepend `proc` for those). Cycles are cut; computed lazily.
//
// Entity lookup follows sf-processor: the most recent entity with the same key wins (files are
// ordered so an entity precedes the records that reference it), and a header resets all tables.
import type {
  Container,
  File,
  Pod,
  Process,
  SFHeader,
  SfEventFlowObject,
  SfEventFlowType,
} from './types.js';

export interface SfRecordView {
  readonly type: SfEventFlowType;
  readonly obj: SfEventFlowObject;
  readonly index: number;
  readonly header: SFHeader | null;
  readonly proc: Process | null;
  readonly pproc: Process | null;
  readonly file: File | null;
  readonly newFile: File | null;
  readonly container: Container | null;
  readonly pod: Pod | null;
  ancestors(): readonly Process[];
}
