// The live SysFlow output's process look-up (LiveProcessLookup) served from the enrichment:
// exe, args, cwd and tty from the process table, the Container from the container stage's
// caches. Nothing here reads /proc.
import type { LiveProcessLookup } from '../sysflow/live-mapper.js';
import type { ContainerStage } from './containers.js';
import type { ProcessTable } from './process-table.js';

export function sysflowProcessLookup(table: ProcessTable, containers?: ContainerStage): LiveProcessLookup {
  return (pid) => {
    const e = table.get(pid);
    if (!e || !e.exe) return undefined;
    const c = containers?.containerOf(e);
    return {
      exe: e.exe, args: e.argv.slice(1), cwd: e.cwd || undefined, tty: e.tty !== 0,
      // SysFlow (and sf-collector) use the 12-character id
      container: c && { id: c.shortId, name: c.name, image: c.image, imageId: c.imageId, runtime: c.runtime === 'podman' ? 'podman' : c.runtime, privileged: c.privileged },
    };
  };
}
