// Minimal JSON writer that keeps int64 values exact (timestamps are bigint nanoseconds, which
// JSON.stringify refuses and Number would round).
export type JsonValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue | undefined };

export function toJson(v: JsonValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (Array.isArray(v)) return `[${(v as readonly JsonValue[]).map(toJson).join(',')}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as { readonly [k: string]: JsonValue | undefined })) {
    if (x === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
  }
  return `{${parts.join(',')}}`;
}
