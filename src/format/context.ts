// What the formatters need besides the record: host facts, clocks and name lookups.
import type { HostInfo } from '../enrich/host.js';
import type { IdNames } from '../enrich/ids.js';
import type { Mounts } from '../enrich/mounts.js';

export interface FormatContext {
  host: HostInfo;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME, from the sensor's hello */
  bootToRealNs: bigint;
  /** CLOCK_BOOTTIME when monitoring started (InfoUptime is measured from it) */
  startBootNs: bigint;
  ids: IdNames;
  mounts: Mounts;
}
