// bench/worker.js: the benchmark worker for pm2, which needs a Node program for its cluster
// mode. It behaves like bench/worker.c: replies "pid=N", GET /sleep?ms=N answers after N ms,
// waits BENCH_READY_DELAY ms before listening, never listens when the file named by
// BENCH_NEVER_READY_IF exists at start-up (a broken deploy), drains on SIGINT/SIGTERM
// (pm2 sends SIGINT), and creates BENCH_PID_DIR/PID once listening.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const port = Number(process.env.BENCH_PORT);
const readyDelay = Number(process.env.BENCH_READY_DELAY || 0);
const neverIf = process.env.BENCH_NEVER_READY_IF || '';
const pidDir = process.env.BENCH_PID_DIR || '';
const pidFile = pidDir ? path.join(pidDir, String(process.pid)) : '';
const body = `pid=${process.pid}\n`;

const server = http.createServer((req, res) => {
  const m = /^\/sleep\?ms=(\d+)/.exec(req.url || '');
  const ms = m ? Math.min(Number(m[1]), 60000) : 0;
  const reply = () => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (ms > 0) setTimeout(reply, ms); else reply();
});
server.keepAliveTimeout = 10000;

let draining = false;
function drain() {
  if (draining) return;
  draining = true;
  if (pidFile) try { fs.unlinkSync(pidFile); } catch (e) { /* gone already */ }
  server.close(() => process.exit(0));
  if (server.closeIdleConnections) server.closeIdleConnections();
  setTimeout(() => process.exit(0), 120000).unref();
}
process.on('SIGINT', drain);
process.on('SIGTERM', drain);

if (neverIf && fs.existsSync(neverIf)) {
  // Broken deploy: never listens, never ready.
  setInterval(() => {}, 1 << 30);
} else {
  setTimeout(() => {
    server.listen(port, '127.0.0.1', () => {
      if (pidFile) fs.writeFileSync(pidFile, '');
    });
  }, readyDelay);
}
