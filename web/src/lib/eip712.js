// EIP-712 hashing of the chess protocol's signed messages, exactly as
// offchain/channel computes them (eip712.go), and signing with a key held
// in the page.
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, hexToBytes, concat, utf8, keccak, word, pad32 } from './hex.js';

export const DOMAIN_NAME = 'Arbiter Chess';
export const DOMAIN_VERSION = '1';
export const ARBITER = '0x0000000000000000000000000000000000001003';
export const START_FEN = 'rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1';
export const ZERO_HASH = '0x' + '00'.repeat(32);

const domainTypeHash = keccak(utf8('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'));
const stateTypeHash = keccak(utf8('State(bytes32 gameId,uint32 ply,string fen,string move,bytes32 prevHash)'));
const outcomeTypeHash = keccak(utf8('Outcome(bytes32 gameId,uint8 result)'));

export function domainSeparator(chainId, contract = ARBITER) {
  return keccak(concat(domainTypeHash, keccak(utf8(DOMAIN_NAME)), keccak(utf8(DOMAIN_VERSION)), word(chainId), pad32(hexToBytes(contract))));
}

// stateHash is the struct hash of a state: what the next state's prevHash
// holds.
export function stateHash(s) {
  return bytesToHex(keccak(concat(stateTypeHash, hexToBytes(s.gameId), word(s.ply), keccak(utf8(s.fen)), keccak(utf8(s.move)), hexToBytes(s.prevHash))));
}

export function outcomeHash(o) {
  return bytesToHex(keccak(concat(outcomeTypeHash, hexToBytes(o.gameId), word(o.result))));
}

export function digest(chainId, structHash, contract = ARBITER) {
  return keccak(concat(new Uint8Array([0x19, 0x01]), domainSeparator(chainId, contract), hexToBytes(structHash)));
}

// typedState and typedOutcome are the eth_signTypedData_v4 payloads.
const domainFields = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];

function domain(chainId, contract) {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: Number(chainId), verifyingContract: contract };
}

export function typedState(chainId, s, contract = ARBITER) {
  return {
    types: {
      EIP712Domain: domainFields,
      State: [
        { name: 'gameId', type: 'bytes32' },
        { name: 'ply', type: 'uint32' },
        { name: 'fen', type: 'string' },
        { name: 'move', type: 'string' },
        { name: 'prevHash', type: 'bytes32' },
      ],
    },
    primaryType: 'State',
    domain: domain(chainId, contract),
    message: { gameId: s.gameId, ply: s.ply, fen: s.fen, move: s.move, prevHash: s.prevHash },
  };
}

export function typedOutcome(chainId, o, contract = ARBITER) {
  return {
    types: {
      EIP712Domain: domainFields,
      Outcome: [
        { name: 'gameId', type: 'bytes32' },
        { name: 'result', type: 'uint8' },
      ],
    },
    primaryType: 'Outcome',
    domain: domain(chainId, contract),
    message: { gameId: o.gameId, result: o.result },
  };
}

// signDigest signs a 32-byte hash with a private key: r || s || v, v 27 or
// 28, low s (what channel.RecoverState accepts).
export function signDigest(hash, priv) {
  const sig = secp256k1.sign(hash, priv, { lowS: true });
  return bytesToHex(concat(word(sig.r), word(sig.s), new Uint8Array([27 + sig.recovery])));
}

export function addressOf(priv) {
  const pub = secp256k1.getPublicKey(priv, false);
  return bytesToHex(keccak(pub.slice(1)).slice(12));
}

export function newPrivateKey() {
  return secp256k1.utils.randomPrivateKey();
}
