// Hex and byte helpers shared by the pages.
import { keccak_256 } from '@noble/hashes/sha3';

export function bytesToHex(b) {
  let s = '0x';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function hexToBytes(h) {
  if (typeof h !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(h)) throw new Error(`bad hex: ${h}`);
  const out = new Uint8Array((h.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 + 2 * i, 2), 16);
  return out;
}

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const utf8 = (s) => new TextEncoder().encode(s);
export const keccak = (b) => keccak_256(b);
export const keccakHex = (b) => bytesToHex(keccak_256(b));

// word encodes a non-negative integer (number or bigint) as 32 bytes.
export function word(v) {
  let x = BigInt(v);
  if (x < 0n) throw new Error('negative');
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0 && x > 0n; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

// pad32 left-pads bytes (an address or a hash) to 32 bytes.
export function pad32(b) {
  const out = new Uint8Array(32);
  out.set(b, 32 - b.length);
  return out;
}

// checksum returns the EIP-55 form of an address.
export function checksum(addr) {
  const a = addr.toLowerCase().replace(/^0x/, '');
  const h = bytesToHex(keccak_256(utf8(a))).slice(2);
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? a[i].toUpperCase() : a[i];
  return out;
}

export const short = (h) => (h ? `${h.slice(0, 8)}…${h.slice(-4)}` : '');

// Quantity helpers for JSON-RPC hex quantities.
export const toQty = (v) => '0x' + BigInt(v).toString(16);
export const fromQty = (q) => BigInt(q);

// formatEther renders wei as ether with up to 4 decimals.
export function formatEther(wei) {
  const w = BigInt(wei);
  const whole = w / 10n ** 18n;
  const frac = ((w % 10n ** 18n) * 10000n) / 10n ** 18n;
  return frac === 0n ? `${whole}` : `${whole}.${frac.toString().padStart(4, '0').replace(/0+$/, '')}`;
}

// parseEther turns a decimal ether string into wei.
export function parseEther(s) {
  const m = String(s).trim().match(/^(\d+)(?:\.(\d{1,18}))?$/);
  if (!m) throw new Error(`not an amount of ether: ${s}`);
  return BigInt(m[1]) * 10n ** 18n + BigInt((m[2] || '').padEnd(18, '0') || '0');
}
