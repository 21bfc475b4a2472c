// Rule priorities. SysFlow accepts low/medium/high and Falco's eight syslog names. We keep the
// name as written (normalised), sf-processor's numeric level for its JSON export, and a Falco
// name for Falco-shaped alerts.

export type PriorityName =
  | 'low' | 'medium' | 'high'
  | 'emergency' | 'alert' | 'critical' | 'error' | 'warning' | 'notice' | 'informational' | 'debug';

export interface Priority {
  readonly name: PriorityName;
  /** sf-processor policy.Priority: Low 1, Medium 2, High 3 (exported as `priority`). */
  readonly level: 1 | 2 | 3;
  /** Falco's name for JSON alerts. */
  readonly falco: 'Emergency' | 'Alert' | 'Critical' | 'Error' | 'Warning' | 'Notice' | 'Informational' | 'Debug';
}

const TABLE: Record<string, Priority> = {
  low: { name: 'low', level: 1, falco: 'Notice' },
  medium: { name: 'medium', level: 2, falco: 'Warning' },
  high: { name: 'high', level: 3, falco: 'Error' },
  debug: { name: 'debug', level: 1, falco: 'Debug' },
  informational: { name: 'informational', level: 1, falco: 'Informational' },
  notice: { name: 'notice', level: 1, falco: 'Notice' },
  warning: { name: 'warning', level: 2, falco: 'Warning' },
  error: { name: 'error', level: 3, falco: 'Error' },
  critical: { name: 'critical', level: 3, falco: 'Critical' },
  // sf-processor forgets `alert` (it becomes Low with a warning); it is a syslog severity above
  // critical, so we map it to High.
  alert: { name: 'alert', level: 3, falco: 'Alert' },
  emergency: { name: 'emergency', level: 3, falco: 'Emergency' },
};
TABLE['info'] = TABLE['informational']!;

export const DEFAULT_PRIORITY: Priority = TABLE['low']!;

/** Case-insensitive lookup; undefined for an unknown name. */
export function parsePriority(text: string): Priority | undefined {
  return TABLE[text.trim().toLowerCase()];
}

export const PRIORITY_NAMES: readonly string[] = Object.keys(TABLE);
