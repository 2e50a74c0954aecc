/** Severity of a log entry. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * One entry of `manager.log$`. `String(entry)` is a readable line:
 * `2026-11-25T10:00:00.000Z WARN [node2] wrong secret (RXC_ERR_AUTH)`.
 */
export class LogEntry {
  /**
   * @param time - when it happened, on the manager's scheduler clock
   * @param level - severity
   * @param message - what happened, in one sentence
   * @param node - the peer concerned, when there is one
   * @param code - a stable code (see the README's table), for faults
   */
  constructor(
    readonly time: Date,
    readonly level: LogLevel,
    readonly message: string,
    readonly node?: string,
    readonly code?: string,
  ) {}

  toString(): string {
    const node = this.node === undefined ? '' : ` [${this.node}]`;
    const code = this.code === undefined ? '' : ` (${this.code})`;
    return `${this.time.toISOString()} ${this.level.toUpperCase()}${node} ${this.message}${code}`;
  }
}
