// One game: the board, clocks, moves exchanged through the bridge, the
// actions the protocol allows now, the game's on-chain events, and the
// replay of a finished game.
import { Chess } from 'chess.js';
import { formatEther, short } from '../lib/hex.js';
import { arbiterCalls } from '../lib/abi.js';
import { START_FEN, ZERO_HASH, stateHash } from '../lib/eip712.js';
import { Board } from './board.js';
import { app, esc, STATUS } from './main.js';

const $ = (id) => document.getElementById(id);
const RESULT = ['', 'White wins', 'Black wins', 'Draw'];
const KIND = ['', 'checkmate', 'draw', 'timeout'];

export class GameView {
  constructor(app_, id) {
    this.id = id;
    this.states = []; // accepted signed states, index ply-1
    this.arrived = []; // head number when each state was seen
    this.chess = new Chess();
    this.info = null; // the arbiter's game()
    this.offers = [];
    this.replay = null; // ply shown in replay, null = live
    this.registered = false;
    this.unsub = null;
    this.saved = null; // a claim kept for later (dispute lab)
    this.busy = false;
    this.board = new Board($('board'), (f, t, p) => this.move(f, t, p).catch((e) => app.log(`move: ${e.message}`, 'bad')));
    $('game-id').textContent = id;
    document.body.dataset.game = id;
    this.bindReplay();
  }

  close() {
    if (this.unsub) this.unsub();
    delete document.body.dataset.game;
    delete document.body.dataset.ply;
  }

  get me() {
    return app.me.address;
  }

  side() {
    if (!this.info) return null;
    if (this.me === this.info.white) return 'w';
    if (this.me === this.info.black) return 'b';
    return null;
  }

  // refresh re-reads the chain's view of the game and, once it is active,
  // the bridge's; it runs on every new head.
  async refresh() {
    // The chain's view and the bridge's history are read at once: the
    // first board needs both.
    const [info] = await Promise.all([app.chain.game(this.id), this.registered ? null : this.register()]);
    this.info = info;
    if (window.arbiterTimes && !window.arbiterTimes.game) window.arbiterTimes.game = performance.now();
    if (this.registered) this.offers = await app.bridge.call('chess_outcomes', this.id).catch(() => this.offers);
    await this.render();
  }

  // register loads the game's history from the bridge, registering the
  // game there first if the bridge does not know it yet and the arbiter
  // reports it active, and then subscribes to its moves.
  async register() {
    const history = () => app.bridge.call('chess_history', this.id, this.states.length + 1);
    let page;
    try {
      page = await history();
    } catch (e) {
      if (e.code !== -32015) throw e;
      try {
        await app.bridge.call('chess_openGame', this.id);
      } catch (e2) {
        if (e2.code === -32016) return; // not active (yet): the join may still be on its way
        throw e2;
      }
      page = await history();
    }
    for (;;) {
      for (const s of page) this.accept(s);
      if (page.length < 512) break;
      page = await history();
    }
    this.registered = true;
    if (window.arbiterTimes && !window.arbiterTimes.history) window.arbiterTimes.history = performance.now();
    app.bridge
      .subscribe('chess', () => ['moves', this.id, this.states.length + 1], (s) => {
        if (this.accept(s)) this.render();
      })
      .then((unsub) => (this.unsub = unsub))
      .catch((e) => app.log(`subscribe: ${e.message}`, 'bad'));
  }

  // accept appends the next state if it continues the game and its move is
  // legal here (the bridge checked it already).
  accept(s) {
    if (s.gameId.toLowerCase() !== this.id || s.ply !== this.states.length + 1) return false;
    const from = s.move.slice(0, 2);
    const to = s.move.slice(2, 4);
    const promotion = s.move[4];
    try {
      this.chess.move({ from, to, promotion });
    } catch {
      app.log(`ply ${s.ply}: ${s.move} is not legal here`, 'bad');
      return false;
    }
    this.states.push(s);
    this.arrived.push(app.chain.head);
    return true;
  }

  prevState() {
    const n = this.states.length;
    return n === 0 ? { gameId: this.id, ply: 0, fen: START_FEN, move: '', prevHash: ZERO_HASH } : this.states[n - 1];
  }

  // move signs the next state and submits it to the bridge; as the answer
  // to a timeout claim on the previous ply it is also sent to the arbiter.
  async move(from, to, promotion) {
    if (this.busy) return;
    this.busy = true;
    try {
      const prev = this.prevState();
      const next = new Chess(this.chess.fen());
      next.move({ from, to, promotion });
      const s = { gameId: this.id, ply: prev.ply + 1, fen: next.fen(), move: from + to + (promotion || ''), prevHash: stateHash(prev) };
      s.signature = await app.me.signState(s);
      const answering = this.info.status === 3 && this.claim() && this.claim().claimKind === 3 && this.claim().claimant !== this.me;
      if (answering) {
        const r = await app.transact(`answer the timeout claim with ply ${s.ply} ${s.move}`, arbiterCalls.answer(this.id, s, s.signature));
        if (r.status !== '0x1') return;
      }
      await app.bridge.call('chess_submitMove', s);
      if (this.accept(s)) await this.render();
    } finally {
      this.busy = false;
    }
  }

  // claim returns the pending claim's event.
  claim() {
    const g = app.chain.games.get(this.id);
    if (!g || this.info.status !== 3) return null;
    return [...g.events].reverse().find((e) => e.kind === 'claimed') || null;
  }

  onBoard() {
    const c = this.chess;
    if (c.isCheckmate()) return { over: true, text: `Checkmate: ${c.turn() === 'w' ? 'black' : 'white'} wins on the board`, kind: 1 };
    if (c.isStalemate()) return { over: true, text: 'Stalemate', kind: 2 };
    if (c.isInsufficientMaterial()) return { over: true, text: 'Insufficient material', kind: 2 };
    if (c.isDrawByFiftyMoves()) return { over: false, text: 'Fifty-move rule: a draw may be claimed', kind: 2 };
    return { over: false, text: '' };
  }

  async render() {
    const info = this.info;
    if (!info) return;
    const side = this.side();
    const turn = this.chess.turn();
    const live = this.replay === null;
    const answering = info.status === 3 && this.claim() && this.claim().claimKind === 3 && this.claim().claimant !== this.me && this.claim().ply === this.states.length;
    const canMove = live && side === turn && !this.onBoard().over && this.registered && (info.status === 2 || answering);
    let shown = this.chess;
    let last = this.states.length ? this.states[this.states.length - 1].move : null;
    if (!live) {
      shown = new Chess();
      for (const s of this.states.slice(0, this.replay)) shown.move({ from: s.move.slice(0, 2), to: s.move.slice(2, 4), promotion: s.move[4] });
      last = this.replay ? this.states[this.replay - 1].move : null;
    }
    this.board.set(shown, { enabled: canMove, flipped: side === 'b', lastMove: last && { from: last.slice(0, 2), to: last.slice(2, 4) } });
    if (window.arbiterFirstBoard === undefined) window.arbiterFirstBoard = performance.now();
    document.body.dataset.ply = this.states.length;
    document.body.dataset.status = info.status;
    document.body.dataset.myturn = canMove;

    $('players').innerHTML = `<span class="w">♔ ${esc(app.name(info.white))}</span> vs <span class="b">♚ ${esc(app.name(info.black))}</span>
      · stake ${esc(formatEther(info.stake))} ether each · move timeout ${info.moveTimeout} blocks`;
    const board = this.onBoard();
    let status = `${STATUS[info.status]} · ply ${this.states.length}`;
    if (info.status === 2 || info.status === 3) status += ` · ${turn === 'w' ? 'white' : 'black'} to move${side === turn ? ' (you)' : ''}`;
    if (board.text) status += ` · ${board.text}`;
    $('status').textContent = status;
    const g = app.chain.games.get(this.id);
    const ended = info.status === 4 ? `${RESULT[info.result]}${g && g.reason ? ` (${g.reason})` : ''}` : info.status === 5 ? 'Cancelled: stake returned' : '';
    $('result').textContent = ended;
    $('result').hidden = !ended;
    this.clocks();
    this.moves();
    this.actions();
    await this.events();
    $('replay').hidden = info.status < 4 || !this.states.length;
    $('replay-pos').textContent = `ply ${this.replay ?? this.states.length} of ${this.states.length}`;
  }

  // clocks show, for the side to move, the blocks left before the other
  // side may claim a timeout (counted from when this page saw the last
  // move), and during a claim the blocks left in its window.
  clocks() {
    const info = this.info;
    const head = app.chain.head;
    const turn = this.chess.turn();
    const since = this.arrived.length ? this.arrived[this.arrived.length - 1] : this.loadedAt ?? (this.loadedAt = head);
    const left = Math.max(0, info.moveTimeout - (head - since));
    const bottom = this.side() === 'b' ? 'b' : 'w';
    for (const c of ['w', 'b']) {
      const el = $(c === bottom ? 'clock-bottom' : 'clock-top');
      let text = '';
      if (info.status === 2) text = c === turn ? (left > 0 ? `${left} blocks to move` : 'out of time: a timeout may be claimed') : 'waiting';
      if (info.status === 3) {
        const claim = this.claim();
        const window = Math.max(0, info.deadline - head);
        text = claim && (claim.claimant === info.white) === (c === 'w') ? `claimed ${KIND[claim.claimKind]}` : `${window} blocks left in the claim window`;
      }
      el.textContent = `${c === 'w' ? 'White' : 'Black'}: ${text}`;
      el.classList.toggle('low', info.status === 2 && c === turn && left <= 1);
    }
    this.timeLeft = left;
  }

  moves() {
    const hist = new Chess();
    const sans = this.states.map((s) => hist.move({ from: s.move.slice(0, 2), to: s.move.slice(2, 4), promotion: s.move[4] }).san);
    const pairs = [];
    for (let i = 0; i < sans.length; i += 2) {
      pairs.push(`<span class="mv" data-ply="${i + 1}">${i / 2 + 1}. ${esc(sans[i])} ${esc(sans[i + 1] || '')}</span>`);
    }
    $('moves').innerHTML = pairs.join('') || '<span class="muted">no moves yet</span>';
  }

  button(id, label, fn, title = '') {
    const b = document.createElement('button');
    b.id = id;
    b.textContent = label;
    b.title = title;
    b.onclick = async () => {
      b.disabled = true;
      try {
        await fn();
      } catch (e) {
        app.log(`${label}: ${e.message}`, 'bad');
      } finally {
        b.disabled = false;
        await this.refresh().catch(() => {});
      }
    };
    return b;
  }

  // actions lists what the protocol allows this player now.
  actions() {
    const el = $('actions');
    el.innerHTML = '';
    const info = this.info;
    const side = this.side();
    const add = (...args) => el.appendChild(this.button(...args));
    if (!side || !app.allowed) {
      el.textContent = side ? 'This account may not transact yet.' : 'You are watching this game.';
      return;
    }
    const id = this.id;
    const n = this.states.length;
    const lastMine = n > 0 && (n % 2 === 1) === (side === 'w');
    const board = this.onBoard();
    const opp = side === 'w' ? 2 : 1; // result code of the opponent winning
    const mine = side === 'w' ? 1 : 2;
    const theirOffer = this.offers.find((o) => o.signer.toLowerCase() !== this.me);
    const myOffer = this.offers.find((o) => o.signer.toLowerCase() === this.me);
    switch (info.status) {
      case 1:
        if (side === 'w') add('act-cancel', 'Cancel (refund my stake)', () => app.transact('cancel', arbiterCalls.cancel(id)));
        break;
      case 2:
      case 3: {
        if (theirOffer && (theirOffer.result === 3 || theirOffer.result === mine)) {
          const what = theirOffer.result === 3 ? 'Accept the draw' : 'Conclude: opponent signed defeat';
          add('act-accept', what, () => this.conclude(theirOffer));
        }
        if (board.over && board.kind === 1 && lastMine && info.status === 2) {
          add('act-claim-mate', 'Claim checkmate', () => this.claimKind(1));
        }
        if (board.over && board.kind === 1 && !lastMine && (!myOffer || myOffer.result !== opp)) {
          add('act-sign-defeat', 'Sign the result (I am mated)', () => this.offer(opp));
        }
        if (board.kind === 2 && lastMine && info.status === 2) add('act-claim-draw', 'Claim a draw by rule', () => this.claimKind(2));
        if (!board.over && info.status === 2) {
          if (!myOffer || myOffer.result !== 3) add('act-offer-draw', 'Offer a draw', () => this.offer(3));
          if (lastMine) {
            const b = this.button('act-claim-timeout', 'Claim timeout', () => this.claimKind(3), 'the opponent has a legal move and has not answered');
            b.disabled = this.timeLeft > 0;
            el.appendChild(b);
          }
        }
        if (info.status === 2) add('act-resign', 'Resign', () => app.transact('resign', arbiterCalls.resign(id)));
        if (info.status === 3) this.claimActions(add);
        this.lab(add, lastMine);
        break;
      }
      default:
        break;
    }
  }

  claimActions(add) {
    const info = this.info;
    const claim = this.claim();
    if (!claim) return;
    const head = app.chain.head;
    if (head > info.deadline) add('act-finalize', 'Finalize the claim', () => app.transact('finalize', arbiterCalls.finalize(this.id)));
    if (claim.claimant === this.me) return;
    // A state the claimant signed after the one the claim rests on
    // refutes it (the watchtower does the same).
    const claimantSide = claim.claimant === info.white ? 1 : 0;
    const newer = [...this.states].reverse().find((s) => s.ply % 2 === claimantSide && s.ply > claim.ply);
    if (newer && head <= info.deadline) {
      add('act-refute', `Refute with ply ${newer.ply}`, () => app.transact(`refute with ply ${newer.ply}`, arbiterCalls.refute(this.id, newer, newer.signature)));
    }
  }

  // lab is for trying disputes: keep a timeout claim built now and send it
  // later, after more moves, as a stale claim the watchtower refutes.
  lab(add, lastMine) {
    if (this.info.status !== 2) return;
    if (lastMine) {
      add('act-save-claim', 'Dispute lab: keep a timeout claim on this position', async () => {
        const c = await app.bridge.call('chess_buildClaim', this.id, 3, this.me);
        this.saved = { data: c.data, ply: this.states.length };
        app.log(`kept a timeout claim resting on ply ${this.saved.ply}; sending it after you move again makes it stale`);
      });
    }
    if (this.saved) {
      add('act-send-saved', `Dispute lab: send the kept claim (ply ${this.saved.ply})`, async () => {
        await app.transact(`stale timeout claim on ply ${this.saved.ply}`, this.saved.data);
        this.saved = null;
      });
    }
  }

  async claimKind(kind) {
    const c = await app.bridge.call('chess_buildClaim', this.id, kind, this.me);
    await app.transact(`claim ${KIND[kind]}`, c.data);
  }

  async offer(result) {
    const sig = await app.me.signOutcome({ gameId: this.id, result });
    await app.bridge.call('chess_offerOutcome', this.id, result, sig);
    app.log(`signed and offered: ${RESULT[result]}`, 'ok');
  }

  async conclude(theirs) {
    const sig = await app.me.signOutcome({ gameId: this.id, result: theirs.result });
    const [ws, bs] = this.side() === 'w' ? [sig, theirs.signature] : [theirs.signature, sig];
    await app.transact(`conclude: ${RESULT[theirs.result]}`, arbiterCalls.conclude(this.id, theirs.result, ws, bs));
  }

  // events lists the game's on-chain events with their transactions and
  // who sent them: a player, or someone else (the watchtower).
  async events() {
    const g = app.chain.games.get(this.id);
    if (!g) return;
    const info = this.info;
    const rows = [];
    for (const e of g.events) {
      const from = await app.chain.sender(e.tx).catch(() => null);
      const who = from === info.white ? 'white' : from === info.black ? 'black' : 'watchtower';
      let what = e.kind;
      if (e.kind === 'claimed') what = `${KIND[e.claimKind]} claim resting on ply ${e.ply}, window until block ${e.deadline}`;
      if (e.kind === 'answered') what = `claim answered with ply ${e.ply}`;
      if (e.kind === 'refuted') what = `stale claim refuted: ${RESULT[e.result].toLowerCase()}`;
      if (e.kind === 'ended') what = `ended: ${RESULT[e.result] || 'cancelled'} (${e.reason})`;
      rows.push(`<li data-kind="${e.kind}" data-by="${who}"><span class="blk">block ${e.block}</span> ${esc(what)} <span class="by">by ${who}${who === 'watchtower' ? ` ${esc(short(from || ''))}` : ''}</span>
        <a href="#" data-tx="${e.tx}">tx ${esc(short(e.tx))}</a></li>`);
    }
    $('events').innerHTML = rows.join('') || '<li class="none">no events yet</li>';
    for (const a of document.querySelectorAll('[data-tx]')) {
      a.onclick = async (ev) => {
        ev.preventDefault();
        const r = await app.node('eth_getTransactionReceipt', a.dataset.tx);
        $('tx-detail').textContent = JSON.stringify(r, null, 1);
        $('tx-detail').hidden = false;
      };
    }
  }

  bindReplay() {
    const set = (k) => {
      const n = this.states.length;
      this.replay = Math.max(0, Math.min(n, k));
      this.render();
    };
    $('rp-first').onclick = () => set(0);
    $('rp-prev').onclick = () => set((this.replay ?? this.states.length) - 1);
    $('rp-next').onclick = () => set((this.replay ?? this.states.length) + 1);
    $('rp-last').onclick = () => {
      this.replay = null;
      this.render();
    };
  }
}
