// Public surface of the SysFlow slice (see each module's header comment for details).
export * from './types.js';
export type { SfRecordView } from './view.js';
export { EntityTable, viewsOf } from './entities.js';
export type { MissingCounts } from './entities.js';
export { openSysFlow, readSysFlowFile, readSysFlowBuffer, readSysFlowFilePartial, SysFlowReadError } from './reader.js';
export type { SysFlowFileInfo, SysFlowFileReader } from './reader.js';
export { oidKey, oidEquals, computeFoid } from './oid.js';
export { ipIntToString, ipStringToInt } from './ip.js';
export { encodeSfObject, decodeSfDatum, sysflowV5Type, SYSFLOW_V5_SCHEMA_JSON, SYSFLOW_LAYOUTS, layoutCodec } from './schema.js';
export type { SysFlowLayout, LayoutCodec } from './schema.js';
export { SysFlowOcfWriter, SysFlowFileWriter, writeSysFlowFile, encodeSysFlowTrace } from './ocf-writer.js';
export type { OcfWriterOptions } from './ocf-writer.js';
export { createSysFlowTraceSink } from './trace-sink.js';
export type { SysFlowTraceSink, SysFlowTraceSinkOptions, SysFlowTraceSinkStats } from './trace-sink.js';
export { SysFlowSocketOutput, MemoryTransport, SF_PROCESSOR_MAX_MESSAGE } from './socket-output.js';
export type { DatagramTransport, SocketOutputStats } from './socket-output.js';
export { SysFlowMapper } from './live-mapper.js';
export type {
  LiveProcessInfo,
  LiveContainerInfo,
  LiveLifecycleEvent,
  LiveThreadFlow,
  LiveFileRecord,
  LiveNetworkRecord,
  LiveFileOp,
  SysFlowMapperStats,
} from './live-mapper.js';
export { OP, OPEN, RESTYPE, opFlagNames, openFlagNames, opFlagsSysprint, linuxOpenFlagsToSysFlow } from './flags.js';
