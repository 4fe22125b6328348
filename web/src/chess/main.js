// The chess page: identity, lobby and the game view. Served by
// arbiter bridge; talks to the bridge's chess_* JSON-RPC over its WebSocket
// and to the node through the bridge's /node proxy.
import { httpRPC, WSRPC, wsURL } from '../lib/rpc.js';
import { formatEther, parseEther, short, checksum } from '../lib/hex.js';
import { arbiterCalls } from '../lib/abi.js';
import { Chain } from './chain.js';
import { DevKey, Wallet } from './identity.js';
import { GameView } from './game.js';

const $ = (id) => document.getElementById(id);
export const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
export const STATUS = ['unknown', 'open', 'active', 'claimed', 'ended', 'cancelled'];

export const app = {
  cfg: null,
  node: null,
  bridge: null,
  chain: null,
  me: null,
  allowed: false,
  view: null,
  log(msg, kind = 'info') {
    const li = document.createElement('li');
    li.className = kind;
    li.textContent = `${new Date().toLocaleTimeString()}  ${msg}`;
    $('toasts').prepend(li);
    while ($('toasts').children.length > 8) $('toasts').lastChild.remove();
  },
  name(addr) {
    if (!addr) return '';
    const a = addr.toLowerCase();
    if (this.me && a === this.me.address) return 'you';
    return short(checksum(a));
  },
  // transact sends a call of the arbiter, waits for its receipt and
  // reports it; it returns the receipt (status checked by the caller).
  async transact(label, data, value = 0n, gas = 500_000) {
    this.log(`${label}: signing and sending…`);
    const tx = await this.me.send({ to: this.cfg.arbiter, data, value, gas });
    const r = await this.chain.receipt(tx);
    if (r.status === '0x1') {
      this.log(`${label}: mined in block ${Number(BigInt(r.blockNumber))} (tx ${short(tx)})`, 'ok');
    } else {
      const why = await this.chain.revertReason(this.me.address, this.cfg.arbiter, data, value);
      this.log(`${label}: REVERTED in block ${Number(BigInt(r.blockNumber))}: ${why}`, 'bad');
    }
    return r;
  },
};

// arbiterTimes records when the page reached each stage of its start, in
// milliseconds since navigation (the browser test logs them).
window.arbiterTimes = { script: performance.now() };

async function start() {
  app.node = httpRPC('node');
  app.bridge = new WSRPC(wsURL('/ws'));
  app.bridge.onstatus = (s) => ($('bridge-status').textContent = `bridge ${s}`);
  // The bridge writes the config into the page; page/config is the same.
  const inline = document.getElementById('config');
  app.cfg = inline ? JSON.parse(inline.textContent) : await (await fetch('page/config')).json();
  window.arbiterTimes.config = performance.now();
  app.cfg.arbiter = app.cfg.arbiter.toLowerCase();
  app.chain = new Chain(app.cfg, app.node);
  app.me = new DevKey(app.cfg, app.node);
  if (window.ethereum) {
    $('use-wallet').hidden = false;
    $('use-wallet').onclick = async () => {
      try {
        app.me = await Wallet.connect(app.cfg);
        app.log(`using wallet account ${app.me.address}`);
        await onHead();
      } catch (e) {
        app.log(`wallet: ${e.message}`, 'bad');
      }
    };
  }
  $('vouch').onclick = vouch;
  $('open-btn').onclick = () => openGame().catch((e) => app.log(`open: ${e.message}`, 'bad'));
  $('open-timeout').value = app.cfg.demo ? '5' : '20';
  window.addEventListener('hashchange', route);
  await Promise.all([app.chain.blockNumber().then(() => (window.arbiterTimes.head = performance.now())), route()]);
  await onHead();
  poll();
}

// poll follows the head and refreshes everything once per new block.
async function poll() {
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    try {
      const before = app.chain.head;
      if ((await app.chain.blockNumber()) !== before) await onHead();
    } catch (e) {
      $('bridge-status').textContent = `node: ${e.message}`;
    }
  }
}

let refreshing = false;
async function onHead() {
  if (refreshing) return;
  refreshing = true;
  try {
    $('head').textContent = `block ${app.chain.head}`;
    await app.chain.scan();
    await identity();
    lobby();
    if (app.view) await app.view.refresh();
  } catch (e) {
    app.log(`refresh: ${e.message}`, 'bad');
  } finally {
    refreshing = false;
  }
}

async function identity() {
  const me = app.me;
  const [bal, allowed] = await Promise.all([app.chain.balance(me.address), app.chain.allowed(me.address)]);
  app.allowed = allowed;
  $('me-address').textContent = checksum(me.address);
  $('me-kind').textContent = me.kind === 'dev' ? 'development key, generated and kept in this browser: for trying things out, never for value' : 'wallet account';
  $('me-balance').textContent = `${formatEther(bal)} ether`;
  $('me-allowed').textContent = allowed ? 'allowed to transact' : 'not vouched for: a member must vouch for this account before it can play';
  $('me-allowed').className = allowed ? 'ok' : 'bad';
  $('vouch').hidden = !(app.cfg.demo && !allowed && me.kind === 'dev');
  $('open-form').classList.toggle('disabled', !allowed);
  document.body.dataset.allowed = allowed;
  document.body.dataset.me = me.address;
}

async function vouch() {
  $('vouch').disabled = true;
  try {
    app.log('asking the demo to vouch for this key…');
    const res = await fetch('demo/vouch', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ account: app.me.address }) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    await app.chain.receipt(body.tx);
    app.log(`vouched for and funded by a member (tx ${short(body.tx)})`, 'ok');
    await onHead();
  } catch (e) {
    app.log(`vouch: ${e.message}`, 'bad');
  } finally {
    $('vouch').disabled = false;
  }
}

async function openGame() {
  const black = $('open-opponent').value.trim().toLowerCase();
  if (!/^0x[0-9a-f]{40}$/.test(black)) throw new Error('opponent must be an address');
  const stake = parseEther($('open-stake').value || '0');
  const timeout = Number($('open-timeout').value);
  const r = await app.transact(`open a game against ${short(black)}`, arbiterCalls.open(black, timeout), stake, 300_000);
  if (r.status !== '0x1' || !r.logs.length) return;
  location.hash = `#game=${r.logs[0].topics[1]}`;
}

async function join(id) {
  const g = app.chain.games.get(id) || (await app.chain.game(id));
  const r = await app.transact('join', arbiterCalls.join(id), g.stake);
  if (r.status === '0x1') location.hash = `#game=${id}`;
}

function lobby() {
  const me = app.me.address;
  const rows = [...app.chain.games.values()].sort((a, b) => b.events[0].block - a.events[0].block);
  const mine = rows.filter((g) => g.white === me || g.black === me);
  const others = rows.filter((g) => g.white !== me && g.black !== me && g.status <= 3);
  const item = (g) => {
    const canJoin = g.status === 1 && g.black === me;
    return `<li data-game="${g.id}" class="st${g.status}"><a href="#game=${g.id}">${esc(short(g.id))}</a>
      <span>${esc(app.name(g.white))} vs ${esc(app.name(g.black))}</span>
      <span>${esc(formatEther(g.stake))} ether</span><span class="status">${STATUS[g.status]}${g.reason ? ': ' + esc(g.reason) : ''}</span>
      ${canJoin ? `<button data-join="${g.id}">Join (stake ${esc(formatEther(g.stake))})</button>` : ''}</li>`;
  };
  $('my-games').innerHTML = mine.map(item).join('') || '<li class="none">none yet</li>';
  $('other-games').innerHTML = others.map(item).join('') || '<li class="none">none</li>';
  for (const b of document.querySelectorAll('[data-join]')) {
    b.onclick = () => {
      b.disabled = true;
      join(b.dataset.join).catch((e) => app.log(`join: ${e.message}`, 'bad'));
    };
  }
}

async function route() {
  const m = location.hash.match(/^#game=(0x[0-9a-fA-F]{64})$/);
  if (app.view && (!m || app.view.id !== m[1].toLowerCase())) {
    app.view.close();
    app.view = null;
  }
  $('game').hidden = !m;
  $('lobby').hidden = !!m;
  if (m && !app.view) {
    app.view = new GameView(app, m[1].toLowerCase());
    await app.view.refresh();
  }
}

start().catch((e) => {
  document.body.dataset.error = e.message;
  app.log(`start: ${e.message}`, 'bad');
});
