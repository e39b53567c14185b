// The proof of work a public form carries (common.work, checked by intake as the API checks
// its X-Work header): find a decimal nonce such that SHA-256 of the UTF-8 text
// "<challenge>:<nonce>" begins with `bits` zero bits, and send "<challenge>:<nonce>" in the
// form's "work" field. Solved in the background from the moment the page opens; a form sent
// before it is ready, or after its challenge went stale, waits for a fresh one.
"use strict";
(() => {
  const MARGIN_MS = 60 * 1000; // a proof this close to its challenge's expiry is not sent
  const FALLBACK_LIFETIME_MS = 5 * 60 * 1000;
  const BATCH = 256; // digests asked of Web Crypto at once
  const encoder = new TextEncoder();

  function leadingZeroBits(bytes) {
    let bits = 0;
    for (const byte of bytes) {
      if (byte !== 0) return bits + Math.clz32(byte) - 24;
      bits += 8;
    }
    return bits;
  }

  // The worker beside this file hashes a few million a second; Web Crypto, one digest per
  // promise, about 60,000: it is only the fallback.
  const WORKER = document.currentScript ? new URL("work-worker.js", document.currentScript.src) : null;

  function solveInWorker(token, bits) {
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER);
      worker.onmessage = (message) => {
        worker.terminate();
        resolve(message.data.proof);
      };
      worker.onerror = (error) => {
        worker.terminate();
        reject(error);
      };
      worker.postMessage({ token, bits });
    });
  }

  async function solve(token, bits) {
    if (WORKER && window.Worker) {
      try {
        return await solveInWorker(token, bits);
      } catch {
        // e.g. a browser that refuses workers: the slow way still gets there
      }
    }
    for (let start = 0; ; start += BATCH) {
      const tries = [];
      for (let nonce = start; nonce < start + BATCH; nonce += 1) {
        tries.push(crypto.subtle.digest("SHA-256", encoder.encode(`${token}:${nonce}`)));
      }
      const digests = await Promise.all(tries);
      for (let i = 0; i < digests.length; i += 1) {
        if (leadingZeroBits(new Uint8Array(digests[i])) >= bits) return `${token}:${start + i}`;
      }
    }
  }

  async function fresh(purpose) {
    const response = await fetch(`/v1/work/${encodeURIComponent(purpose)}`, {
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) throw new Error(`no challenge (HTTP ${response.status})`);
    const challenge = await response.json();
    // Measured against the server's clock, so a phone's wrong clock does not matter.
    let lifetime = Date.parse(challenge.expires_at) - Date.parse(response.headers.get("Date") || "");
    if (!Number.isFinite(lifetime)) lifetime = FALLBACK_LIFETIME_MS;
    const staleAt = Date.now() + lifetime - MARGIN_MS;
    return { proof: await solve(challenge.challenge, challenge.bits), staleAt };
  }

  function prepare(form) {
    const field = form.querySelector('input[name="work"]');
    const status = form.querySelector("[data-work-status]");
    const say = (what) => {
      if (status) status.textContent = status.dataset[what] || "";
    };
    if (!field) return;
    if (!(WORKER && window.Worker) && !(window.isSecureContext && window.crypto && crypto.subtle)) {
      say("unsupported");
      return;
    }
    let solving = null;
    const start = () => {
      say("working");
      solving = fresh(form.dataset.work).then(
        (solved) => {
          field.value = solved.proof;
          say("ready");
          return solved;
        },
        () => {
          say("failed");
          return null;
        },
      );
      return solving;
    };
    start();
    let sending = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (sending) return; // a second click while it is on its way files nothing twice
      sending = true;
      (async () => {
        let solved = await solving;
        if (!solved || Date.now() > solved.staleAt) solved = await start();
        if (!solved) {
          sending = false;
          return;
        }
        form.submit();
      })();
    });
  }

  for (const form of document.querySelectorAll("form[data-work]")) prepare(form);
})();
