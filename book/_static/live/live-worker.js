/* The model of the "Try it live" page (book/08_live.md), in a Web Worker.
 *
 * onnxruntime-web (WebAssembly, one thread: no cross-origin isolation needed) runs the
 * book's causal GCRN one hop at a time, exactly as sedemo.streaming.StreamingEnhancer
 * does: the graph takes 160 samples at 16 kHz and its state tensors and returns the
 * output hop and the next states (python -m sedemo export-onnx; the JSON sidecar says
 * how to drive it). Every file comes from the site itself (_static/live/).
 *
 * Messages in:  {type: 'init', base}                 load the sidecar, onnxruntime and the model
 *               {type: 'port'} + a MessagePort       the audio worklet's hops arrive there
 *               {type: 'reset'}                      a new live stream (zero states)
 *               {type: 'enhance', id, samples}       a whole signal, aligned (the JS contract)
 *               {type: 'stats'}                      the live stream's counters
 *               {type: 'resources'}                  the URLs this worker fetched
 * Messages out: {type: 'ready', sidecar, backend}, {type: 'error', message},
 *               {type: 'enhanced', id, samples, ms}, {type: 'stats', ...}
 */
'use strict';

let O = null;  // onnxruntime-web (the bundle defines the global `ort`)
let session = null;
let side = null;          // the sidecar (OUT.json)
let queue = Promise.resolve();  // one session.run at a time
let live = null;          // the live stream
let port = null;          // to the audio worklet
const TINY = 1.1754944e-38;

function zeros(shape) {
  return new O.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
}

/* One stream through the graph: process(hop) -> output hop, flush() -> the tail;
 * the state handling of StreamingEnhancer (sidecar 'usage'). */
class Stream {
  constructor() {
    this.hop = side.hop;
    this.stateInputs = side.inputs.filter(i => i.name !== 'hop');
    const roles = Object.fromEntries(this.stateInputs.map((d, i) => [d.role, i]));
    this.olaIndex = roles.overlap_add;
    this.envIndex = roles.window_sum;
    this.reset();
  }
  reset() {
    this.states = this.stateInputs.map(d => zeros(d.shape));
    this.hops = 0;
    this.msTotal = 0;
    this.msMax = 0;
  }
  async process(samples) {  // samples: Float32Array of exactly `hop` samples
    const feeds = {hop: new O.Tensor('float32', samples, [1, this.hop])};
    this.stateInputs.forEach((d, i) => { feeds[d.name] = this.states[i]; });
    const t0 = performance.now();
    const res = await session.run(feeds);
    const ms = performance.now() - t0;
    this.states = side.state_pairs.map(([, next]) => res[next]);
    this.hops += 1;
    this.msTotal += ms;
    this.msMax = Math.max(this.msMax, ms);
    return {out: res.out_hop.data, ms};
  }
  tail() {  // the last n_fft - hop samples: overlap_add / max(window_sum, tiny)
    const ola = this.states[this.olaIndex].data, env = this.states[this.envIndex].data;
    const y = new Float32Array(ola.length);
    for (let i = 0; i < y.length; i++) y[i] = ola[i] / Math.max(env[i], TINY);
    return y;
  }
}

function run(fn) {  // serialise the runs of the one session
  const p = queue.then(fn);
  queue = p.catch(() => {});
  return p;
}

/* The whole signal hop by hop, flushed, aligned with its input (drop output_delay),
 * as `python -m sedemo enhance` / sedemo.streaming.stream_file(align=True). */
async function enhance(x) {
  const s = new Stream();
  const hop = s.hop, delay = side.output_delay_samples, n = x.length;
  const nHops = Math.ceil(n / hop);
  const stream = new Float32Array(nHops * hop + (side.n_fft - hop));
  for (let k = 0; k < nHops; k++) {
    const h = new Float32Array(hop);  // the last partial hop padded with zeros
    h.set(x.subarray(k * hop, Math.min(n, (k + 1) * hop)));
    const {out} = await s.process(h);
    stream.set(out, k * hop);
  }
  stream.set(s.tail(), nHops * hop);
  return {samples: stream.slice(delay, delay + n), ms: s.hops ? s.msTotal / s.hops : 0};
}

/* The live path: hops from the audio worklet, enhanced hops back, and levels. */
let outSq = 0, outCount = 0, nonFinite = 0;
function onHop(ev) {
  const msg = ev.data;
  if (msg.type !== 'hop' || !live) return;
  run(() => live.process(msg.samples)).then(({out, ms}) => {
    for (let i = 0; i < out.length; i++) {
      const v = out[i];
      if (!Number.isFinite(v)) nonFinite += 1; else outSq += v * v;
    }
    outCount += out.length;
    const copy = new Float32Array(out);
    port.postMessage({type: 'out', samples: copy, ms}, [copy.buffer]);
  }, err => postMessage({type: 'error', message: String(err && err.message || err)}));
}

async function init(base) {
  side = await (await fetch(base + 'model/model.json')).json();
  self.importScripts(base + 'ort/ort.wasm-core.min.js');
  O = self.ort;
  O.env.wasm.numThreads = 1;     // no SharedArrayBuffer: works without COOP/COEP headers
  O.env.wasm.proxy = false;
  O.env.wasm.wasmPaths = base + 'ort/';
  const model = await (await fetch(base + 'model/' + side.onnx_file)).arrayBuffer();
  session = await O.InferenceSession.create(model, {executionProviders: ['wasm'],
                                                       graphOptimizationLevel: 'all'});
  live = new Stream();
  return {sidecar: side, modelBytes: model.byteLength};
}

self.onmessage = async ev => {
  const msg = ev.data;
  try {
    if (msg.type === 'init') {
      const info = await init(msg.base);
      postMessage({type: 'ready', ...info});
    } else if (msg.type === 'port') {
      port = ev.ports[0];
      port.onmessage = onHop;
    } else if (msg.type === 'reset') {
      await run(() => { live.reset(); outSq = 0; outCount = 0; nonFinite = 0; });
      postMessage({type: 'done', id: msg.id});
    } else if (msg.type === 'enhance') {
      const r = await run(() => enhance(msg.samples));
      postMessage({type: 'enhanced', id: msg.id, samples: r.samples, ms: r.ms}, [r.samples.buffer]);
    } else if (msg.type === 'resources') {  // what this worker fetched (for the same-origin test)
      postMessage({type: 'resources', id: msg.id,
                   urls: performance.getEntriesByType('resource').map(e => e.name)});
    } else if (msg.type === 'stats') {
      postMessage({type: 'stats', id: msg.id, hops: live ? live.hops : 0,
                   msPerHop: live && live.hops ? live.msTotal / live.hops : null,
                   msMax: live ? live.msMax : null,
                   outRms: outCount ? Math.sqrt(outSq / outCount) : 0, nonFinite});
    }
  } catch (err) {
    postMessage({type: 'error', id: msg.id, message: String(err && err.message || err)});
  }
};
