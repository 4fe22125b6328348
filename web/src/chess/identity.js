// Who the page plays as: an injected wallet (eth_signTypedData_v4 and
// eth_sendTransaction through it), or a development key the page keeps in
// localStorage (signs here; transactions go through the bridge's /node).
import { bytesToHex, hexToBytes } from '../lib/hex.js';
import { addressOf, newPrivateKey, digest, stateHash, outcomeHash, signDigest, typedState, typedOutcome } from '../lib/eip712.js';
import { signLegacyTx } from '../lib/tx.js';

const KEY = 'arbiter.devkey';

export class DevKey {
  constructor(cfg, node) {
    let hex = localStorage.getItem(KEY);
    if (!hex) {
      hex = bytesToHex(newPrivateKey());
      localStorage.setItem(KEY, hex);
    }
    this.priv = hexToBytes(hex);
    this.address = addressOf(this.priv);
    this.kind = 'dev';
    this.cfg = cfg;
    this.node = node;
    this.queue = Promise.resolve();
  }

  async signState(s) {
    return signDigest(digest(this.cfg.chainId, stateHash(s), this.cfg.arbiter), this.priv);
  }

  async signOutcome(o) {
    return signDigest(digest(this.cfg.chainId, outcomeHash(o), this.cfg.arbiter), this.priv);
  }

  // send signs and sends a call, one at a time so nonces never collide,
  // and returns its hash.
  send({ to, value = 0n, data, gas }) {
    const run = async () => {
      const [nonce, gasPrice] = await Promise.all([
        this.node('eth_getTransactionCount', this.address, 'pending'),
        this.node('eth_gasPrice'),
      ]);
      const raw = signLegacyTx({ nonce: BigInt(nonce), gasPrice: BigInt(gasPrice), gas, to, value, data, chainId: this.cfg.chainId }, this.priv);
      return this.node('eth_sendRawTransaction', raw);
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }
}

export class Wallet {
  constructor(cfg, provider, address) {
    this.cfg = cfg;
    this.provider = provider;
    this.address = address.toLowerCase();
    this.kind = 'wallet';
  }

  static async connect(cfg) {
    const [address] = await window.ethereum.request({ method: 'eth_requestAccounts' });
    return new Wallet(cfg, window.ethereum, address);
  }

  signState(s) {
    return this.provider.request({ method: 'eth_signTypedData_v4', params: [this.address, JSON.stringify(typedState(this.cfg.chainId, s, this.cfg.arbiter))] });
  }

  signOutcome(o) {
    return this.provider.request({ method: 'eth_signTypedData_v4', params: [this.address, JSON.stringify(typedOutcome(this.cfg.chainId, o, this.cfg.arbiter))] });
  }

  send({ to, value = 0n, data, gas }) {
    return this.provider.request({
      method: 'eth_sendTransaction',
      params: [{ from: this.address, to, data, value: '0x' + BigInt(value).toString(16), gas: '0x' + gas.toString(16) }],
    });
  }
}
