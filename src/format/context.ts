// What the kflowd formatters read besides the record: the facts enrichment stages attached to it
// (src/pipeline/stages/enrich.ts). Formatters never look anything up themselves; a fact that no
// stage attached prints as kflowd prints an unknown one (empty name, bare device number).

/** Host and clock facts, the same object for every record of a run (enricher "host"). */
export interface HostFacts {
  readonly hostName: string;
  readonly hostIP: string;
  readonly system: string;
  readonly kernel: string;
  readonly version: string;
  readonly token?: string;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME, from the sensor's hello */
  readonly bootToRealNs: bigint;
  /** CLOCK_BOOTTIME when monitoring started (InfoUptime is measured from it) */
  readonly startBootNs: bigint;
}

/** uid/gid names (enricher "users"): the process's, and for file records the inode owner's. */
export interface UserFacts {
  readonly user: string;
  readonly group: string;
  readonly fileUser?: string;
  readonly fileGroup?: string;
}

/** File records (enricher "mounts"): kflowd's device string, and the absolute directory when the
 * kernel's path was filesystem-relative (absent: the kernel's directory is absolute). */
export interface MountFacts {
  readonly dir?: string;
  readonly device: string;
}

/** Socket records (enricher "interfaces"): kflowd's "<ifindex>:<name>:<mac>" per direction. */
export interface InterfaceFacts {
  readonly tx: string;
  readonly rx: string;
}

/** The enrichment keys the kflowd formatters read (Envelope.enrich). */
export interface KflowdFacts {
  host: HostFacts;
  users?: UserFacts;
  mounts?: MountFacts;
  interfaces?: InterfaceFacts;
}

/** Host facts for records nobody enriched (tests, bare pipelines). */
export const UNKNOWN_HOST: HostFacts = {
  hostName: '', hostIP: '', system: 'Linux', kernel: '', version: '', bootToRealNs: 0n, startBootNs: 0n,
};
