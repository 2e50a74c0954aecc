/**
 * The ws transport's masking key, read off the wire: a raw TCP server on
 * 127.0.0.1 answers a manager's dial with a hand-written upgrade and reads
 * the first frame's bytes. By default the dialing side sends a zero key
 * (its frames go out as they are, as the accepting side's do); with
 * `wsTransport({ randomMask: true })` each frame has a random key, as
 * RFC 6455 asks of a client.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Manager, wsTransport } from '../src/index.js';
import { WS_SUBPROTOCOL } from '../src/limits.js';
import { within } from './support/raw.js';

const SECRET = 'a-cluster-secret-of-at-least-32-bytes';

interface FirstFrame {
  readonly masked: boolean;
  readonly key: Buffer;
  /** The payload as sent, before unmasking. */
  readonly wire: Buffer;
  /** The payload unmasked. */
  readonly payload: Buffer;
}

/** Accepts one upgrade like a ws server would and resolves with the first frame the client sends. */
async function firstFrameOf(transport: ReturnType<typeof wsTransport> | undefined): Promise<FirstFrame> {
  const sockets = new Set<Socket>();
  let resolveFrame!: (frame: FirstFrame) => void;
  const frame = new Promise<FirstFrame>((resolve) => (resolveFrame = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 4);
        const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${WS_SUBPROTOCOL}\r\n\r\n`);
        upgraded = true;
      }
      if (buffered.length < 2) return;
      const masked = ((buffered[1] as number) & 0x80) !== 0;
      let length = (buffered[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      const key = masked ? buffered.subarray(offset, offset + 4) : Buffer.alloc(0);
      offset += key.length;
      if (buffered.length < offset + length) return;
      const wire = Buffer.from(buffered.subarray(offset, offset + length));
      const payload = Buffer.from(wire.map((byte, i) => (masked ? byte ^ (key[i % 4] as number) : byte)));
      resolveFrame({ masked, key: Buffer.from(key), wire, payload });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const m = new Manager('dialer', SECRET, { api: { enabled: false }, ...(transport === undefined ? {} : { transport }) });
  try {
    await m.listen('127.0.0.1:0');
    m.addNode('fake', `127.0.0.1:${port}`);
    return await within(frame, 10_000, 'the first frame of the dial');
  } finally {
    await m.shutdown();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('ws masking key of the dialing side', () => {
  it('is zero by default: the mask bit is set, the key is 0, and the frame travels as it is', { timeout: 20_000 }, async () => {
    const frame = await firstFrameOf(undefined);
    assert.equal(frame.masked, true, 'a client frame has the MASK bit, as RFC 6455 requires');
    assert.deepEqual([...frame.key], [0, 0, 0, 0], 'the key is zero');
    assert.deepEqual(frame.wire, frame.payload, 'the bytes on the wire are the payload');
    assert.equal((JSON.parse(frame.wire.toString('utf8')) as { type?: unknown }).type, 'hello', 'the first frame is the hello, readable as sent');
  });

  it('is random with randomMask: true, and the frame unmasks to the same hello', { timeout: 20_000 }, async () => {
    const frame = await firstFrameOf(wsTransport({ randomMask: true }));
    assert.equal(frame.masked, true);
    assert.notDeepEqual([...frame.key], [0, 0, 0, 0], 'a random key (zero with probability 2^-32)');
    assert.notDeepEqual(frame.wire, frame.payload, 'the bytes on the wire are masked');
    assert.equal((JSON.parse(frame.payload.toString('utf8')) as { type?: unknown }).type, 'hello');
  });
});
