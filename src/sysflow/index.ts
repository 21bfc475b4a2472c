// Public surface of the SysFlow slice (see each module's header comment for details).
export * from './types.js';
export type { SfRecordView } from './view.js';
export { EntityTable, viewsOf } from './entities.js';
export type { MissingCounts } from './entities.js';
export { openSysFlow, readSysFlowFile, readSysFlowBuffer, readSysFlowFilePartial, SysFlowReadError } from './reader.js';
export type { SysFlowFileInfo, SysFlowFileReader } from './reader.js';
export { oidKey, oidEquals, computeFoid } from './oid.js';
export { ipIntToString, ipStringToInt } from './ip.js';
