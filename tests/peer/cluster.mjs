// WORKERS (default 2) PostGraphile workers (server.mjs) sharing one port through node:cluster, for the race's
// second configuration. Prints "ready" once every worker listens.
import cluster from "node:cluster";

const workers = Number(process.env.WORKERS ?? 2);
cluster.setupPrimary({ exec: new URL("./server.mjs", import.meta.url).pathname });
let listening = 0;
for (let i = 0; i < workers; i++) {
  const worker = cluster.fork();
  worker.on("listening", () => {
    listening += 1;
    if (listening === workers) console.log(`ready ${workers} workers`);
  });
}
cluster.on("exit", (worker, code) => {
  console.error(`worker ${worker.process.pid} exited (${code})`);
  process.exit(1);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    process.exit(0);
  });
}
