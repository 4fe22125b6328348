// A small ABI encoder for the arbiter's and the membership contract's
// calls, and the decoder of the arbiter's game() view.
import { bytesToHex, hexToBytes, concat, utf8, keccak, word, pad32 } from './hex.js';

const STATE = ['bytes32', 'uint32', 'string', 'string', 'bytes32'];

function isDynamic(t) {
  return t === 'bytes' || t === 'string' || (Array.isArray(t) && t.some(isDynamic));
}

function encodeOne(t, v) {
  if (Array.isArray(t)) return encodeSeq(t, v);
  switch (t) {
    case 'address':
    case 'bytes32':
      return pad32(hexToBytes(v));
    case 'bool':
      return word(v ? 1 : 0);
    case 'bytes':
    case 'string': {
      const b = t === 'string' ? utf8(v) : hexToBytes(v);
      const padded = new Uint8Array(Math.ceil(b.length / 32) * 32);
      padded.set(b);
      return concat(word(b.length), padded);
    }
    default:
      if (/^uint\d+$/.test(t)) return word(v);
      throw new Error(`abi: type ${t}`);
  }
}

// encodeSeq is the head/tail encoding of a parameter list or tuple.
function encodeSeq(types, values) {
  const heads = [];
  const tails = [];
  let tailLen = 0;
  const headLen = types.length * 32;
  types.forEach((t, i) => {
    const enc = encodeOne(t, values[i]);
    if (isDynamic(t)) {
      heads.push(word(headLen + tailLen));
      tails.push(enc);
      tailLen += enc.length;
    } else {
      heads.push(enc);
    }
  });
  return concat(...heads, ...tails);
}

function typeString(t) {
  return Array.isArray(t) ? `(${t.map(typeString).join(',')})` : t;
}

// encodeCall returns the calldata of name(types...) with values.
export function encodeCall(name, types, values) {
  const sel = keccak(utf8(`${name}(${types.map(typeString).join(',')})`)).slice(0, 4);
  return bytesToHex(concat(sel, encodeSeq(types, values)));
}

const stateTuple = (s) => [s.gameId, s.ply, s.fen, s.move, s.prevHash];

// The arbiter's calls.
export const arbiterCalls = {
  open: (black, moveTimeout) => encodeCall('open', ['address', 'uint64'], [black, moveTimeout]),
  join: (id) => encodeCall('join', ['bytes32'], [id]),
  cancel: (id) => encodeCall('cancel', ['bytes32'], [id]),
  resign: (id) => encodeCall('resign', ['bytes32'], [id]),
  finalize: (id) => encodeCall('finalize', ['bytes32'], [id]),
  conclude: (id, result, whiteSig, blackSig) => encodeCall('conclude', ['bytes32', 'uint8', 'bytes', 'bytes'], [id, result, whiteSig, blackSig]),
  answer: (id, s, sig) => encodeCall('answer', ['bytes32', STATE, 'bytes'], [id, stateTuple(s), sig]),
  refute: (id, s, sig) => encodeCall('refute', ['bytes32', STATE, 'bytes'], [id, stateTuple(s), sig]),
  game: (id) => encodeCall('game', ['bytes32'], [id]),
};

export const membershipCalls = {
  isAllowed: (a) => encodeCall('isAllowed', ['address'], [a]),
};

// decodeGame decodes game()'s eight static words.
export function decodeGame(hex) {
  const b = hexToBytes(hex);
  const w = (i) => b.slice(32 * i, 32 * i + 32);
  const n = (i) => BigInt(bytesToHex(w(i)));
  return {
    white: bytesToHex(w(0).slice(12)),
    black: bytesToHex(w(1).slice(12)),
    stake: n(2),
    moveTimeout: Number(n(3)),
    status: Number(n(4)),
    result: Number(n(5)),
    claimPly: Number(n(6)),
    deadline: Number(n(7)),
  };
}

// Event topics of the arbiter.
export const topics = {
  GameOpened: bytesToHex(keccak(utf8('GameOpened(bytes32,address,address,uint256,uint64)'))),
  GameJoined: bytesToHex(keccak(utf8('GameJoined(bytes32)'))),
  GameClaimed: bytesToHex(keccak(utf8('GameClaimed(bytes32,address,uint8,uint32,uint64)'))),
  ClaimAnswered: bytesToHex(keccak(utf8('ClaimAnswered(bytes32,uint32)'))),
  GameEnded: bytesToHex(keccak(utf8('GameEnded(bytes32,uint8,string)'))),
};

// decodeEnded reads GameEnded's data: (uint8 result, string reason).
export function decodeEnded(data) {
  const b = hexToBytes(data);
  const result = Number(BigInt(bytesToHex(b.slice(0, 32))));
  const off = Number(BigInt(bytesToHex(b.slice(32, 64))));
  const len = Number(BigInt(bytesToHex(b.slice(off, off + 32))));
  const reason = new TextDecoder().decode(b.slice(off + 32, off + 32 + len));
  return { result, reason };
}

// words splits event data into 32-byte numbers.
export function words(data) {
  const b = hexToBytes(data);
  const out = [];
  for (let i = 0; i + 32 <= b.length; i += 32) out.push(BigInt(bytesToHex(b.slice(i, i + 32))));
  return out;
}
