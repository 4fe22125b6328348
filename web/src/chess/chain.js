// The chain as the page sees it through the bridge's /node proxy: the
// arbiter's events (the lobby), game() reads, transactions and receipts.
import { toQty, hexToBytes, bytesToHex } from '../lib/hex.js';
import { arbiterCalls, decodeGame, topics, decodeEnded, words, membershipCalls } from '../lib/abi.js';

export const MEMBERSHIP = '0x0000000000000000000000000000000000001001';
const LOBBY_BLOCKS = 9000; // the node serves at most 10,000 blocks of logs a query

const addrTopic = (t) => bytesToHex(hexToBytes(t).slice(12));

export class Chain {
  constructor(cfg, node) {
    this.cfg = cfg;
    this.node = node;
    this.head = 0;
    this.games = new Map();
    this.from = null;
    this.senders = new Map();
  }

  async blockNumber() {
    this.head = Number(BigInt(await this.node('eth_blockNumber')));
    return this.head;
  }

  // scan reads the arbiter's events since the last scan (the last
  // LOBBY_BLOCKS blocks on the first) into games.
  async scan() {
    const from = this.from ?? Math.max(0, this.head - LOBBY_BLOCKS);
    if (from > this.head) return false;
    const logs = await this.node('eth_getLogs', {
      address: this.cfg.arbiter, fromBlock: toQty(from), toBlock: toQty(this.head),
      topics: [[topics.GameOpened, topics.GameJoined, topics.GameClaimed, topics.ClaimAnswered, topics.GameEnded]],
    });
    this.from = this.head + 1;
    for (const l of logs) this.apply(l);
    return logs.length > 0;
  }

  apply(l) {
    const id = l.topics[1];
    const ev = { block: Number(BigInt(l.blockNumber)), tx: l.transactionHash, index: Number(BigInt(l.logIndex)) };
    let g = this.games.get(id);
    switch (l.topics[0]) {
      case topics.GameOpened: {
        const [stake, moveTimeout] = words(l.data);
        g = { id, white: addrTopic(l.topics[2]), black: addrTopic(l.topics[3]), stake, moveTimeout: Number(moveTimeout), status: 1, result: 0, events: [] };
        this.games.set(id, g);
        ev.kind = 'opened';
        break;
      }
      case topics.GameJoined:
        ev.kind = 'joined';
        if (g) g.status = 2;
        break;
      case topics.GameClaimed: {
        const [kind, ply, deadline] = words(l.data);
        ev.kind = 'claimed';
        Object.assign(ev, { claimant: addrTopic(l.topics[2]), claimKind: Number(kind), ply: Number(ply), deadline: Number(deadline) });
        if (g) g.status = 3;
        break;
      }
      case topics.ClaimAnswered:
        ev.kind = 'answered';
        ev.ply = Number(words(l.data)[0]);
        if (g) g.status = 2;
        break;
      case topics.GameEnded: {
        const { result, reason } = decodeEnded(l.data);
        ev.kind = reason === 'stale claim refuted' ? 'refuted' : 'ended';
        Object.assign(ev, { result, reason });
        if (g) {
          g.status = reason === 'cancelled' ? 5 : 4;
          g.result = result;
          g.reason = reason;
        }
        break;
      }
      default:
        return;
    }
    if (g && !g.events.some((e) => e.tx === ev.tx && e.index === ev.index)) g.events.push(ev);
  }

  async game(id) {
    return decodeGame(await this.node('eth_call', { to: this.cfg.arbiter, data: arbiterCalls.game(id) }, 'latest'));
  }

  async allowed(addr) {
    const out = await this.node('eth_call', { to: MEMBERSHIP, data: membershipCalls.isAllowed(addr) }, 'latest');
    return BigInt(out) === 1n;
  }

  async balance(addr) {
    return BigInt(await this.node('eth_getBalance', addr, 'latest'));
  }

  // sender returns who sent a transaction (cached).
  async sender(tx) {
    if (!this.senders.has(tx)) {
      const t = await this.node('eth_getTransactionByHash', tx);
      this.senders.set(tx, t ? t.from.toLowerCase() : null);
    }
    return this.senders.get(tx);
  }

  // receipt waits for a transaction's receipt.
  async receipt(tx) {
    for (;;) {
      const r = await this.node('eth_getTransactionReceipt', tx);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  // revertReason replays a call to read why it failed.
  async revertReason(from, to, data, value) {
    try {
      await this.node('eth_call', { from, to, data, value: toQty(value || 0), gas: toQty(2_000_000) }, 'latest');
      return 'reverted';
    } catch (e) {
      return e.message;
    }
  }
}
