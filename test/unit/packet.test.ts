import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import { Packet, unpackPacket } from '../../src/packet.js';
import { encodeMsg } from '../../src/protocol/frames.js';

const TIME = new Date(1_700_000_000_000);
const SECRET = `sk_live_${'Zq9x'.repeat(30)}`;

const Order = t.type({ id: t.number, item: t.string, tags: t.array(t.string) }, 'Order');

describe('Packet', () => {
  const kinds: readonly (readonly [label: string, data: unknown, dataType: string, dataMessage: string])[] = [
    ['null', null, 'null', 'null'],
    ['a number', 42.5, 'number', '42.5'],
    ['a string', 'hi "there"', 'string', '"hi \\"there\\""'],
    ['a boolean', false, 'boolean', 'false'],
    ['an array', [1, 'a'], 'array', '[1,"a"]'],
    ['an empty array', [], 'array', '[]'],
    ['an object', { a: { b: null } }, 'object', '{"a":{"b":null}}'],
  ];
  for (const [label, data, dataType, dataMessage] of kinds) {
    it(`should describe ${label}: dataType ${dataType}, dataMessage ${dataMessage}`, () => {
      const packet = new Packet('node2', TIME, data);
      assert.equal(packet.name, 'node2');
      assert.equal(packet.time, TIME);
      assert.equal(packet.dataType, dataType);
      assert.equal(packet.dataMessage, dataMessage);
      assert.equal(packet.dataMessage, dataMessage, 'same on a second read');
      assert.equal(packet.message(), data, 'message() returns the value itself');
    });
  }

  it('should decode and type the message with a codec', () => {
    const packet = new Packet('node2', TIME, { id: 7, item: 'tea', tags: ['hot'] });
    const order = packet.message(Order);
    assert.deepEqual(order, { id: 7, item: 'tea', tags: ['hot'] });
    assert.equal(order.id + 1, 8);
  });

  const failures: readonly (readonly [label: string, data: unknown, path: string])[] = [
    ['a field of the wrong type', { id: '7', item: 'tea', tags: [] }, 'does not match Order: id: expected number, got string'],
    ['a missing field', { id: 7, tags: [] }, 'does not match Order: item: expected string, got nothing'],
    ['a wrong array element', { id: 7, item: 'tea', tags: ['ok', 3] }, 'does not match Order: tags.1: expected string, got number'],
    ['null instead of an object', null, 'does not match Order: got null'],
    ['an array instead of an object', [7, 'tea'], 'does not match Order: got array'],
  ];
  for (const [label, data, path] of failures) {
    it(`should throw an Error naming the field for ${label}: ${path}`, () => {
      const packet = new Packet('node2', TIME, data);
      assert.throws(
        () => packet.message(Order),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.ok(error.message.includes(path), error.message);
          assert.equal(error.message.split('Order').length, 2, `the codec is named once: ${error.message}`);
          assert.ok(error.message.includes('node2'), `names the sender: ${error.message}`);
          return true;
        },
      );
    });
  }

  it('should report every wrong field', () => {
    const packet = new Packet('node2', TIME, { id: 'x', item: 1, tags: [] });
    assert.throws(() => packet.message(Order), /^Error: packet from node2 does not match Order: id: expected number, got string; item: expected string, got number$/);
  });

  const secretData: readonly (readonly [label: string, data: unknown])[] = [
    ['as the whole message', SECRET],
    ['as a field', { id: SECRET, item: 'x', tags: [] }],
    ['as an array element', { id: 1, item: 'x', tags: [1, SECRET] }],
  ];
  for (const [label, data] of secretData) {
    it(`should never echo the offending value ${label}`, () => {
      const packet = new Packet('node2', TIME, data);
      assert.throws(
        () => packet.message(Order),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.ok(!error.message.includes('sk_live'), error.message);
          assert.ok(!error.message.includes('Zq9x'), error.message);
          return true;
        },
      );
    });
  }

  it('should serialise with the seed field names', () => {
    const packet = new Packet('node2', TIME, { a: [1, 2] });
    const expected = { name: 'node2', datatype: 'object', datamessage: '{"a":[1,2]}', time: '2023-11-14T22:13:20.000Z' };
    assert.deepEqual(packet.toJSON(), expected);
    assert.deepEqual(JSON.parse(JSON.stringify(packet)), expected);
  });
});

describe('unpackPacket', () => {
  const frame = encodeMsg('node1', TIME.getTime(), { id: 7, item: 'tea', tags: [] });
  const bytes = new TextEncoder().encode(frame);
  const padded = Buffer.concat([Buffer.from('garbage{"type":"ping"}'), Buffer.from(bytes), Buffer.from('trailing junk')]);
  const inputs: readonly (readonly [label: string, input: string | Uint8Array])[] = [
    ['a string', frame],
    ['a Uint8Array', bytes],
    ['a Buffer', Buffer.from(frame)],
    ['a Uint8Array view into a larger buffer', new Uint8Array(padded.buffer, padded.byteOffset + 22, bytes.byteLength)],
    ['a Buffer slice', padded.subarray(22, 22 + bytes.byteLength)],
  ];
  for (const [label, input] of inputs) {
    it(`should unpack a msg frame from ${label}`, () => {
      const packet = unpackPacket(input);
      assert.ok(packet instanceof Packet);
      assert.equal(packet.name, 'node1');
      assert.equal(packet.time.getTime(), TIME.getTime());
      assert.equal(packet.dataType, 'object');
      assert.deepEqual(packet.message(Order), { id: 7, item: 'tea', tags: [] });
    });
  }

  it('should keep non-ASCII text intact from bytes', () => {
    const text = 'nöde 😀 \u2028';
    const packet = unpackPacket(new TextEncoder().encode(encodeMsg('nöde', 0, text)));
    assert.equal(packet.name, 'nöde');
    assert.equal(packet.message(), text);
  });

  const refused: readonly (readonly [label: string, input: string | Uint8Array, reason: RegExp])[] = [
    ['a ping frame', '{"type":"ping","id":1}', /^not a packet: a ping frame$/],
    ['a leave frame', '{"type":"leave"}', /^not a packet: a leave frame$/],
    ['a welcome frame as bytes', new TextEncoder().encode(`{"type":"welcome","proof":"${'a'.repeat(64)}","instance":"${'b'.repeat(64)}","incarnation":5,"meta":{}}`), /^not a packet: a welcome frame$/],
    ['garbage text', 'not json at all', /^not a packet: frame is not JSON/],
    ['garbage bytes', new Uint8Array([0, 159, 146, 150]), /^not a packet: frame is not JSON/],
    ['empty bytes', new Uint8Array(0), /^not a packet: frame is not JSON/],
    ['a JSON array', '[1,2]', /^not a packet: Frame: expected Frame$/],
    ['a msg frame without data', '{"type":"msg","from":"node1","time":1}', /^not a packet: MsgFrame\.data: expected a JSON value$/],
    ['a msg frame with a bad sender', '{"type":"msg","from":"","time":1,"data":1}', /^not a packet: MsgFrame\.from: expected NodeName$/],
    ['a msg frame with a time no Date can hold', '{"type":"msg","from":"node1","time":8640000000000001,"data":1}', /^not a packet: MsgFrame\.time: expected Millis$/],
  ];
  for (const [label, input, reason] of refused) {
    it(`should throw an Error for ${label}`, () => {
      assert.throws(
        () => unpackPacket(input),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, reason);
          return true;
        },
      );
    });
  }

  it('should give every packet it returns a valid time', () => {
    for (const time of [0, 1, 8.64e15]) {
      const packet = unpackPacket(encodeMsg('node1', time, null));
      assert.equal(packet.time.getTime(), time);
      assert.doesNotThrow(() => packet.toJSON());
    }
  });

  it('should never echo a secret sent as garbage', () => {
    assert.throws(
      () => unpackPacket(SECRET),
      (error: unknown) => error instanceof Error && !error.message.includes('sk_live') && !error.message.includes('Zq9x'),
    );
  });
});
