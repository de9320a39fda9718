/* The "Try it live" page (book/08_live.md): the book's default causal model in the reader's browser.
 *
 * Loaded by that page only. Until the reader presses Start nothing heavy is fetched;
 * Start loads onnxruntime-web (WebAssembly) and the exported model into a Web Worker
 * (live-worker.js) and the audio worklet (live-worklet.js) that feeds it hops of
 * 160 samples at 16 kHz. Every file comes from the site's own _static/live/ folder.
 *
 * The contract for tests and for readers who like the console:
 *   await sedemoLive.enhance(samples)   Float32Array at 16 kHz -> Float32Array, the same
 *       hop-by-hop path as the live audio, flushed and aligned with its input (the
 *       sidecar's output delay dropped), as `python -m sedemo enhance` aligns its output
 *   await sedemoLive.start()            load the model and start the audio graph
 *   await sedemoLive.startMic() / playClip(i) / playFile(file) / stop()
 *   await sedemoLive.stats()            hops, ms per hop (mean, max), output RMS, non-finite count
 *   await sedemoLive.resources()        the URLs the page and its worker fetched
 */
(function () {
  'use strict';
  const script = document.currentScript;
  const BASE = new URL('./', script.src).href;  // .../_static/live/
  const $ = id => document.getElementById(id);
  const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
                                     65, 0, 253, 15, 253, 98, 11]);

  const feat = {
    wasm: typeof WebAssembly === 'object',
    simd: false,
    worklet: typeof AudioWorkletNode === 'function' && window.isSecureContext !== false,
    mic: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
    worker: typeof Worker === 'function',
  };
  try { feat.simd = feat.wasm && WebAssembly.validate(SIMD_PROBE); } catch (e) { feat.simd = false; }

  let worker = null, readyPromise = null, sidecar = null;
  let ctx = null, node = null, inAn = null, outAn = null, source = null, micStream = null;
  let bypass = false, nextId = 1, drawing = false, fallbackBuffers = null;
  const pending = new Map();

  function say(text) { const el = $('sl-status'); if (el) el.textContent = text; }
  function note(text) {
    const el = $('sl-notes');
    if (!el) return;
    const p = document.createElement('p');
    p.textContent = text;
    el.appendChild(p);
  }

  function call(msg, transfer) {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, {resolve, reject});
      worker.postMessage({...msg, id}, transfer || []);
    });
  }

  function loadModel() {
    if (readyPromise) return readyPromise;
    if (!feat.worker || !feat.wasm) return Promise.reject(new Error('this browser has no Web Worker or WebAssembly'));
    readyPromise = new Promise((resolve, reject) => {
      worker = new Worker(BASE + 'live-worker.js');
      worker.onmessage = ev => {
        const m = ev.data;
        if (m.type === 'ready') { sidecar = m.sidecar; resolve(m); return; }
        const p = m.id !== undefined && pending.get(m.id);
        if (m.type === 'error') {
          if (p) { pending.delete(m.id); p.reject(new Error(m.message)); } else { reject(new Error(m.message)); say('Error: ' + m.message); }
          return;
        }
        if (p) { pending.delete(m.id); p.resolve(m); }
      };
      worker.onerror = e => { reject(new Error(e.message || 'worker failed')); say('Error: ' + (e.message || 'worker failed')); };
      worker.postMessage({type: 'init', base: BASE});
    });
    readyPromise.then(m => {
      const lat = $('sl-latency');
      const ms = n => (1000 * n / m.sidecar.sample_rate).toFixed(0);
      if (lat) lat.textContent = `${m.sidecar.algorithmic_latency_ms} ms (one window: a hop of ${ms(m.sidecar.hop)} ms ` +
        `+ an output delay of ${ms(m.sidecar.output_delay_samples)} ms), plus ${ms(2 * m.sidecar.hop)} ms of jitter ` +
        'buffer and the browser\'s audio buffers';
    }, () => {});
    return readyPromise;
  }

  async function enhance(samples) {
    await loadModel();
    const x = new Float32Array(samples);  // a copy, transferred to the worker
    const r = await call({type: 'enhance', samples: x}, [x.buffer]);
    return r.samples;
  }

  async function makeContext() {
    try { ctx = new AudioContext({sampleRate: 16000, latencyHint: 'interactive'}); } catch (e) { ctx = new AudioContext(); }
    inAn = ctx.createAnalyser();
    outAn = ctx.createAnalyser();
    inAn.fftSize = outAn.fftSize = 512;
    outAn.smoothingTimeConstant = 0;
    outAn.connect(ctx.destination);
    if (feat.worklet) {
      try {
        await ctx.audioWorklet.addModule(BASE + 'live-worklet.js');
        node = new AudioWorkletNode(ctx, 'sedemo-live', {numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1]});
        const ch = new MessageChannel();
        worker.postMessage({type: 'port'}, [ch.port1]);
        node.port.postMessage({type: 'port'}, [ch.port2]);
        node.port.postMessage({type: 'bypass', on: bypass});
        node.connect(outAn);
      } catch (e) {
        feat.worklet = false;
        note('The audio worklet could not start (' + e.message + '): the microphone is off; files and clips are enhanced whole, then played.');
      }
    }
    const rate = $('sl-rate');
    if (rate) rate.textContent = ctx.sampleRate === 16000 ? '16 kHz (no resampling)' : `${ctx.sampleRate} Hz (resampled to 16 kHz in the worklet)`;
  }

  async function start() {
    say('Loading onnxruntime-web and the model…');
    await loadModel();
    if (!ctx) await makeContext();
    if (ctx.state === 'suspended') await ctx.resume();
    for (const id of ['sl-mic', 'sl-stop', 'sl-file'].concat(Array.from(document.querySelectorAll('.sl-clip')).map(b => b.id))) {
      const el = $(id);
      if (el) el.disabled = (id === 'sl-mic' && !(feat.mic && feat.worklet));
    }
    const startBtn = $('sl-start');
    if (startBtn) startBtn.disabled = true;
    say('Ready: choose the microphone, a file or a test clip.');
    if (!drawing) { drawing = true; requestAnimationFrame(draw); }
  }

  function stop() {
    if (source) { try { source.stop && source.stop(); } catch (e) { /* already stopped */ } source.disconnect(); source = null; }
    if (micStream) { micStream.getTracks().forEach(t => t.stop()); micStream = null; }
    fallbackBuffers = null;
  }

  async function connect(src) {
    stop();
    source = src;
    src.connect(inAn);
    await call({type: 'reset'});
    if (feat.worklet) src.connect(node);
  }

  async function startMic() {
    await start();
    if (!feat.mic) { note('This browser gives no access to a microphone: use a file or a test clip.'); return; }
    if (!feat.worklet) { note('This browser has no AudioWorklet: the microphone path is off; files and clips still work.'); return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false,
                                                                  autoGainControl: false, channelCount: 1}});
    } catch (e) {
      note('No microphone: permission refused or no device (' + e.name + '); files and test clips still work.');
      return;
    }
    await connect(ctx.createMediaStreamSource(stream));
    micStream = stream;
    say('Listening to the microphone (use headphones: the loudspeaker would feed back).');
  }

  async function decode16k(bytes) {  // any audio file -> mono Float32Array at 16 kHz
    const probe = await ctx.decodeAudioData(bytes.slice(0));
    const off = new OfflineAudioContext(1, Math.max(1, Math.ceil(probe.duration * 16000)), 16000);
    const s = off.createBufferSource();
    s.buffer = probe;
    s.connect(off.destination);
    s.start();
    return (await off.startRendering()).getChannelData(0);
  }

  async function playBytes(bytes, label) {
    await start();
    let buf;
    try { buf = await ctx.decodeAudioData(bytes.slice(0)); } catch (e) { say('Cannot decode ' + label + ': ' + e.message); return; }
    if (feat.worklet) {
      const s = ctx.createBufferSource();
      s.buffer = buf;
      await connect(s);
      s.onended = () => { if (source === s) say('Done: ' + label + '.'); };
      s.start();
      say('Playing ' + label + ' through the model.');
    } else {  // no worklet: enhance the whole signal, then play it (the bypass switch picks)
      say('Enhancing ' + label + '…');
      const x = await decode16k(bytes);
      const y = await enhance(x);
      fallbackBuffers = [x, y].map(v => { const b = ctx.createBuffer(1, v.length, 16000); b.copyToChannel(v, 0); return b; });
      playFallback(label);
    }
  }

  function playFallback(label) {
    if (!fallbackBuffers) return;
    const bufs = fallbackBuffers;
    stop();
    fallbackBuffers = bufs;
    const s = ctx.createBufferSource();
    s.buffer = bypass ? bufs[0] : bufs[1];
    s.connect(outAn);
    s.connect(inAn);
    source = s;
    s.start();
    say('Playing ' + label + (bypass ? ' (bypass: the input).' : ' (enhanced).'));
  }

  async function playClip(i) {
    const clips = await clipList();
    const c = clips[i];
    const bytes = await (await fetch(BASE + 'clips/' + c.file)).arrayBuffer();
    await playBytes(bytes, `test clip ${c.id} (${c.noise_type}, ${c.snr_db} dB SNR)`);
  }

  async function playFile(file) { await playBytes(await file.arrayBuffer(), file.name); }

  let clipsPromise = null;
  function clipList() {
    if (!clipsPromise) clipsPromise = fetch(BASE + 'clips/clips.json').then(r => r.ok ? r.json() : {clips: []}).then(j => j.clips || []);
    return clipsPromise;
  }

  async function stats() {
    if (!worker) return {hops: 0, msPerHop: null};
    const s = await call({type: 'stats'});
    delete s.type; delete s.id;
    s.sampleRate = ctx ? ctx.sampleRate : null;
    s.worklet = feat.worklet;
    return s;
  }

  async function resources() {  // every URL the page and its worker fetched
    const urls = performance.getEntriesByType('resource').map(e => e.name);
    if (worker) urls.push(...(await call({type: 'resources'})).urls);
    return urls;
  }

  /* meters, spectrogram and the time per hop */
  const tbuf = new Float32Array(512);
  function level(an) {
    an.getFloatTimeDomainData(tbuf);
    let s = 0;
    for (let i = 0; i < tbuf.length; i++) s += tbuf[i] * tbuf[i];
    const db = 10 * Math.log10(s / tbuf.length + 1e-12);
    return Math.max(0, Math.min(1, (db + 70) / 70));
  }
  let lastStats = 0;
  function draw(t) {
    const mi = $('sl-meter-in'), mo = $('sl-meter-out'), cv = $('sl-spec');
    if (mi) mi.style.width = (100 * level(inAn)).toFixed(1) + '%';
    if (mo) mo.style.width = (100 * level(outAn)).toFixed(1) + '%';
    if (cv) {
      const g = cv.getContext('2d');
      const w = cv.width, h = cv.height;
      g.drawImage(cv, -2, 0);  // scroll left by two pixels
      const bins = new Uint8Array(outAn.frequencyBinCount);
      outAn.getByteFrequencyData(bins);
      const top = Math.min(bins.length, Math.round(bins.length * 8000 / (ctx.sampleRate / 2)));  // 0-8 kHz
      for (let y = 0; y < h; y++) {
        const v = bins[Math.floor((h - 1 - y) / h * top)] / 255;
        g.fillStyle = `hsl(${260 - 220 * v}, 80%, ${8 + 55 * v}%)`;
        g.fillRect(w - 2, y, 2, 1);
      }
    }
    if (t - lastStats > 500) {
      lastStats = t;
      stats().then(s => {
        const el = $('sl-ms');
        if (el && s.msPerHop !== null && s.msPerHop !== undefined) {
          el.textContent = `${s.msPerHop.toFixed(2)} ms mean, ${s.msMax.toFixed(2)} ms max over ${s.hops} hops of 10 ms ` +
            `(real-time factor ${(s.msPerHop / 10).toFixed(2)})`;
        }
      }, () => {});
    }
    requestAnimationFrame(draw);
  }

  function setBypass(on) {
    bypass = !!on;
    if (node) node.port.postMessage({type: 'bypass', on: bypass});
    if (!feat.worklet && fallbackBuffers) playFallback('the last signal');
  }

  /* wiring */
  function wire() {
    const root = $('sedemo-live');
    if (!root) return;
    if (!feat.wasm) note('This browser has no WebAssembly: the model cannot run here.');
    else if (!feat.simd) note('This browser has no WebAssembly SIMD: the model runs on the slower plain build (ort-wasm.wasm).');
    if (!feat.worklet) note('This browser has no AudioWorklet (or the page is not served securely): the microphone path is off; files and test clips are enhanced whole, then played.');
    if (!feat.mic) note('This browser gives no access to a microphone: use a file or a test clip.');
    $('sl-start').addEventListener('click', () => start().catch(e => say('Error: ' + e.message)));
    $('sl-mic').addEventListener('click', () => startMic().catch(e => say('Error: ' + e.message)));
    $('sl-stop').addEventListener('click', () => { stop(); say('Stopped.'); });
    $('sl-file').addEventListener('change', ev => { const f = ev.target.files[0]; if (f) playFile(f).catch(e => say('Error: ' + e.message)); });
    $('sl-bypass').addEventListener('change', ev => setBypass(ev.target.checked));
    clipList().then(clips => {
      const box = $('sl-clips');
      clips.forEach((c, i) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'sl-clip';
        b.id = 'sl-clip-' + i;
        b.disabled = true;
        b.textContent = `Clip ${i + 1}: ${c.noise_type}, ${c.snr_db} dB`;
        b.addEventListener('click', () => playClip(i).catch(e => say('Error: ' + e.message)));
        box.appendChild(b);
      });
    }, () => {});
  }

  window.sedemoLive = {enhance, start, startMic, playClip, playFile, stop, stats, resources, setBypass, features: feat,
                       get sidecar() { return sidecar; }, ready: loadModel};
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire); else wire();
})();
