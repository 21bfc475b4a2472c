// kflowd's device number form, shared by the mounts enricher and the formatters' fallback.

/** kflowd prints devices as GETDEV(dev) = major << 8 | minor, in hex with an 'h' suffix. */
export function kflowdDevHex(dev: number): string {
  const major = dev >>> 20;
  const minor = dev & 0xfffff;
  return `${((major << 8) | minor).toString(16)}h`;
}
