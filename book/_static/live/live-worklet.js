/* The audio side of the "Try it live" page (book/08_live.md): an AudioWorkletProcessor.
 *
 * It cuts its input (microphone, file or test clip) into hops of 160 samples at 16 kHz
 * (resampling linearly when the AudioContext runs at another rate), posts them to the
 * model's Web Worker through a MessagePort, and plays the enhanced hops that come back
 * (after a jitter buffer of two hops), or the input itself when bypassed. It reports
 * input and output levels to the page about 30 times a second.
 */
'use strict';

const RATE = 16000, HOP = 160, PRIME = 2, MAX_QUEUE = 20;

class SedemoLive extends AudioWorkletProcessor {
  constructor() {
    super();
    this.worker = null;
    this.bypass = false;
    this.hopBuf = new Float32Array(HOP);
    this.hopFill = 0;
    this.queue = [];       // enhanced hops (16 kHz) waiting to be played
    this.head = null;      // the hop being played and the read index in it
    this.headPos = 0;
    this.primed = false;
    this.underruns = 0;
    this.down = {step: sampleRate / RATE, p: 0, prev: 0, box: [], acc: 0};
    this.up = {step: RATE / sampleRate, q: 1, prev: 0, cur: 0};
    this.lv = {inSq: 0, outSq: 0, n: 0, every: Math.round(sampleRate / 30)};
    this.port.onmessage = ev => {
      const m = ev.data;
      if (m.type === 'port') {
        this.worker = ev.ports[0];
        this.worker.onmessage = e => this.onOut(e.data);
      } else if (m.type === 'bypass') {
        this.bypass = !!m.on;
      }
    };
  }

  onOut(m) {
    if (m.type !== 'out') return;
    this.queue.push(m.samples);
    if (this.queue.length > MAX_QUEUE) this.queue.splice(0, this.queue.length - PRIME);  // bound the delay
  }

  pushHopSample(v) {
    this.hopBuf[this.hopFill++] = v;
    if (this.hopFill === HOP) {
      const h = this.hopBuf;
      this.hopBuf = new Float32Array(HOP);
      this.hopFill = 0;
      if (this.worker) this.worker.postMessage({type: 'hop', samples: h}, [h.buffer]);
    }
  }

  feed(x) {  // input at sampleRate -> hops at 16 kHz
    const d = this.down;
    if (d.step === 1) { for (let i = 0; i < x.length; i++) this.pushHopSample(x[i]); return; }
    const taps = d.step >= 2 ? Math.floor(d.step) : 1;  // a box filter against aliasing
    for (let i = 0; i < x.length; i++) {
      d.box.push(x[i]);
      d.acc += x[i];
      if (d.box.length > taps) d.acc -= d.box.shift();
      const cur = d.acc / d.box.length;
      while (d.p < 1) { this.pushHopSample(d.prev + (cur - d.prev) * d.p); d.p += d.step; }
      d.p -= 1;
      d.prev = cur;
    }
  }

  pull() {  // the next enhanced sample at 16 kHz (0 while the buffer fills)
    if (!this.primed) {
      if (this.queue.length < PRIME) return 0;
      this.primed = true;
    }
    if (!this.head || this.headPos >= this.head.length) {
      if (!this.queue.length) { this.primed = false; this.underruns += 1; this.head = null; return 0; }
      this.head = this.queue.shift();
      this.headPos = 0;
    }
    return this.head[this.headPos++];
  }

  process(inputs, outputs) {
    const input = inputs[0] && inputs[0][0];
    const out = outputs[0];
    const n = out[0].length;
    const x = input || new Float32Array(n);
    if (input) this.feed(x);  // no source connected: no hops, the model idles
    const y = out[0];
    const u = this.up;
    for (let i = 0; i < n; i++) {
      let e;
      if (u.step === 1) e = this.pull();
      else {
        u.q += u.step;
        while (u.q >= 1) { u.prev = u.cur; u.cur = this.pull(); u.q -= 1; }
        e = u.prev + (u.cur - u.prev) * u.q;
      }
      this.lv.inSq += x[i] * x[i];
      this.lv.outSq += Number.isFinite(e) ? e * e : 0;
      y[i] = this.bypass ? x[i] : e;
    }
    for (let c = 1; c < out.length; c++) out[c].set(y);
    this.lv.n += n;
    if (this.lv.n >= this.lv.every) {
      this.port.postMessage({type: 'levels', inRms: Math.sqrt(this.lv.inSq / this.lv.n),
                             outRms: Math.sqrt(this.lv.outSq / this.lv.n), underruns: this.underruns});
      this.lv.inSq = this.lv.outSq = this.lv.n = 0;
    }
    return true;
  }
}

registerProcessor('sedemo-live', SedemoLive);
