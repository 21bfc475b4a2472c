// Legend entries of the socket record: [key, description, subkeys].
export type LegendEntry = [key: string, description: string, subkeys?: [string, string][]];
export const SOCKET_LEGEND: LegendEntry[] = [];
