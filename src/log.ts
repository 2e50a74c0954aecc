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

/** The longest text from a peer a log line quotes, in characters. */
const MAX_QUOTED = 200;

/**
 * Text from a remote party made safe to quote in one log line: control
 * characters (a newline would forge a second line) shown as `\uXXXX`, and
 * cut to a bounded length.
 */
export function sanitize(text: string): string {
  const cut = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Reports a burst of alike events as few log entries: the first hit is
 * reported at once, the hits that follow within `intervalMs` are counted and
 * reported as one sum when the interval ends. For faults an attacker can
 * repeat by the thousand (refused sockets), so the log is not the attack's
 * amplifier.
 */
export class RateLimitedReport {
  #last = -Infinity;
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * @param intervalMs - at most one report per this many ms
   * @param report - called with how many hits it covers
   */
  constructor(
    private readonly intervalMs: number,
    private readonly report: (count: number) => void,
  ) {}

  hit(): void {
    if (this.#closed) return;
    const now = Date.now();
    if (this.#timer === undefined && now - this.#last >= this.intervalMs) {
      this.#last = now;
      this.report(1);
      return;
    }
    this.#count++;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), Math.max(0, this.intervalMs - (now - this.#last)));
      this.#timer.unref();
    }
  }

  #flush(): void {
    this.#timer = undefined;
    this.#last = Date.now();
    const count = this.#count;
    this.#count = 0;
    if (count > 0 && !this.#closed) this.report(count);
  }

  /** Reports what is still counted, then stops. */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#flush();
    this.#closed = true;
  }
}
