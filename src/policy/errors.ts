// Diagnostics for policy files and filter expressions. Every problem carries file:line:col and
// the offending source text so `falconet rules check` can point at it precisely.

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly severity: Severity;
  readonly file: string;
  /** 1-based line and column of the first offending character. */
  readonly line: number;
  readonly col: number;
  readonly message: string;
  /** The offending source text (a token or a short excerpt). */
  readonly text: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const excerpt = d.text ? `: '${d.text.length > 80 ? d.text.slice(0, 77) + '...' : d.text}'` : '';
  return `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message}${excerpt}`;
}

/** Thrown when loading/compiling fails; holds every error found (and the warnings). */
export class PolicyError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const shown = errors.length > 0 ? errors : diagnostics;
    super(shown.map(formatDiagnostic).join('\n'));
    this.name = 'PolicyError';
    this.diagnostics = diagnostics;
  }
}

/** A source text with offset → line/col mapping (computed once per file). */
export class SourceText {
  readonly name: string;
  readonly text: string;
  private readonly lineStarts: number[];

  constructor(name: string, text: string) {
    this.name = name;
    this.text = text;
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  position(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo]! + 1 };
  }

  diagnostic(severity: Severity, offset: number, message: string, text: string): Diagnostic {
    const { line, col } = this.position(offset);
    return { severity, file: this.name, line, col, message, text };
  }
}

/** Collects diagnostics while loading; lets parsing continue after an error. */
export class DiagnosticSink {
  readonly list: Diagnostic[] = [];
  error(src: SourceText, offset: number, message: string, text: string): void {
    this.list.push(src.diagnostic('error', offset, message, text));
  }
  warn(src: SourceText, offset: number, message: string, text: string): void {
    this.list.push(src.diagnostic('warning', offset, message, text));
  }
  get hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }
}
