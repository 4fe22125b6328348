// JSON-RPC 2.0 clients: over HTTP POST and over one WebSocket with
// subscriptions.

export class RPCError extends Error {
  constructor(e) {
    super(e.message || 'rpc error');
    this.code = e.code;
    this.data = e.data;
  }
}

let nextID = 1;

// httpRPC returns call(method, ...params) posting to url.
export function httpRPC(url) {
  return async function call(method, ...params) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextID++, method, params }),
    });
    const body = await res.json();
    if (body.error) throw new RPCError(body.error);
    return body.result;
  };
}

// WSRPC keeps one WebSocket open, reconnecting after a drop, and
// re-subscribes every live subscription (onReconnect lets the caller
// resume from where it was).
export class WSRPC {
  constructor(url) {
    this.url = url;
    this.pending = new Map();
    this.subs = new Map(); // server id -> handler
    this.wanted = []; // {namespace, params, handler, id}
    this.ready = null;
    this.onstatus = () => {};
    this.connect();
  }

  connect() {
    this.ready = new Promise((resolve) => {
      const ws = new WebSocket(this.url);
      ws.onopen = async () => {
        this.ws = ws;
        this.onstatus('connected');
        resolve();
        for (const w of this.wanted) this.subscribeNow(w).catch(() => {});
      };
      ws.onmessage = (ev) => this.receive(JSON.parse(ev.data));
      ws.onclose = () => {
        this.ws = null;
        this.onstatus('disconnected');
        for (const [, p] of this.pending) p.reject(new Error('connection closed'));
        this.pending.clear();
        this.subs.clear();
        setTimeout(() => this.connect(), 1000);
      };
    });
  }

  receive(msg) {
    if (msg.id !== undefined && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new RPCError(msg.error));
      else p.resolve(msg.result);
      return;
    }
    if (msg.method && msg.method.endsWith('_subscription')) {
      const h = this.subs.get(msg.params.subscription);
      if (h) h(msg.params.result);
    }
  }

  async call(method, ...params) {
    await this.ready;
    if (!this.ws) {
      await new Promise((r) => setTimeout(r, 300));
      return this.call(method, ...params);
    }
    const id = nextID++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  async subscribeNow(w) {
    const params = typeof w.params === 'function' ? w.params() : w.params;
    const id = await this.call(`${w.namespace}_subscribe`, ...params);
    w.id = id;
    this.subs.set(id, w.handler);
    return id;
  }

  // subscribe(namespace, params, handler): params may be a function, called
  // again on every (re)subscription. Returns an unsubscribe function.
  async subscribe(namespace, params, handler) {
    const w = { namespace, params, handler, id: null };
    this.wanted.push(w);
    await this.subscribeNow(w);
    return async () => {
      this.wanted = this.wanted.filter((x) => x !== w);
      if (w.id) {
        this.subs.delete(w.id);
        await this.call(`${namespace}_unsubscribe`, w.id).catch(() => {});
      }
    };
  }
}

export function wsURL(path) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}
