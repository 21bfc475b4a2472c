// Legend entries of the process monitor's records.
import type { LegendEntry } from './legend-socket.js';
export const PROCESS_LEGEND: LegendEntry[] = [];
