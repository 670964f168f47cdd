// Unpredictable names (temp files, ids) from the kernel's CSPRNG through WebCrypto's
// getRandomValues, a global in Node ≥ 19 and Bun. Not node:crypto: in Bun, loading that module
// pulls in the whole streams stack, about 6 ms of CPU, and every CLI verb writes state through a
// random temp name.

/** `bytes` random bytes as lowercase hex (2 × bytes characters). */
export function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  let out = '';
  for (const b of buf) out += b.toString(16).padStart(2, '0');
  return out;
}
