import type * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { decodeFrame } from './protocol/frames.js';
import { reportErrors } from './protocol/report.js';

/**
 * An application message received from a peer (the seed's Packet).
 *
 * `dataMessage` is the message as JSON text and `dataType` its JSON kind
 * (`string`, `number`, `boolean`, `null`, `array`, `object`); both are
 * computed on first use, so a receiver that only calls `message()` pays for
 * neither.
 */
export class Packet {
  #json: string | undefined;

  /**
   * @param name - the sending node
   * @param time - when the sender sent it (its scheduler's clock)
   * @param data - the parsed JSON value
   */
  constructor(
    readonly name: string,
    readonly time: Date,
    private readonly data: unknown,
  ) {}

  /** The JSON kind of the message, or `binary` for bytes. */
  get dataType(): string {
    const d = this.data;
    if (Buffer.isBuffer(d)) return 'binary';
    if (d === null) return 'null';
    if (Array.isArray(d)) return 'array';
    return typeof d;
  }

  /** The message as JSON text (bytes as a base64 JSON string). */
  get dataMessage(): string {
    this.#json ??= JSON.stringify(Buffer.isBuffer(this.data) ? this.data.toString('base64') : this.data);
    return this.#json;
  }

  /** Whether the message travelled as bytes (sent as a Uint8Array or Buffer). */
  get binary(): boolean {
    return Buffer.isBuffer(this.data);
  }

  /**
   * The message as bytes: the bytes themselves for a binary message (no
   * copy, no base64), the UTF-8 of its JSON text otherwise.
   */
  bytes(): Buffer {
    return Buffer.isBuffer(this.data) ? this.data : Buffer.from(this.dataMessage);
  }

  /**
   * The message, parsed; with a codec, decoded and typed.
   *
   * @param codec - an io-ts decoder for the expected type
   * @returns the message
   * @throws Error naming the sender, the codec once, and each field that did not
   *   match with the kind of value found (`packet from node2 does not match Order:
   *   id: expected number, got string`); never the value itself
   * @example
   * const Order = t.type({ id: t.number });
   * fromCluster$.subscribe((p) => console.log(p.message(Order).id));
   */
  message(): unknown;
  message<A>(codec: t.Decoder<unknown, A>): A;
  message<A>(codec?: t.Decoder<unknown, A>): unknown {
    if (codec === undefined) return this.data;
    if (Buffer.isBuffer(this.data)) throw new Error(`packet from ${this.name} is binary: read it with bytes()`);
    const result = codec.decode(this.data);
    if (isLeft(result)) {
      throw new Error(`packet from ${this.name} does not match ${codec.name}: ${reportErrors(result.left, { relative: true }).join('; ')}`);
    }
    return result.right;
  }

  /** A JSON form with the seed's field names. */
  toJSON(): { name: string; datatype: string; datamessage: string; time: string } {
    return { name: this.name, datatype: this.dataType, datamessage: this.dataMessage, time: this.time.toISOString() };
  }
}

/**
 * Unpacks a message frame as it travels between nodes (the seed's UnpackPacket).
 *
 * @param bytes - one frame, as text or bytes
 * @returns the packet
 * @throws Error saying what was wrong with the frame
 */
export function unpackPacket(bytes: string | Uint8Array): Packet {
  const raw = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frame = decodeFrame(raw);
  if (isLeft(frame)) throw new Error(`not a packet: ${frame.left}`);
  if (frame.right.type !== 'msg') throw new Error(`not a packet: a ${frame.right.type} frame`);
  return new Packet(frame.right.from, new Date(frame.right.time), frame.right.data);
}

/** A channel message, decoded with the channel's codec. */
export class TypedPacket<T> extends Packet {
  /**
   * @param channel - the channel's name
   * @param value - the message, decoded
   */
  constructor(
    name: string,
    time: Date,
    data: unknown,
    readonly channel: string,
    readonly value: T,
  ) {
    super(name, time, data);
  }
}

/** A request from a peer: answer it once with `reply(message)`. */
export class IncomingRequest extends Packet {
  #replied = false;

  constructor(
    name: string,
    time: Date,
    data: unknown,
    private readonly answer: (message: unknown) => boolean,
    private readonly refuse: (why: string) => void,
  ) {
    super(name, time, data);
  }

  /** Whether reply() was called. */
  get replied(): boolean {
    return this.#replied;
  }

  /**
   * Sends the reply (any JSON value, or bytes) to the requester. A second
   * reply is refused and logged (RXC_ERR_REPLY), never sent.
   *
   * @returns whether the reply was sent (false: replied before, requester gone, or no JSON form)
   */
  reply(message: unknown): boolean {
    if (this.#replied) {
      this.refuse(`request from ${this.name} was already answered; second reply refused`);
      return false;
    }
    this.#replied = true;
    return this.answer(message);
  }
}
