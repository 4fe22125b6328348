// Legacy (EIP-155) transactions signed with a key held in the page.
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, hexToBytes, concat, keccak } from './hex.js';

function intBytes(v) {
  let x = BigInt(v);
  const out = [];
  while (x > 0n) {
    out.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return new Uint8Array(out);
}

function rlpLength(len, offset) {
  if (len < 56) return new Uint8Array([offset + len]);
  const l = intBytes(len);
  return concat(new Uint8Array([offset + 55 + l.length]), l);
}

// rlp encodes Uint8Arrays and arrays of them.
export function rlp(item) {
  if (Array.isArray(item)) {
    const body = concat(...item.map(rlp));
    return concat(rlpLength(body.length, 0xc0), body);
  }
  if (item.length === 1 && item[0] < 0x80) return item;
  return concat(rlpLength(item.length, 0x80), item);
}

// signLegacyTx returns the raw signed transaction for eth_sendRawTransaction.
export function signLegacyTx({ nonce, gasPrice, gas, to, value, data, chainId }, priv) {
  const fields = [intBytes(nonce), intBytes(gasPrice), intBytes(gas), hexToBytes(to), intBytes(value || 0), hexToBytes(data || '0x')];
  const hash = keccak(rlp([...fields, intBytes(chainId), new Uint8Array(), new Uint8Array()]));
  const sig = secp256k1.sign(hash, priv, { lowS: true });
  const v = BigInt(chainId) * 2n + 35n + BigInt(sig.recovery);
  return bytesToHex(rlp([...fields, intBytes(v), intBytes(sig.r), intBytes(sig.s)]));
}
