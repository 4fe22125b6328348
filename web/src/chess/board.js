// The board: 64 squares drawn from a chess.js position, with moves made by
// clicking a piece and then a square, or by dragging. Only the legal moves
// chess.js lists are offered.
const GLYPH = {
  wk: '♔', wq: '♕', wr: '♖', wb: '♗', wn: '♘', wp: '♙',
  bk: '♚', bq: '♛', br: '♜', bb: '♝', bn: '♞', bp: '♟',
};
const FILES = 'abcdefgh';

export class Board {
  // onMove(from, to, promotion) is called with a legal move; it decides
  // whether the move is played.
  constructor(el, onMove) {
    this.el = el;
    this.onMove = onMove;
    this.flipped = false;
    this.game = null;
    this.enabled = false;
    this.selected = null;
    this.lastMove = null;
    this.drag = null;
    el.addEventListener('click', (e) => this.click(e));
    el.addEventListener('pointerdown', (e) => this.pointerDown(e));
    window.addEventListener('pointermove', (e) => this.pointerMove(e));
    window.addEventListener('pointerup', (e) => this.pointerUp(e));
  }

  // set shows game (a chess.js Chess); moves are offered when enabled.
  // A selected piece stays selected across redraws of the same position
  // (the page redraws on every block).
  set(game, { enabled, flipped, lastMove }) {
    const fen = game ? game.fen() : null;
    const same = fen !== null && fen === this.fen;
    this.fen = fen;
    this.game = game;
    this.enabled = enabled;
    this.flipped = flipped;
    this.lastMove = lastMove || null;
    if (!same || !enabled || (this.selected && !this.mine(this.selected))) this.selected = null;
    this.render();
  }

  squares() {
    const out = [];
    for (let r = 0; r < 8; r++) {
      for (let f = 0; f < 8; f++) {
        const rank = this.flipped ? r + 1 : 8 - r;
        const file = this.flipped ? 7 - f : f;
        out.push(FILES[file] + rank);
      }
    }
    return out;
  }

  targets() {
    if (!this.selected || !this.game) return new Set();
    return new Set(this.game.moves({ square: this.selected, verbose: true }).map((m) => m.to));
  }

  render() {
    const targets = this.targets();
    const check = this.game && this.game.inCheck() ? this.kingSquare(this.game.turn()) : null;
    this.el.innerHTML = '';
    for (const sq of this.squares()) {
      const d = document.createElement('div');
      const dark = (FILES.indexOf(sq[0]) + Number(sq[1])) % 2 === 0;
      d.className = 'sq ' + (dark ? 'dark' : 'light');
      if (sq === this.selected) d.classList.add('sel');
      if (targets.has(sq)) d.classList.add('target');
      if (this.lastMove && (sq === this.lastMove.from || sq === this.lastMove.to)) d.classList.add('last');
      if (sq === check) d.classList.add('check');
      d.dataset.square = sq;
      const p = this.game && this.game.get(sq);
      if (p) {
        const s = document.createElement('span');
        s.className = 'pc ' + p.color;
        s.textContent = GLYPH[p.color + p.type];
        d.appendChild(s);
        d.dataset.piece = p.color + p.type;
      }
      this.el.appendChild(d);
    }
    const labels = this.el.parentElement.querySelectorAll('.coords');
    labels.forEach((l) => (l.dataset.flipped = this.flipped));
  }

  kingSquare(color) {
    for (const row of this.game.board()) for (const p of row) if (p && p.type === 'k' && p.color === color) return p.square;
    return null;
  }

  mine(sq) {
    const p = this.game && this.game.get(sq);
    return p && p.color === this.game.turn();
  }

  click(e) {
    if (this.dragged) {
      this.dragged = false;
      return;
    }
    const d = e.target.closest('[data-square]');
    if (!d || !this.enabled) return;
    this.choose(d.dataset.square);
  }

  choose(sq) {
    if (this.selected && this.targets().has(sq)) {
      const from = this.selected;
      this.selected = null;
      this.play(from, sq);
      return;
    }
    this.selected = this.mine(sq) ? sq : null;
    this.render();
  }

  play(from, to) {
    const legal = this.game.moves({ square: from, verbose: true }).filter((m) => m.to === to);
    if (!legal.length) return this.render();
    let promotion;
    if (legal.some((m) => m.promotion)) {
      const want = (document.getElementById('promotion') || {}).value || 'q';
      promotion = legal.some((m) => m.promotion === want) ? want : 'q';
    }
    this.onMove(from, to, promotion);
  }

  pointerDown(e) {
    const d = e.target.closest('[data-square]');
    if (!d || !this.enabled || !this.mine(d.dataset.square) || e.button !== 0) return;
    this.drag = { from: d.dataset.square, x: e.clientX, y: e.clientY, ghost: null };
  }

  pointerMove(e) {
    if (!this.drag) return;
    const dx = e.clientX - this.drag.x;
    const dy = e.clientY - this.drag.y;
    if (!this.drag.ghost && Math.hypot(dx, dy) > 6) {
      const src = this.el.querySelector(`[data-square="${this.drag.from}"] .pc`);
      if (!src) return;
      this.selected = this.drag.from;
      this.render();
      const g = document.createElement('span');
      g.className = 'pc ghost ' + this.game.get(this.drag.from).color;
      g.textContent = src.textContent;
      document.body.appendChild(g);
      this.drag.ghost = g;
    }
    if (this.drag.ghost) {
      this.drag.ghost.style.left = `${e.clientX}px`;
      this.drag.ghost.style.top = `${e.clientY}px`;
    }
  }

  pointerUp(e) {
    const drag = this.drag;
    this.drag = null;
    if (!drag || !drag.ghost) return;
    drag.ghost.remove();
    this.dragged = true;
    const el = document.elementFromPoint(e.clientX, e.clientY);
    const d = el && el.closest('[data-square]');
    this.selected = drag.from;
    if (d && this.targets().has(d.dataset.square)) {
      this.selected = null;
      this.play(drag.from, d.dataset.square);
    } else {
      this.render();
    }
  }
}
