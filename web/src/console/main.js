// The operator console: reads arbiter_ and eth_ JSON-RPC over the node's
// WebSocket and redraws on every new head.
import { WSRPC, wsURL } from '../lib/rpc.js';
import { formatEther, short } from '../lib/hex.js';

const rpc = new WSRPC(wsURL('/ws'));
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

rpc.onstatus = (s) => {
  const el = $('conn');
  el.textContent = s;
  el.className = 'pill ' + (s === 'connected' ? 'ok' : 'bad');
};

function table(el, head, rows) {
  el.innerHTML = `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>` +
    (rows.length ? rows.map((r) => `<tr>${r.join('')}</tr>`).join('') : `<tr><td colspan="${head.length}">none</td></tr>`);
}
const td = (v, cls = '') => `<td class="${cls}">${esc(v)}</td>`;
const addr = (a) => td(a, 'addr');
const yesno = (b) => `<td class="${b ? 'yes' : 'no'}">${b ? 'yes' : 'no'}</td>`;
const ago = (ms) => {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

function card(k, v, id) {
  return `<div class="card"><div class="k">${esc(k)}</div><div class="v" id="${id}">${esc(v)}</div></div>`;
}

async function refresh() {
  const [st, vals, members, accounts, peers, blocks] = await Promise.all([
    rpc.call('arbiter_status'),
    rpc.call('arbiter_validators', 'latest'),
    rpc.call('arbiter_members', 'latest'),
    rpc.call('arbiter_accounts', 'latest'),
    rpc.call('arbiter_peers'),
    rpc.call('arbiter_blocks', 12),
  ]);
  const c = st.consensus;
  $('overview').innerHTML = [
    card('node', st.self ? st.self.name || short(st.self.address) : 'no key', 'c-node'),
    card('engine', st.engine, 'c-engine'),
    card('head', st.head.number, 'c-head'),
    card('final', st.final ? st.final.number : '–', 'c-final'),
    card('finality lag', st.finalityLag, 'c-lag'),
    card('height / round', c ? `${c.height} / ${c.round}` : '–', 'c-hr'),
    card('step', c ? c.step : '–', 'c-step'),
    card('peers', st.peers, 'c-peers'),
    card('validators', vals.filter((v) => v.active).length, 'c-validators'),
    card('pool', `${st.pool.pending} + ${st.pool.queued}`, 'c-pool'),
    card('sync', st.sync.syncing ? `${st.sync.current} → ${st.sync.highest}` : 'in sync', 'c-sync'),
  ].join('');
  const totalPower = vals.reduce((a, v) => a + (v.active ? v.power : 0), 0) || 1;
  table($('validators'), ['name', 'address', 'stake (ether)', 'power', 'share', 'active'], vals.map((v) => [
    td(v.name), addr(v.address), td(formatEther(BigInt(v.stake))), td(v.power), td(`${((100 * v.power) / totalPower).toFixed(1)}%`), yesno(v.active)]));
  table($('peers'), ['name', 'member', 'address', 'connected'], peers.map((p) => [
    td(p.name), addr(p.member), td((p.addrs || []).join(' ')), td(ago(p.connectedSince))]));
  table($('members'), ['name', 'address', 'since block'], members.map((m) => [td(m.name), addr(m.address), td(m.since)]));
  table($('accounts'), ['account', 'vouched by', 'allowed'], accounts.map((a) => [addr(a.account), td(a.byName || a.by), yesno(a.allowed)]));
  table($('blocks'), ['number', 'hash', 'age', 'proposer', 'txs', 'gas'], blocks.map((b) => [
    td(b.number), addr(short(b.hash)), td(ago(b.time * 1000)), td(b.name || short(b.proposer)), td(b.txs), td(b.gasUsed)]));
  const rounds = c ? c.rounds.slice(-10).reverse() : [];
  table($('rounds'), ['height', 'round', 'propose', 'prevote', 'precommit', 'decided', ''], rounds.map((r) => [
    td(r.height), td(r.round), td(`${r.proposeMs} ms`), td(`${r.prevoteMs} ms`), td(`${r.precommitMs} ms`), yesno(r.decided),
    `<td><span class="bar" style="width:${Math.min(200, r.proposeMs / 10)}px"></span><span class="bar pv" style="width:${Math.min(200, r.prevoteMs / 10)}px"></span><span class="bar pc" style="width:${Math.min(200, r.precommitMs / 10)}px"></span></td>`]));
  document.body.dataset.head = st.head.number;
}

// Redraw at most once per head, never two at a time.
let busy = false;
let again = false;
async function schedule() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    await refresh();
  } catch (e) {
    $('conn').textContent = `error: ${e.message}`;
  } finally {
    busy = false;
    if (again) {
      again = false;
      schedule();
    }
  }
}

rpc.subscribe('eth', ['newHeads'], schedule);
schedule();
