import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLOSE_REASON_BYTES, FRAME_MAC_BYTES, FRAME_MAC_CHARS, frameAuth } from '../../src/protocol/frameAuth.js';
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { transcriptHmac, type HandshakeTranscript } from '../../src/protocol/handshake.js';

const KEY = Buffer.alloc(32, 7);
const T: HandshakeTranscript = { dialer: 'a', acceptor: 'b', dialerNonce: '11'.repeat(32), acceptorNonce: '22'.repeat(32) };

/** The two ends of one connection. */
function ends(transcript = T, key = KEY): { dialer: ReturnType<typeof frameAuth>; acceptor: ReturnType<typeof frameAuth> } {
  return { dialer: frameAuth(key, transcript, 'dialer'), acceptor: frameAuth(key, transcript, 'acceptor') };
}

describe('frameAuth', () => {
  it('should open what the other end sealed, text and binary, in order, each way', () => {
    const { dialer, acceptor } = ends();
    const text = dialer.seal('{"type":"ping","id":1}', false);
    assert.equal(typeof text, 'string');
    assert.equal((text as string).length, FRAME_MAC_CHARS + 22);
    assert.equal(acceptor.open(text), '{"type":"ping","id":1}');
    const bytes = dialer.seal(Buffer.from([1, 2, 3]), true);
    assert.ok(Buffer.isBuffer(bytes) && bytes.length === FRAME_MAC_BYTES + 3);
    assert.deepEqual(acceptor.open(bytes), Buffer.from([1, 2, 3]));
    // a text frame handed over as a Buffer (the outbox's encoded frames) opens as the text it carries
    const sealedBuffer = acceptor.seal(Buffer.from('{"type":"pong","id":1}'), false) as Buffer;
    assert.equal(dialer.open(sealedBuffer.toString('utf8')), '{"type":"pong","id":1}');
  });

  it('should open a text frame received as its bytes (openText) as it opens the string, short, long and non-ASCII, and refuse it altered, replayed or with another MAC', () => {
    for (const text of ['{"type":"pong","id":1}', `{"data":"${'é✓🛰'.repeat(40)}"}`, `{"data":"${'x'.repeat(2000)}"}`, `{"data":"${'y'.repeat(9000)}"}`]) {
      const { dialer, acceptor } = ends();
      const sealed = dialer.seal(Buffer.from(text), false) as Buffer;
      assert.ok(Buffer.isBuffer(sealed), 'a Buffer in, one Buffer out');
      assert.equal(sealed.toString('latin1', 0, FRAME_MAC_CHARS), (ends().dialer.seal(text, false) as string).slice(0, FRAME_MAC_CHARS), 'the same MAC as the string form');
      assert.equal(acceptor.openText(sealed), text);
      assert.equal(acceptor.openText(sealed), undefined, 'replayed');
      const second = dialer.seal(Buffer.from(text), false) as Buffer;
      const altered = Buffer.from(second);
      altered[altered.length - 2] = (altered[altered.length - 2] as number) ^ 1;
      assert.equal(ends().acceptor.openText(dialer.seal(Buffer.from(text), false) as Buffer), undefined, 'out of order (a third frame first)');
      assert.equal(acceptor.openText(altered), undefined, 'altered payload');
      const remac = Buffer.from(second);
      remac[0] = remac[0] === 0x41 ? 0x42 : 0x41;
      assert.equal(acceptor.openText(remac), undefined, 'another MAC character');
      assert.equal(acceptor.openText(Buffer.from('short')), undefined, 'shorter than a MAC');
    }
  });

  it('should refuse an altered frame, a replayed one, one out of order, and one sealed for the other direction', () => {
    const { dialer, acceptor } = ends();
    const first = dialer.seal('{"n":1}', false) as string;
    const second = dialer.seal('{"n":2}', false) as string;
    assert.equal(ends().acceptor.open(first.slice(0, -2) + '9}'), undefined, 'altered');
    assert.equal(ends().acceptor.open(second), undefined, 'out of order: the second frame first');
    assert.equal(acceptor.open(first), '{"n":1}');
    assert.equal(acceptor.open(first), undefined, 'replayed');
    assert.equal(dialer.open(dialer.seal('{"n":3}', false)), undefined, 'its own frame reflected back');
    assert.equal(acceptor.open('{"type":"msg"}'), undefined, 'no MAC at all');
  });

  it('should seal and check a long frame (past the one-call buffer) the same way: opened in order, refused altered', () => {
    const { dialer, acceptor } = ends();
    const long = Buffer.alloc(64 * 1024, 0x61);
    const sealed = dialer.seal(long, true) as Buffer;
    const copy = Buffer.from(sealed);
    copy[copy.length - 1] = 0x62;
    assert.equal(ends().acceptor.open(copy), undefined, 'altered in its last byte');
    assert.deepEqual(acceptor.open(sealed), long);
    const text = 'x'.repeat(5000);
    const sealedText = dialer.seal(text, false) as string;
    assert.equal(ends().acceptor.open(sealedText), undefined, 'a long text frame out of order');
    const alteredText = ends();
    alteredText.acceptor.open(alteredText.dialer.seal(long, true));
    assert.equal(alteredText.acceptor.open(alteredText.dialer.seal(text, false).slice(0, -1) + 'y'), undefined, 'a long text frame altered in its last character');
    assert.equal(acceptor.open(sealedText), text, 'a long text frame, next in order');
    const mid = Buffer.alloc(2000, 0x63);
    assert.deepEqual(acceptor.open(dialer.seal(mid, true)), mid, 'a frame between 984 and 4096 bytes');
  });

  it('should take a close whose reason carries the MAC of its cause and text, next in order, and no other', () => {
    const { dialer, acceptor } = ends();
    const frame = dialer.seal('{"n":1}', false);
    const close = dialer.sealClose('duplicate', 'duplicate connection');
    assert.ok(close.length <= 123, 'fits a ws close reason');
    assert.equal(ends().acceptor.openClose('duplicate', close), undefined, 'out of order (the frame before it not taken)');
    assert.equal(acceptor.open(frame), '{"n":1}');
    assert.equal(ends().acceptor.openClose('shutdown', close), undefined, 'another cause');
    assert.equal(acceptor.openClose('shutdown', close), undefined, 'another cause, in order');
    assert.equal(acceptor.openClose('duplicate', close), 'duplicate connection');
    assert.equal(ends().acceptor.openClose('shutdown', 'bye'), undefined, 'no MAC at all');
  });

  it('should seal a close reason that fits a ws close frame whole, so a long or non-ASCII text still opens', () => {
    for (const text of ['é'.repeat(100), 'x'.repeat(150), `${'a'.repeat(100)}€`]) {
      const { dialer, acceptor } = ends();
      const close = dialer.sealClose('protocol', text);
      assert.ok(Buffer.byteLength(close) <= CLOSE_REASON_BYTES, `${Buffer.byteLength(close)} bytes fit a ws close reason`);
      // what ws would put on the wire: the reason cut to its 123 bytes (here a no-op)
      const onWire = Buffer.from(close).subarray(0, CLOSE_REASON_BYTES).toString();
      const opened = acceptor.openClose('protocol', onWire);
      assert.ok(opened !== undefined, `the sealed reason opens: ${text.slice(0, 12)}…`);
      assert.ok(text.startsWith(opened), 'a prefix of the text');
      assert.equal(Buffer.byteLength(opened), Buffer.byteLength(onWire) - FRAME_MAC_CHARS, 'cut at a character, nothing lost beside the MAC');
      assert.ok(Buffer.byteLength(opened) > CLOSE_REASON_BYTES - FRAME_MAC_CHARS - 4, 'as much of the text as fits');
    }
  });

  it('should put on the wire the digest the module doc gives: 22 base64url characters of SHA-512/256(K_role | count | payload) before text, its first 16 bytes before binary, HMAC-SHA256 past 984 bytes', () => {
    const kDialer = transcriptHmac(KEY, 'frames from dialer', T);
    const count = (n: number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(n, 4);
      return b;
    };
    const { dialer } = ends();
    const text = '{"type":"ping","id":1}';
    const first = createHash('sha512-256').update(kDialer).update(count(0)).update(text).digest('base64url').slice(0, 22);
    assert.equal(dialer.seal(text, false), first + text);
    const bytes = Buffer.from([9, 8, 7]);
    const second = createHash('sha512-256').update(kDialer).update(count(1)).update(bytes).digest().subarray(0, 16);
    assert.deepEqual(dialer.seal(bytes, true), Buffer.concat([second, bytes]));
    const long = 'x'.repeat(985);
    const third = createHmac('sha256', kDialer).update(count(2)).update(long).digest('base64url').slice(0, 22);
    assert.equal(dialer.seal(long, false), third + long);
    const close = createHash('sha512-256').update(kDialer).update(count(3)).update('close shutdown bye').digest('base64url').slice(0, 22);
    assert.equal(dialer.sealClose('shutdown', 'bye'), close + 'bye');
    // past 4096 bytes: the Poly1305 tag of ChaCha20-Poly1305 under HMAC-SHA256(K_role, "chacha20-poly1305"), nonce 0^4 | count, the payload as associated data
    const aeadKey = createHmac('sha256', kDialer).update('chacha20-poly1305').digest();
    const tag = (n: number, payload: Buffer): Buffer => {
      const cipher = createCipheriv('chacha20-poly1305', aeadKey, Buffer.concat([Buffer.alloc(4), count(n)]), { authTagLength: 16 });
      cipher.setAAD(payload, { plaintextLength: 0 });
      cipher.final();
      return cipher.getAuthTag();
    };
    const big = Buffer.alloc(4097, 0x41);
    assert.deepEqual(dialer.seal(big, true), Buffer.concat([tag(4, big), big]));
    const bigText = 'y'.repeat(5000);
    assert.equal(dialer.seal(bigText, false), tag(5, Buffer.from(bigText)).toString('base64url') + bigText);
    const atLimit = 'z'.repeat(4096);
    assert.equal(dialer.seal(atLimit, false), createHmac('sha256', kDialer).update(count(6)).update(atLimit).digest('base64url').slice(0, 22) + atLimit, '4096 bytes still take HMAC-SHA256');
  });

  it('should refuse a MAC spelled otherwise in base64url (the same bytes, other characters)', () => {
    const sealed = ends().dialer.seal('{"n":1}', false) as string;
    // the 22nd character carries 2 bits of padding: another character there decodes to the same 16 bytes
    const last = sealed[21] as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = [...alphabet].find((c) => c !== last && Buffer.from(sealed.slice(0, 21) + c, 'base64url').equals(Buffer.from(sealed.slice(0, 22), 'base64url')));
    assert.ok(twin !== undefined, 'such a spelling exists');
    assert.equal(ends().acceptor.open(sealed.slice(0, 21) + twin + sealed.slice(22)), undefined);
    assert.equal(ends().acceptor.open(sealed), '{"n":1}');
  });

  it('should give another session other keys: another nonce or another secret does not open the frame', () => {
    const sealed = ends().dialer.seal('{"n":1}', false);
    assert.equal(ends({ ...T, acceptorNonce: '33'.repeat(32) }).acceptor.open(sealed), undefined, 'another session');
    assert.equal(ends(T, Buffer.alloc(32, 8)).acceptor.open(sealed), undefined, 'another secret');
    assert.equal(ends().acceptor.open(sealed), '{"n":1}', 'the same session opens it');
  });
});
