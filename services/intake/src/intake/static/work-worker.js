// The proof of work's search, off the page's thread: SHA-256 written out here, because asking
// Web Crypto for one digest at a time costs far more than the hash (about 60,000 a second
// against a few million), and because a page served over plain HTTP on a township's network
// has no Web Crypto at all. The blocks of "<challenge>:" before the nonce are hashed once.
"use strict";
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const W = new Int32Array(64);

function compress(state, bytes, offset) {
  for (let t = 0; t < 16; t += 1) {
    const i = offset + 4 * t;
    W[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
  }
  for (let t = 16; t < 64; t += 1) {
    const x = W[t - 15];
    const y = W[t - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let t = 0; t < 64; t += 1) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

// The digest of `prefix` followed by the decimal digits of each nonce from `start`, until its
// first `bits` bits are zero; the nonce found, or -1 after `count` tries.
function search(prefix, bits, start, count) {
  const whole = prefix.length - (prefix.length % 64); // blocks the nonce never touches
  const mid = Int32Array.from(IV);
  for (let offset = 0; offset < whole; offset += 64) compress(mid, prefix, offset);
  const tail = prefix.subarray(whole);
  const buffer = new Uint8Array(256);
  buffer.set(tail);
  const state = new Int32Array(8);
  const high = bits >= 32 ? 0 : (0xffffffff << (32 - bits)) | 0;
  for (let nonce = start; nonce < start + count; nonce += 1) {
    const digits = String(nonce);
    let length = tail.length;
    for (let i = 0; i < digits.length; i += 1) buffer[length++] = digits.charCodeAt(i);
    const total = ((length + 9 + 63) >> 6) << 6;
    buffer[length] = 0x80;
    buffer.fill(0, length + 1, total);
    const bitLength = (whole + length) * 8;
    buffer[total - 4] = bitLength >>> 24; buffer[total - 3] = bitLength >>> 16;
    buffer[total - 2] = bitLength >>> 8; buffer[total - 1] = bitLength;
    buffer[total - 8] = Math.floor(bitLength / 2 ** 32);
    state.set(mid);
    for (let offset = 0; offset < total; offset += 64) compress(state, buffer, offset);
    if (bits <= 32 ? (state[0] & high) === 0 : state[0] === 0 && (state[1] >>> (64 - bits)) === 0) {
      return nonce;
    }
  }
  return -1;
}

if (typeof self !== "undefined" && typeof self.postMessage === "function") {
  self.onmessage = (message) => {
    const { token, bits } = message.data;
    const prefix = new TextEncoder().encode(`${token}:`);
    for (let start = 0; ; start += 1 << 16) {
      const nonce = search(prefix, bits, start, 1 << 16);
      if (nonce >= 0) {
        self.postMessage({ proof: `${token}:${nonce}` });
        return;
      }
    }
  };
} else if (typeof module !== "undefined") {
  module.exports = { search };
}
